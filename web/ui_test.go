package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tidings/models"
)

func TestUISignupAndCRMForms(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		b := e.newBrowser()
		// Validation errors re-render the form with the input kept.
		resp, page := b.post("/signup", url.Values{"org": {"Initech"}, "email": {"peter@initech.example"}, "password": {"short"}, "password2": {"short"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "at least 10 characters") || !strings.Contains(page, "peter@initech.example") {
			t.Fatalf("short password: %d", resp.StatusCode)
		}
		resp, _ = b.post("/signup", url.Values{"org": {"Initech"}, "name": {"Peter"}, "email": {"peter@initech.example"}, "password": {testPassword}, "password2": {testPassword}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("signup: %d", resp.StatusCode)
		}
		_, page = b.get("/")
		if !strings.Contains(page, "Dashboard") {
			t.Fatal("no dashboard after sign-up")
		}
		b.csrf = csrfRe.FindStringSubmatch(page)[1]
		// The instance has its organization now: sign-up is closed, and a
		// taken address gets the invitation page, not an account check
		// (signup_test.go covers open sign-up's refusal).
		if resp, page := e.newBrowser().post("/signup", url.Values{"org": {"Other"}, "email": {"Peter@initech.example"}, "password": {"not peters password"}, "password2": {"not peters password"}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "ask an admin") {
			t.Errorf("sign-up after bootstrap: %d", resp.StatusCode)
		}

		resp, page = b.post("/accounts", url.Values{"name": {""}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Enter the account") {
			t.Errorf("empty account name: %d", resp.StatusCode)
		}
		resp, _ = b.post("/accounts", url.Values{"name": {"Initrode"}, "domains": {"initrode.example"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create account: %d", resp.StatusCode)
		}
		acctURL := resp.Header.Get("Location")
		acctID := strings.TrimPrefix(acctURL, "/accounts/")
		resp, _ = b.post("/contacts", url.Values{"first_name": {"Milton"}, "emails": {"milton@initrode.example"}, "account_id": {acctID}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create contact: %d", resp.StatusCode)
		}
		contactURL := resp.Header.Get("Location")
		resp, _ = b.post("/cases", url.Values{"subject": {"Stapler missing"}, "priority": {"urgent"}, "account_id": {acctID}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create case: %d", resp.StatusCode)
		}
		caseURL := resp.Header.Get("Location")
		if resp, _ = b.post(caseURL, url.Values{"subject": {"Stapler missing"}, "status": {"pending"}, "priority": {"urgent"}, "account_id": {acctID}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("edit case: %d", resp.StatusCode)
		}
		_, page = b.get(acctURL)
		if !strings.Contains(page, "Milton") || !strings.Contains(page, "Stapler missing") {
			t.Error("account page lacks its contact or case")
		}
		_, page = b.get(contactURL)
		if !strings.Contains(page, "Initrode") {
			t.Error("contact page lacks its account")
		}
		_, page = b.get("/cases?status=pending")
		if !strings.Contains(page, "Stapler missing") {
			t.Error("status filter lost the case")
		}
		_, page = b.get("/cases?status=closed")
		if strings.Contains(page, "Stapler missing") {
			t.Error("status filter shows a pending case under closed")
		}
		// Logout ends the session.
		if resp, _ := b.post("/logout", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		if resp, _ := b.get("/accounts"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("after logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

func TestUIPagesAndMail(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	a := seedTenant(t, store, "alpha")
	b := e.loginAs(a)
	for _, c := range []struct{ path, want string }{
		{"/", "inbox@alpha.example"},
		{"/accounts", a.AccountName},
		{fmt.Sprintf("/accounts/%d", a.AccountID), a.MessageSubject}, // timeline by domain
		{"/contacts", "Carol"},
		{fmt.Sprintf("/contacts/%d", a.ContactID), a.MessageSubject}, // timeline by address
		{"/cases", "Case of alpha"},
		{fmt.Sprintf("/cases/%d", a.CaseID), a.MessageSubject}, // linked message
		{fmt.Sprintf("/mailboxes/%d", a.MailboxID), "Lunch plans alpha"},
		{fmt.Sprintf("/threads/%d", a.ThreadID), "alpha"},
		{fmt.Sprintf("/messages/%d", a.MessageID), "invoice.pdf"},
		{"/search?q=invo", "<mark>Invo</mark>ice for alpha"},
		{"/search/results?q=lunch", "Lunch plans alpha"},
		{"/search/results?q=%22oops", "unterminated phrase"},
		{"/settings", "API tokens"},
	} {
		resp, page := b.get(c.path)
		if resp.StatusCode != 200 || !strings.Contains(page, c.want) {
			t.Errorf("GET %s: %d, want %q in page", c.path, resp.StatusCode, c.want)
		}
		if strings.Contains(page, "<script>") || strings.Contains(page, " onclick=") {
			t.Errorf("GET %s has inline script", c.path)
		}
	}

	// The email frame: sandboxed, and its own CSP loads and runs nothing.
	_, page := b.get(fmt.Sprintf("/messages/%d", a.MessageID))
	if !strings.Contains(page, `sandbox="allow-popups allow-popups-to-escape-sandbox"`) || strings.Contains(page, "allow-scripts") || strings.Contains(page, "allow-same-origin") {
		t.Error("message iframe is not sandboxed as expected")
	}
	resp, frame := b.get(fmt.Sprintf("/messages/%d/body", a.MessageID))
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") || strings.Contains(csp, "script-src") ||
		resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" || !strings.Contains(frame, "<b>alpha</b>") {
		t.Errorf("message body: CSP %q XFO %q", csp, resp.Header.Get("X-Frame-Options"))
	}

	// Attachment download, link to a case, label change.
	resp, body := b.get(fmt.Sprintf("/messages/%d/attachments/%d", a.MessageID, a.AttachmentID))
	if resp.StatusCode != 200 || body != "bytes of invoice.pdf" || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("attachment: %d %q", resp.StatusCode, body)
	}
	if resp, _ := b.post(fmt.Sprintf("/messages/%d/link", a.OtherMessageID), url.Values{"case_id": {fmt.Sprint(a.CaseID)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("link: %d", resp.StatusCode)
	}
	if _, page := b.get(fmt.Sprintf("/cases/%d", a.CaseID)); !strings.Contains(page, "Lunch plans alpha") {
		t.Error("linked message not on the case page")
	}
	// Star is the message page's toggle button: an outbox action that
	// adds STARRED to this message in Gmail (this env has no worker).
	if resp, _ := b.post(fmt.Sprintf("/messages/%d/action", a.MessageID), url.Values{"action": {"star"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("star: %d", resp.StatusCode)
	}
	m, _ := store.GetMessage(t.Context(), a.TenantID, a.MessageID)
	items, _, _ := store.ListOutboxItems(t.Context(), a.TenantID, models.OutboxFilter{Kinds: []models.OutboxKind{models.OutboxAction}})
	if len(items) != 1 || !strings.Contains(items[0].Spec, `"STARRED"`) || !strings.Contains(items[0].Spec, m.GmailID) {
		t.Errorf("star made %d action items: %+v", len(items), items)
	}
	// Unknown ids are 404 pages, not errors.
	if resp, _ := b.get("/accounts/999999"); resp.StatusCode != 404 {
		t.Errorf("unknown account: %d", resp.StatusCode)
	}
}

func TestUIDemoProgress(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	a := seedTenant(t, store, "alpha")
	e.demo.messages = demoMessages(5)
	b := e.loginAs(a)
	if resp, _ := b.post("/mailboxes/connect/demo", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect demo: %d", resp.StatusCode)
	}
	mbs, _ := store.ListMailboxes(t.Context(), a.TenantID)
	demo := mbs[len(mbs)-1]
	path := fmt.Sprintf("/mailboxes/%d/progress", demo.ID)
	_, frag := b.get(path)
	if !strings.Contains(frag, `hx-trigger="every 1s"`) {
		t.Fatalf("running sync does not poll: %s", frag)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(frag, "Sync done") {
		if time.Now().After(deadline) {
			t.Fatalf("sync never finished: %s", frag)
		}
		time.Sleep(50 * time.Millisecond)
		_, frag = b.get(path)
	}
	if strings.Contains(frag, "hx-trigger") || !strings.Contains(frag, `value="100"`) {
		t.Errorf("finished fragment still polls or is not full: %s", frag)
	}
}

// demoMessages is a small generated mailbox for the demo connector.
func demoMessages(n int) []models.MessageWrite {
	subjects := []string{"Quarterly invoice reconciliation", "Welcome to the demo", "Shipping update", "Meeting notes", "Partnership proposal"}
	var out []models.MessageWrite
	for i := range n {
		out = append(out, messageWrite(fmt.Sprintf("demo-%d", i), fmt.Sprintf("demo-thread-%d", i), subjects[i%len(subjects)],
			"sender@demo-customer.example", "<p>Demo message "+fmt.Sprint(i)+"</p>", time.Date(2026, 4, 1+i, 9, 0, 0, 0, time.UTC)))
	}
	return out
}
