package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tidings/models"
)

func TestWorkspaceForms(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		f := seedTenant(t, store, "wsf")
		b := e.loginAs(f)
		ctx := context.Background()

		// The case form's contact field takes "Name <address>" or "(#id)".
		for _, ref := range []string{"Carol wsf <carol@wsf-customer.example>", fmt.Sprintf("Carol (#%d)", f.ContactID), "CAROL@wsf-customer.example"} {
			resp, _ := b.post("/cases", url.Values{"subject": {"Typed contact"}, "contact": {ref}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("case with contact %q: %d", ref, resp.StatusCode)
			}
			id := parseID(strings.TrimPrefix(resp.Header.Get("Location"), "/cases/"))
			c, err := store.GetCase(ctx, f.TenantID, id)
			if err != nil || c.ContactID == nil || *c.ContactID != f.ContactID {
				t.Errorf("contact %q resolved to %+v (%v)", ref, c, err)
			}
		}
		resp, page := b.post("/cases", url.Values{"subject": {"Nobody"}, "contact": {"nobody@nowhere.example"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "nobody@nowhere.example") {
			t.Errorf("unknown contact: %d", resp.StatusCode)
		}

		// Link a whole thread; the flash says what happened.
		resp, _ = b.post(fmt.Sprintf("/threads/%d/link", f.ThreadID), url.Values{"case_id": {fmt.Sprint(f.CaseID)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("link thread: %d", resp.StatusCode)
		}
		_, page = b.get(fmt.Sprintf("/threads/%d", f.ThreadID))
		if !strings.Contains(page, "Linked 1 message of this conversation") || !strings.Contains(page, "Case of wsf") {
			t.Errorf("thread page after linking lacks the flash or the case")
		}
		if _, page = b.get(fmt.Sprintf("/threads/%d", f.ThreadID)); strings.Contains(page, "Linked 1 message") {
			t.Error("the flash is shown twice")
		}

		// Time zone: an unknown name is refused, a known one is stored.
		resp, page = b.post("/settings/timezone", url.Values{"time_zone": {"Mars/Olympus_Mons"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Unknown time zone") {
			t.Errorf("bad zone: %d", resp.StatusCode)
		}
		if resp, _ = b.post("/settings/timezone", url.Values{"time_zone": {"America/New_York"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("set zone: %d", resp.StatusCode)
		}
		u, err := store.GetUser(ctx, f.UserID)
		if err != nil || u.TimeZone != "America/New_York" {
			t.Fatalf("zone stored = %q (%v)", u.TimeZone, err)
		}
		// The seeded message of 2026-03-01 10:00 UTC is 05:00 in New York.
		if _, page = b.get(fmt.Sprintf("/messages/%d", f.MessageID)); !strings.Contains(page, "2026-03-01 05:00") {
			t.Error("message date not shown in the user's zone")
		}

		// Unknown pages get the styled 404, the API a problem.
		resp, page = b.get("/no/such/page")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "Page not found") || !strings.Contains(page, "app.css") {
			t.Errorf("404 page: %d", resp.StatusCode)
		}
		resp, body := e.call("GET", "/api/no/such", f.Token, "")
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != problemType {
			t.Errorf("API 404: %d %s", resp.StatusCode, body)
		}

		// Deleting says what it did.
		resp, _ = b.post(fmt.Sprintf("/contacts/%d/delete", f.ContactID), nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("delete contact: %d", resp.StatusCode)
		}
		if _, page = b.get("/contacts"); !strings.Contains(page, "Contact deleted") {
			t.Error("no message after deleting a contact")
		}
		if !strings.Contains(page, "data-confirm") && !strings.Contains(page, "New contact") {
			t.Error("contacts page broken")
		}
	})
}

func TestLabelNamesInAPIAndUI(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	f := seedTenant(t, store, "lbl")
	ctx := context.Background()
	must(t, store.UpsertLabels(ctx, f.TenantID, f.MailboxID, []models.Label{
		{GmailID: "INBOX", Name: "INBOX", Type: models.LabelSystem},
		{GmailID: "Label_3", Name: "Customers/Priority", Type: models.LabelUser, BackgroundColor: "#4a86e8", TextColor: "#ffffff"},
	}))
	if _, _, err := store.ChangeLabels(ctx, f.TenantID, f.MailboxID, "m1-lbl", []string{"Label_3", "Label_gone"}, nil); err != nil {
		t.Fatal(err)
	}
	_, body := e.call("GET", fmt.Sprintf("/api/messages/%d", f.MessageID), f.Token, "")
	names := fmt.Sprint(decode(t, body)["label_names"])
	for _, want := range []string{"name:Inbox", "name:Customers/Priority", "background_color:#4a86e8", "name:Label_gone"} {
		if !strings.Contains(names, want) {
			t.Errorf("label_names %s lacks %s", names, want)
		}
	}
	// Paged collections name labels too, not only single messages.
	_, body = e.call("GET", fmt.Sprintf("/api/mailboxes/%d/messages", f.MailboxID), f.Token, "")
	if !strings.Contains(string(body), `"name":"Customers/Priority"`) {
		t.Errorf("a mailbox's message page lacks label names: %s", body)
	}
	msg, err := store.GetMessage(ctx, f.TenantID, f.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	th, err := store.ThreadOfMessage(ctx, f.TenantID, msg)
	if err != nil {
		t.Fatal(err)
	}
	_, body = e.call("GET", fmt.Sprintf("/api/threads/%d", th.ID), f.Token, "")
	if !strings.Contains(string(body), `"name":"Customers/Priority"`) {
		t.Errorf("thread's messages lack label names: %s", body)
	}
	b := e.loginAs(f)
	_, page := b.get(fmt.Sprintf("/messages/%d", f.MessageID))
	if !strings.Contains(page, "Customers/Priority") || strings.Contains(page, ">Label_3<") {
		t.Error("message page does not name the label")
	}
	resp, css := b.get(fmt.Sprintf("/mailboxes/%d/labels.css", f.MailboxID))
	if resp.StatusCode != 200 || !strings.Contains(css, ".lbl-Label_3{background:#4a86e8;color:#ffffff}") {
		t.Errorf("labels.css: %d %q", resp.StatusCode, css)
	}
	_, page = b.get(fmt.Sprintf("/mailboxes/%d?label=Label_3", f.MailboxID))
	if !strings.Contains(page, "<h1>Customers/Priority</h1>") || !strings.Contains(page, "Invoice for lbl") || strings.Contains(page, "Lunch plans lbl") {
		t.Error("label filter does not show exactly the labelled thread")
	}
}

func TestDemoButtonHiddenOnceConnected(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	f := seedTenant(t, store, "demo")
	b := e.loginAs(f)
	if _, page := b.get("/"); !strings.Contains(page, `id="connect-demo"`) {
		t.Fatal("no demo button before connecting")
	}
	resp, _ := b.post("/mailboxes/connect/demo", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect demo: %d", resp.StatusCode)
	}
	_, page := b.get("/")
	if strings.Contains(page, `id="connect-demo"`) || !strings.Contains(page, "Demo mailbox") {
		t.Error("the demo button is still offered, or no message says the demo was connected")
	}
}

func TestDashboardCountsNewCasesAsOpen(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	f := seedTenant(t, store, "dash") // one case, status new
	ctx := context.Background()
	closed := &models.Case{Subject: "Done deal", Status: models.CaseClosed}
	must(t, store.CreateCase(ctx, f.TenantID, closed))
	b := e.loginAs(f)
	_, page := b.get("/")
	if !strings.Contains(page, `<b>1</b> open cases`) {
		t.Error("dashboard does not count the new case as open (or counts the closed one)")
	}
	_, page = b.get("/cases?status=active")
	if !strings.Contains(page, "Case of dash") || strings.Contains(page, "Done deal") {
		t.Error("the open-cases list is not new+open+pending")
	}
}
