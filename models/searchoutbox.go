package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm/clause"
)

// SearchOutbox marks a message whose search document must be rebuilt (or
// removed). Rows are written only by the database triggers of migration
// 0007_search_outbox, in the transaction of the change itself; Version counts the
// changes since the row was created, so the indexer removes a mark only if
// no change arrived after it read it.
type SearchOutbox struct {
	MessageID int64 `gorm:"primaryKey;autoIncrement:false"`
	TenantID  int64 `gorm:"not null"`
	Version   int64 `gorm:"not null;default:1"`
}

// TableName keeps gorm from pluralising.
func (SearchOutbox) TableName() string { return "search_outbox" }

// IndexWork is one pending mark of the search outbox.
type IndexWork struct {
	MessageID int64
	TenantID  int64
	Version   int64
}

// PendingIndexWork returns up to limit marks, in message id order.
func (s *Store) PendingIndexWork(ctx context.Context, limit int) ([]IndexWork, error) {
	var rows []SearchOutbox
	if err := s.db.WithContext(ctx).Order("message_id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("models: pending index work: %w", err)
	}
	out := make([]IndexWork, len(rows))
	for i, r := range rows {
		out[i] = IndexWork(r)
	}
	return out, nil
}

// CountIndexWork counts the pending marks of a tenant (all tenants for 0).
func (s *Store) CountIndexWork(ctx context.Context, tenantID int64) (int64, error) {
	q := s.db.WithContext(ctx).Model(&SearchOutbox{})
	if tenantID != 0 {
		q = q.Where("tenant_id = ?", tenantID)
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return 0, fmt.Errorf("models: count index work: %w", err)
	}
	return n, nil
}

// CompleteIndexWork removes the marks that still have the version that was
// read; a mark changed since then stays for the next pass.
func (s *Store) CompleteIndexWork(ctx context.Context, done []IndexWork) error {
	for start := 0; start < len(done); start += 200 {
		chunk := done[start:min(start+200, len(done))]
		conds := make([]clause.Expression, len(chunk))
		for i, w := range chunk {
			conds[i] = clause.And(clause.Eq{Column: "message_id", Value: w.MessageID}, clause.Eq{Column: "version", Value: w.Version})
		}
		if err := s.db.WithContext(ctx).Where(clause.Or(conds...)).Delete(&SearchOutbox{}).Error; err != nil {
			return fmt.Errorf("models: complete index work: %w", err)
		}
	}
	return nil
}

// MarkForIndex puts messages of the tenant into the search outbox, as the
// triggers do; the consistency check uses it to repair what it found.
func (s *Store) MarkForIndex(ctx context.Context, tenantID int64, messageIDs []int64) error {
	for start := 0; start < len(messageIDs); start += 500 {
		chunk := messageIDs[start:min(start+500, len(messageIDs))]
		rows := make([]SearchOutbox, len(chunk))
		for i, id := range chunk {
			rows[i] = SearchOutbox{MessageID: id, TenantID: tenantID, Version: 1}
		}
		err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "message_id"}},
			DoUpdates: clause.Assignments(map[string]any{"version": clause.Expr{SQL: "search_outbox.version + 1"}}),
		}).Create(&rows).Error
		if err != nil {
			return fmt.Errorf("models: mark for index: %w", err)
		}
	}
	return nil
}

// indexLockKey is the Postgres advisory lock id held while the search
// outbox is drained.
const indexLockKey = 0x74647378 // "tdsx"

// WithIndexLock runs fn while holding the database-wide lock of the search
// indexer, so that two processes never write different versions of one
// document out of order. On Postgres it is a session advisory lock (waited
// for until ctx ends); SQLite is used by one process only, and fn runs
// directly (the caller serialises within the process).
func (s *Store) WithIndexLock(ctx context.Context, fn func() error) error {
	if s.engine != Postgres {
		return fn()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("models: index lock connection: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, indexLockKey); err != nil {
		return fmt.Errorf("models: take index lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done; closing the session would free it too.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, indexLockKey)
	}()
	return fn()
}

// SQL returns the store's connection pool, for packages that keep tables
// of their own in the same database (the Postgres search index, migration
// 0011_search_documents) and join its transactions (ClaimIndexWork).
func (s *Store) SQL() (*sql.DB, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	return sqlDB, nil
}

// ErrNotPostgres: an operation needs Postgres and the store runs on SQLite.
var ErrNotPostgres = errors.New("models: operation needs Postgres")

// ClaimIndexWork applies up to limit marks of the search outbox in one
// Postgres transaction: it locks them (FOR UPDATE SKIP LOCKED, so
// concurrent drains in any number of processes take disjoint marks and
// never wait for each other), calls fn with the transaction — where an
// index in the same database writes the documents — and deletes the marks
// before committing. The document writes and the removal of their marks
// therefore commit together or not at all. A change to a claimed message
// that commits meanwhile waits for the mark's row lock in its trigger and
// then marks the message anew, so it is indexed by the next claim. It
// returns how many marks were applied (0: the outbox has nothing
// unclaimed).
func (s *Store) ClaimIndexWork(ctx context.Context, limit int, fn func(tx *sql.Tx, work []IndexWork) error) (int, error) {
	if s.engine != Postgres {
		return 0, ErrNotPostgres
	}
	sqlDB, err := s.SQL()
	if err != nil {
		return 0, err
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("models: claim index work: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT message_id, tenant_id, version FROM search_outbox
		ORDER BY message_id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return 0, fmt.Errorf("models: claim index work: %w", err)
	}
	var work []IndexWork
	for rows.Next() {
		var w IndexWork
		if err := rows.Scan(&w.MessageID, &w.TenantID, &w.Version); err != nil {
			rows.Close()
			return 0, fmt.Errorf("models: claim index work: %w", err)
		}
		work = append(work, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("models: claim index work: %w", err)
	}
	if len(work) == 0 {
		return 0, nil
	}
	if err := fn(tx, work); err != nil {
		return 0, err
	}
	ids := make([]int64, len(work))
	for i, w := range work {
		ids[i] = w.MessageID
	}
	// The marks are locked by this transaction: their versions are still
	// the ones read, so deleting by id removes exactly the applied work.
	if _, err := tx.ExecContext(ctx, `DELETE FROM search_outbox WHERE message_id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("models: complete index work: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("models: commit index work: %w", err)
	}
	return len(work), nil
}
