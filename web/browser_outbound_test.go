package web

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jhillyerd/enmime/v2"

	"tidings/internal/testenv"
	"tidings/models"
)

// TestBrowserOutbound drives compose, reply, forward, drafts, scheduled
// send, undo and the toggling action buttons in Chromium, against the
// real outbox and the Gmail emulator, with a worker running alongside.
func TestBrowserOutbound(t *testing.T) {
	c := newChrome(t)
	store := testenv.OpenSQLite(t)
	o := newOutboxEnv(t, store)
	o.srv.d.UndoWindow = 2 * time.Second
	f := o.fix
	ctx := context.Background()
	email := "inbox@alpha.example"

	// A customer's message with an attachment, synced into the CRM.
	att := bytes.Repeat([]byte("PDF-bytes-\x00\x01\xff"), 5000)
	raw := "From: Carol <carol@alpha-customer.example>\r\nTo: " + email + "\r\nSubject: Price list\r\nMessage-ID: <price@alpha-customer.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nAttached our prices.\r\n--B\r\n" +
		"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=prices.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64lines(att) + "--B--\r\n"
	origGID, err := o.emu.Deliver(email, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.syncer.Run(ctx, f.TenantID, f.MailboxID, true, nil); err != nil {
		t.Fatal(err)
	}
	ids, _ := store.MessageIDsByGmailID(ctx, f.TenantID, f.MailboxID, []string{origGID})
	origID := ids[origGID]
	orig, _ := store.GetMessage(ctx, f.TenantID, origID)
	threads, _, _ := store.ListThreads(ctx, f.TenantID, f.MailboxID, models.Page{})
	var threadID int64
	for _, th := range threads {
		if th.GmailThreadID == orig.GmailThreadID {
			threadID = th.ID
		}
	}
	// The worker: carries out due outbox items, as asynq would.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for wctx.Err() == nil {
			_, _ = o.syncer.ProcessDue(wctx)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	waitState := func(kind models.OutboxKind, subject string, want models.OutboxState) *models.OutboxItem {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			items, _, _ := store.ListOutboxItems(ctx, f.TenantID, models.OutboxFilter{})
			for i := range items {
				if items[i].Kind == kind && items[i].Subject == subject && items[i].State == want {
					return &items[i]
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		items, _, _ := store.ListOutboxItems(ctx, f.TenantID, models.OutboxFilter{})
		for _, it := range items {
			t.Logf("item %d %s %q %s %q send_at %s", it.ID, it.Kind, it.Subject, it.State, it.LastError, it.SendAt)
		}
		t.Fatalf("no %s item %q reached %s", kind, subject, want)
		return nil
	}
	inGmail := func(it *models.OutboxItem) *enmime.Envelope {
		t.Helper()
		copies := gmailCopies(t, o.emu, f, it.RFCMessageID)
		if len(copies) != 1 {
			t.Fatalf("%q is in Gmail %d times", it.Subject, len(copies))
		}
		env, err := enmime.ReadEnvelope(bytes.NewReader(copies[0]))
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	// The user reads and types times in Tokyo (UTC+9, no DST).
	must(t, store.SetUserTimeZone(ctx, f.UserID, "Asia/Tokyo"))
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	u := o.ts.URL
	c.do(t, "login",
		chromedp.Navigate(u+"/login"), chromedp.WaitVisible(css(`input[name=email]`)),
		chromedp.SendKeys(css(`input[name=email]`), f.Email), chromedp.SendKeys(css(`input[name=password]`), f.Password),
		chromedp.Click(css(`form button[type=submit]`)), chromedp.WaitVisible(css(`.stats`)))

	// 1. Compose with an attachment.
	file := filepath.Join(t.TempDir(), "terms.txt")
	if err := os.WriteFile(file, []byte("our terms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.do(t, "compose",
		chromedp.Navigate(fmt.Sprintf("%s/compose?mailbox=%d", u, f.MailboxID)), chromedp.WaitVisible(css(`#compose`)),
		chromedp.SendKeys(css(`#to`), "dan@partner.example"), chromedp.SendKeys(css(`#subject`), "Terms"),
		chromedp.SendKeys(css(`#text`), "Please see the terms."),
		chromedp.SetUploadFiles(css(`#files`), []string{file}),
		chromedp.Poll[chromedp.Void](`document.querySelector('#files-size').innerText.startsWith('1 file')`, chromedp.WithPollingTimeout(5*time.Second)))
	c.shot(t, "01-compose")
	c.do(t, "send", chromedp.Click(css(`#send`)), chromedp.WaitVisible(css(`#undo-notice`)))
	c.shot(t, "02-outbox-undo")
	env := inGmail(waitState(models.OutboxSend, "Terms", models.OutboxSent))
	if len(env.Attachments) != 1 || string(env.Attachments[0].Content) != "our terms\n" || env.GetHeader("To") != "<dan@partner.example>" {
		t.Errorf("composed message: to %q, %d attachments", env.GetHeader("To"), len(env.Attachments))
	}

	// 2. Reply from the thread page stays in the thread.
	c.do(t, "reply",
		chromedp.Navigate(fmt.Sprintf("%s/threads/%d", u, threadID)), chromedp.WaitVisible(css(`.reply-links`)),
		chromedp.Click(css(fmt.Sprintf(`#reply-%d`, origID))), chromedp.WaitVisible(css(`#compose`)))
	if got := c.eval(t, `document.querySelector('#to').value + ' | ' + document.querySelector('#subject').value`); got != "\"Carol\" <carol@alpha-customer.example> | Re: Price list" {
		t.Errorf("reply form prefilled with %q", got)
	}
	c.do(t, "send reply", chromedp.SendKeys(css(`#text`), "Thanks Carol."), chromedp.Click(css(`#send`)), chromedp.WaitVisible(css(`#undo-notice`)))
	reply := waitState(models.OutboxSend, "Re: Price list", models.OutboxSent)
	env = inGmail(reply)
	if env.GetHeader("In-Reply-To") != "<price@alpha-customer.example>" || reply.GmailThreadID != orig.GmailThreadID {
		t.Errorf("reply: In-Reply-To %q thread %s, want thread %s", env.GetHeader("In-Reply-To"), reply.GmailThreadID, orig.GmailThreadID)
	}

	// 3. Forward from the message page carries the attachment.
	c.do(t, "forward",
		chromedp.Navigate(fmt.Sprintf("%s/messages/%d", u, origID)), chromedp.WaitVisible(css(fmt.Sprintf(`#forward-%d`, origID))),
		chromedp.Click(css(fmt.Sprintf(`#forward-%d`, origID))), chromedp.WaitVisible(css(`#compose`)),
		chromedp.SendKeys(css(`#to`), "erin@partner.example"), chromedp.Click(css(`#send`)), chromedp.WaitVisible(css(`#undo-notice`)))
	env = inGmail(waitState(models.OutboxSend, "Fwd: Price list", models.OutboxSent))
	if len(env.Attachments) != 1 || !bytes.Equal(env.Attachments[0].Content, att) {
		t.Errorf("forward lost the attachment (%d attachments)", len(env.Attachments))
	}

	// 4. Save a draft, then send it from the drafts list.
	c.do(t, "save draft",
		chromedp.Navigate(fmt.Sprintf("%s/compose?mailbox=%d", u, f.MailboxID)), chromedp.WaitVisible(css(`#compose`)),
		chromedp.SendKeys(css(`#to`), "fay@partner.example"), chromedp.SendKeys(css(`#cc`), "gus@partner.example"),
		chromedp.SendKeys(css(`#subject`), "Draft offer"), chromedp.SendKeys(css(`#text`), "Offer inside."),
		chromedp.Click(css(`#save-draft`)), chromedp.WaitVisible(css(`#drafts`)))
	c.shot(t, "03-drafts")
	c.do(t, "send draft", chromedp.Click(css(`#drafts form button`)), chromedp.WaitVisible(css(`#undo-notice`)))
	env = inGmail(waitState(models.OutboxDraftSend, "Draft offer", models.OutboxSent))
	if env.GetHeader("Cc") != "<gus@partner.example>" || !strings.Contains(env.Text, "Offer inside.") {
		t.Errorf("sent draft: cc %q text %q", env.GetHeader("Cc"), env.Text)
	}

	// 5. Schedule a send for later.
	laterAt := time.Now().Add(2 * time.Hour).Truncate(time.Minute)
	later := laterAt.In(tokyo).Format("2006-01-02T15:04")
	c.do(t, "schedule",
		chromedp.Navigate(fmt.Sprintf("%s/compose?mailbox=%d", u, f.MailboxID)), chromedp.WaitVisible(css(`#compose`)),
		chromedp.SendKeys(css(`#to`), "hal@partner.example"), chromedp.SendKeys(css(`#subject`), "Later"),
		chromedp.SetValue(css(`#send-at`), later), chromedp.Click(css(`#send`)), chromedp.WaitVisible(css(`#undo-notice`)))
	if it := waitState(models.OutboxSend, "Later", models.OutboxScheduled); !it.SendAt.Equal(laterAt) {
		t.Errorf("scheduled for %s, want %s (%s in Tokyo)", it.SendAt.UTC(), laterAt.UTC(), later)
	}
	if got := c.eval(t, `document.querySelector('#undo-notice').innerText`); !strings.Contains(got, strings.Replace(later, "T", " ", 1)+" (Asia/Tokyo)") {
		t.Errorf("undo notice %s does not show %s in Tokyo", got, later)
	}

	// 6. Send and undo within the window.
	c.do(t, "undo",
		chromedp.Navigate(fmt.Sprintf("%s/compose?mailbox=%d", u, f.MailboxID)), chromedp.WaitVisible(css(`#compose`)),
		chromedp.SendKeys(css(`#to`), "ivy@partner.example"), chromedp.SendKeys(css(`#subject`), "Oops"),
		chromedp.Click(css(`#send`)), chromedp.WaitVisible(css(`#undo`)), chromedp.Click(css(`#undo`)),
		chromedp.WaitVisible(css(`#undo-notice`)))
	undone := waitState(models.OutboxSend, "Oops", models.OutboxCancelled)
	time.Sleep(3 * time.Second) // past the window: still not sent
	if n := len(gmailCopies(t, o.emu, f, undone.RFCMessageID)); n != 0 {
		t.Errorf("undone message reached Gmail %d times", n)
	}
	c.shot(t, "04-outbox")

	// 7. Toggling action buttons.
	c.do(t, "star",
		chromedp.Navigate(fmt.Sprintf("%s/messages/%d", u, origID)), chromedp.WaitVisible(css(`#action-star`)),
		chromedp.Click(css(`#action-star`)), chromedp.WaitVisible(css(`#action-unstar`)))
	if l := o.emu.Snapshot(email)[origGID].LabelIDs; !strings.Contains(strings.Join(l, ","), "STARRED") {
		t.Errorf("Gmail labels after Star: %v", l)
	}
	// The mailbox granted gmail.modify only: the confirmation says so.
	c.do(t, "delete forever needs the scope", chromedp.Click(css(`#delete-forever`)), chromedp.WaitVisible(css(`#confirm-blocked`)))
	c.shot(t, "05-delete-needs-scope")
	must(t, store.UpdateMailbox(ctx, f.TenantID, f.MailboxID, map[string]any{"scopes": "https://mail.google.com/"}))
	c.do(t, "delete forever asks first", chromedp.Reload(), chromedp.WaitVisible(css(`#confirm`)))
	c.shot(t, "05-confirm-delete")
	if v := c.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(v, "\n"))
	}
}

func b64lines(b []byte) string {
	var sb strings.Builder
	enc := base64Std(b)
	for len(enc) > 76 {
		sb.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	sb.WriteString(enc + "\r\n")
	return sb.String()
}
