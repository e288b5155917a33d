package emulator

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

const testUser = "bob@example.com"

// fakeClock is a settable Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// setup starts an emulator with one user and returns an official client
// authenticated through golang.org/x/oauth2 against the emulator's token
// endpoint.
func setup(t testing.TB, opts ...Option) (*Server, *gmail.Service) {
	t.Helper()
	srv := NewServer(opts...)
	t.Cleanup(srv.Close)
	if _, err := srv.AddUser(testUser); err != nil {
		t.Fatal(err)
	}
	return srv, service(t, srv, testUser)
}

func oauthClient(t testing.TB, srv *Server, email string) *http.Client {
	t.Helper()
	tok, err := srv.Token(email)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: "test", ClientSecret: "secret", Endpoint: OAuthEndpoint(srv.URL)}
	return cfg.Client(context.Background(), tok)
}

func service(t testing.TB, srv *Server, email string) *gmail.Service {
	t.Helper()
	svc, err := gmail.NewService(context.Background(), option.WithEndpoint(srv.URL+"/"), option.WithHTTPClient(oauthClient(t, srv, email)))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deliver(t testing.TB, srv *Server, raw []byte, labels ...string) string {
	t.Helper()
	id, err := srv.Deliver(testUser, raw, labels...)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// apiCode returns the HTTP status and first reason of a googleapi error.
func apiCode(err error) (int, string) {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return 0, ""
	}
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
	}
	return ge.Code, reason
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func readFixture(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }
