package web

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"tidings/internal/testenv"
	"tidings/models"
	"tidings/search"
)

// TestBrowserWorkspace walks the mail workspace as a salesperson would:
// the thread list with label filters and paging, a conversation, label
// names, a case created from a message, sender → contact → account → case
// timeline, and a time zone change that moves both the dates shown and
// what a date search finds. It writes screenshots at desktop and phone
// width.
func TestBrowserWorkspace(t *testing.T) {
	c := newChrome(t)
	store := testenv.OpenSQLite(t)
	idx, err := search.OpenBleve(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	e := newEnv(t, store, func(d *Deps) { d.Search = idx })
	f := seedTenant(t, store, "ws")
	ctx := context.Background()
	must(t, store.UpsertLabels(ctx, f.TenantID, f.MailboxID, []models.Label{
		{GmailID: "INBOX", Name: "INBOX", Type: models.LabelSystem},
		{GmailID: "Label_7", Name: "Customers", Type: models.LabelUser, BackgroundColor: "#16a766", TextColor: "#ffffff"},
	}))
	acme := &models.Account{Name: "Jansen Trading", Domains: []models.AccountDomain{{Domain: "jansen-trading.example"}}}
	must(t, store.CreateAccount(ctx, f.TenantID, acme))
	// Created by hand, without an account: the domain links it.
	peter := &models.Contact{FirstName: "Peter", LastName: "Jansen", Emails: []models.ContactEmail{{Address: "peter@jansen-trading.example"}}}
	must(t, store.CreateContact(ctx, f.TenantID, peter))

	// 60 filler threads, so the inbox pages; one conversation of three.
	var ws []models.MessageWrite
	base := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	for i := range 60 {
		w := messageWrite(fmt.Sprintf("f%d", i), fmt.Sprintf("ft%d", i), fmt.Sprintf("Weekly digest %d", i), "news@digest.example", "", base.Add(time.Duration(i)*time.Hour))
		ws = append(ws, w)
	}
	const subject = "Renewal quote for 2027"
	last := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC) // 2026-03-11 08:30 in Tokyo
	conv := []models.MessageWrite{
		messageWrite("c1", "conv", subject, "Peter Jansen <peter@jansen-trading.example>", "<p>Could you send the renewal quote?</p>", last.Add(-48*time.Hour)),
		messageWrite("c2", "conv", "Re: "+subject, "Admin ws <inbox@ws.example>", "<p>Here it is.</p>", last.Add(-24*time.Hour),
			models.Attachment{PartID: "2", Filename: "quote-2027.pdf", ContentType: "application/pdf", Size: 2048}),
		messageWrite("c3", "conv", "Re: "+subject, "Peter Jansen <peter@jansen-trading.example>", "<p>Thanks, we accept.</p>", last),
	}
	conv[0].Message.FromAddress, conv[2].Message.FromAddress = "peter@jansen-trading.example", "peter@jansen-trading.example"
	conv[1].Message.FromAddress = "inbox@ws.example"
	peterAddr := []models.MessageAddress{{Role: "from", Address: "peter@jansen-trading.example", Domain: "jansen-trading.example", Name: "Peter Jansen"}}
	conv[0].Addresses, conv[2].Addresses = peterAddr, peterAddr
	conv[1].Addresses = []models.MessageAddress{{Role: "from", Address: "inbox@ws.example", Domain: "ws.example"},
		{Role: "to", Address: "peter@jansen-trading.example", Domain: "jansen-trading.example"}}
	conv[1].Message.To = models.StringList{"Peter Jansen <peter@jansen-trading.example>"}
	conv[0].LabelIDs = []string{"INBOX", "Label_7"}
	conv[1].LabelIDs = []string{"SENT"}
	conv[2].LabelIDs = []string{"INBOX", "UNREAD", "Label_7"}
	stored, err := store.UpsertMessages(ctx, f.TenantID, f.MailboxID, append(ws, conv...))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := search.BuildDocuments(ctx, store, f.TenantID, stored)
	must(t, err)
	must(t, idx.Index(ctx, docs))
	u := e.ts.URL

	if _, err := chromedp.Call(c.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"}); err != nil {
		t.Fatalf("emulate time zone: %v", err)
	}
	c.do(t, "login",
		chromedp.Navigate(u+"/login"),
		chromedp.WaitVisible(css(`input[name=email]`)),
		chromedp.SendKeys(css(`input[name=email]`), f.Email),
		chromedp.SendKeys(css(`input[name=password]`), f.Password),
		chromedp.Click(css(`form button[type=submit]`)),
		chromedp.WaitVisible(css(`.stats`)),
	)

	// A user without a time zone gets the browser's on the first page.
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, err := store.GetUser(ctx, f.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if u.TimeZone == "Europe/Berlin" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the browser's zone was not stored: %q", u.TimeZone)
		}
		time.Sleep(100 * time.Millisecond)
	}
	must(t, store.SetUserTimeZone(ctx, f.UserID, "UTC"))

	// Thread list: inbox by default, 50 a page, the conversation first.
	c.do(t, "inbox", chromedp.Navigate(fmt.Sprintf("%s/mailboxes/%d", u, f.MailboxID)), chromedp.WaitVisible(css(`#threads`)))
	if n := c.eval(t, `String(document.querySelectorAll('#threads li.thread').length)`); n != "50" {
		t.Errorf("inbox shows %s threads, want 50 on the first page", n)
	}
	first := c.eval(t, `document.querySelector('#threads li.thread').innerText`)
	for _, want := range []string{"Peter, me", subject, "Customers", "snippet of Re: " + subject} {
		if !strings.Contains(first, want) {
			t.Errorf("first thread row %q lacks %q", first, want)
		}
	}
	if strings.Contains(first, "Label_7") {
		t.Errorf("thread row shows a label id: %q", first)
	}
	if got := c.eval(t, `document.querySelector('#threads li.thread').className + ' ' + (document.querySelector('#threads li.thread .clip') !== null)`); got != "thread unread true" {
		t.Errorf("first row marks = %q, want unread with attachment mark", got)
	}
	if got := c.eval(t, `getComputedStyle(document.querySelector('#threads .chip')).backgroundColor`); got != "rgb(22, 167, 102)" {
		t.Errorf("label chip colour = %s, want Gmail's #16a766", got)
	}
	inboxCount := c.eval(t, `document.querySelector('#label-filters a[data-label="INBOX"] .count').innerText`)
	if inboxCount != "1 / 63" { // 60 digests, the conversation, two seeded threads
		t.Errorf("inbox count = %q, want 1 unread of 63 threads", inboxCount)
	}
	c.shot(t, "workspace-01-inbox")
	// The old page also has #threads: wait for the link only page 2 has, so
	// the count is read after the navigation, not during it.
	c.do(t, "next page", chromedp.Click(css(`.pager a[rel=next]`)), chromedp.WaitVisible(css(`.pager a[rel=prev]`)), chromedp.WaitVisible(css(`#threads`)))
	if n := c.eval(t, `String(document.querySelectorAll('#threads li.thread').length)`); n != "13" {
		t.Errorf("second page shows %s threads, want 13", n)
	}
	c.do(t, "label filter", chromedp.Click(css(`#label-filters a[data-label="Label_7"]`)), chromedp.WaitVisible(css(`#threads`)))
	if got := c.eval(t, `document.querySelector('h1').innerText + ' / ' + document.querySelectorAll('#threads li.thread').length`); got != "Customers / 1" {
		t.Errorf("label filter shows %q", got)
	}
	c.do(t, "sent filter", chromedp.Click(css(`#label-filters a[data-label="SENT"]`)), chromedp.WaitVisible(css(`#threads`)))
	if got := c.eval(t, `document.querySelectorAll('#threads li.thread').length + ' ' + document.querySelector('#threads').innerText.includes('me')`); got != "1 true" {
		t.Errorf("sent filter shows %q", got)
	}

	// The conversation: oldest first, only the latest expanded.
	c.do(t, "open conversation", chromedp.Click(css(`#threads li.thread a`)), chromedp.WaitVisible(css(`#conversation`)))
	if got := c.eval(t, `[...document.querySelectorAll('#conversation article.msg details')].map(d => d.open ? 'open' : 'closed').join(',')`); got != "closed,closed,open" {
		t.Errorf("conversation expansion = %s", got)
	}
	if got := c.eval(t, `document.querySelector('#thread-subject').innerText`); !strings.Contains(got, "Customers") || strings.Contains(got, "Label_7") {
		t.Errorf("thread labels = %q", got)
	}
	c.shot(t, "workspace-02-conversation")
	c.do(t, "expand first", chromedp.Click(css(`#conversation article.msg summary`)))
	if got := c.eval(t, `document.querySelector('#conversation article.msg details').open + ' ' + document.querySelector('#conversation article.msg .msgbody').innerText.includes('Peter Jansen')`); got != "true true" {
		t.Errorf("expanded first message: %s", got)
	}
	if got := c.eval(t, `String(document.querySelectorAll('#conversation article.msg')[1].textContent.includes('quote-2027.pdf'))`); got != "true" {
		t.Errorf("the reply's attachment is not listed")
	}
	threadURL := c.eval(t, `location.href`)

	// Create a case from the latest message: subject, contact and account
	// come prefilled.
	c.do(t, "case from message",
		chromedp.Click(css(`#conversation article.msg:last-child a.case-from-message`)),
		chromedp.WaitVisible(css(`#case-from-mail`)),
	)
	got := c.eval(t, `[document.querySelector('#case-from-mail input[name=subject]').value,
		document.querySelector('#case-from-mail select[name=contact_id]').selectedOptions[0].text,
		document.querySelector('#case-from-mail select[name=account_id]').selectedOptions[0].text].join(' | ')`)
	if got != subject+" | Peter Jansen | Jansen Trading" {
		t.Errorf("case form prefilled with %q", got)
	}
	c.shot(t, "workspace-03-case-from-message")
	c.do(t, "create case", chromedp.Click(css(`#case-from-mail button[type=submit]`)), chromedp.WaitVisible(css(`#linked-messages`)))
	if got := c.eval(t, `document.querySelector('.flash').innerText + ' / ' + document.querySelector('#linked-messages').innerText`); !strings.Contains(got, "Case created") || !strings.Contains(got, subject) {
		t.Errorf("new case page: %q", got)
	}

	// Sender → contact → account → case → mail timeline.
	c.do(t, "sender link",
		chromedp.Navigate(threadURL), chromedp.WaitVisible(css(`#conversation`)),
		chromedp.Click(css(`#conversation article.msg:last-child .sender a.person`)),
		chromedp.WaitVisible(css(`form[action$="/delete"]`)),
	)
	if got := c.eval(t, `document.querySelector('h1').innerText`); got != "Peter Jansen" {
		t.Errorf("sender link opened %q", got)
	}
	c.do(t, "account link", chromedp.Click(css(`main p a[href^="/accounts/"]`)), chromedp.WaitVisible(css(`.timeline`)))
	if got := c.eval(t, `document.querySelector('h1').innerText + ' / ' + document.querySelector('main').innerText.includes('Peter Jansen')`); got != "Jansen Trading / true" {
		t.Errorf("account page: %q", got)
	}
	c.shot(t, "workspace-04-account")
	c.do(t, "case link", chromedp.Click(css(`main a[href^="/cases/"]`)), chromedp.WaitVisible(css(`#linked-messages`)))
	if got := c.eval(t, `document.querySelector('#linked-messages').innerText`); !strings.Contains(got, subject) || !strings.Contains(got, "2026-03-10 23:30") {
		t.Errorf("case timeline (UTC) = %q", got)
	}

	// A date search in UTC: the last message (23:30 UTC on the 10th) is
	// not after the 11th.
	searchFor := func(q string) string {
		c.do(t, "search "+q, chromedp.Navigate(u+"/search?q="+q), chromedp.WaitVisible(css(`#results`)))
		return c.eval(t, `document.querySelector('#results').innerText`)
	}
	if got := searchFor("after:2026/03/11"); strings.Contains(got, subject) {
		t.Errorf("UTC: after:2026/03/11 found the message of 23:30 UTC on the 10th: %q", got)
	}

	// Tokyo: the same message is 08:30 on the 11th, shown and searched so.
	c.do(t, "set time zone",
		chromedp.Navigate(u+"/settings"), chromedp.WaitVisible(css(`#tz-form`)),
		chromedp.SetValue(css(`#tz-form input[name=time_zone]`), "Asia/Tokyo"),
		chromedp.Click(css(`#tz-form button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
	)
	if got := c.eval(t, `document.querySelector('#current-zone').innerText`); got != "Asia/Tokyo" {
		t.Errorf("zone after saving = %q", got)
	}
	c.shot(t, "workspace-05-settings")
	c.do(t, "conversation in Tokyo", chromedp.Navigate(threadURL), chromedp.WaitVisible(css(`#conversation`)))
	if got := c.eval(t, `document.querySelector('#conversation article.msg:last-child summary time').innerText`); got != "2026-03-11 08:30" {
		t.Errorf("date in Tokyo = %q, want 2026-03-11 08:30", got)
	}
	if got := searchFor("after:2026/03/11"); !strings.Contains(got, subject) {
		t.Errorf("Tokyo: after:2026/03/11 does not find the message of 08:30 on the 11th: %q", got)
	}

	// Phone width: no horizontal scrolling on the main mail pages.
	for _, p := range []struct{ name, path, wait string }{
		{"workspace-06-inbox-phone", fmt.Sprintf("/mailboxes/%d", f.MailboxID), `#threads`},
		{"workspace-07-conversation-phone", strings.TrimPrefix(threadURL, u), `#conversation`},
		{"workspace-08-dashboard-phone", "/", `.stats`},
		{"workspace-09-contacts-phone", "/contacts", `table.list`},
	} {
		c.do(t, p.name, chromedp.EmulateViewport(390, 844), chromedp.Navigate(u+p.path), chromedp.WaitVisible(css(p.wait)))
		if w := c.eval(t, `String(document.documentElement.scrollWidth)`); w != "390" {
			t.Errorf("%s is %spx wide on a 390px screen", p.path, w)
		}
		c.shot(t, p.name)
	}
	// Deleting asks first; dismissing the question keeps the contact.
	c.do(t, "delete asks", chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(fmt.Sprintf("%s/contacts/%d", u, peter.ID)), chromedp.WaitVisible(css(`form[action$="/delete"]`)),
		chromedp.Click(css(`form[action$="/delete"] button`)), chromedp.Sleep(500*time.Millisecond))
	if n := c.dialogs.Load(); n != 1 {
		t.Errorf("%d confirmation dialogs, want 1", n)
	}
	if _, err := store.GetContact(ctx, f.TenantID, peter.ID); err != nil {
		t.Errorf("the contact was deleted although the confirmation was dismissed: %v", err)
	}
	c.do(t, "unknown page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(u+"/no/such/page"), chromedp.WaitVisible(css(`.card h1`)))
	if got := c.eval(t, `document.querySelector('.card h1').innerText`); got != "Page not found" {
		t.Errorf("404 page title = %q", got)
	}
	c.shot(t, "workspace-10-not-found")
	if v := c.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(v, "\n"))
	}
}
