package web

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/idtoken"
)

type recordingPush struct {
	mu     sync.Mutex
	emails []string
}

func (p *recordingPush) HandlePush(_ context.Context, email string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emails = append(p.emails, email)
	return nil
}

// googleKeys serves a JWK set in place of Google's certificate endpoint,
// so the real idtoken.Validator checks tokens we sign.
type googleKeys struct{ key *rsa.PrivateKey }

func (g googleKeys) RoundTrip(r *http.Request) (*http.Response, error) {
	enc := base64.RawURLEncoding
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig",
		"n": enc.EncodeToString(g.key.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(g.key.E)).Bytes()),
	}}})
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
}

func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// TestPushAuthenticated (finding 4): /gmail/push does not exist without
// authentication configured; with it, only a valid shared token or a
// Google-signed OIDC token for the configured audience and service account
// triggers a sync.
func TestPushAuthenticated(t *testing.T) {
	store := openSQLite(t)
	body := `{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(`{"emailAddress":"inbox@alpha.example","historyId":5}`)) + `","messageId":"1"},"subscription":"s"}`

	// Neither configured: no route.
	rec := &recordingPush{}
	e := newEnv(t, store, func(d *Deps) { d.Push = rec })
	if resp, _ := e.call("POST", "/gmail/push", "", body); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("unconfigured push: %d", resp.StatusCode)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	v, err := idtoken.NewValidator(t.Context(), idtoken.WithHTTPClient(&http.Client{Transport: googleKeys{key}}))
	if err != nil {
		t.Fatal(err)
	}
	const aud, sa = "https://crm.example.com/gmail/push", "push@proj.iam.gserviceaccount.com"
	e = newEnv(t, store, func(d *Deps) {
		d.Push = rec
		d.PushAuth = PushAuth{Token: "s3cret-token", Audience: aud, ServiceAccount: sa, Validator: v}
	})
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "https://accounts.google.com", "aud": aud, "email": sa, "email_verified": true,
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "sub": "1"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, c := range []struct {
		name, path, auth string
		want             int
	}{
		{"no credentials", "/gmail/push", "", 403},
		{"wrong token", "/gmail/push?token=nope", "", 403},
		{"shared token", "/gmail/push?token=s3cret-token", "", 204},
		{"signed push", "/gmail/push", "Bearer " + signJWT(t, key, claims(nil)), 204},
		{"other audience", "/gmail/push", "Bearer " + signJWT(t, key, claims(func(c map[string]any) { c["aud"] = "https://evil.example" })), 403},
		{"other service account", "/gmail/push", "Bearer " + signJWT(t, key, claims(func(c map[string]any) { c["email"] = "evil@proj.iam.gserviceaccount.com" })), 403},
		{"unverified email", "/gmail/push", "Bearer " + signJWT(t, key, claims(func(c map[string]any) { c["email_verified"] = false })), 403},
		{"expired", "/gmail/push", "Bearer " + signJWT(t, key, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), 403},
		{"other issuer", "/gmail/push", "Bearer " + signJWT(t, key, claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), 403},
		{"signed by another key", "/gmail/push", "Bearer " + signJWT(t, other, claims(nil)), 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.mu.Lock()
			before := len(rec.emails)
			rec.mu.Unlock()
			var hdr []string
			if c.auth != "" {
				hdr = []string{"Authorization", c.auth}
			}
			resp, b := e.call("POST", c.path, "", body, hdr...)
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.want, b)
			}
			rec.mu.Lock()
			got := len(rec.emails) - before
			rec.mu.Unlock()
			if (c.want == 204) != (got == 1) {
				t.Errorf("%d pushes handled", got)
			}
		})
	}
	// Bad bodies with a valid token are 400, never 5xx.
	for _, b := range []string{"{", "", `{"message":{"data":"!!"}}`, "null", `{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(`{"emailAddress":"x"}`)) + `"}}`} {
		if resp, _ := e.call("POST", "/gmail/push?token=s3cret-token", "", b); resp.StatusCode != 400 {
			t.Errorf("body %q: %d", b, resp.StatusCode)
		}
	}
}
