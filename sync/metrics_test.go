package sync

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"tidings/emulator"
	"tidings/models"
	"tidings/search"
)

// TestMetricsOfAFullSync runs a real full sync (emulator answering 429 to a
// share of the calls) with the counters and the status collector on one
// registry, and checks what an operator would read afterwards.
func TestMetricsOfAFullSync(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		const n = 40
		e := newEnv(t, store)
		generated(t, e, n)
		idx, err := search.OpenBleve(filepath.Join(t.TempDir(), "idx.bleve"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idx.Close() })
		reg := prometheus.NewRegistry()
		m := NewMetrics(reg)
		status := NewStatusCollector(store, idx, nil)
		reg.MustRegister(status)

		// Before the sync: the mailbox is pending and nothing is indexed.
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tidings_mailbox_sync_state 1 for the mailbox's current sync state (pending, full_sync, idle, incremental, error, needs_reauth).
# TYPE tidings_mailbox_sync_state gauge
tidings_mailbox_sync_state{mailbox="`+itoa(e.mailboxID)+`",state="pending",tenant="`+itoa(e.tenantID)+`"} 1
`), "tidings_mailbox_sync_state"); err != nil {
			t.Fatal(err)
		}

		e.emu.SetFaults(emulator.Faults{Rate: 0.25, Kinds: []emulator.FaultKind{emulator.FaultRateLimit}})
		s := e.syncer(func(d *Deps) { d.Metrics = m; d.Indexer = search.NewIndexer(store, idx, nil) })
		if err := e.run(s, true); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(m.ingested); got != n {
			t.Errorf("messages ingested = %v, want %d", got, n)
		}
		// Every message was fetched once at least (messages.get costs 5
		// units); rate-limited attempts are not counted as spent.
		if got := testutil.ToFloat64(m.quotaUnits); got < 5*n {
			t.Errorf("quota units = %v, want at least %d", got, 5*n)
		}
		if got := testutil.ToFloat64(m.rateLimited); got == 0 {
			t.Error("no rate-limited call counted although the emulator answered 429 to a quarter of them")
		}

		status.now = func() time.Time { return e.mailbox().LastSyncAt.Add(90 * time.Second) }
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tidings_mailbox_index_backlog_messages Stored messages of the mailbox that the search index does not have.
# TYPE tidings_mailbox_index_backlog_messages gauge
tidings_mailbox_index_backlog_messages{mailbox="`+itoa(e.mailboxID)+`",tenant="`+itoa(e.tenantID)+`"} 0
# HELP tidings_mailbox_sync_lag_seconds Seconds since the mailbox last finished a sync (since it was connected, if never).
# TYPE tidings_mailbox_sync_lag_seconds gauge
tidings_mailbox_sync_lag_seconds{mailbox="`+itoa(e.mailboxID)+`",tenant="`+itoa(e.tenantID)+`"} 90
# HELP tidings_mailbox_sync_state 1 for the mailbox's current sync state (pending, full_sync, idle, incremental, error, needs_reauth).
# TYPE tidings_mailbox_sync_state gauge
tidings_mailbox_sync_state{mailbox="`+itoa(e.mailboxID)+`",state="idle",tenant="`+itoa(e.tenantID)+`"} 1
# HELP tidings_mailbox_status_up 1 when the mailbox statuses could be read from the database at this scrape.
# TYPE tidings_mailbox_status_up gauge
tidings_mailbox_status_up 1
`), "tidings_mailbox_index_backlog_messages", "tidings_mailbox_sync_lag_seconds", "tidings_mailbox_sync_state", "tidings_mailbox_status_up"); err != nil {
			t.Fatal(err)
		}

		// Messages the index lost show up as backlog.
		hashes, err := idx.Hashes(context.Background(), e.tenantID, e.mailboxID)
		if err != nil || len(hashes) != n {
			t.Fatalf("index ids: %d, %v", len(hashes), err)
		}
		ids := make([]int64, 0, len(hashes))
		for id := range hashes {
			ids = append(ids, id)
		}
		if err := idx.Delete(context.Background(), e.tenantID, ids[:3]); err != nil {
			t.Fatal(err)
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tidings_mailbox_index_backlog_messages Stored messages of the mailbox that the search index does not have.
# TYPE tidings_mailbox_index_backlog_messages gauge
tidings_mailbox_index_backlog_messages{mailbox="`+itoa(e.mailboxID)+`",tenant="`+itoa(e.tenantID)+`"} 3
`), "tidings_mailbox_index_backlog_messages"); err != nil {
			t.Fatal(err)
		}
	})
}
