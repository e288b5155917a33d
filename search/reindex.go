package search

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
)

// Config selects and configures the backend.
type Config struct {
	// ElasticsearchURL selects Elasticsearch when set.
	ElasticsearchURL string
	// DataDir holds the embedded index (DataDir/search/mail.bleve).
	DataDir string
	// ES holds further Elasticsearch options; its URL is ElasticsearchURL.
	ES ESConfig
}

// Open returns the Elasticsearch backend when cfg.ElasticsearchURL is set,
// otherwise the embedded index in cfg.DataDir.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (Index, error) {
	if cfg.ElasticsearchURL != "" {
		es := cfg.ES
		es.URL = cfg.ElasticsearchURL
		return OpenElasticsearch(ctx, es, logger)
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("search: neither an Elasticsearch URL nor a data directory is configured")
	}
	return OpenBleve(filepath.Join(cfg.DataDir, "search", "mail.bleve"), logger)
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
	before, err := idx.IDs(ctx, tenantID, 0)
	if err != nil {
		return fmt.Errorf("search: reindex tenant %d: %w", tenantID, err)
	}
	seen := make(map[int64]bool, len(before))
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
	for _, id := range before {
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
	TenantID   int64
	MailboxID  int64
	DBCount    int64
	IndexCount int64
	Missing    []int64 // in the database, not in the index
	Extra      []int64 // in the index, not in the database
	Repaired   bool
}

// InSync reports whether database and index agree.
func (d Drift) InSync() bool { return len(d.Missing) == 0 && len(d.Extra) == 0 }

// Check compares the index with dbIDs (the database's message ids for the
// tenant and mailbox). With repair non-nil it hands the missing ids to
// repair (which re-reads and indexes them) and deletes the extra ones.
func Check(ctx context.Context, idx Index, tenantID, mailboxID int64, dbIDs []int64, repair func(missing []int64) error) (Drift, error) {
	d := Drift{TenantID: tenantID, MailboxID: mailboxID, DBCount: int64(len(dbIDs))}
	if tenantID <= 0 {
		return d, ErrNoTenant
	}
	got, err := idx.IDs(ctx, tenantID, mailboxID)
	if err != nil {
		return d, fmt.Errorf("search: check tenant %d: %w", tenantID, err)
	}
	d.IndexCount = int64(len(got))
	want := slices.Clone(dbIDs)
	slices.Sort(want)
	want = slices.Compact(want)
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j >= len(got) || (i < len(want) && want[i] < got[j]):
			d.Missing = append(d.Missing, want[i])
			i++
		case i >= len(want) || got[j] < want[i]:
			d.Extra = append(d.Extra, got[j])
			j++
		default:
			i++
			j++
		}
	}
	if repair == nil || d.InSync() {
		return d, nil
	}
	if len(d.Missing) > 0 {
		if err := repair(d.Missing); err != nil {
			return d, fmt.Errorf("search: repair %d missing documents: %w", len(d.Missing), err)
		}
	}
	if err := idx.Delete(ctx, tenantID, d.Extra); err != nil {
		return d, fmt.Errorf("search: remove %d extra documents: %w", len(d.Extra), err)
	}
	d.Repaired = true
	return d, nil
}
