package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Store is the tenant-scoped repository over the database. Every method
// that reads or writes tenant data takes the tenant id and filters by it,
// so a row of another tenant is indistinguishable from a missing one.
type Store struct {
	db     *gorm.DB
	engine Engine
	cipher *Cipher

	// tokenTouched remembers when each API token's last use was last
	// written (see APITokenByPlaintext); background tracks those writes.
	tokenTouched sync.Map
	background   sync.WaitGroup

	// plan decides when the hot tables' statistics are refreshed
	// (planstats.go).
	plan *planStats

	// gormPages makes Postgres write pages of messages through gorm's
	// statements as SQLite does, not pgpage.go's; tests set it to compare
	// the two.
	gormPages bool
}

// NewStore wraps an open, migrated database. cipher seals OAuth tokens.
func NewStore(db *gorm.DB, engine Engine, cipher *Cipher) *Store {
	return &Store{db: db, engine: engine, cipher: cipher, plan: &planStats{}}
}

// in returns a Store whose queries run in tx, so that a method's checks
// and its writes share one transaction.
func (s *Store) in(tx *gorm.DB) *Store {
	return &Store{db: tx, engine: s.engine, cipher: s.cipher, plan: s.plan, gormPages: s.gormPages}
}

// Engine reports which database the store runs on.
func (s *Store) Engine() Engine { return s.engine }

// Ping checks the database connection (used by /healthz).
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return sqlDB.PingContext(ctx)
}

// Close closes the database connection pool.
func (s *Store) Close() error {
	s.background.Wait()
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return sqlDB.Close()
}

// Page selects a window of a list, ordered by id.
type Page struct {
	Limit  int
	Offset int
	// Query filters by a case-insensitive substring of the record's name
	// or subject; empty means all.
	Query string
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return 50
	case p.Limit > 500:
		return 500
	}
	return p.Limit
}

// scoped starts a query on the tenant's rows.
func (s *Store) scoped(ctx context.Context, tenantID int64) *gorm.DB {
	return s.db.WithContext(ctx).Where("tenant_id = ?", tenantID)
}

// tenantFilter scopes a query that also selects rows by a selective key
// (message ids, a mailbox's Gmail ids). The unary plus keeps the column
// out of index selection: SQLite has no statistics on a fresh database
// and otherwise picks the single-column tenant_id index, scanning every
// message of the tenant for each page a sync writes — work that grew with
// the mailbox (EXPLAIN QUERY PLAN: "USING INDEX idx_messages_tenant_id").
// Both engines accept the expression; on Postgres it changes nothing.
const tenantFilter = "+tenant_id = ?"

// getByID loads one row of the tenant by primary key.
func getByID[T any](ctx context.Context, s *Store, tenantID, id int64, preload ...string) (*T, error) {
	var v T
	q := s.scoped(ctx, tenantID).Where("id = ?", id)
	for _, p := range preload {
		q = q.Preload(p)
	}
	if err := q.First(&v).Error; err != nil {
		return nil, notFound(err)
	}
	return &v, nil
}

// list loads a page of the tenant's rows and the total count.
func list[T any](ctx context.Context, s *Store, tenantID int64, p Page, search []string, preload ...string) ([]T, int64, error) {
	q := s.scoped(ctx, tenantID).Model(new(T))
	if p.Query != "" && len(search) > 0 {
		like := "%" + strings.ToLower(p.Query) + "%"
		conds := make([]string, len(search))
		args := make([]any, len(search))
		for i, col := range search {
			conds[i] = "LOWER(" + col + ") LIKE ?"
			args[i] = like
		}
		q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("models: count: %w", err)
	}
	var out []T
	q = q.Order("id").Limit(p.limit()).Offset(p.Offset)
	for _, pr := range preload {
		q = q.Preload(pr)
	}
	if err := q.Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("models: list: %w", err)
	}
	return out, total, nil
}

// deleteByID deletes one row of the tenant; ErrNotFound when there is none.
func deleteByID[T any](ctx context.Context, tx *gorm.DB, tenantID, id int64) error {
	return oneRow(tx.WithContext(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Delete(new(T)), "delete")
}

// oneRow is the outcome of a write meant for one row: the query's error
// (wrapped with what was done), or ErrNotFound when no row matched.
func oneRow(res *gorm.DB, what string) error {
	if res.Error != nil {
		return fmt.Errorf("models: %s: %w", what, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// updateByID writes the named columns of v to the tenant's row id.
func updateByID[T any](ctx context.Context, tx *gorm.DB, tenantID, id int64, v *T, columns ...string) error {
	res := tx.WithContext(ctx).Model(v).Where("tenant_id = ? AND id = ?", tenantID, id).Select(columns).Updates(v)
	if res.Error != nil {
		return fmt.Errorf("models: update: %w", conflict(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf("models: %w", err)
}

// conflict maps constraint violations of either engine (translated by
// gorm, see OpenOptions) to ErrConflict: a unique key already taken, or a
// parent row (account, contact, mailbox) that no longer exists.
func conflict(err error) error {
	if isConstraint(err) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// upsertOn returns an ON CONFLICT clause on the natural key columns that
// overwrites the given columns: the idempotent write every sync task uses.
func upsertOn(keys []string, update []string) clause.OnConflict {
	cols := make([]clause.Column, len(keys))
	for i, k := range keys {
		cols[i] = clause.Column{Name: k}
	}
	if len(update) == 0 {
		return clause.OnConflict{Columns: cols, DoNothing: true}
	}
	return clause.OnConflict{Columns: cols, DoUpdates: clause.AssignmentColumns(update)}
}
