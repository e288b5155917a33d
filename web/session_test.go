package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tidings/models"
)

// loggedIn reports whether a browser's session still reads a page.
func loggedIn(b *browser) bool {
	resp, _ := b.get("/settings")
	return resp.StatusCode == http.StatusOK
}

// TestSessionsEnd (finding 2): logout, a password change, a role change
// and removal end the affected sessions on the server at once, and the
// old cookie reads nothing and mints no token; sessions survive a restart
// of the web process (a new Server on the same store).
func TestSessionsEnd(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		a := seedTenant(t, store, "alpha")

		// Logout: the cookie copied before logout is dead afterwards.
		b := e.loginAs(a)
		stolen := e.newBrowser()
		u, _ := url.Parse(e.ts.URL)
		stolen.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
		stolen.csrf = b.csrf
		if !loggedIn(stolen) {
			t.Fatal("copied cookie does not work before logout")
		}
		if resp, _ := b.post("/logout", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		if loggedIn(stolen) {
			t.Error("the cookie still reads pages after logout")
		}
		if resp, _ := stolen.post("/settings/tokens", url.Values{"name": {"after logout"}}); resp.StatusCode == http.StatusOK {
			t.Error("the cookie minted an API token after logout")
		}

		// A restart (new Server, same store) keeps sessions.
		b = e.loginAs(a)
		e2 := newEnv(t, store)
		b2 := e2.newBrowser()
		u2, _ := url.Parse(e2.ts.URL)
		b2.c.Jar.SetCookies(u2, b.c.Jar.Cookies(u))
		if !loggedIn(b2) {
			t.Error("session did not survive a restart")
		}

		// Password change ends the other sessions, keeps this one.
		other := e.loginAs(a)
		resp, page := b.post("/settings/password", url.Values{"current_password": {a.Password}, "new_password": {"a new password 1"}, "new_password2": {"a new password 1"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Password changed") {
			t.Fatalf("change password: %d", resp.StatusCode)
		}
		if loggedIn(other) || !loggedIn(b) {
			t.Errorf("after a password change: other session alive=%v, own alive=%v", loggedIn(other), loggedIn(b))
		}
		if resp, _ := b.post("/settings/password", url.Values{"current_password": {"wrong"}, "new_password": {"x new password 1"}, "new_password2": {"x new password 1"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("change password with a wrong current one: %d", resp.StatusCode)
		}
		a.Password = "a new password 1"

		// Invite a member, then change their role and remove them: each
		// ends their sessions in the tenant.
		token, _, err := store.CreateInvitation(t.Context(), a.TenantID, a.UserID, "mia@alpha.example", models.RoleMember, time.Now())
		must(t, err)
		_, mia, err := store.AcceptInvitationAsNewUser(t.Context(), token, "Mia", "mias password", time.Now())
		must(t, err)
		miaFix := tenantFix{Email: mia.Email, Password: "mias password"}
		mb := e.loginAs(miaFix)
		if resp, _ := b.post(fmt.Sprintf("/settings/users/%d/role", mia.ID), url.Values{"role": {"admin"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("set role: %d", resp.StatusCode)
		}
		if loggedIn(mb) {
			t.Error("session survived a role change")
		}
		mb = e.loginAs(miaFix)
		// Settings lists the sessions and can end one.
		ss, err := store.ListSessions(t.Context(), mia.ID, time.Now())
		if err != nil || len(ss) != 1 {
			t.Fatalf("mia's sessions: %v %v", ss, err)
		}
		if _, page := mb.get("/settings"); !strings.Contains(page, `id="sessions"`) || !strings.Contains(page, "this session") {
			t.Error("settings does not list sessions")
		}
		if resp, _ := b.post(fmt.Sprintf("/settings/users/%d/remove", mia.ID), nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove: %d", resp.StatusCode)
		}
		if loggedIn(mb) {
			t.Error("session survived removal")
		}
		if resp, _ := e.newBrowser().post("/login", url.Values{"email": {miaFix.Email}, "password": {miaFix.Password}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("removed user logs in: %d", resp.StatusCode)
		}
		// The last admin can be neither demoted nor removed.
		if resp, _ := b.post(fmt.Sprintf("/settings/users/%d/role", a.UserID), url.Values{"role": {"member"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("demote the last admin: %d", resp.StatusCode)
		}
		// Ending one's own other session from Settings.
		o := e.loginAs(a)
		ss, _ = store.ListSessions(t.Context(), a.UserID, time.Now())
		if resp, _ := b.post(fmt.Sprintf("/settings/sessions/%d/end", ss[0].ID), nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("end session: %d", resp.StatusCode)
		}
		if loggedIn(o) {
			t.Error("ended session still works")
		}
	})
}

// TestLoginUnderAttack (finding 3): concurrent logins never hash more
// passwords at once than configured (the rest wait or get 429 with
// Retry-After); one IP cannot spray many addresses; unknown and known
// addresses get the same answer.
func TestLoginUnderAttack(t *testing.T) {
	store := openSQLite(t)
	var mu sync.Mutex
	inFlight, peak := 0, 0
	e := newEnv(t, store, func(d *Deps) {
		d.LoginLimit = LoginLimit{Every: time.Minute, Burst: 100, IPEvery: time.Minute, IPBurst: 100, HashConcurrency: 2, HashWait: 50 * time.Millisecond}
	})
	e.srv.limiter.onHash = func(delta int) {
		mu.Lock()
		inFlight += delta
		peak = max(peak, inFlight)
		mu.Unlock()
	}
	a := seedTenant(t, store, "alpha")
	var wg sync.WaitGroup
	codes := make(chan int, 24)
	for i := range 24 {
		wg.Go(func() {
			resp, _ := e.newBrowser().post("/login", url.Values{"email": {fmt.Sprintf("nobody%d@x.example", i)}, "password": {"whatever password"}})
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusUnauthorized && c != http.StatusTooManyRequests {
			t.Errorf("login answered %d", c)
		}
	}
	if peak > 2 || peak == 0 {
		t.Errorf("peak concurrent password hashes = %d, want 1..2", peak)
	}

	// Per IP: one client cannot spray addresses past its budget.
	e2 := newEnv(t, store, func(d *Deps) {
		d.LoginLimit = LoginLimit{Every: time.Minute, Burst: 100, IPEvery: time.Minute, IPBurst: 3}
	})
	b := e2.newBrowser()
	var got []int
	for i := range 5 {
		resp, _ := b.post("/login", url.Values{"email": {fmt.Sprintf("spray%d@x.example", i)}, "password": {"whatever password"}})
		got = append(got, resp.StatusCode)
	}
	if fmt.Sprint(got) != "[401 401 401 429 429]" {
		t.Errorf("spraying addresses from one IP: %v", got)
	}

	// Same answer for an unknown address and a wrong password.
	_, p1 := e.newBrowser().post("/login", url.Values{"email": {"ghost@alpha.example"}, "password": {"wrong password"}})
	_, p2 := e.newBrowser().post("/login", url.Values{"email": {a.Email}, "password": {"wrong password"}})
	if strings.ReplaceAll(p1, "ghost@alpha.example", "X") != strings.ReplaceAll(p2, a.Email, "X") {
		t.Error("login answers differ for unknown and known addresses")
	}
}
