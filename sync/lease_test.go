package sync

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
)

// hookTransport runs hook (once) just before the n-th messages.get
// request, so a test can act in the middle of a sync deterministically.
type hookTransport struct {
	base http.RoundTripper
	n    int64
	seen atomic.Int64
	hook func()
}

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/messages/") {
		if h.seen.Add(1) == h.n {
			h.hook()
		}
	}
	return h.base.RoundTrip(r)
}

func (e *env) withHook(n int64, hook func()) func(*Deps) {
	return func(d *Deps) {
		c := *d.HTTPClient
		c.Transport = &hookTransport{base: c.Transport, n: n, hook: hook}
		d.HTTPClient = &c
	}
}

func countRows(t *testing.T, store *models.Store, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := testenv.DB(t, store).Raw(sql, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBusyMailboxIsTakenOverAfterTTL: a holder killed without releasing
// (finding 1) blocks the mailbox only until its lease expires; the sync
// that finds it busy fails with a BusyError asking to be retried right
// after that, and the retry takes over and syncs.
func TestBusyMailboxIsTakenOverAfterTTL(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		generated(t, e, 20)
		const ttl = 2 * time.Second
		dead, err := store.AcquireSyncLease(ctx, e.tenantID, e.mailboxID, "killed-worker", models.SyncFull, ttl)
		if err != nil {
			t.Fatal(err)
		}
		s := e.syncer(func(d *Deps) { d.LeaseTTL = ttl; d.LeaseOwner = "survivor" })
		err = e.run(s, false)
		var busy *BusyError
		if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) {
			t.Fatalf("Run while leased = %v, want a BusyError", err)
		}
		if until := time.Until(dead.ExpiresAt); busy.RetryIn < until || busy.RetryIn > until+ttl {
			t.Errorf("RetryIn = %s, want just after the lease expires (in %s)", busy.RetryIn, until)
		}
		if d, ok := RetryDelay(err); !ok || d != busy.RetryIn {
			t.Errorf("RetryDelay = %s, %v", d, ok)
		}
		time.Sleep(time.Until(dead.ExpiresAt) + 10*time.Millisecond)
		if err := e.run(s, false); err != nil {
			t.Fatalf("Run after the dead holder's lease expired = %v", err)
		}
		mb := e.mailbox()
		if mb.LeaseOwner != "" || mb.LeaseGeneration != dead.Generation+1 || mb.SyncState != models.SyncIdle {
			t.Errorf("after takeover: owner %q generation %d state %s; want released, generation %d, idle", mb.LeaseOwner, mb.LeaseGeneration, mb.SyncState, dead.Generation+1)
		}
		e.assertExact()
	})
}

// TestStaleHolderIsFenced (finding 2): once another worker took the lease
// over, the old holder's writes, renewals and release all fail with
// ErrLeaseLost and change nothing of the new holder's.
func TestStaleHolderIsFenced(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		old, err := store.AcquireSyncLease(ctx, e.tenantID, e.mailboxID, "old", models.SyncFull, -time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// Expired: another owner takes it over.
		cur, err := store.AcquireSyncLease(ctx, e.tenantID, e.mailboxID, "new", models.SyncIncremental, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Generation != old.Generation+1 {
			t.Fatalf("generation %d after %d", cur.Generation, old.Generation)
		}
		if _, err := store.AcquireSyncLease(ctx, e.tenantID, e.mailboxID, "third", models.SyncFull, time.Minute); !errors.Is(err, models.ErrLeaseHeld) {
			t.Fatalf("acquire of a held lease = %v, want ErrLeaseHeld", err)
		}
		stale := models.WithLease(ctx, old)
		write := models.MessageWrite{Message: models.Message{GmailID: "m1", GmailThreadID: "t1", Subject: "x"}, LabelIDs: []string{"INBOX"}}
		checks := map[string]error{
			"upsert messages": func() error {
				_, err := store.UpsertMessages(stale, e.tenantID, e.mailboxID, []models.MessageWrite{write})
				return err
			}(),
			"upsert labels":  store.UpsertLabels(stale, e.tenantID, e.mailboxID, []models.Label{{GmailID: "L1", Name: "x", Type: models.LabelUser}}),
			"update mailbox": store.UpdateMailbox(stale, e.tenantID, e.mailboxID, map[string]any{"history_id": 99}),
			"renew":          store.RenewSyncLease(ctx, old, time.Hour),
			"release":        store.ReleaseSyncLease(ctx, old, map[string]any{"sync_state": models.SyncIdle}),
		}
		for name, err := range checks {
			if !errors.Is(err, models.ErrLeaseLost) {
				t.Errorf("%s by the stale holder = %v, want ErrLeaseLost", name, err)
			}
		}
		if n := countRows(t, store, "SELECT COUNT(*) FROM messages WHERE mailbox_id = ?", e.mailboxID); n != 0 {
			t.Errorf("stale holder stored %d messages", n)
		}
		mb := e.mailbox()
		if mb.LeaseOwner != "new" || mb.HistoryID == 99 || mb.SyncState != models.SyncIncremental || mb.LeaseExpiresAt != cur.ExpiresAt.UnixMilli() {
			t.Errorf("stale holder changed the mailbox: %+v", mb)
		}
		// The current holder writes fine.
		if _, err := store.UpsertMessages(models.WithLease(ctx, cur), e.tenantID, e.mailboxID, []models.MessageWrite{write}); err != nil {
			t.Fatalf("current holder's write = %v", err)
		}
		if err := store.ReleaseSyncLease(ctx, cur, map[string]any{"sync_state": models.SyncIdle}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRunStopsWhenLeaseIsTaken: a run whose lease is taken over in the
// middle stops writing at once (fenced) and reports ErrBusy, leaving the
// mailbox row to the new holder.
func TestRunStopsWhenLeaseIsTaken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		generated(t, e, 300)
		var storedAtSteal int64 = -1
		steal := func() {
			db := testenv.DB(t, store)
			if err := db.Exec("UPDATE mailboxes SET lease_owner = 'thief', lease_generation = lease_generation + 1 WHERE id = ?", e.mailboxID).Error; err != nil {
				t.Error(err)
			}
			storedAtSteal = countRows(t, store, "SELECT COUNT(*) FROM messages WHERE mailbox_id = ?", e.mailboxID)
		}
		s := e.syncer(func(d *Deps) { d.PageSize = 50; d.Quota.MaxConcurrency = 1 }, e.withHook(120, steal))
		err := e.run(s, false)
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("Run whose lease was taken = %v, want ErrBusy", err)
		}
		if storedAtSteal < 0 {
			t.Fatal("hook never ran")
		}
		if n := countRows(t, store, "SELECT COUNT(*) FROM messages WHERE mailbox_id = ?", e.mailboxID); n != storedAtSteal {
			t.Errorf("%d messages stored after the lease was taken (%d before)", n-storedAtSteal, storedAtSteal)
		}
		if mb := e.mailbox(); mb.LeaseOwner != "thief" {
			t.Errorf("lease owner %q after the run, want the thief's lease untouched", mb.LeaseOwner)
		}
	})
}

// TestDisconnectDuringSyncLeavesNoOrphans (finding 3): deleting a mailbox
// while its sync runs removes all of its rows, and the sync's later writes
// fail instead of recreating some of them.
func TestDisconnectDuringSyncLeavesNoOrphans(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		generated(t, e, 300)
		disconnect := func() {
			if _, err := store.DeleteMailbox(context.Background(), e.tenantID, e.mailboxID); err != nil {
				t.Error(err)
			}
		}
		s := e.syncer(func(d *Deps) { d.PageSize = 50; d.Quota.MaxConcurrency = 1 }, e.withHook(120, disconnect))
		if err := e.run(s, false); err == nil {
			t.Fatal("Run of a disconnected mailbox succeeded")
		}
		orphans := map[string]string{
			"messages":          "SELECT COUNT(*) FROM messages WHERE mailbox_id NOT IN (SELECT id FROM mailboxes)",
			"threads":           "SELECT COUNT(*) FROM threads WHERE mailbox_id NOT IN (SELECT id FROM mailboxes)",
			"labels":            "SELECT COUNT(*) FROM labels WHERE mailbox_id NOT IN (SELECT id FROM mailboxes)",
			"raw_messages":      "SELECT COUNT(*) FROM raw_messages WHERE mailbox_id NOT IN (SELECT id FROM mailboxes)",
			"message_labels":    "SELECT COUNT(*) FROM message_labels WHERE message_id NOT IN (SELECT id FROM messages)",
			"message_addresses": "SELECT COUNT(*) FROM message_addresses WHERE message_id NOT IN (SELECT id FROM messages)",
			"attachments":       "SELECT COUNT(*) FROM attachments WHERE message_id NOT IN (SELECT id FROM messages)",
		}
		for table, q := range orphans {
			if n := countRows(t, store, q); n != 0 {
				t.Errorf("%d orphan rows in %s", n, table)
			}
		}
	})
}
