package sync

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"tidings/internal/testenv"
	"tidings/models"
)

// consent follows the emulator's auto-approving consent screen and
// returns the authorization code from the redirect.
func consent(t testing.TB, authURL, wantState string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("consent answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := loc.Query().Get("state"); got != wantState {
		t.Fatalf("state %q, want %q", got, wantState)
	}
	return loc.Query().Get("code")
}

func TestConnectOAuthFlow(t *testing.T) {
	ctx := context.Background()
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	const addr = "Second.User@tidings.example"
	if _, err := e.emu.AddUser(addr); err != nil {
		t.Fatal(err)
	}
	s := e.syncer(func(d *Deps) { d.RedirectURL = "http://127.0.0.1:9/oauth/callback" })
	verifier := oauth2.GenerateVerifier()
	u := s.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", addr))
	pu, _ := url.Parse(u)
	if q := pu.Query(); q.Get("access_type") != "offline" || q.Get("scope") != Scopes[0] || q.Get("prompt") != "consent" {
		t.Errorf("consent URL lacks offline access or the narrow scope: %s", u)
	}
	mb, err := s.Connect(ctx, e.tenantID, 42, consent(t, u, "xyz"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if mb.Email != "second.user@tidings.example" || mb.OwnerID != 42 || mb.SyncState != models.SyncPending {
		t.Errorf("mailbox = %+v", mb)
	}
	var tok oauth2.Token
	if err := store.LoadToken(ctx, e.tenantID, mb.ID, &tok); err != nil || tok.RefreshToken == "" {
		t.Fatalf("token not stored: %v", err)
	}
	if err := s.Run(ctx, e.tenantID, mb.ID, false, nil); err != nil {
		t.Fatalf("first sync after connect: %v", err)
	}

	// Reconnecting a mailbox that lost its grant clears needs-reauth.
	if err := e.emu.RevokeRefreshToken(addr); err != nil {
		t.Fatal(err)
	}
	if _, err := e.emu.Deliver(addr, rawMessage(1, "x", "")); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx, e.tenantID, mb.ID, false, nil); err == nil {
		t.Fatal("sync with a revoked grant succeeded")
	}
	mb2, err := s.Connect(ctx, e.tenantID, 42, consent(t, s.AuthCodeURL("again", oauth2.SetAuthURLParam("login_hint", addr)), "again"))
	if err != nil {
		t.Fatal(err)
	}
	if mb2.ID != mb.ID || mb2.NeedsReauth || mb2.SyncState != models.SyncPending {
		t.Errorf("reconnected mailbox = id %d needs_reauth %v state %s", mb2.ID, mb2.NeedsReauth, mb2.SyncState)
	}
	if err := s.Run(ctx, e.tenantID, mb.ID, false, nil); err != nil {
		t.Fatalf("sync after reconnect: %v", err)
	}
}

func oauthLoginHint(addr string) oauth2.AuthCodeOption {
	return oauth2.SetAuthURLParam("login_hint", addr)
}
