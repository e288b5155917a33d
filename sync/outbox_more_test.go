package sync

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"

	"tidings/emulator"
	"tidings/models"
)

// uploadWatch counts resumable-upload requests and cancels the worker's
// context after the first chunk Gmail acknowledged: a worker killed in
// the middle of a 35 MB send.
type uploadWatch struct {
	base        http.RoundTripper
	initiations atomic.Int64
	chunks      atomic.Int64
	queries     atomic.Int64
	kill        atomic.Pointer[context.CancelFunc]
}

func (u *uploadWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case r.Method == http.MethodPost && r.URL.Query().Get("uploadType") == "resumable":
		u.initiations.Add(1)
	case r.Method == http.MethodPut && strings.HasPrefix(r.Header.Get("Content-Range"), "bytes */"):
		u.queries.Add(1)
	case r.Method == http.MethodPut:
		u.chunks.Add(1)
	}
	resp, err := u.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && resp.StatusCode == http.StatusPermanentRedirect {
		if k := u.kill.Swap(nil); k != nil {
			(*k)()
		}
	}
	return resp, err
}

func TestResumableSendSurvivesWorkerKill(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		uw := &uploadWatch{base: e.counter}
		mod := func(d *Deps) {
			d.HTTPClient = &http.Client{Transport: uw, Timeout: time.Minute}
			d.OutboxLease = 50 * time.Millisecond
		}
		s := e.syncer(mod)
		payload := make([]byte, 20<<20)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range payload {
			payload[i] = byte(rng.UintN(256))
		}
		it := e.submit(s, Submission{Spec: SendSpec{To: "ann@customer.example", Subject: "big", Text: "see attached"},
			Files: Uploads(Upload{Filename: "data.bin", ContentType: "application/octet-stream", Body: bytes.NewReader(payload)})})
		ctx, cancel := context.WithCancel(context.Background())
		uw.kill.Store(&cancel)
		if err := s.ProcessOutbox(ctx, e.tenantID, it.ID); !errors.Is(err, context.Canceled) {
			t.Fatalf("killed worker: %v", err)
		}
		mid, _ := store.GetOutboxItem(context.Background(), e.tenantID, it.ID)
		if mid.UploadURI == "" || mid.State != models.OutboxSending {
			t.Fatalf("after kill: session %q state %s", mid.UploadURI, mid.State)
		}
		// A new worker (fresh Syncer, as after a restart) waits out the
		// lease, asks the session how much arrived and resumes; 503s on
		// some chunks along the way.
		time.Sleep(100 * time.Millisecond)
		e.emu.SetFaults(emulator.Faults{Rate: 0.2, Kinds: []emulator.FaultKind{emulator.FaultUnavailable}})
		done := e.process(e.syncer(mod), it.ID, 30)
		e.emu.SetFaults(emulator.Faults{})
		if done.State != models.OutboxSent {
			t.Fatalf("state %s: %s", done.State, done.LastError)
		}
		if uw.initiations.Load() != 1 || uw.queries.Load() == 0 {
			t.Errorf("%d sessions started, %d status queries: want 1 session resumed after a query", uw.initiations.Load(), uw.queries.Load())
		}
		got := e.byMessageID(it.RFCMessageID)
		if len(got) != 1 {
			t.Fatalf("%d copies in Gmail", len(got))
		}
		env := mustEnvelope(t, got[0])
		if len(env.Attachments) != 1 || !bytes.Equal(env.Attachments[0].Content, payload) {
			t.Error("attachment bytes differ after resume")
		}
		// In the CRM at once, from the shadow copy (not fetched back).
		if done.MessageID == nil {
			t.Fatal("sent message not stored")
		}
		m, err := store.GetMessage(context.Background(), e.tenantID, *done.MessageID)
		if err != nil || m.Subject != "big" || len(m.Attachments) != 1 || m.Attachments[0].Size != int64(len(payload)) ||
			m.Attachments[0].Filename != "data.bin" || m.RFCMessageID != it.RFCMessageID || !strings.Contains(m.Text, "see attached") {
			t.Fatalf("stored sent message: %+v %v", m, err)
		}
		// The next sync reconciles it without a duplicate.
		if err := e.run(e.syncer(), false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()
	})
}

// gmailService is the official client for the test user, as a person
// editing in Gmail would act.
func (e *env) gmailService() *gmail.Service {
	e.t.Helper()
	tok, err := e.emu.Token(e.email)
	if err != nil {
		e.t.Fatal(err)
	}
	hc := (&oauth2.Config{Endpoint: emulator.OAuthEndpoint(e.emu.URL)}).Client(context.Background(), tok)
	svc, err := gmail.NewService(context.Background(), option.WithEndpoint(e.emu.URL+"/"), option.WithHTTPClient(hc))
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func TestDraftsSyncBothWaysWithoutLoss(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		s := e.syncer()
		svc := e.gmailService()
		drafts := func() []*gmail.Draft {
			l, err := svc.Users.Drafts.List("me").Do()
			if err != nil {
				t.Fatal(err)
			}
			return l.Drafts
		}
		draftRaw := func(id string) []byte {
			d, err := svc.Users.Drafts.Get("me", id).Format("raw").Do()
			if err != nil {
				t.Fatal(err)
			}
			raw, err := decodeRaw(d.Message.Raw)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
		spec := SendSpec{To: "ann@customer.example", Cc: "carl@customer.example", Bcc: "boss@tidings.example", Subject: "Draft", Text: "first body"}
		it := e.process(s, e.submit(s, Submission{Kind: models.OutboxDraftSave, Spec: spec,
			Files: Uploads(Upload{Filename: "a.txt", Body: strings.NewReader("attached")})}).ID, 3)
		if it.State != models.OutboxSent || it.GmailDraftID == "" {
			t.Fatalf("draft save: %s %q", it.State, it.LastError)
		}
		env := mustEnvelope(t, draftRaw(it.GmailDraftID))
		if env.GetHeader("Cc") == "" || env.GetHeader("Bcc") == "" || !strings.Contains(env.Text, "first body") || len(env.Attachments) != 1 {
			t.Fatalf("draft lost a field: cc %q bcc %q text %q attachments %d", env.GetHeader("Cc"), env.GetHeader("Bcc"), env.Text, len(env.Attachments))
		}
		// Edited in tidings: the same draft, updated.
		spec.Text = "second body"
		it2 := e.process(s, e.submit(s, Submission{Kind: models.OutboxDraftSave, Spec: spec, GmailDraftID: it.GmailDraftID}).ID, 3)
		if ds := drafts(); len(ds) != 1 || ds[0].Id != it.GmailDraftID || it2.GmailDraftID != it.GmailDraftID {
			t.Fatalf("edit made %d drafts", len(ds))
		}
		// Edited in Gmail: sync brings the new version, the old one goes.
		edited := "From: " + testEmail + "\r\nTo: ann@customer.example\r\nCc: carl@customer.example\r\nSubject: Draft\r\nMessage-ID: <gmail-edit@tidings.example>\r\n\r\nedited in Gmail\r\n"
		d, err := svc.Users.Drafts.Update("me", it.GmailDraftID, &gmail.Draft{Message: &gmail.Message{Raw: encodeRaw([]byte(edited))}}).Do()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		ids, _ := store.MessageIDsByGmailID(ctx, e.tenantID, e.mailboxID, []string{d.Message.Id, it2.GmailMessageID})
		if ids[d.Message.Id] == 0 || ids[it2.GmailMessageID] != 0 {
			t.Fatalf("after sync: Gmail's version stored %v, old version gone %v", ids[d.Message.Id] != 0, ids[it2.GmailMessageID] == 0)
		}
		// Edited again in tidings from Gmail's version, then sent.
		spec.Text = "third body"
		it3 := e.process(s, e.submit(s, Submission{Kind: models.OutboxDraftSave, Spec: SendSpec{To: spec.To, Cc: spec.Cc, Subject: "Draft", Text: "third body", DraftGmailID: d.Message.Id}}).ID, 3)
		if ds := drafts(); len(ds) != 1 || it3.GmailDraftID != it.GmailDraftID {
			t.Fatalf("edit of Gmail's draft: %d drafts, id %s", len(ds), it3.GmailDraftID)
		}
		stored, err := store.GetMessage(ctx, e.tenantID, *it3.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		e.emu.SetFaults(emulator.Faults{Rate: 1, Kinds: []emulator.FaultKind{emulator.FaultFailAfterStore}})
		sent := e.submit(s, Submission{Kind: models.OutboxDraftSend, Spec: SendSpec{DraftGmailID: it3.GmailMessageID}, RFCMessageID: stored.RFCMessageID})
		if err := s.ProcessOutbox(ctx, e.tenantID, sent.ID); err == nil {
			t.Fatal("drafts.send with fail-after-store reported success")
		}
		e.emu.SetFaults(emulator.Faults{})
		sent = e.process(s, sent.ID, 3)
		if sent.State != models.OutboxSent || len(drafts()) != 0 {
			t.Fatalf("draft send: %s %q, %d drafts left", sent.State, sent.LastError, len(drafts()))
		}
		copies := e.byMessageID(stored.RFCMessageID)
		if len(copies) != 1 || !strings.Contains(mustEnvelope(t, copies[0]).Text, "third body") {
			t.Fatalf("%d sent copies", len(copies))
		}
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()
	})
}

func TestMailboxActions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		var gids []string
		for i := range 3 {
			id, err := e.emu.Deliver(e.email, rawMessage(i, "Action", ""))
			if err != nil {
				t.Fatal(err)
			}
			gids = append(gids, id)
		}
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		act := func(sp ActionSpec) {
			t.Helper()
			it, _, err := s.SubmitAction(ctx, e.tenantID, 1, e.mailboxID, sp, "")
			if err != nil {
				t.Fatal(err)
			}
			if it = e.process(s, it.ID, 3); it.State != models.OutboxSent {
				t.Fatalf("%s: %s %q", sp.Op, it.State, it.LastError)
			}
		}
		labels := func(gid string) []string { return e.emu.Snapshot(e.email)[gid].LabelIDs }
		act(ActionSpec{Op: OpModify, GmailIDs: gids[:1], Add: []string{"STARRED"}, Remove: []string{"UNREAD"}})
		act(ActionSpec{Op: OpModify, GmailIDs: gids[1:], Remove: []string{"INBOX"}}) // batchModify: archive
		act(ActionSpec{Op: OpTrash, GmailIDs: gids[2:]})
		if l := labels(gids[0]); !slices.Contains(l, "STARRED") || slices.Contains(l, "UNREAD") {
			t.Errorf("star/read: %v", l)
		}
		if l := labels(gids[1]); slices.Contains(l, "INBOX") {
			t.Errorf("archive: %v", l)
		}
		if l := labels(gids[2]); !slices.Contains(l, "TRASH") {
			t.Errorf("trash: %v", l)
		}
		e.assertExact() // the store followed at once
		act(ActionSpec{Op: OpUntrash, GmailIDs: gids[2:]})
		if _, _, err := s.SubmitAction(ctx, e.tenantID, 1, e.mailboxID, ActionSpec{Op: OpDelete, GmailIDs: gids[:1]}, ""); !errors.Is(err, ErrScopeForDelete) {
			t.Fatalf("delete with gmail.modify: %v", err)
		}
		if err := store.UpdateMailbox(ctx, e.tenantID, e.mailboxID, map[string]any{"scopes": gmail.MailGoogleComScope}); err != nil {
			t.Fatal(err)
		}
		act(ActionSpec{Op: OpDelete, GmailIDs: gids[:1]})
		if _, ok := e.emu.Snapshot(e.email)[gids[0]]; ok {
			t.Error("permanently deleted message still in Gmail")
		}
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()
	})
}
