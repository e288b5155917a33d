package app_test

import (
	"context"
	"testing"
	"time"

	"tidings/emulator"
	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/models"
	mailsync "tidings/sync"
)

// TestBusySyncIsRetriedAfterLease (finding 1): a sync task that finds its
// mailbox leased by a worker that was killed is not reported as done; the
// worker retries it once the dead holder's lease expires, and that retry
// takes the mailbox over and syncs it (no scheduler tick involved).
func TestBusySyncIsRetriedAfterLease(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.Load(env(map[string]string{"TIDINGS_DATA_DIR": t.TempDir(), "TIDINGS_SYNC_INTERVAL": "1h", "TIDINGS_SYNC_LEASE_TTL": "3s"}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, testLogger(t), app.Options{Queue: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	emu := emulator.NewServer()
	defer emu.Close()
	const email = "busy@example.com"
	if _, err := emu.AddUser(email); err != nil {
		t.Fatal(err)
	}
	if err := emu.AddGenerated(email, emulator.NewGenerator(3, emulator.GeneratorOptions{Owner: email}), 10); err != nil {
		t.Fatal(err)
	}
	tenant, _, err := a.Store.SignUp(ctx, "Busy Org", "owner@busy.example", "Owner", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	mb := &models.Mailbox{Email: email}
	if err := a.Store.CreateMailbox(ctx, tenant.ID, mb); err != nil {
		t.Fatal(err)
	}
	tok, err := emu.Token(email)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.SaveToken(ctx, tenant.ID, mb.ID, tok); err != nil {
		t.Fatal(err)
	}
	// A worker took the lease and was killed: nobody renews it.
	dead, err := a.Store.AcquireSyncLease(ctx, tenant.ID, mb.ID, "killed-worker", models.SyncFull, cfg.SyncLeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	sy, err := a.NewSyncer(emu.URL)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.RunWorker(ctx, app.WorkerOptionsForTest(a, sy)) }()
	if err := sy.Enqueue(ctx, tenant.ID, mb.ID, mailsync.KindIncremental); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		cur, err := a.Store.GetMailbox(ctx, tenant.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.SyncState == models.SyncIdle && cur.ProgressDone == 10 {
			if cur.LeaseGeneration != dead.Generation+1 {
				t.Errorf("lease generation %d, want the dead holder's %d + 1", cur.LeaseGeneration, dead.Generation)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the busy sync was never retried: state %s, %d stored, lease %q/%d", cur.SyncState, cur.ProgressDone, cur.LeaseOwner, cur.LeaseGeneration)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
