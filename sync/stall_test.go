package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"tidings/internal/testenv"
)

// stallServer answers messages.get with body, written as chunks pieces
// gap apart; on the requests for which hang reports true it writes the
// first piece and then holds the connection open without another byte.
func stallServer(t *testing.T, body []byte, chunks int, gap time.Duration, hang func(n int64) bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		step := (len(body) + chunks - 1) / chunks
		for i := 0; i < len(body); i += step {
			if i > 0 {
				if hang(n) {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				time.Sleep(gap)
			}
			_, _ = w.Write(body[i:min(i+step, len(body))])
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &requests
}

// TestRawFetchHasNoWholeRequestDeadline: a message whose body keeps
// arriving is fetched even when the whole transfer takes far longer than
// the client's timeout, since a large message on a slow link (or one
// waiting for admission) must not fail on every retry; a body that
// stops arriving fails as a stall, which call retries.
func TestRawFetchHasNoWholeRequestDeadline(t *testing.T) {
	e := newEnv(t, testenv.OpenSQLite(t))
	raw := []byte("From: a@customer.example\r\nTo: " + testEmail + "\r\nSubject: slow\r\n\r\n" + string(bytes.Repeat([]byte("line of text\r\n"), 4000)))
	id, err := e.emu.Deliver(e.email, raw, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	body := capturedRaw(t, e, id)
	// Gaps a quarter of the timeout leave room for a loaded CI machine's
	// scheduling delays; the whole transfer still takes twice the timeout.
	const timeout = 800 * time.Millisecond

	tests := []struct {
		name     string
		hang     func(n int64) bool
		wantErr  error // from getRaw on the first request
		requests int64 // seen by the server once call has returned
	}{
		{name: "slow but steady", hang: func(int64) bool { return false }, requests: 1},
		{name: "stalls once, then answers", hang: func(n int64) bool { return n == 1 }, wantErr: errStalled, requests: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Ten pieces 200 ms apart: 1.8 s in all.
			srv, requests := stallServer(t, body, 10, 200*time.Millisecond, tc.hang)
			s := e.syncer(func(d *Deps) {
				d.GmailEndpoint = srv.URL
				d.HTTPClient = &http.Client{Timeout: timeout}
			})
			c, err := s.newGmailClient(context.Background(), e.mailbox())
			if err != nil {
				t.Fatal(err)
			}
			rm, err := c.getRaw(context.Background(), id, c.admit)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("getRaw: %v, want %v", err, tc.wantErr)
				}
				if kind, _ := classify(err); kind != errTransient {
					t.Fatalf("a stall classifies as %d, want transient", kind)
				}
				err = c.call(context.Background(), costMessagesGet, func(...gmailCallOption) (err error) {
					rm, err = c.getRaw(context.Background(), id, c.admit)
					return err
				})
			}
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			defer rm.adm.release()
			if !bytes.Equal(rm.raw, raw) {
				t.Fatalf("fetched %d bytes, want the %d delivered", len(rm.raw), len(raw))
			}
			if got := requests.Load(); got != tc.requests {
				t.Fatalf("server saw %d requests, want %d", got, tc.requests)
			}
		})
	}
}
