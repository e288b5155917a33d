package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/models"
)

// TestDemoMailboxSurvivesRestart (finding 7): what a user did on the demo
// mailbox — a star, an archive, a case link — is still there after the web
// process restarts: the rebuilt demo mailbox has the same Gmail ids, the
// stored rows are kept and the label changes are not undone.
func TestDemoMailboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	const size = 60
	var (
		tenantID, mailboxID, caseID int64
		starred, archived           models.Message
		idsBefore                   []string
	)
	// First life: connect, sync, star one message, archive another, link
	// one to a case.
	runDemo(t, dir, size, func(ctx context.Context, a *app.App, demo *app.Demo, sy syncer) {
		tenant, user, err := a.Store.SignUp(ctx, "Demo Org", "owner@demo-org.example", "Owner", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		tenantID = tenant.ID
		mb, err := demo.ConnectDemo(ctx, tenant.ID, user.ID)
		if err != nil {
			t.Fatal(err)
		}
		mailboxID = mb.ID
		waitSynced(t, a, tenantID, mailboxID, size)
		msgs, _, err := a.Store.ListMessages(ctx, tenantID, models.MessageFilter{MailboxID: mailboxID, Page: models.Page{Limit: 500}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			switch {
			case starred.ID == 0 && !slices.Contains(m.LabelIDs(), "STARRED"):
				starred = m
			case archived.ID == 0 && slices.Contains(m.LabelIDs(), "INBOX"):
				archived = m
			}
		}
		if starred.ID == 0 || archived.ID == 0 {
			t.Fatal("no message to star or archive")
		}
		if err := sy.ChangeLabels(ctx, tenantID, starred.ID, []string{"STARRED"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := sy.ChangeLabels(ctx, tenantID, archived.ID, nil, []string{"INBOX"}); err != nil {
			t.Fatal(err)
		}
		c := &models.Case{Subject: "Follow up"}
		if err := a.Store.CreateCase(ctx, tenantID, c); err != nil {
			t.Fatal(err)
		}
		caseID = c.ID
		if err := a.Store.LinkMessage(ctx, tenantID, caseID, starred.ID); err != nil {
			t.Fatal(err)
		}
		idsBefore, _ = a.Store.GmailIDs(ctx, tenantID, mailboxID)
	})
	// Second life: same data dir, new process state; the demo is restored
	// and re-synced (a full reconcile).
	runDemo(t, dir, size, func(ctx context.Context, a *app.App, demo *app.Demo, _ syncer) {
		if err := demo.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		waitSynced(t, a, tenantID, mailboxID, size)
		ids, _ := a.Store.GmailIDs(ctx, tenantID, mailboxID)
		if !slices.Equal(ids, idsBefore) {
			t.Fatalf("Gmail ids changed across the restart (%d before, %d after)", len(idsBefore), len(ids))
		}
		s, err := a.Store.GetMessage(ctx, tenantID, starred.ID)
		if err != nil {
			t.Fatalf("starred message (row %d) gone after restart: %v", starred.ID, err)
		}
		if !slices.Contains(s.LabelIDs(), "STARRED") {
			t.Errorf("star lost across the restart: labels %v", s.LabelIDs())
		}
		ar, err := a.Store.GetMessage(ctx, tenantID, archived.ID)
		if err != nil || slices.Contains(ar.LabelIDs(), "INBOX") {
			t.Errorf("archive undone across the restart: %v, %v", ar, err)
		}
		links, err := a.Store.CaseIDsByMessage(ctx, tenantID, []int64{starred.ID})
		if err != nil || !slices.Equal(links[starred.ID], []int64{caseID}) {
			t.Errorf("case link lost across the restart: %v, %v", links, err)
		}
	})
}

type syncer interface {
	ChangeLabels(ctx context.Context, tenantID, messageID int64, add, remove []string) error
}

// runDemo runs one life of the embedded web process's demo pieces on dir.
func runDemo(t *testing.T, dir string, size int, fn func(context.Context, *app.App, *app.Demo, syncer)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.Load(env(map[string]string{"TIDINGS_DATA_DIR": dir, "TIDINGS_SYNC_INTERVAL": "1s"}))
	if err != nil {
		t.Fatal(err)
	}
	logger := testLogger(t)
	a, err := app.Open(ctx, cfg, logger, app.Options{Queue: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	demo := app.NewDemo(a.Store, logger, size)
	defer demo.Close()
	sy, err := a.NewSyncer(demo.URL())
	if err != nil {
		t.Fatal(err)
	}
	demo.SetSyncer(sy)
	done := make(chan error, 1)
	go func() { done <- a.RunWorker(ctx, app.WorkerOptionsForTest(a, sy)) }()
	fn(ctx, a, demo, sy)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitSynced(t *testing.T, a *app.App, tenantID, mailboxID int64, size int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for {
		cur, err := a.Store.GetMailbox(ctx, tenantID, mailboxID)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := a.Store.GmailIDs(ctx, tenantID, mailboxID)
		if cur.SyncState == models.SyncIdle && cur.HistoryID != 0 && cur.FullSyncHistoryID == 0 && len(ids) == size && cur.LastSyncAt != nil && cur.LastSyncAt.After(cur.CreatedAt) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo sync did not finish: state %s, %d/%d stored, last error %q", cur.SyncState, len(ids), size, cur.LastError)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
