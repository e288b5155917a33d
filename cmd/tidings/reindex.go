package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"

	"tidings/models"
	"tidings/search"
)

// runReindex implements `tidings reindex`: rebuild every tenant's index
// from the database (on Elasticsearch behind an alias swap, so searches
// keep working), or with --check compare the index with the database per
// mailbox and, with --repair, fix the drift.
func runReindex(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.Int64("tenant", 0, "only this tenant (default: all)")
	check := fs.Bool("check", false, "only compare index and database per mailbox; print the drift as JSON")
	repair := fs.Bool("repair", false, "with --check: reindex tenants that drifted")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	a, err := openWithIndex(ctx, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "tidings reindex:", err)
		return 1
	}
	defer a.Close()
	tenants := []int64{*tenant}
	if *tenant == 0 {
		if tenants, err = a.Store.Tenants(ctx); err != nil {
			fmt.Fprintln(stderr, "tidings reindex:", err)
			return 1
		}
	}
	src := search.StoreSource{Store: a.Store}
	rebuild := func(tid int64) error {
		ids, err := a.Store.MessageIDs(ctx, tid, 0)
		if err != nil {
			return err
		}
		bar := progressbar.NewOptions64(int64(len(ids)), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("tenant %d", tid)), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true))
		err = search.Reindex(ctx, a.Index, tid, src, func(done int64) { _ = bar.Set64(done) })
		_ = bar.Finish()
		fmt.Fprintln(stderr)
		return err
	}
	drifted := 0
	for _, tid := range tenants {
		if !*check {
			if err := rebuild(tid); err != nil {
				fmt.Fprintf(stderr, "tidings reindex: tenant %d: %v\n", tid, err)
				return 1
			}
			continue
		}
		n, err := checkTenant(ctx, a.Store, a.Indexer, tid, stdout, *repair)
		if err != nil {
			fmt.Fprintf(stderr, "tidings reindex: tenant %d: %v\n", tid, err)
			return 1
		}
		drifted += n
	}
	if *check && drifted > 0 && !*repair {
		fmt.Fprintf(stderr, "%d mailboxes drifted; run `tidings reindex --check --repair` or `tidings reindex`\n", drifted)
		return 3
	}
	return 0
}

// checkTenant prints one drift report per mailbox (ids only in the
// database, only in the index, and in both with different content) and
// returns how many drifted. Repair marks every drifted message in the
// search outbox and drains it: the indexer rebuilds each document from the
// database or deletes it.
func checkTenant(ctx context.Context, store *models.Store, ix *search.Indexer, tid int64, stdout io.Writer, repair bool) (int, error) {
	mailboxes, err := store.ListMailboxes(ctx, tid)
	if err != nil {
		return 0, err
	}
	drifted := 0
	enc := json.NewEncoder(stdout)
	for _, mb := range mailboxes {
		var fix func([]int64) error
		if repair {
			fix = func(ids []int64) error {
				if err := store.MarkForIndex(ctx, tid, ids); err != nil {
					return err
				}
				_, err := ix.Drain(ctx)
				return err
			}
		}
		src := search.StoreSource{Store: store, MailboxID: mb.ID}
		d, err := search.Check(ctx, ix.Index(), tid, mb.ID, src, fix)
		if err != nil {
			return drifted, err
		}
		if !d.InSync() {
			drifted++
		}
		if err := enc.Encode(map[string]any{
			"tenant": tid, "mailbox": mb.Email, "database": d.DBCount, "index": d.IndexCount,
			"missing": len(d.Missing), "extra": len(d.Extra), "changed": len(d.Changed), "repaired": d.Repaired,
			"examples": examples(d),
		}); err != nil {
			return drifted, err
		}
	}
	return drifted, nil
}

// examples names up to five ids of each kind of drift, so the report says
// what it found.
func examples(d search.Drift) map[string][]int64 {
	out := map[string][]int64{}
	for k, ids := range map[string][]int64{"missing": d.Missing, "extra": d.Extra, "changed": d.Changed} {
		if len(ids) > 0 {
			out[k] = ids[:min(5, len(ids))]
		}
	}
	return out
}
