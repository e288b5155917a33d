package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// OAuth endpoint paths, relative to the emulator's base URL.
const (
	AuthPath  = "/o/oauth2/auth"
	TokenPath = "/token"
)

// OAuthEndpoint returns the emulator's OAuth 2.0 endpoint for
// golang.org/x/oauth2, given its base URL (no trailing slash).
func OAuthEndpoint(baseURL string) oauth2.Endpoint {
	base := strings.TrimRight(baseURL, "/")
	return oauth2.Endpoint{AuthURL: base + AuthPath, TokenURL: base + TokenPath, AuthStyle: oauth2.AuthStyleInParams}
}

// handleAuth is the consent screen: it approves at once for the user named
// by login_hint (or the first user) and redirects back with a code, as in
// RFC 6749 section 4.1.2.
func (e *Emulator) handleAuth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	u, err := url.Parse(redirect)
	if redirect == "" || err != nil || !u.IsAbs() {
		http.Error(w, "Error 400: invalid_request (missing or invalid redirect_uri)", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "" && q.Get("response_type") != "code" {
		http.Error(w, "Error 400: unsupported_response_type", http.StatusBadRequest)
		return
	}
	email := q.Get("login_hint")
	if email == "" {
		if us := e.Users(); len(us) > 0 {
			email = us[0]
		}
	}
	mb, err := e.mailbox(email)
	back := u.Query()
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	if err != nil {
		back.Set("error", "access_denied")
	} else {
		code := randomToken("4/emu-")
		e.mu.Lock()
		e.codes[code] = authCode{email: mb.email, redirectURI: redirect, expires: e.now().Add(10 * time.Minute)}
		e.mu.Unlock()
		back.Set("code", code)
		back.Set("scope", q.Get("scope"))
	}
	u.RawQuery = back.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// handleToken implements the token endpoint (RFC 6749 sections 4.1.3 and 6)
// for the authorization_code and refresh_token grants.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, 400, "invalid_request", "could not parse form")
		return
	}
	var email, refresh string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		e.mu.Lock()
		ac, ok := e.codes[code]
		delete(e.codes, code) // codes are single-use
		e.mu.Unlock()
		if !ok || e.now().After(ac.expires) {
			tokenError(w, 400, "invalid_grant", "Malformed auth code.")
			return
		}
		if ru := r.PostForm.Get("redirect_uri"); ru != "" && ru != ac.redirectURI {
			tokenError(w, 400, "redirect_uri_mismatch", "Bad Request")
			return
		}
		email = ac.email
		rt, err := e.IssueRefreshToken(email)
		if err != nil {
			tokenError(w, 400, "invalid_grant", "Account has been deleted")
			return
		}
		refresh = rt
	case "refresh_token":
		e.mu.Lock()
		u, ok := e.refresh[r.PostForm.Get("refresh_token")]
		e.mu.Unlock()
		if !ok {
			tokenError(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		email = u
	default:
		tokenError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	at, err := e.IssueAccessToken(email, e.cfg.accessTTL)
	if err != nil {
		tokenError(w, 400, "invalid_grant", "Account has been deleted")
		return
	}
	resp := map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int(e.cfg.accessTTL / time.Second),
		"scope":        e.scopeOf(email),
	}
	if refresh != "" {
		resp["refresh_token"] = refresh
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// Token returns a fresh oauth2.Token (access and refresh token) for email,
// for tests that build an oauth2 client without the consent flow.
func (e *Emulator) Token(email string) (*oauth2.Token, error) {
	at, err := e.IssueAccessToken(email, e.cfg.accessTTL)
	if err != nil {
		return nil, err
	}
	rt, err := e.IssueRefreshToken(email)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: at, TokenType: "Bearer", RefreshToken: rt, Expiry: e.now().Add(e.cfg.accessTTL)}, nil
}
