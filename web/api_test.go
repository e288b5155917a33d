package web

import (
	"fmt"
	"strings"
	"testing"

	"tidings/internal/testenv"
	"tidings/models"
)

func TestAPICRUDAndHALShape(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		a := seedTenant(t, store, "alpha")

		resp, body := e.call("GET", "/api", a.Token, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != halType {
			t.Fatalf("GET /api: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		root := decode(t, body)
		rootLinks := root["_links"].(map[string]any)
		for _, rel := range []string{"self", "accounts", "contacts", "cases", "mailboxes", "search", "service-desc"} {
			if _, ok := rootLinks[rel]; !ok {
				t.Errorf("root has no %q link", rel)
			}
		}

		// Create, read, patch, delete an account, following Location.
		resp, body = e.call("POST", "/api/accounts", a.Token, `{"name":"Globex","website":"https://globex.example","domains":["Globex.example"]}`)
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		loc := resp.Header.Get("Location")
		acct := decode(t, body)
		if acct["name"] != "Globex" || fmt.Sprint(acct["domains"]) != "[globex.example]" {
			t.Errorf("created account = %v", acct)
		}
		self := acct["_links"].(map[string]any)["self"].(map[string]any)["href"]
		if self != loc {
			t.Errorf("self %v != Location %v", self, loc)
		}
		for _, rel := range []string{"contacts", "cases", "messages"} {
			if _, ok := acct["_links"].(map[string]any)[rel]; !ok {
				t.Errorf("account has no %q link", rel)
			}
		}
		resp, body = e.call("PATCH", loc, a.Token, `{"website":"https://globex.test"}`)
		if resp.StatusCode != 200 || decode(t, body)["name"] != "Globex" || decode(t, body)["website"] != "https://globex.test" {
			t.Fatalf("patch: %d %s", resp.StatusCode, body)
		}
		if resp, _ = e.call("DELETE", loc, a.Token, ""); resp.StatusCode != 204 {
			t.Fatalf("delete: %d", resp.StatusCode)
		}
		if resp, _ = e.call("GET", loc, a.Token, ""); resp.StatusCode != 404 {
			t.Fatalf("get deleted: %d", resp.StatusCode)
		}

		// Contact with an account; then clear the account with null.
		resp, body = e.call("POST", "/api/contacts", a.Token, fmt.Sprintf(`{"first_name":"Dan","emails":["dan@x.example"],"account_id":%d}`, a.AccountID))
		if resp.StatusCode != 201 {
			t.Fatalf("create contact: %d %s", resp.StatusCode, body)
		}
		c := decode(t, body)
		if _, ok := c["_links"].(map[string]any)["account"]; !ok {
			t.Errorf("contact with account has no account link: %v", c)
		}
		resp, body = e.call("PATCH", resp.Header.Get("Location"), a.Token, `{"account_id":null}`)
		if resp.StatusCode != 200 || decode(t, body)["account_id"] != nil {
			t.Fatalf("clear account: %d %s", resp.StatusCode, body)
		}

		// Case: status change and a link to a message.
		resp, body = e.call("POST", "/api/cases", a.Token, `{"subject":"Broken widget","priority":"high"}`)
		if resp.StatusCode != 201 || decode(t, body)["status"] != "new" {
			t.Fatalf("create case: %d %s", resp.StatusCode, body)
		}
		caseURL := resp.Header.Get("Location")
		if resp, body = e.call("PATCH", caseURL, a.Token, `{"status":"open"}`); resp.StatusCode != 200 || decode(t, body)["status"] != "open" {
			t.Fatalf("patch case: %d %s", resp.StatusCode, body)
		}
		if resp, _ = e.call("PUT", fmt.Sprintf("%s/messages/%d", caseURL, a.OtherMessageID), a.Token, ""); resp.StatusCode != 204 {
			t.Fatalf("link: %d", resp.StatusCode)
		}
		resp, body = e.call("GET", caseURL+"/messages", a.Token, "")
		msgs := decode(t, body)["_embedded"].(map[string]any)["messages"].([]any)
		if resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].(map[string]any)["subject"] != "Lunch plans alpha" {
			t.Fatalf("case messages: %d %s", resp.StatusCode, body)
		}
		resp, body = e.call("GET", "/api/cases?status=open", a.Token, "")
		if decode(t, body)["total"].(float64) != 1 {
			t.Errorf("status filter: %s", body)
		}
	})
}

func TestAPIMail(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		a := seedTenant(t, store, "alpha")

		resp, body := e.call("GET", fmt.Sprintf("/api/messages/%d", a.MessageID), a.Token, "")
		m := decode(t, body)
		if resp.StatusCode != 200 || m["subject"] != a.MessageSubject || m["html"] == nil {
			t.Fatalf("message: %d %s", resp.StatusCode, body)
		}
		atts := m["_embedded"].(map[string]any)["attachments"].([]any)
		href := atts[0].(map[string]any)["_links"].(map[string]any)["download"].(map[string]any)["href"].(string)
		resp, body = e.call("GET", href, a.Token, "")
		if resp.StatusCode != 200 || string(body) != "bytes of invoice.pdf" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("attachment: %d %q %v", resp.StatusCode, body, resp.Header)
		}

		resp, body = e.call("POST", fmt.Sprintf("/api/messages/%d/labels", a.MessageID), a.Token, `{"add":["STARRED"],"remove":["INBOX"]}`)
		if resp.StatusCode != 200 || fmt.Sprint(decode(t, body)["labels"]) != "[STARRED]" {
			t.Fatalf("labels: %d %s", resp.StatusCode, body)
		}

		resp, body = e.call("GET", fmt.Sprintf("/api/threads/%d", a.ThreadID), a.Token, "")
		if resp.StatusCode != 200 || len(decode(t, body)["_embedded"].(map[string]any)["messages"].([]any)) != 1 {
			t.Fatalf("thread: %d %s", resp.StatusCode, body)
		}

		resp, body = e.call("GET", "/api/search?q=invo", a.Token, "")
		if resp.StatusCode != 200 || decode(t, body)["total"].(float64) != 1 {
			t.Fatalf("search: %d %s", resp.StatusCode, body)
		}
		resp, body = e.call("GET", "/api/search?q=%22open", a.Token, "")
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"name":"q"`) {
			t.Fatalf("search syntax error: %d %s", resp.StatusCode, body)
		}

		resp, body = e.call("POST", fmt.Sprintf("/api/mailboxes/%d/sync", a.MailboxID), a.Token, `{"full":true}`)
		if resp.StatusCode != 202 || len(e.syncer.calls) != 1 || e.syncer.calls[0] != fmt.Sprintf("%d/%d/true", a.TenantID, a.MailboxID) {
			t.Fatalf("sync now: %d %s %v", resp.StatusCode, body, e.syncer.calls)
		}
		resp, body = e.call("GET", fmt.Sprintf("/api/mailboxes/%d/sync", a.MailboxID), a.Token, "")
		if resp.StatusCode != 200 || decode(t, body)["state"] != "pending" {
			t.Fatalf("sync state: %d %s", resp.StatusCode, body)
		}

		resp, body = e.call("POST", "/api/mailboxes", a.Token, `{"provider":"demo"}`)
		if resp.StatusCode != 201 {
			t.Fatalf("connect demo: %d %s", resp.StatusCode, body)
		}
		resp, body = e.call("POST", "/api/mailboxes", a.Token, `{"provider":"gmail"}`)
		if resp.StatusCode != 501 || resp.Header.Get("Content-Type") != problemType {
			t.Fatalf("gmail without OAuth client: %d %s", resp.StatusCode, body)
		}
		if resp, _ = e.call("DELETE", fmt.Sprintf("/api/mailboxes/%d", a.MailboxID), a.Token, ""); resp.StatusCode != 204 {
			t.Fatalf("disconnect: %d", resp.StatusCode)
		}
		if resp, _ = e.call("GET", fmt.Sprintf("/api/messages/%d", a.MessageID), a.Token, ""); resp.StatusCode != 404 {
			t.Fatalf("message of a disconnected mailbox: %d", resp.StatusCode)
		}
	})
}

func TestAPINilDependenciesAnswer501(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store, func(d *Deps) { d.Search, d.Sync, d.Demo, d.Attachments, d.Labels = nil, nil, nil, nil, nil })
	a := seedTenant(t, store, "alpha")
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/search?q=x", ""},
		{"POST", fmt.Sprintf("/api/mailboxes/%d/sync", a.MailboxID), ""},
		{"POST", "/api/mailboxes", `{"provider":"demo"}`},
		{"POST", "/api/mailboxes", `{"provider":"gmail"}`},
		{"POST", fmt.Sprintf("/api/messages/%d/labels", a.MessageID), `{"add":["STARRED"]}`},
		{"GET", fmt.Sprintf("/api/messages/%d/attachments/%d", a.MessageID, a.AttachmentID), ""},
	} {
		resp, body := e.call(c.method, c.path, a.Token, c.body)
		if resp.StatusCode != 501 || resp.Header.Get("Content-Type") != problemType {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	b := e.loginAs(a)
	if _, page := b.get("/"); strings.Contains(page, "connect-demo") || strings.Contains(page, `href="/search"`) {
		t.Error("dashboard offers features that are not configured")
	}
}

func TestAPIProblems(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store, func(d *Deps) { d.MaxBodyBytes = 512 })
	a := seedTenant(t, store, "alpha")
	cases := []struct {
		name, method, path, body, ctype string
		status                          int
		probType, param                 string
	}{
		{"malformed", "POST", "/api/accounts", `{"name": "x"`, "", 400, probMalformed, ""},
		{"not json", "POST", "/api/accounts", `name=x`, "", 400, probMalformed, ""},
		{"empty", "POST", "/api/cases", ` `, "", 400, probMalformed, ""},
		{"trailing", "POST", "/api/accounts", `{"name":"x"} {"name":"y"}`, "", 400, probMalformed, ""},
		{"wrong type", "POST", "/api/accounts", `{"name": 42}`, "", 400, probValidation, "name"},
		{"wrong id type", "POST", "/api/cases", `{"subject":"s","account_id":"7"}`, "", 400, probValidation, "account_id"},
		{"wrong array type", "POST", "/api/contacts", `{"emails":"a@b.example"}`, "", 400, probValidation, "emails"},
		{"unknown field", "POST", "/api/accounts", `{"name":"x","colour":"red"}`, "", 400, probValidation, "colour"},
		{"missing field", "POST", "/api/accounts", `{"website":"https://x"}`, "", 400, probValidation, "name"},
		{"bad enum", "POST", "/api/cases", `{"subject":"s","status":"done"}`, "", 400, probValidation, "status"},
		{"bad email", "POST", "/api/contacts", `{"emails":["not-an-address"]}`, "", 400, probValidation, "emails[0]"},
		{"foreign ref", "POST", "/api/cases", `{"subject":"s","account_id":999999}`, "", 400, probValidation, "account_id"},
		{"too large", "POST", "/api/accounts", `{"name":"` + strings.Repeat("x", 2000) + `"}`, "", 413, probTooLarge, ""},
		{"media type", "POST", "/api/accounts", `{"name":"x"}`, "text/plain", 415, probUnsupported, ""},
		{"bad limit", "GET", "/api/accounts?limit=0", "", "", 400, probValidation, "limit"},
		{"bad offset", "GET", "/api/contacts?offset=-3", "", "", 400, probValidation, "offset"},
		{"bad filter", "GET", "/api/cases?account_id=abc", "", "", 400, probValidation, "account_id"},
		{"bad sort", "GET", "/api/search?q=a&sort=sideways", "", "", 400, probValidation, "sort"},
		{"bad id", "GET", "/api/accounts/abc", "", "", 404, "about:blank", ""},
		{"no provider", "POST", "/api/mailboxes", `{"provider":"imap"}`, "", 400, probValidation, "provider"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.ctype != "" {
				hdr = []string{"Content-Type", c.ctype}
			}
			resp, body := e.call(c.method, c.path, a.Token, c.body, hdr...)
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != problemType {
				t.Fatalf("got %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			p := decode(t, body)
			if p["type"] != c.probType || p["status"].(float64) != float64(c.status) || p["title"] == "" {
				t.Errorf("problem = %v", p)
			}
			if c.param != "" {
				ip, _ := p["invalid-params"].([]any)
				if len(ip) == 0 || ip[0].(map[string]any)["name"] != c.param {
					t.Errorf("invalid-params = %v, want %q first", p["invalid-params"], c.param)
				}
			}
		})
	}

	// No token, a bad token: 401 with a challenge (RFC 6750 §3).
	for _, tok := range []string{"", "tdg_not-a-real-token", a.Token + "x"} {
		resp, _ := e.call("GET", "/api/accounts", tok, "")
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("token %q: %d", tok, resp.StatusCode)
		}
	}
	// A revoked token stops working.
	if resp, _ := e.call("DELETE", fmt.Sprintf("/api/tokens/%d", a.APITokenID), a.Token, ""); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := e.call("GET", "/api", a.Token, ""); resp.StatusCode != 401 {
		t.Errorf("revoked token: %d", resp.StatusCode)
	}
}

func TestAPIPagination(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	a := seedTenant(t, store, "alpha") // has one account
	for i := range 6 {
		if resp, body := e.call("POST", "/api/accounts", a.Token, fmt.Sprintf(`{"name":"Paged %d"}`, i)); resp.StatusCode != 201 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	// 7 accounts in pages of 3 matching "" → walk next links to the end.
	var names []string
	next := "/api/accounts?limit=3"
	pages := 0
	for next != "" {
		resp, body := e.call("GET", next, a.Token, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", next, resp.StatusCode)
		}
		c := decode(t, body)
		if c["total"].(float64) != 7 {
			t.Fatalf("total = %v", c["total"])
		}
		l := c["_links"].(map[string]any)
		if pages > 0 {
			if _, ok := l["prev"]; !ok {
				t.Errorf("page %d has no prev link", pages)
			}
		} else if _, ok := l["prev"]; ok {
			t.Error("first page has a prev link")
		}
		for _, it := range c["_embedded"].(map[string]any)["accounts"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		next = ""
		if n, ok := l["next"]; ok {
			next = n.(map[string]any)["href"].(string)
		}
		pages++
	}
	if pages != 3 || len(names) != 7 || names[0] != a.AccountName || names[6] != "Paged 5" {
		t.Errorf("pages=%d names=%v", pages, names)
	}
	// Filters survive in the links.
	_, body := e.call("GET", "/api/accounts?q=paged&limit=2", a.Token, "")
	l := decode(t, body)["_links"].(map[string]any)
	if href := l["next"].(map[string]any)["href"].(string); !strings.Contains(href, "q=paged") || !strings.Contains(href, "offset=2") {
		t.Errorf("next = %s", href)
	}
	if href := l["last"].(map[string]any)["href"].(string); !strings.Contains(href, "offset=4") {
		t.Errorf("last = %s", href)
	}
}

func openSQLite(t *testing.T) *models.Store {
	t.Helper()
	return testenv.OpenSQLite(t)
}
