package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"

	"tidings/models"
)

// Config selects and configures the backend.
type Config struct {
	// ElasticsearchURL selects Elasticsearch when set.
	ElasticsearchURL string
	// Store is the application's database. On Postgres (and without
	// Elasticsearch) the index is the one inside it (OpenPostgres), shared
	// by every process.
	Store *models.Store
	// DataDir holds the embedded index used with SQLite
	// (DataDir/search/mail.fts, or DataDir/search/mail.bleve for bleve).
	DataDir string
	// Engine is "" (chosen by the database), "postgres", or an embedded
	// engine for SQLite: "fts5" (the default there) or "bleve".
	Engine string
	// ES holds further Elasticsearch options; its URL is ElasticsearchURL.
	ES ESConfig
}

// Open returns the Elasticsearch backend when cfg.ElasticsearchURL is set;
// otherwise, when the database is Postgres, the index inside it, so that
// web and workers on any number of machines search one index; otherwise
// (SQLite) the embedded index in cfg.DataDir (SQLite FTS5 unless
// cfg.Engine is "bleve"; see BENCHMARKS.md for the comparison). An
// embedded engine asked for on Postgres is an error, not a per-process
// copy that other processes would never write.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (Index, error) {
	if cfg.ElasticsearchURL != "" {
		es := cfg.ES
		es.URL = cfg.ElasticsearchURL
		return OpenElasticsearch(ctx, es, logger)
	}
	onPostgres := cfg.Store != nil && cfg.Store.Engine() == models.Postgres
	switch {
	case onPostgres && (cfg.Engine == "" || cfg.Engine == "postgres"):
		db, err := cfg.Store.SQL()
		if err != nil {
			return nil, err
		}
		return OpenPostgres(ctx, db, logger)
	case onPostgres:
		return nil, fmt.Errorf("search: engine %q is an embedded index of one process; with Postgres every process shares the index inside the database (leave TIDINGS_SEARCH_ENGINE unset or set it to postgres)", cfg.Engine)
	case cfg.Engine == "postgres":
		return nil, errors.New("search: engine \"postgres\" needs a Postgres database (DATABASE_URL)")
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("search: neither an Elasticsearch URL nor a data directory is configured")
	}
	switch cfg.Engine {
	case "", "fts5":
		return OpenFTS(filepath.Join(cfg.DataDir, "search", "mail.fts"), logger)
	case "bleve":
		return OpenBleve(filepath.Join(cfg.DataDir, "search", "mail.bleve"), logger)
	case "bleve-shards":
		return OpenBleveShards(filepath.Join(cfg.DataDir, "search", "mail.bleve-shards"), logger)
	}
	return nil, fmt.Errorf("search: unknown embedded engine %q (want fts5, bleve or bleve-shards)", cfg.Engine)
}

// tenantRebuilder is implemented by backends that can build a tenant's
// documents into a new index and switch to it atomically (Elasticsearch).
type tenantRebuilder interface {
	rebuildTenant(ctx context.Context, tenantID int64, src Source, progress func(done int64)) error
}

// Reindex rebuilds the tenant's index from src. On Elasticsearch it fills a
// new physical index and swaps the tenant alias, so searches keep working
// on the old copy until the new one is complete. The embedded index is
// rebuilt in place: every source document is upserted, then documents the
// source no longer has are deleted; searches stay available throughout.
// progress (may be nil) receives the number of documents written so far.
func Reindex(ctx context.Context, idx Index, tenantID int64, src Source, progress func(done int64)) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	if progress == nil {
		progress = func(int64) {}
	}
	if r, ok := idx.(tenantRebuilder); ok {
		return r.rebuildTenant(ctx, tenantID, src, progress)
	}
	indexed, err := idx.Hashes(ctx, tenantID, 0)
	if err != nil {
		return fmt.Errorf("search: reindex tenant %d: %w", tenantID, err)
	}
	seen := make(map[int64]bool, len(indexed))
	var done int64
	err = src.Documents(ctx, tenantID, func(batch []Document) error {
		for i := range batch {
			if batch[i].TenantID != tenantID {
				return fmt.Errorf("search: reindex tenant %d: source returned document %d of tenant %d", tenantID, batch[i].ID, batch[i].TenantID)
			}
			seen[batch[i].ID] = true
		}
		if err := idx.Index(ctx, batch); err != nil {
			return err
		}
		done += int64(len(batch))
		progress(done)
		return nil
	})
	if err != nil {
		return fmt.Errorf("search: reindex tenant %d: %w", tenantID, err)
	}
	var stale []int64
	for id := range indexed {
		if !seen[id] {
			stale = append(stale, id)
		}
	}
	if err := idx.Delete(ctx, tenantID, stale); err != nil {
		return fmt.Errorf("search: reindex tenant %d: remove stale: %w", tenantID, err)
	}
	return nil
}

// Drift is what Check found for one tenant (and mailbox, 0 = all).
type Drift struct {
	TenantID   int64   `json:"tenant"`
	MailboxID  int64   `json:"mailbox_id"`
	DBCount    int64   `json:"database"`
	IndexCount int64   `json:"index"`
	Missing    []int64 `json:"missing"` // in the database, not in the index
	Extra      []int64 `json:"extra"`   // in the index, not in the database
	Changed    []int64 `json:"changed"` // in both, but the indexed content differs
	Repaired   bool    `json:"repaired"`
}

// InSync reports whether database and index agree.
func (d Drift) InSync() bool { return len(d.Missing)+len(d.Extra)+len(d.Changed) == 0 }

// Check compares the index with the documents src builds from the database
// for the tenant (src decides the mailbox scope; mailboxID scopes the
// index side the same way): ids on one side only, and ids whose content
// hash differs. With repair non-nil it hands every id that drifted to
// repair (the caller marks them for the indexer, which rebuilds or deletes
// each from the database).
func Check(ctx context.Context, idx Index, tenantID, mailboxID int64, src Source, repair func(ids []int64) error) (Drift, error) {
	d := Drift{TenantID: tenantID, MailboxID: mailboxID}
	if tenantID <= 0 {
		return d, ErrNoTenant
	}
	indexed, err := idx.Hashes(ctx, tenantID, mailboxID)
	if err != nil {
		return d, fmt.Errorf("search: check tenant %d: %w", tenantID, err)
	}
	d.IndexCount = int64(len(indexed))
	seen := make(map[int64]bool, len(indexed))
	err = src.Documents(ctx, tenantID, func(batch []Document) error {
		for i := range batch {
			doc := &batch[i]
			d.DBCount++
			seen[doc.ID] = true
			switch h, ok := indexed[doc.ID]; {
			case !ok:
				d.Missing = append(d.Missing, doc.ID)
			case h != doc.Hash():
				d.Changed = append(d.Changed, doc.ID)
			}
		}
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("search: check tenant %d: %w", tenantID, err)
	}
	for id := range indexed {
		if !seen[id] {
			d.Extra = append(d.Extra, id)
		}
	}
	for _, s := range [][]int64{d.Missing, d.Extra, d.Changed} {
		slices.Sort(s)
	}
	if repair == nil || d.InSync() {
		return d, nil
	}
	ids := slices.Concat(d.Missing, d.Extra, d.Changed)
	if err := repair(ids); err != nil {
		return d, fmt.Errorf("search: repair %d documents: %w", len(ids), err)
	}
	d.Repaired = true
	return d, nil
}
