package sync

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"tidings/emulator"
	"tidings/mail"
	"tidings/models"
)

// originalWithAttachment is a customer's message with References, Cc and
// a binary attachment with a non-ASCII name, as Gmail would hold it.
func originalWithAttachment(att []byte) []byte {
	var b bytes.Buffer
	b.WriteString("From: Ann Customer <ann@customer.example>\r\nTo: " + testEmail + ", bob@customer.example\r\nCc: carl@customer.example\r\n" +
		"Subject: Quote 42\r\nMessage-ID: <orig@customer.example>\r\nReferences: <root@customer.example> <mid@customer.example>\r\n" +
		"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find the quote.\r\n--XX\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''Angebot%C3%BC.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := []byte(base64.StdEncoding.EncodeToString(att))
	for len(enc) > 76 {
		b.Write(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.Write(enc)
	b.WriteString("\r\n--XX--\r\n")
	return b.Bytes()
}

func TestSendReplyReplyAllForwardAsGmailReceivesThem(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		att := make([]byte, 200000)
		for i := range att {
			att[i] = byte(i*31 + 7)
		}
		origGID, err := e.emu.Deliver(e.email, originalWithAttachment(att))
		if err != nil {
			t.Fatal(err)
		}
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		ids, _ := store.MessageIDsByGmailID(ctx, e.tenantID, e.mailboxID, []string{origGID})
		orig := ids[origGID]
		cs := &models.Case{Subject: "Quote 42", Status: models.CaseOpen, Priority: models.PriorityNormal}
		if err := store.CreateCase(ctx, e.tenantID, cs); err != nil {
			t.Fatal(err)
		}
		origThread := e.emu.Snapshot(e.email)[origGID].ThreadID

		cases := []struct {
			name  string
			spec  SendSpec
			files []Upload
			check func(t *testing.T, it *models.OutboxItem, raw []byte)
		}{
			{"new message with Bcc and attachment", SendSpec{To: "Zoë <zoe@partner.example>", Bcc: "boss@tidings.example", Subject: "Grüße", Text: "Hallo"},
				[]Upload{{Filename: "plan ü.txt", ContentType: "text/plain", Body: strings.NewReader("the plan\n")}},
				func(t *testing.T, it *models.OutboxItem, raw []byte) {
					env := mustEnvelope(t, raw)
					if env.GetHeader("Bcc") == "" || env.GetHeader("Subject") != "Grüße" || !strings.Contains(env.GetHeader("To"), "Zoë") {
						t.Errorf("headers: bcc %q subject %q to %q", env.GetHeader("Bcc"), env.GetHeader("Subject"), env.GetHeader("To"))
					}
					if len(env.Attachments) != 1 || string(env.Attachments[0].Content) != "the plan\n" || env.Attachments[0].FileName != "plan ü.txt" {
						t.Errorf("attachment: %+v", env.Attachments)
					}
					if !bytes.Contains(raw, []byte("filename*=utf-8''plan%20%C3%BC.txt")) {
						t.Error("file name not in RFC 2231 form")
					}
				}},
			{"reply", SendSpec{ReplyTo: orig, Text: "Thanks, Ann."}, nil, func(t *testing.T, it *models.OutboxItem, raw []byte) {
				env := mustEnvelope(t, raw)
				if env.GetHeader("In-Reply-To") != "<orig@customer.example>" ||
					env.GetHeader("References") != "<root@customer.example> <mid@customer.example> <orig@customer.example>" ||
					env.GetHeader("Subject") != "Re: Quote 42" || !strings.Contains(env.GetHeader("To"), "ann@customer.example") || env.GetHeader("Cc") != "" {
					t.Errorf("reply headers: %q %q %q %q %q", env.GetHeader("In-Reply-To"), env.GetHeader("References"), env.GetHeader("Subject"), env.GetHeader("To"), env.GetHeader("Cc"))
				}
				if it.GmailThreadID != origThread || !strings.Contains(env.Text, "> Please find the quote.") {
					t.Errorf("reply thread %s (want %s), text %q", it.GmailThreadID, origThread, env.Text)
				}
			}},
			{"reply-all", SendSpec{ReplyTo: orig, ReplyAll: true, Text: "All: thanks."}, nil, func(t *testing.T, it *models.OutboxItem, raw []byte) {
				env := mustEnvelope(t, raw)
				cc := env.GetHeader("Cc")
				if !strings.Contains(cc, "bob@customer.example") || !strings.Contains(cc, "carl@customer.example") || strings.Contains(cc+env.GetHeader("To"), testEmail) {
					t.Errorf("reply-all To %q Cc %q", env.GetHeader("To"), cc)
				}
				if it.GmailThreadID != origThread {
					t.Errorf("reply-all left the thread")
				}
			}},
			{"forward", SendSpec{Forward: orig, To: "dave@partner.example", Text: "FYI"}, nil, func(t *testing.T, it *models.OutboxItem, raw []byte) {
				env := mustEnvelope(t, raw)
				if env.GetHeader("Subject") != "Fwd: Quote 42" || !strings.Contains(env.Text, "Forwarded message") {
					t.Errorf("forward subject %q text %q", env.GetHeader("Subject"), env.Text)
				}
				if len(env.Attachments) != 1 || !bytes.Equal(env.Attachments[0].Content, att) || env.Attachments[0].FileName != "Angebotü.bin" {
					t.Errorf("forwarded attachment differs (%d attachments)", len(env.Attachments))
				}
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				it := e.submit(s, Submission{Spec: c.spec, Files: Uploads(c.files...), CaseID: &cs.ID})
				it = e.process(s, it.ID, 3)
				if it.State != models.OutboxSent || it.MessageID == nil {
					t.Fatalf("state %s, stored message %v, error %q", it.State, it.MessageID, it.LastError)
				}
				got := e.byMessageID(it.RFCMessageID)
				if len(got) != 1 {
					t.Fatalf("Gmail has %d copies", len(got))
				}
				c.check(t, it, got[0])
				// In the CRM at once: stored in its thread and linked to the case.
				m, err := store.GetMessage(ctx, e.tenantID, *it.MessageID)
				if err != nil || m.GmailThreadID != it.GmailThreadID || !slices.Contains(m.LabelIDs(), "SENT") {
					t.Fatalf("stored sent message: %+v %v", m, err)
				}
				links, _ := store.CaseIDsByMessage(ctx, e.tenantID, []int64{m.ID})
				if !slices.Contains(links[m.ID], cs.ID) {
					t.Errorf("sent message not linked to the case")
				}
			})
		}
		// The next sync reconciles without duplicates.
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()
	})
}

func TestAmbiguousSendIsResolvedByLookupNeverResent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		s := e.syncer()
		ctx := context.Background()
		it := e.submit(s, Submission{Spec: SendSpec{To: "ann@customer.example", Subject: "once", Text: "only once"}})
		e.emu.SetFaults(emulator.Faults{Rate: 1, Kinds: []emulator.FaultKind{emulator.FaultFailAfterStore}})
		if err := s.ProcessOutbox(ctx, e.tenantID, it.ID); err == nil || !errors.Is(err, errAmbiguous) {
			t.Fatalf("first attempt: %v, want ambiguous", err)
		}
		got, _ := store.GetOutboxItem(ctx, e.tenantID, it.ID)
		if !got.InFlight || got.State != models.OutboxSending {
			t.Fatalf("after ambiguous failure: in flight %v state %s", got.InFlight, got.State)
		}
		// While every call fails, the lookup fails: nothing is sent again.
		e.emu.SetFaults(emulator.Faults{Rate: 1, Kinds: []emulator.FaultKind{emulator.FaultServerError}})
		if err := s.ProcessOutbox(ctx, e.tenantID, it.ID); err == nil {
			t.Fatal("attempt with failing lookup succeeded")
		}
		e.emu.SetFaults(emulator.Faults{})
		if n := len(e.byMessageID(it.RFCMessageID)); n != 1 {
			t.Fatalf("Gmail has %d copies before resolution", n)
		}
		done := e.process(s, it.ID, 2)
		if done.State != models.OutboxSent || done.GmailMessageID == "" {
			t.Fatalf("resolved item: %s %q", done.State, done.LastError)
		}
		if n := len(e.byMessageID(it.RFCMessageID)); n != 1 {
			t.Errorf("Gmail has %d copies, want exactly 1", n)
		}
	})
}

func TestProvenNonDeliveryIsResentAndRefusalFails(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		s := e.syncer()
		ctx := context.Background()
		// A reset before the handler: Gmail never stored it; the lookup
		// proves that and the message is sent once.
		it := e.submit(s, Submission{Spec: SendSpec{To: "ann@customer.example", Subject: "reset", Text: "x"}})
		e.emu.SetFaults(emulator.Faults{Rate: 1, Kinds: []emulator.FaultKind{emulator.FaultUnavailable}})
		if err := s.ProcessOutbox(ctx, e.tenantID, it.ID); !errors.Is(err, errAmbiguous) {
			t.Fatalf("503: %v", err)
		}
		e.emu.SetFaults(emulator.Faults{})
		if done := e.process(s, it.ID, 2); done.State != models.OutboxSent {
			t.Fatalf("state %s", done.State)
		}
		if n := len(e.byMessageID(it.RFCMessageID)); n != 1 {
			t.Errorf("%d copies", n)
		}
		// Scheduled, then cancelled (undo): never sent.
		later := e.submit(s, Submission{Spec: SendSpec{To: "ann@customer.example", Subject: "undo me", Text: "x"}, SendAt: time.Now().Add(10 * time.Second)})
		if later.State != models.OutboxScheduled {
			t.Fatalf("state %s", later.State)
		}
		if err := s.ProcessOutbox(ctx, e.tenantID, later.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.CancelOutbox(ctx, e.tenantID, later.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.ProcessOutbox(ctx, e.tenantID, later.ID); err != nil {
			t.Fatal(err)
		}
		if n := len(e.byMessageID(later.RFCMessageID)); n != 0 {
			t.Errorf("cancelled message sent %d times", n)
		}
		if err := s.CancelOutbox(ctx, e.tenantID, it.ID); !errors.Is(err, models.ErrOutboxState) {
			t.Errorf("cancel of a sent item: %v", err)
		}
		// Idempotency-Key: the same key is the same item.
		a := e.submit(s, Submission{Spec: SendSpec{To: "x@y.example", Text: "k"}, IdempotencyKey: "k1"})
		b := e.submit(s, Submission{Spec: SendSpec{To: "x@y.example", Text: "k"}, IdempotencyKey: "k1"})
		if a.ID != b.ID {
			t.Errorf("same Idempotency-Key made items %d and %d", a.ID, b.ID)
		}
		// Bad input is refused before anything is stored.
		_, _, err := s.Submit(ctx, Submission{TenantID: e.tenantID, MailboxID: e.mailboxID, UserID: 1, Kind: models.OutboxSend, Spec: SendSpec{To: "not an address <", Text: "x"}})
		if !errors.Is(err, ErrInvalidSend) {
			t.Errorf("bad address: %v", err)
		}
	})
}

func TestTooLargeIsRefusedBeforeSending(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		s := e.syncer()
		big := bytes.NewReader(make([]byte, mail.MaxSendBytes*3/4+10))
		_, _, err := s.Submit(context.Background(), Submission{TenantID: e.tenantID, MailboxID: e.mailboxID, UserID: 1, Kind: models.OutboxSend,
			Spec: SendSpec{To: "a@b.example", Text: "big"}, Files: Uploads(Upload{Filename: "big.bin", Body: big})})
		if !errors.Is(err, mail.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
		if n := e.emu.MessageCount(e.email); n != 0 {
			t.Errorf("Gmail got %d messages", n)
		}
	})
}
