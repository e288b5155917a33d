package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/models"
	"tidings/search"
)

// TestDemoMailboxEndToEnd runs the embedded default's whole pipeline the
// way `go run ./cmd/web` does on a fresh machine: the in-process emulator
// serves a generated mailbox, the asynq worker on embedded Redis runs the
// real sync through the official Gmail client, messages land in SQLite and
// in the embedded search index, and a prefix search finds them.
func TestDemoMailboxEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.Load(env(map[string]string{"TIDINGS_DATA_DIR": t.TempDir(), "TIDINGS_SYNC_INTERVAL": "2s"}))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	a, err := app.Open(ctx, cfg, logger, app.Options{Queue: true, Search: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const size = 200
	demo := app.NewDemo(a.Store, logger, size)
	defer demo.Close()
	syncer, err := a.NewSyncer(demo.URL())
	if err != nil {
		t.Fatal(err)
	}
	demo.SetSyncer(syncer)
	workerDone := make(chan error, 1)
	go func() { workerDone <- a.RunWorker(ctx, app.WorkerOptionsForTest(a, syncer)) }()

	tenant, user, err := a.Store.SignUp(ctx, "Demo Org", "owner@demo-org.example", "Owner", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := demo.ConnectDemo(ctx, tenant.ID, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	again, err := demo.ConnectDemo(ctx, tenant.ID, user.ID)
	if err != nil || again.ID != mb.ID {
		t.Fatalf("connecting twice: %v, %v", again, err)
	}

	deadline := time.Now().Add(90 * time.Second)
	for {
		cur, err := a.Store.GetMailbox(ctx, tenant.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := a.Store.GmailIDs(ctx, tenant.ID, mb.ID)
		if cur.SyncState == models.SyncIdle && cur.HistoryID != 0 && len(ids) == size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo sync did not finish: state %s, %d/%d stored, last error %q", cur.SyncState, len(ids), size, cur.LastError)
		}
		time.Sleep(200 * time.Millisecond)
	}
	n, err := a.Index.Count(ctx, tenant.ID, mb.ID)
	if err != nil || n != size {
		t.Fatalf("index holds %d documents (%v), want %d", n, err, size)
	}
	msgs, _, err := a.Store.ListMessages(ctx, tenant.ID, models.MessageFilter{MailboxID: mb.ID, Page: models.Page{Limit: 1}})
	if err != nil || len(msgs) == 0 {
		t.Fatalf("list: %v", err)
	}
	// A prefix of a word from a stored subject finds that message.
	word := firstLongWord(msgs[0].Subject)
	if word == "" {
		t.Skipf("no searchable word in %q", msgs[0].Subject)
	}
	res, err := a.Index.Search(ctx, tenant.ID, search.Request{Query: "subject:" + word[:4], Size: 500})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range res.Hits {
		found = found || h.ID == msgs[0].ID
	}
	if !found {
		t.Fatalf("search subject:%s did not find %q (%d hits)", word[:4], msgs[0].Subject, res.Total)
	}
	cancel()
	if err := <-workerDone; err != nil {
		t.Fatal(err)
	}
}

func firstLongWord(s string) string {
	word := ""
	for _, r := range s + " " {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			word += string(r)
			continue
		}
		if len(word) >= 5 {
			return word
		}
		word = ""
	}
	return ""
}
