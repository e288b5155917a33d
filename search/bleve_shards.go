package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
)

// BleveShards is the embedded bleve backend split the way FTSIndex splits
// FTS5: one bleve (scorch) index per tenant and ~97-day date span (shard,
// shardOf), searched newest first until the page is full. It is the
// "time shards" candidate of issue 14, measured beside FTS5 and the single
// bleve index by `tidings bench search -engines bleve-shards`, and opened
// by search.Open for TIDINGS_SEARCH_ENGINE=bleve-shards.
//
// Layout of dir:
//   - one bleve index per shard in a directory named by shard.dirName,
//     with the mapping, analyzer and query translation of BleveIndex
//     (newBleveMapping, compileBleve): a shard holds one tenant, so no
//     query carries a tenant term;
//   - catalog.db, a SQLite table of every document's shard, mailbox and
//     content hash. A write looks up where a message was (a message
//     re-dated moves to another shard; a delete names ids only), and
//     Count and Hashes read it instead of every shard.
//
// Writes go to the shards first, then to the catalog: a crash between
// leaves the catalog behind the shards, which `reindex --check` reports
// (the hash differs or the id is missing) and a reindex repairs.
type BleveShards struct {
	dir     string
	catalog *sql.DB
	lock    *os.File
	log     *slog.Logger
	an      wordAnalyzer

	mu     sync.RWMutex
	shards map[shard]bleve.Index
}

var _ Index = (*BleveShards)(nil)

// OpenBleveShards opens (creating when absent) the sharded bleve index in
// the directory dir. Like the other embedded indexes it belongs to one
// process: a second opener gets an *IndexLockedError naming the holder.
func OpenBleveShards(dir string, logger *slog.Logger) (*BleveShards, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("search: create index dir: %w", err)
	}
	lock, err := lockIndex(dir)
	if err != nil {
		return nil, err
	}
	m, err := newBleveMapping()
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "catalog.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("search: open catalog in %s: %w", dir, err)
	}
	db.SetMaxOpenConns(1)
	x := &BleveShards{dir: dir, catalog: db, lock: lock, log: logger, an: analyzerAdapter{m.AnalyzerNamed(analyzerFolded)},
		shards: map[shard]bleve.Index{}}
	if err := x.setup(); err != nil {
		_ = x.Close()
		return nil, err
	}
	return x, nil
}

func (x *BleveShards) setup() error {
	for _, s := range []string{
		`CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, tenant INTEGER NOT NULL, span INTEGER NOT NULL,
			mailbox INTEGER NOT NULL, hash TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS docs_tenant_mailbox ON docs (tenant, mailbox)`,
		`CREATE TABLE IF NOT EXISTS shards (tenant INTEGER NOT NULL, span INTEGER NOT NULL, PRIMARY KEY (tenant, span))`,
	} {
		if _, err := x.catalog.Exec(s); err != nil {
			return fmt.Errorf("search: catalog schema: %w", err)
		}
	}
	rows, err := x.catalog.Query(`SELECT tenant, span FROM shards`)
	if err != nil {
		return fmt.Errorf("search: list shards: %w", err)
	}
	var list []shard
	for rows.Next() {
		var s shard
		if err := rows.Scan(&s.tenant, &s.span); err != nil {
			rows.Close()
			return fmt.Errorf("search: list shards: %w", err)
		}
		list = append(list, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search: list shards: %w", err)
	}
	for _, s := range list {
		if _, err := x.shard(s, false); err != nil {
			return err
		}
	}
	return nil
}

// dirName is the directory of shard s's bleve index.
func (s shard) dirName() string { return strings.Replace(s.table(), "fts_", "shard_", 1) }

// shard returns the open index of s; create makes a missing one.
func (x *BleveShards) shard(s shard, create bool) (bleve.Index, error) {
	x.mu.RLock()
	idx, ok := x.shards[s]
	x.mu.RUnlock()
	if ok {
		return idx, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if idx, ok := x.shards[s]; ok {
		return idx, nil
	}
	path := filepath.Join(x.dir, s.dirName())
	_, statErr := os.Stat(filepath.Join(path, "index_meta.json"))
	var err error
	switch {
	case statErr == nil:
		idx, err = bleve.Open(path)
	case errors.Is(statErr, os.ErrNotExist) && create:
		m, merr := newBleveMapping()
		if merr != nil {
			return nil, merr
		}
		idx, err = bleve.New(path, m)
		if err == nil {
			_, err = x.catalog.Exec(`INSERT OR IGNORE INTO shards (tenant, span) VALUES (?, ?)`, s.tenant, s.span)
		}
	default:
		err = fmt.Errorf("no index (%v)", statErr)
	}
	if err != nil {
		if idx != nil {
			_ = idx.Close()
		}
		return nil, fmt.Errorf("search: open shard %s: %w", path, err)
	}
	x.shards[s] = idx
	return idx, nil
}

// spans lists the tenant's shards overlapping the spans [lo, hi], oldest
// first.
func (x *BleveShards) spans(tenant, lo, hi int64) []shard {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []shard
	for s := range x.shards {
		if s.tenant == tenant && s.span >= lo && s.span <= hi {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b shard) int { return int(a.span - b.span) })
	return out
}

// Close closes every shard and the catalog.
func (x *BleveShards) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	var errs []error
	for s, idx := range x.shards {
		if err := idx.Close(); err != nil {
			errs = append(errs, fmt.Errorf("search: close shard %s: %w", s.dirName(), err))
		}
	}
	x.shards = map[shard]bleve.Index{}
	if err := x.catalog.Close(); err != nil {
		errs = append(errs, fmt.Errorf("search: close catalog: %w", err))
	}
	_ = x.lock.Close()
	return errors.Join(errs...)
}

// where looks up the shards of ids in the catalog, within the tenant when
// tenant is not 0.
func (x *BleveShards) where(ctx context.Context, tenant int64, ids []int64) (map[int64]shard, error) {
	out := make(map[int64]shard, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, 0, len(chunk)+1)
		marks := strings.Repeat("?,", len(chunk))
		for _, id := range chunk {
			args = append(args, id)
		}
		stmt := `SELECT id, tenant, span FROM docs WHERE id IN (` + marks[:len(marks)-1] + `)`
		if tenant != 0 {
			stmt += ` AND tenant = ?`
			args = append(args, tenant)
		}
		rows, err := x.catalog.QueryContext(ctx, stmt, args...)
		if err != nil {
			return nil, fmt.Errorf("search: catalog lookup: %w", err)
		}
		for rows.Next() {
			var id int64
			var s shard
			if err := rows.Scan(&id, &s.tenant, &s.span); err != nil {
				rows.Close()
				return nil, fmt.Errorf("search: catalog lookup: %w", err)
			}
			out[id] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("search: catalog lookup: %w", err)
		}
	}
	return out, nil
}

// Index upserts docs: one bleve batch per shard touched (a document that
// moved shards is deleted from its old one in the same pass), then the
// catalog in one transaction.
func (x *BleveShards) Index(ctx context.Context, docs []Document) error {
	ids := make([]int64, len(docs))
	last := make(map[int64]int, len(docs))
	for i := range docs {
		if err := validateDoc(&docs[i]); err != nil {
			return err
		}
		ids[i] = docs[i].ID
		last[docs[i].ID] = i
	}
	if len(last) < len(docs) {
		// The same message twice in one batch: the later copy wins, as in
		// one index; two copies with different dates would otherwise land
		// in two shards.
		var uniq []Document
		for i := range docs {
			if last[docs[i].ID] == i {
				uniq = append(uniq, docs[i])
			}
		}
		return x.Index(ctx, uniq)
	}
	old, err := x.where(ctx, 0, ids)
	if err != nil {
		return err
	}
	batches := map[shard]*bleve.Batch{}
	batch := func(s shard) (*bleve.Batch, error) {
		if b, ok := batches[s]; ok {
			return b, nil
		}
		idx, err := x.shard(s, true)
		if err != nil {
			return nil, err
		}
		batches[s] = idx.NewBatch()
		return batches[s], nil
	}
	for i := range docs {
		d := &docs[i]
		s := shardOf(d.TenantID, rowKey(d.Date, d.ID))
		if o, ok := old[d.ID]; ok && o != s {
			b, err := batch(o)
			if err != nil {
				return err
			}
			b.Delete(docKey(d.ID))
		}
		m, err := bleveDoc(d)
		if err != nil {
			return err
		}
		b, err := batch(s)
		if err != nil {
			return err
		}
		if err := b.Index(docKey(d.ID), m); err != nil {
			return fmt.Errorf("search: index document %d: %w", d.ID, err)
		}
	}
	if err := x.apply(ctx, batches); err != nil {
		return err
	}
	return x.catalogTx(ctx, func(tx *sql.Tx) error {
		for i := range docs {
			d := &docs[i]
			_, err := tx.ExecContext(ctx, `INSERT INTO docs (id, tenant, span, mailbox, hash) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, span = excluded.span, mailbox = excluded.mailbox, hash = excluded.hash`,
				d.ID, d.TenantID, shardOf(d.TenantID, rowKey(d.Date, d.ID)).span, d.MailboxID, d.Hash())
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// apply writes the shards' batches.
func (x *BleveShards) apply(ctx context.Context, batches map[shard]*bleve.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("search: index: %w", err)
	}
	for s, b := range batches {
		idx, err := x.shard(s, true)
		if err != nil {
			return err
		}
		if err := idx.Batch(b); err != nil {
			return fmt.Errorf("search: write shard %s (%d operations): %w", s.dirName(), b.Size(), err)
		}
	}
	return nil
}

func (x *BleveShards) catalogTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := x.catalog.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("search: catalog: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("search: catalog: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: catalog: %w", err)
	}
	return nil
}

// Delete removes the tenant's documents among ids.
func (x *BleveShards) Delete(ctx context.Context, tenantID int64, ids []int64) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	if len(ids) == 0 {
		return nil
	}
	at, err := x.where(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	batches := map[shard]*bleve.Batch{}
	for id, s := range at {
		if batches[s] == nil {
			idx, err := x.shard(s, false)
			if err != nil {
				return err
			}
			batches[s] = idx.NewBatch()
		}
		batches[s].Delete(docKey(id))
	}
	if err := x.apply(ctx, batches); err != nil {
		return err
	}
	return x.catalogTx(ctx, func(tx *sql.Tx) error {
		for id := range at {
			if _, err := tx.ExecContext(ctx, `DELETE FROM docs WHERE id = ? AND tenant = ?`, id, tenantID); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateLabels re-indexes one document with new labels from its stored
// fields in its shard.
func (x *BleveShards) UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	at, err := x.where(ctx, tenantID, []int64{id})
	if err != nil {
		return err
	}
	s, ok := at[id]
	if !ok {
		return fmt.Errorf("search: update labels of %d: %w", id, ErrNotFound)
	}
	idx, err := x.shard(s, false)
	if err != nil {
		return err
	}
	req := bleve.NewSearchRequestOptions(query.NewDocIDQuery([]string{docKey(id)}), 1, 0, false)
	req.Fields = []string{"*"}
	res, err := idx.SearchInContext(ctx, req)
	if err != nil {
		return fmt.Errorf("search: look up document %d: %w", id, err)
	}
	if len(res.Hits) == 0 {
		return fmt.Errorf("search: update labels of %d (catalog without shard copy): %w", id, ErrNotFound)
	}
	d, err := docFromFields(tenantID, id, res.Hits[0].Fields)
	if err != nil {
		return err
	}
	d.LabelIDs, d.LabelNames = labelIDs, labelNames
	return x.Index(ctx, []Document{d})
}

// Count counts the tenant's documents.
func (x *BleveShards) Count(ctx context.Context, tenantID, mailboxID int64) (int64, error) {
	if tenantID <= 0 {
		return 0, ErrNoTenant
	}
	where, args := scopeSQL(tenantID, mailboxID)
	return sqlCount(ctx, x.catalog, `SELECT count(*) FROM docs WHERE `+where, args...)
}

// Hashes maps the tenant's document ids to their content hashes.
func (x *BleveShards) Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	where, args := scopeSQL(tenantID, mailboxID)
	return sqlHashes(ctx, x.catalog, `SELECT id, hash FROM docs WHERE `+where, args...)
}
