package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tidings/internal/testenv"
)

// FuzzAPIBody: whatever the body of a create request, the API answers 201
// or a problem+json 4xx, never a 5xx, and never panics.
func FuzzAPIBody(f *testing.F) {
	for _, seed := range []string{
		`{"subject":"s"}`, `{"subject":"s","status":"open","account_id":null}`, `{"subject":1}`, `{`, `[]`, `null`,
		`{"subject":"s","account_id":"x"}`, `{"subject":"s"}{}`, `{"subject":"\u0000"}`, `{"name":"a","domains":["x.example"]}`,
		`{"first_name":"a","emails":["a@b.example"]}`, strings.Repeat("[", 5000),
	} {
		f.Add("/api/cases", seed)
		f.Add("/api/accounts", seed)
		f.Add("/api/contacts", seed)
	}
	store := testenv.OpenSQLite(f)
	e := newEnv(f, store, func(d *Deps) { d.MaxBodyBytes = 4096 })
	a := seedTenant(f, store, "fuzz")
	f.Fuzz(func(t *testing.T, path, body string) {
		switch path {
		case "/api/cases", "/api/accounts", "/api/contacts":
		default:
			return
		}
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+a.Token)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusCreated:
		case rec.Code >= 400 && rec.Code < 500:
			if rec.Header().Get("Content-Type") != problemType {
				t.Fatalf("%d without problem+json: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
	})
}

// FuzzSessionCookie: a forged or mangled cookie never resolves to a
// session. Sessions are rows; the cookie is a random token whose hash is
// looked up, so only the issued token itself works.
func FuzzSessionCookie(f *testing.F) {
	store := testenv.OpenSQLite(f)
	ctx := context.Background()
	tn, u, err := store.SignUp(ctx, "Fuzz", "fuzz@fuzz.example", "F", testPassword)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	good, _, err := store.CreateSession(ctx, u.ID, tn.ID, time.Hour, "ua", "127.0.0.1", now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:len(good)-1], 3)
	f.Add("", 0)
	f.Add("eyJ1IjoxLCJ0IjoyfQ", 1)
	f.Fuzz(func(t *testing.T, v string, flip int) {
		if s, err := store.SessionByToken(ctx, v, now); err == nil && v != good {
			t.Fatalf("forged cookie %q resolved to %+v", v, s)
		}
		b := []byte(good)
		i := (flip%len(b) + len(b)) % len(b)
		b[i] ^= 1
		if _, err := store.SessionByToken(ctx, string(b), now); err == nil {
			t.Fatalf("cookie with byte %d flipped still resolves", i)
		}
	})
}

// FuzzLocalPath: the post-login target is always a local path.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/cases/1", "//evil.example", "/\\evil.example", "https://evil.example", "javascript:alert(1)", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		p := localPath(next)
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
			t.Fatalf("localPath(%q) = %q", next, p)
		}
	})
}
