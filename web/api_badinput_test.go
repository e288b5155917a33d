package web

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"tidings/models"
)

// badQueries are query strings no GET route may answer with a 5xx.
var badQueries = []string{
	"limit=999999999999", "limit=-1", "limit=abc", "offset=-5", "offset=99999999999999999999",
	"q=" + url.QueryEscape("foo:bar baz:"), "q=" + url.QueryEscape("before:9999999999 after:0000/00/00"),
	"q=" + url.QueryEscape("newer_than:99999999y"), "q=%FF%FE", "q=a%00b", "q=" + strings.Repeat("x", 5000),
	"after=garbage", "after=" + strings.Repeat("A", 3000), "size=0", "size=100000", "sort=sideways",
	"mailbox_id=abc", "mailbox_id=99999999999999999999", "account_id=-1", "contact_id=1e9", "case_id=0",
	"status=unknown", "assignee_id=x", "full=maybe",
}

// badBodies are request bodies no POST/PATCH route may answer with a 5xx
// or store anything from.
var badBodies = []struct{ contentType, body string }{
	{"application/json", "{"},
	{"application/json", "[]"},
	{"application/json", "null"},
	{"application/json", `"string"`},
	{"application/json", `{"name":5,"domains":"x","emails":{},"subject":[],"add":"x","remove":7,"first_name":true,"status":1,"email":[]}`},
	{"application/json", "{\"name\":\"\xff\xfe\",\"subject\":\"\xff\",\"first_name\":\"\xc3\"}"},
	{"application/json", `{"name":"a\u0000b","subject":"a\u0000","first_name":"\u0000","add":["\u0000"]}`},
	{"application/json", `{"unknown_field":1}`},
	{"application/json", `{"account_id":99999999999999999999,"contact_id":-1,"assignee_id":"x"}`},
	{"application/json", `{"name":"x"}{"name":"y"}`},
	{"application/json", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`},
	{"text/plain", `{"name":"plain"}`},
	{"", `{"name":"no type"}`},
}

var badIDs = []string{"0", "-1", "abc", "99999999999999999999", "9223372036854775807", "1.5", "%00"}

// TestAPIBadInputEveryRoute throws the bad-input classes at every REST
// route: no 5xx, every error is problem+json, and nothing is stored.
func TestAPIBadInputEveryRoute(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	a := seedTenant(t, store, "alpha")
	ids := map[string]int64{"{id}": 0, "{messageId}": a.MessageID, "{attachmentId}": a.AttachmentID}
	param := regexp.MustCompile(`\{[A-Za-z]+\}`)
	snapshot := func() string {
		var b strings.Builder
		for _, path := range []string{"/api/accounts", "/api/contacts", "/api/cases", "/api/tokens", "/api/mailboxes",
			fmt.Sprintf("/api/messages/%d", a.MessageID), fmt.Sprintf("/api/cases/%d/messages", a.CaseID)} {
			resp, body := e.call("GET", path, a.Token, "")
			if resp.StatusCode != 200 {
				t.Fatalf("snapshot %s: %d", path, resp.StatusCode)
			}
			// Timestamps of use change with every request; counts and contents do not.
			b.WriteString(regexp.MustCompile(`"(last_used_at|updated_at)":"[^"]*"`).ReplaceAllString(string(body), ""))
		}
		return b.String()
	}
	before := snapshot()
	check := func(method, path, ctype, body string) {
		t.Helper()
		var hdr []string
		if ctype != "" || body != "" {
			hdr = []string{"Content-Type", ctype}
		}
		resp, out := e.call(method, path, a.Token, body, hdr...)
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s %.60q: %d %s", method, path, body, resp.StatusCode, out)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != problemType {
			t.Errorf("%s %s %.60q: %d as %s", method, path, body, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	idFor := func(path string) string {
		switch {
		case strings.HasPrefix(path, "/api/accounts"):
			return fmt.Sprint(a.AccountID)
		case strings.HasPrefix(path, "/api/contacts"):
			return fmt.Sprint(a.ContactID)
		case strings.HasPrefix(path, "/api/cases"):
			return fmt.Sprint(a.CaseID)
		case strings.HasPrefix(path, "/api/mailboxes"):
			return fmt.Sprint(a.MailboxID)
		case strings.HasPrefix(path, "/api/threads"):
			return fmt.Sprint(a.ThreadID)
		case strings.HasPrefix(path, "/api/messages"):
			return fmt.Sprint(a.MessageID)
		case strings.HasPrefix(path, "/api/tokens"):
			return fmt.Sprint(a.APITokenID)
		}
		return "1"
	}
	routes := 0
	for _, rt := range e.srv.routes {
		if !strings.HasPrefix(rt.Path, "/api") {
			continue
		}
		routes++
		good := param.ReplaceAllStringFunc(rt.Path, func(p string) string {
			if id := ids[p]; id != 0 {
				return fmt.Sprint(id)
			}
			return idFor(rt.Path)
		})
		// Bad ids everywhere an id goes (safe for every method: they
		// name nothing).
		if strings.Contains(rt.Path, "{") {
			for _, bad := range badIDs {
				check(rt.Method, param.ReplaceAllString(rt.Path, bad), "application/json", `{"name":"x"}`)
			}
		}
		switch rt.Method {
		case "GET":
			for _, q := range badQueries {
				check("GET", good+"?"+q, "", "")
			}
		case "POST", "PATCH":
			for _, b := range badBodies {
				check(rt.Method, good, b.contentType, b.body)
			}
		}
	}
	if routes < 30 {
		t.Fatalf("only %d API routes found", routes)
	}
	if after := snapshot(); after != before {
		t.Errorf("bad input changed stored data:\nbefore %s\nafter  %s", before, after)
	}
	// Something that must not have been created either.
	if _, n, _ := store.ListAccounts(t.Context(), a.TenantID, models.Page{}); n != 1 {
		t.Errorf("%d accounts", n)
	}
}
