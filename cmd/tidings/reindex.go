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
	mailsync "tidings/sync"
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
	src := mailsync.StoreSource{Store: a.Store}
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
		n, err := checkTenant(ctx, a.Store, a.Index, tid, stdout, *repair, rebuild)
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

// checkTenant prints one drift report per mailbox and returns how many
// drifted. Repair rebuilds the tenant once (it fixes every mailbox).
func checkTenant(ctx context.Context, store *models.Store, idx search.Index, tid int64, stdout io.Writer, repair bool, rebuild func(int64) error) (int, error) {
	mailboxes, err := store.ListMailboxes(ctx, tid)
	if err != nil {
		return 0, err
	}
	drifted, repaired := 0, false
	enc := json.NewEncoder(stdout)
	for _, mb := range mailboxes {
		ids, err := store.MessageIDs(ctx, tid, mb.ID)
		if err != nil {
			return drifted, err
		}
		var fix func([]int64) error
		if repair && !repaired {
			fix = func([]int64) error { repaired = true; return rebuild(tid) }
		}
		d, err := search.Check(ctx, idx, tid, mb.ID, ids, fix)
		if err != nil {
			return drifted, err
		}
		if !d.InSync() {
			drifted++
		}
		if err := enc.Encode(map[string]any{
			"tenant": tid, "mailbox": mb.Email, "database": d.DBCount, "index": d.IndexCount,
			"missing": len(d.Missing), "extra": len(d.Extra), "repaired": d.Repaired || repaired,
		}); err != nil {
			return drifted, err
		}
	}
	return drifted, nil
}
