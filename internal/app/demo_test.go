package app_test

import (
	"context"
	"log/slog"
	"strings"
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
	const size = 300
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
	msgs, _, err := a.Store.ListMessages(ctx, tenant.ID, models.MessageFilter{MailboxID: mb.ID, Page: models.Page{Limit: size}})
	if err != nil || len(msgs) != size {
		t.Fatalf("list: %d messages, %v", len(msgs), err)
	}
	// The demo reads like real mail: no substitute characters from a
	// charset that could not write the text, and its newest mail is recent.
	for _, m := range msgs {
		if strings.ContainsRune(m.Subject+m.From, '\x1a') {
			t.Errorf("message %d has U+001A in %q / %q", m.ID, m.Subject, m.From)
		}
	}
	if age := time.Since(msgs[0].Date); age < 0 || age > 48*time.Hour {
		t.Errorf("newest demo message is from %v (%v ago), want within the last two days", msgs[0].Date, age)
	}
	// The README's example searches find mail in the demo.
	for _, c := range []struct {
		q     string
		check func(h search.Hit) bool
	}{
		{"invo", func(h search.Hit) bool { return strings.Contains(strings.ToLower(h.Subject), "invo") }},
		{"from:jans", func(h search.Hit) bool { return strings.Contains(strings.ToLower(h.From), "jans") }},
		{"has:attachment newer_than:2y", func(h search.Hit) bool { return time.Since(h.Date) < 2*366*24*time.Hour }},
	} {
		res, err := a.Index.Search(ctx, tenant.ID, search.Request{Query: c.q, Size: 500})
		if err != nil {
			t.Fatalf("search %q: %v", c.q, err)
		}
		if len(res.Hits) == 0 {
			t.Errorf("search %q found nothing in the demo mailbox", c.q)
		}
		for _, h := range res.Hits {
			if !c.check(h) {
				t.Errorf("search %q hit %q from %q (%v) does not match", c.q, h.Subject, h.From, h.Date)
			}
		}
		t.Logf("%q: %d hits", c.q, res.Total)
	}
	cancel()
	if err := <-workerDone; err != nil {
		t.Fatal(err)
	}
}
