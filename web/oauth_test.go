package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"tidings/models"
)

// fakeGmail stands in for the OAuth client: its consent URL echoes the
// state, and Connect creates the mailbox for a known code.
type fakeGmail struct{ store *models.Store }

func (g fakeGmail) AuthCodeURL(state string) string {
	return "https://accounts.example/o/oauth2/auth?state=" + url.QueryEscape(state)
}

func (g fakeGmail) Connect(ctx context.Context, tenantID, ownerID int64, code string) (*models.Mailbox, error) {
	if code != "good-code" {
		return nil, fmt.Errorf("oauth2: invalid_grant")
	}
	m := &models.Mailbox{Email: "connected@gmail.example", OwnerID: ownerID}
	return m, g.store.CreateMailbox(ctx, tenantID, m)
}

func TestGmailOAuthFlow(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store, func(d *Deps) { d.Gmail = fakeGmail{store} })
	a := seedTenant(t, store, "alpha")
	b := seedTenant(t, store, "beta")
	ba := e.loginAs(a)

	if _, page := ba.get("/"); !strings.Contains(page, "connect-gmail") {
		t.Fatal("no Connect Gmail button with a GmailConnector")
	}
	resp, _ := ba.post("/mailboxes/connect/gmail", nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "accounts.example" {
		t.Fatalf("connect: %d %s", resp.StatusCode, loc)
	}
	state := loc.Query().Get("state")
	callback := func(br *browser, state, code string) int {
		r, _ := br.get("/oauth/google/callback?" + url.Values{"state": {state}, "code": {code}}.Encode())
		return r.StatusCode
	}
	// The consent lands in another user's session: refused.
	if got := callback(e.loginAs(b), state, "good-code"); got != http.StatusBadRequest {
		t.Errorf("callback in another tenant's session: %d", got)
	}
	// A forged or tampered state: refused.
	if got := callback(ba, state[:len(state)-2]+"AA", "good-code"); got != http.StatusBadRequest {
		t.Errorf("tampered state: %d", got)
	}
	// The same user in another browser (no nonce cookie): refused.
	if got := callback(e.loginAs(a), state, "good-code"); got != http.StatusBadRequest {
		t.Errorf("callback without the nonce cookie: %d", got)
	}
	if got := callback(ba, state, "bad-code"); got != http.StatusBadRequest {
		t.Errorf("rejected code: %d", got)
	}
	mbs, _ := store.ListMailboxes(t.Context(), a.TenantID)
	if len(mbs) != 1 {
		t.Fatalf("a refused callback connected a mailbox: %d", len(mbs))
	}
	// A state is single-use: after the failed attempt, it no longer works.
	if got := callback(ba, state, "good-code"); got != http.StatusBadRequest {
		t.Errorf("reused state: %d", got)
	}
	resp, _ = ba.post("/mailboxes/connect/gmail", nil)
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if got := callback(ba, loc.Query().Get("state"), "good-code"); got != http.StatusSeeOther {
		t.Fatalf("good callback: %d", got)
	}
	if mbs, _ = store.ListMailboxes(t.Context(), a.TenantID); len(mbs) != 2 {
		t.Errorf("mailboxes after connect: %d", len(mbs))
	}
	if mbs, _ := store.ListMailboxes(t.Context(), b.TenantID); len(mbs) != 1 {
		t.Errorf("tenant B got a mailbox: %d", len(mbs))
	}

	// The API hands out the consent URL for the same flow.
	resp, body := e.call("POST", "/api/mailboxes", a.Token, `{"provider":"gmail"}`)
	if resp.StatusCode != 202 || !strings.Contains(string(body), "accounts.example") {
		t.Errorf("API connect gmail: %d %s", resp.StatusCode, body)
	}
}

func TestMetricsByRoutePattern(t *testing.T) {
	store := openSQLite(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	e := newEnv(t, store, func(d *Deps) { d.Metrics = m })
	a := seedTenant(t, store, "alpha")
	e.call("GET", fmt.Sprintf("/api/accounts/%d", a.AccountID), a.Token, "")
	e.call("GET", "/api/accounts/999999", a.Token, "")
	mfs, _ := reg.Gather()
	var routes []string
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "route" {
					routes = append(routes, l.GetValue())
				}
			}
		}
	}
	if len(routes) != 2 || routes[0] != "GET /api/accounts/{id}" || routes[1] != routes[0] {
		t.Errorf("routes = %v, want the mux pattern, not the raw path", routes)
	}
}
