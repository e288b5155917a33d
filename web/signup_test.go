package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tidings/models"
)

// Sign-up is closed once the instance has an organization (unless the
// operator opens it), so that it does not tell whether an address has an
// account: tidings has no mail channel of its own to verify addresses.

func signupForm(org, email, password string) url.Values {
	return url.Values{"org": {org}, "name": {"N"}, "email": {email}, "password": {password}, "password2": {password}}
}

// perRequest strips what differs between two renderings of one page
// (CSRF tokens, CSP nonces).
var perRequest = regexp.MustCompile(`(csrf_token" value|nonce)="[^"]*"`)

// orgsOf is how many organizations the address's account belongs to;
// -1 when it has no account.
func orgsOf(t *testing.T, s *models.Store, email, password string) int {
	t.Helper()
	u, err := s.Authenticate(context.Background(), email, password)
	if errors.Is(err, models.ErrNotFound) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Memberships(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

func TestSignupClosedAnswersAlikeForTakenAndUnknownAddresses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		f := seedTenant(t, store, "closed")
		e := newEnv(t, store)
		resp, page := e.newBrowser().get("/signup")
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "ask an admin") || strings.Contains(page, `name="password"`) {
			t.Fatalf("GET /signup when closed: %d\n%s", resp.StatusCode, page)
		}
		cases := []struct{ name, email, password string }{
			{"taken, its password", f.Email, f.Password},
			{"taken, other password", f.Email, "not the right password"},
			{"unknown", "nobody@closed-unknown.example", testPassword},
		}
		var first string
		for _, c := range cases {
			resp, page := e.newBrowser().post("/signup", signupForm("Org", c.email, c.password))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: status %d", c.name, resp.StatusCode)
			}
			page = perRequest.ReplaceAllString(page, "")
			if first == "" {
				first = page
			} else if page != first {
				t.Errorf("%s: the answer differs from %q's:\n%s\n---\n%s", c.name, cases[0].name, page, first)
			}
			if resp.Header.Get("Set-Cookie") != "" && strings.Contains(resp.Header.Get("Set-Cookie"), "session") {
				t.Errorf("%s: a session was started", c.name)
			}
		}
		if n := orgsOf(t, store, f.Email, f.Password); n != 1 {
			t.Errorf("the taken address's organizations after closed sign-ups: %d, want 1", n)
		}
		if n := orgsOf(t, store, "nobody@closed-unknown.example", testPassword); n != -1 {
			t.Errorf("closed sign-up created the unknown address's account (%d organizations)", n)
		}
	})
}

func TestSignupBootstrapsFirstOrganizationOnly(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		b := e.newBrowser()
		if resp, page := b.get("/signup"); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
			t.Fatalf("GET /signup on an empty instance: %d", resp.StatusCode)
		}
		if resp, _ := b.post("/signup", signupForm("First Org", "first@first.example", testPassword)); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first sign-up: %d", resp.StatusCode)
		}
		if _, page := b.get("/"); !strings.Contains(page, "Dashboard") {
			t.Fatal("the first user does not land in the app")
		}
		if resp, page := e.newBrowser().post("/signup", signupForm("Second Org", "second@second.example", testPassword)); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "ask an admin") {
			t.Errorf("second sign-up: %d", resp.StatusCode)
		}
		if n := orgsOf(t, store, "first@first.example", testPassword); n != 1 {
			t.Errorf("the first user's organizations: %d, want 1", n)
		}
		if n := orgsOf(t, store, "second@second.example", testPassword); n != -1 {
			t.Errorf("the closed sign-up created an account (%d organizations)", n)
		}
		// The store refuses a second first sign-up too (the web check and
		// the creation race otherwise).
		if _, _, err := store.SignUpFirst(context.Background(), "Late", "late@late.example", "L", testPassword); !errors.Is(err, models.ErrSignUpClosed) {
			t.Errorf("SignUpFirst after bootstrap: %v", err)
		}
	})
}

func TestOpenSignupFlag(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		f := seedTenant(t, store, "open")
		e := newEnv(t, store, func(d *Deps) { d.OpenSignup = true })
		if resp, page := e.newBrowser().get("/signup"); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) {
			t.Fatalf("GET /signup with open sign-up: %d", resp.StatusCode)
		}
		b := e.newBrowser()
		if resp, _ := b.post("/signup", signupForm("Second Org", "new@open-new.example", testPassword)); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("open sign-up of a new address: %d", resp.StatusCode)
		}
		if _, page := b.get("/"); !strings.Contains(page, "Dashboard") {
			t.Fatal("the new user does not land in the app")
		}
		// What open sign-up reveals (README): a taken address is refused.
		if resp, page := e.newBrowser().post("/signup", signupForm("Third Org", f.Email, "not the right password")); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "could not sign you up") {
			t.Errorf("open sign-up of a taken address: %d", resp.StatusCode)
		}
		if n := orgsOf(t, store, "new@open-new.example", testPassword); n != 1 {
			t.Errorf("the new user's organizations: %d, want 1", n)
		}
	})
}

// TestLoginWithoutOrganization checks what a user removed from their only
// organization reads at login: with sign-up closed they can only be
// invited back, so the page must not send them to a sign-up that refuses
// them; with open sign-up it offers both.
func TestLoginWithoutOrganization(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		f := seedTenant(t, store, "gone")
		token, _, err := store.CreateInvitation(ctx, f.TenantID, f.UserID, "left@gone.example", models.RoleMember, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, u, err := store.AcceptInvitationAsNewUser(ctx, token, "Left", testPassword, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		must(t, store.RemoveMember(ctx, f.TenantID, u.ID))
		for _, c := range []struct {
			open          bool
			want, notWant string
		}{
			{false, "Ask an admin for an invitation", "sign up"},
			{true, "Accept an invitation, or sign up to create one", "Ask an admin"},
		} {
			e := newEnv(t, store, func(d *Deps) { d.OpenSignup = c.open })
			resp, page := e.newBrowser().post("/login", url.Values{"email": {"left@gone.example"}, "password": {testPassword}})
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "does not belong to an organization") {
				t.Fatalf("open sign-up %v: login of a user without organization: %d", c.open, resp.StatusCode)
			}
			if !strings.Contains(page, c.want) || strings.Contains(page, c.notWant) {
				t.Errorf("open sign-up %v: the page should say %q and not %q", c.open, c.want, c.notWant)
			}
		}
	})
}
