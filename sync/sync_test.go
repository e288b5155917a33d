package sync

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/oauth2"

	"tidings/emulator"
	"tidings/internal/testenv"
	"tidings/models"
)

func generated(t testing.TB, e *env, n int) {
	t.Helper()
	g := emulator.NewGenerator(7, emulator.GeneratorOptions{Owner: e.email})
	if err := e.emu.AddGenerated(e.email, g, n); err != nil {
		t.Fatal(err)
	}
}

func TestFullSync(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		generated(t, e, 400)
		s := e.syncer(func(d *Deps) { d.PageSize = 100 })
		var last [2]int64
		err := s.Run(context.Background(), e.tenantID, e.mailboxID, false, func(done, total int64) { last = [2]int64{done, total} })
		if err != nil {
			t.Fatal(err)
		}
		e.assertExact()
		mb := e.mailbox()
		if mb.SyncState != models.SyncIdle || mb.HistoryID == 0 || mb.FullSyncHistoryID != 0 || mb.LastSyncAt == nil {
			t.Errorf("mailbox after full sync: state %s history %d checkpoint %d", mb.SyncState, mb.HistoryID, mb.FullSyncHistoryID)
		}
		if last != [2]int64{400, 400} || mb.ProgressDone != 400 {
			t.Errorf("progress = %v (stored %d), want 400/400", last, mb.ProgressDone)
		}
		labels, err := store.ListLabels(context.Background(), e.tenantID, e.mailboxID)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, l := range labels {
			names[l.Name] = true
		}
		for _, want := range []string{"INBOX", "Work", "Travel/2024"} {
			if !names[want] {
				t.Errorf("label %q not synced (have %v)", want, names)
			}
		}
		if got := e.counter.rawGets.Load(); got != 400 {
			t.Errorf("fetched %d messages, want exactly 400", got)
		}
	})
}

func TestIncrementalSync(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		work, err := e.emu.CreateLabel(e.email, "Customers")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 6 {
			id, err := e.emu.Deliver(e.email, rawMessage(i, "Hello", ""), "INBOX", work)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()

		// A label removed from ONE message: the others keep it.
		if err := e.emu.ModifyLabels(e.email, ids[0], []string{"STARRED"}, []string{work}); err != nil {
			t.Fatal(err)
		}
		if err := e.emu.Trash(e.email, ids[1]); err != nil {
			t.Fatal(err)
		}
		if err := e.emu.Delete(e.email, ids[2]); err != nil {
			t.Fatal(err)
		}
		newID, err := e.emu.Deliver(e.email, rawMessage(10, "New", ""))
		if err != nil {
			t.Fatal(err)
		}
		before := e.counter.rawGets.Load()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()
		if got := e.counter.rawGets.Load() - before; got != 1 {
			t.Errorf("incremental fetched %d messages, want 1 (the new one)", got)
		}
		st, err := store.MessageStates(ctx, e.tenantID, e.mailboxID, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids[3:] {
			if !slices.Contains(st[id].LabelIDs, work) {
				t.Errorf("message %s lost label %s when another message was unlabelled: %v", id, work, st[id].LabelIDs)
			}
		}
		if slices.Contains(st[ids[0]].LabelIDs, work) || !slices.Contains(st[ids[0]].LabelIDs, "STARRED") {
			t.Errorf("relabelled message has %v", st[ids[0]].LabelIDs)
		}
		if !slices.Contains(st[ids[1]].LabelIDs, "TRASH") {
			t.Errorf("trashed message has %v", st[ids[1]].LabelIDs)
		}
		if _, ok := st[ids[2]]; ok {
			t.Error("deleted message still stored")
		}
		if _, ok := e.mustStates(newID)[newID]; !ok {
			t.Error("delivered message not stored")
		}
		if e.mailbox().HistoryID != e.emu.HistoryID(e.email) {
			t.Errorf("cursor %d, Gmail at %d", e.mailbox().HistoryID, e.emu.HistoryID(e.email))
		}
	})
}

func TestHistoryExpiredReconciles(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		generated(t, e, 120)
		s := e.syncer(func(d *Deps) { d.PageSize = 50 })
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		snap := e.emu.Snapshot(e.email)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range snap {
				if !yield(k) {
					return
				}
			}
		})
		// Changes the history would have told us about, then history gone.
		// The deletions fall in different pages of the deletion check
		// (50 stored ids a page, in id order).
		for _, k := range []string{keys[0], keys[70], keys[len(keys)-1]} {
			if err := e.emu.Delete(e.email, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.emu.ModifyLabels(e.email, keys[1], []string{"STARRED"}, []string{"INBOX"}); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := e.emu.Deliver(e.email, rawMessage(100+i, "After expiry", "")); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.emu.ExpireHistory(e.email); err != nil {
			t.Fatal(err)
		}
		before := e.counter.rawGets.Load()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()
		mb := e.mailbox()
		if mb.Resyncs != 1 {
			t.Errorf("Resyncs = %d, want 1", mb.Resyncs)
		}
		if got := e.counter.rawGets.Load() - before; got != 5 {
			t.Errorf("reconcile fetched %d full messages, want only the 5 new ones", got)
		}
		// Converged: the next run is an ordinary incremental one.
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		if mb := e.mailbox(); mb.Resyncs != 1 {
			t.Errorf("Resyncs = %d after a further run, want 1 (no loop)", mb.Resyncs)
		}
		e.assertExact()
	})
}

func TestRevokedGrantNeedsReauth(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		if _, err := e.emu.Deliver(e.email, rawMessage(1, "x", "")); err != nil {
			t.Fatal(err)
		}
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		if err := e.emu.RevokeRefreshToken(e.email); err != nil {
			t.Fatal(err)
		}
		err := e.run(s, false)
		if !errors.Is(err, ErrNeedsReauth) {
			t.Fatalf("Run = %v, want ErrNeedsReauth", err)
		}
		mb := e.mailbox()
		if !mb.NeedsReauth || mb.SyncState != models.SyncNeedsReauth || !strings.Contains(mb.LastError, "invalid_grant") {
			t.Errorf("mailbox: needs_reauth=%v state=%s last_error=%q", mb.NeedsReauth, mb.SyncState, mb.LastError)
		}
		// The task handler tells asynq not to retry.
		task := asynq.NewTask(TypeIncrementalSync, []byte(`{"tenant_id":`+itoa(e.tenantID)+`,"mailbox_id":`+itoa(e.mailboxID)+`}`))
		if err := s.handleSync(false)(context.Background(), task); !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("handler error = %v, want SkipRetry", err)
		}
		refs, err := store.MailboxesToSync(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 0 {
			t.Errorf("scheduler would still sync %v", refs)
		}
	})
}

func TestOddMessagesSyncCompletely(t *testing.T) {
	odd := map[string][]byte{
		"nul":        []byte("From: a@x.example\r\nSubject: nul\x00byte\r\n\r\nbody \x00 with NUL\r\n"),
		"latin1":     []byte("From: b@x.example\r\nSubject: caf\xe9\r\nContent-Type: text/plain\r\n\r\ninvalid \xff\xfe utf-8\r\n"),
		"garbage":    {0xff, 0xfe, 0x00, 0x01, 0x02, '\r', '\n', 0x80},
		"no-headers": []byte("just a line of text without any header\r\n"),
		"bad-mime":   []byte("From: c@x.example\r\nContent-Type: multipart/mixed; boundary=\"\r\n\r\n--\r\nbroken\r\n"),
		"empty-ish":  []byte("\r\n"),
	}
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		ids := map[string]string{}
		for name, raw := range odd {
			id, err := e.emu.Deliver(e.email, raw)
			if err != nil {
				t.Fatalf("deliver %s: %v", name, err)
			}
			ids[name] = id
		}
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()
		for name, id := range ids {
			dbIDs, err := store.MessageIDsByGmailID(ctx, e.tenantID, e.mailboxID, []string{id})
			if err != nil {
				t.Fatal(err)
			}
			m, err := store.GetMessage(ctx, e.tenantID, dbIDs[id])
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if strings.ContainsRune(m.Subject+m.Text, 0) {
				t.Errorf("%s: NUL byte stored", name)
			}
			if m.DecodeError != "" || len(m.Warnings) > 0 {
				raw, err := store.RawMessageOf(ctx, e.tenantID, e.mailboxID, id)
				if err != nil || string(raw) != string(odd[name]) {
					t.Errorf("%s: raw bytes not kept exactly (err %v)", name, err)
				}
			}
		}
	})
}

func TestSyncTwiceChangesNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		generated(t, e, 150)
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		first, err := mailboxState(ctx, store, e.tenantID, e.mailboxID)
		if err != nil {
			t.Fatal(err)
		}
		hist := e.mailbox().HistoryID
		before := e.counter.rawGets.Load()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		if err := e.run(s, true); err != nil { // forced full: a reconcile of an unchanged mailbox
			t.Fatal(err)
		}
		second, err := mailboxState(ctx, store, e.tenantID, e.mailboxID)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != len(second) {
			t.Fatalf("message count changed: %d → %d", len(first), len(second))
		}
		for id, a := range first {
			if b := second[id]; b.ThreadID != a.ThreadID || !slices.Equal(a.LabelIDs, b.LabelIDs) {
				t.Errorf("message %s changed: %v → %v", id, a, b)
			}
		}
		if got := e.counter.rawGets.Load() - before; got != 0 {
			t.Errorf("re-syncing an unchanged mailbox fetched %d full messages", got)
		}
		if h := e.mailbox().HistoryID; h != hist {
			t.Errorf("cursor moved %d → %d without changes", hist, h)
		}
		e.assertExact()
	})
}

func TestResumeAfterCancel(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		const n = 300
		generated(t, e, n)
		s := e.syncer(func(d *Deps) { d.PageSize = 50 })
		ctx, cancel := context.WithCancel(context.Background())
		// Stop once 150 messages are stored and a checkpoint past the
		// first 100 has committed. The count alone does not say where the
		// checkpoint is: with several write lanes (Postgres) a page's
		// messages may be stored before the checkpoint of the page
		// before it, which a stop then cancels.
		err := s.Run(ctx, e.tenantID, e.mailboxID, false, func(done, _ int64) {
			if done < 150 {
				return
			}
			if mb, err := store.GetMailbox(context.Background(), e.tenantID, e.mailboxID); err == nil && mb.ProgressDone >= 100 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		mb := e.mailbox()
		if mb.FullSyncHistoryID == 0 || mb.FullSyncPageToken == "" || mb.ProgressDone < 100 {
			t.Fatalf("no checkpoint: %+v", mb)
		}
		if mb.SyncState == models.SyncFull || mb.SyncState == models.SyncIncremental {
			t.Errorf("lease not released: state %s", mb.SyncState)
		}
		storedIDs, err := store.GmailIDs(context.Background(), e.tenantID, e.mailboxID)
		if err != nil {
			t.Fatal(err)
		}
		stored := int64(len(storedIDs))
		if stored < mb.ProgressDone || stored >= n {
			t.Fatalf("%d messages stored at the stop, checkpoint at %d of %d", stored, mb.ProgressDone, n)
		}
		raw0, min0 := e.counter.rawGets.Load(), e.counter.minGets.Load()
		// A new Syncer (process state dropped) resumes from the checkpoint:
		// it fetches in full exactly the messages not stored yet, and
		// checks the labels only of those stored after the checkpoint
		// (it lists from there, not from the top).
		s2 := e.syncer(func(d *Deps) { d.PageSize = 50 })
		if err := e.run(s2, false); err != nil {
			t.Fatal(err)
		}
		raw, minimal := e.counter.rawGets.Load()-raw0, e.counter.minGets.Load()-min0
		if raw != n-stored {
			t.Errorf("resume fetched %d messages in full, want the %d not stored (%d of %d were)", raw, n-stored, stored, n)
		}
		if minimal != stored-mb.ProgressDone {
			t.Errorf("resume checked the labels of %d stored messages, want the %d stored after the checkpoint at %d",
				minimal, stored-mb.ProgressDone, mb.ProgressDone)
		}
		e.assertExact()
	})
}

func TestTokenRefreshIsSealed(t *testing.T) {
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	if _, err := e.emu.Deliver(e.email, rawMessage(1, "x", "")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var before oauth2.Token
	if err := store.LoadToken(ctx, e.tenantID, e.mailboxID, &before); err != nil {
		t.Fatal(err)
	}
	// An access token that has expired: the first call refreshes it.
	before.Expiry = time.Now().Add(-time.Hour)
	if err := store.SaveToken(ctx, e.tenantID, e.mailboxID, &before); err != nil {
		t.Fatal(err)
	}
	if err := e.run(e.syncer(), false); err != nil {
		t.Fatal(err)
	}
	var after oauth2.Token
	if err := store.LoadToken(ctx, e.tenantID, e.mailboxID, &after); err != nil {
		t.Fatal(err)
	}
	if after.AccessToken == before.AccessToken || after.RefreshToken != before.RefreshToken {
		t.Errorf("refreshed token not saved (access changed: %v, refresh kept: %v)", after.AccessToken != before.AccessToken, after.RefreshToken == before.RefreshToken)
	}
	mb := e.mailbox()
	if strings.Contains(string(mb.TokenCiphertext), after.AccessToken) || strings.Contains(string(mb.TokenCiphertext), after.RefreshToken) {
		t.Error("token stored in plaintext")
	}
}
