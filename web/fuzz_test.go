package web

import (
	"bytes"
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

// FuzzSessionCookie: a forged or mangled cookie never decodes to a
// session. The seeds are well-formed cookies sealed with another key, so
// no input the fuzzer builds from them is a genuine cookie of codec.
func FuzzSessionCookie(f *testing.F) {
	other := bytes.Repeat([]byte{1}, 32)
	forger, err := newSessionCodec(other)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	sess := &session{UserID: 1, TenantID: 2, Expires: now.Add(time.Hour).Unix(), CSRF: "x"}
	forged, err := forger.encode(sess)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(forged, 3)
	f.Add("", 0)
	f.Add("eyJ1IjoxLCJ0IjoyfQ", 1)
	codec, err := newSessionCodec(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	good, err := codec.encode(sess)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string, flip int) {
		if s, err := codec.decode(v, now); err == nil && v != good {
			t.Fatalf("forged cookie %q decoded to %+v", v, s)
		}
		b := []byte(good)
		i := (flip%len(b) + len(b)) % len(b)
		b[i] ^= 1
		if _, err := codec.decode(string(b), now); err == nil && string(b) != good {
			t.Fatalf("cookie with byte %d flipped still decodes", i)
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
