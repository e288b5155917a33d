package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

func TestOAuthCodeFlowRefreshAndRevoke(t *testing.T) {
	srv := NewServer()
	t.Cleanup(srv.Close)
	for _, u := range []string{"first@example.com", testUser} {
		if _, err := srv.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	cfg := &oauth2.Config{ClientID: "cid", ClientSecret: "secret", RedirectURL: "http://127.0.0.1:9/callback",
		Scopes: []string{gmail.MailGoogleComScope}, Endpoint: OAuthEndpoint(srv.URL)}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	consent := func(hint string) url.Values {
		opts := []oauth2.AuthCodeOption{oauth2.AccessTypeOffline}
		if hint != "" {
			opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
		}
		resp, err := noRedirect.Get(cfg.AuthCodeURL("st-123", opts...))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("consent status %d", resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Host != "127.0.0.1:9" || loc.Path != "/callback" {
			t.Fatalf("redirect %q", resp.Header.Get("Location"))
		}
		return loc.Query()
	}
	q := consent(testUser)
	if q.Get("state") != "st-123" || q.Get("code") == "" {
		t.Fatalf("callback query %v", q)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || time.Until(tok.Expiry) < 50*time.Minute {
		t.Fatalf("token %+v", tok)
	}
	svc, err := gmail.NewService(ctx, option.WithEndpoint(srv.URL+"/"), option.WithHTTPClient(cfg.Client(ctx, tok)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Users.GetProfile("me").Do()
	if err != nil || p.EmailAddress != testUser {
		t.Fatalf("profile via code-flow token: %v %+v", err, p)
	}
	// A code is single-use.
	var re *oauth2.RetrieveError
	if _, err := cfg.Exchange(ctx, q.Get("code")); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("reused code: %v", err)
	}
	// Without login_hint consent goes to the first user.
	tok2, err := cfg.Exchange(ctx, consent("").Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	svc2, _ := gmail.NewService(ctx, option.WithEndpoint(srv.URL+"/"), option.WithHTTPClient(cfg.Client(ctx, tok2)))
	if p, err := svc2.Users.GetProfile("me").Do(); err != nil || p.EmailAddress != "first@example.com" {
		t.Errorf("default user: %v %+v", err, p)
	}
	// Refresh grant.
	fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == "" || fresh.AccessToken == tok.AccessToken {
		t.Errorf("refreshed access token %q", fresh.AccessToken)
	}
	// Revoked: invalid_grant on refresh, 401 on API calls.
	if err := srv.RevokeRefreshToken(testUser); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("revoked refresh: %v", err)
	}
	if _, err := svc.Users.GetProfile("me").Do(); err == nil {
		t.Error("revoked access token still accepted")
	} else if code, _ := apiCode(err); code != 401 {
		t.Errorf("revoked access: code %d", code)
	}
	// Unauthenticated.
	resp, err := http.Get(srv.URL + "/gmail/v1/users/me/profile")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no bearer: status %d", resp.StatusCode)
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	clk := newFakeClock()
	srv, _ := setup(t, WithClock(clk), WithAccessTokenTTL(time.Minute))
	tok, err := srv.IssueAccessToken(testUser, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	get := func() int {
		req, _ := http.NewRequest("GET", srv.URL+"/gmail/v1/users/me/profile", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(); c != 200 {
		t.Fatalf("fresh token: %d", c)
	}
	clk.Advance(2 * time.Minute)
	if c := get(); c != 401 {
		t.Errorf("expired token: %d, want 401", c)
	}
}

type pushRecv struct {
	mu    sync.Mutex
	times []time.Time
	data  []struct {
		EmailAddress string `json:"emailAddress"`
		HistoryID    uint64 `json:"historyId"`
	}
}

func (p *pushRecv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var env struct {
		Message struct {
			Data      string `json:"data"`
			MessageID string `json:"messageId"`
		} `json:"message"`
		Subscription string `json:"subscription"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &env); err != nil || env.Message.MessageID == "" || env.Subscription == "" {
		w.WriteHeader(400)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(env.Message.Data)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.times = append(p.times, time.Now())
	p.data = append(p.data, struct {
		EmailAddress string `json:"emailAddress"`
		HistoryID    uint64 `json:"historyId"`
	}{})
	_ = json.Unmarshal(raw, &p.data[len(p.data)-1])
	w.WriteHeader(204)
}

// handlerTransport answers HTTP requests by calling a handler in memory,
// so a synctest bubble has no network I/O that would keep its clock from
// advancing.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// pushEnv is an emulator inside a synctest bubble whose pushes go to recv
// and whose API is reached in memory.
func pushEnv(t *testing.T, interval time.Duration) (*Emulator, *gmail.Service, *pushRecv) {
	t.Helper()
	recv := &pushRecv{}
	e := New(WithPushURL("http://push.invalid/"), WithPushInterval(interval),
		WithPushClient(&http.Client{Transport: handlerTransport{recv}}))
	t.Cleanup(e.Close)
	if _, err := e.AddUser(testUser); err != nil {
		t.Fatal(err)
	}
	tok, err := e.Token(testUser)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(tok), Base: handlerTransport{e}}}
	svc, err := gmail.NewService(context.Background(), option.WithEndpoint("http://gmail.invalid/"), option.WithHTTPClient(client))
	if err != nil {
		t.Fatal(err)
	}
	return e, svc, recv
}

// pushes returns the pushes received so far, once every push that is due
// has been sent.
func (p *pushRecv) pushes() ([]time.Time, []uint64) {
	synctest.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []uint64
	for _, d := range p.data {
		ids = append(ids, d.HistoryID)
	}
	return slices.Clone(p.times), ids
}

// TestPushWatchStop runs on synctest's clock: ten changes 20 ms apart give
// one push at once and one coalescing push an interval later, carrying the
// latest historyId; after stop there are none.
func TestPushWatchStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 300 * time.Millisecond
		e, svc, recv := pushEnv(t, interval)
		deliverTo := func() {
			if _, err := e.Deliver(testUser, fixture(t, "reply.eml")); err != nil {
				t.Fatal(err)
			}
		}
		deliverTo() // not watching yet
		if _, err := svc.Users.Watch("me", &gmail.WatchRequest{TopicName: "bad"}).Do(); err == nil {
			t.Error("watch with an invalid topic accepted")
		}
		w, err := svc.Users.Watch("me", &gmail.WatchRequest{TopicName: "projects/p/topics/gmail", LabelIds: []string{"INBOX"}}).Do()
		if err != nil {
			t.Fatal(err)
		}
		if w.HistoryId != e.HistoryID(testUser) || w.Expiration <= time.Now().UnixMilli() {
			t.Errorf("watch response %+v", w)
		}
		if times, _ := recv.pushes(); len(times) != 0 {
			t.Fatalf("%d pushes before any change under the watch", len(times))
		}
		start := time.Now()
		for range 10 {
			deliverTo()
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(2 * interval)
		times, ids := recv.pushes()
		if len(times) != 2 {
			t.Fatalf("%d pushes for 10 changes in 200 ms at one per %v, want 2", len(times), interval)
		}
		if times[0] != start || times[1] != start.Add(interval) {
			t.Errorf("pushes at %v and %v after the first change, want 0s and %v", times[0].Sub(start), times[1].Sub(start), interval)
		}
		if ids[1] != e.HistoryID(testUser) {
			t.Errorf("last push carries historyId %d, current is %d", ids[1], e.HistoryID(testUser))
		}
		if err := svc.Users.Stop("me").Do(); err != nil {
			t.Fatal(err)
		}
		deliverTo()
		time.Sleep(2 * interval)
		if after, _ := recv.pushes(); len(after) != 2 {
			t.Errorf("push after stop: %d -> %d", 2, len(after))
		}
	})
}

func TestFaults(t *testing.T) {
	isAPI := func(err error) bool { var ge *googleapi.Error; return errors.As(err, &ge) }
	tests := []struct {
		kind  FaultKind
		check func(t *testing.T, srv *Server, svc *gmail.Service, id string)
	}{
		{FaultServerError, func(t *testing.T, _ *Server, svc *gmail.Service, id string) {
			_, err := svc.Users.Messages.Get("me", id).Do()
			if code, reason := apiCode(err); code != 500 || reason != "backendError" {
				t.Errorf("got %v", err)
			}
		}},
		{FaultUnavailable, func(t *testing.T, _ *Server, svc *gmail.Service, id string) {
			_, err := svc.Users.Messages.Get("me", id).Do()
			if code, _ := apiCode(err); code != 503 {
				t.Errorf("got %v", err)
			}
		}},
		{FaultRateLimit, func(t *testing.T, _ *Server, svc *gmail.Service, id string) {
			_, err := svc.Users.Messages.Get("me", id).Do()
			if code, reason := apiCode(err); code != 429 || reason != "rateLimitExceeded" {
				t.Errorf("got %v", err)
			}
		}},
		{FaultConnReset, func(t *testing.T, _ *Server, svc *gmail.Service, id string) {
			_, err := svc.Users.Messages.Get("me", id).Do()
			if err == nil || isAPI(err) {
				t.Errorf("want a transport error, got %v", err)
			}
		}},
		{FaultTruncated, func(t *testing.T, _ *Server, svc *gmail.Service, id string) {
			_, err := svc.Users.Messages.Get("me", id).Format("raw").Do()
			if err == nil || isAPI(err) {
				t.Errorf("want a decode/EOF error, got %v", err)
			}
		}},
		{FaultSlow, func(t *testing.T, _ *Server, svc *gmail.Service, id string) {
			start := time.Now()
			if _, err := svc.Users.Messages.Get("me", id).Do(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < 100*time.Millisecond {
				t.Errorf("answered in %v, want >= 100ms", d)
			}
		}},
		{FaultEmptyHistoryPage, func(t *testing.T, srv *Server, svc *gmail.Service, id string) {
			m, err := svc.Users.Messages.Get("me", id).Format("minimal").Do()
			if err != nil {
				t.Fatal(err)
			}
			start := m.HistoryId - 1
			r, err := svc.Users.History.List("me").StartHistoryId(start).Do()
			if err != nil {
				t.Fatal(err)
			}
			if len(r.History) != 0 || r.NextPageToken == "" {
				t.Fatalf("page: %d records, token %q", len(r.History), r.NextPageToken)
			}
			srv.SetFaults(Faults{})
			r, err = svc.Users.History.List("me").StartHistoryId(start).PageToken(r.NextPageToken).Do()
			if err != nil || len(r.History) == 0 {
				t.Errorf("following the token: %v, %d records", err, len(r.History))
			}
		}},
		{FaultPhantomHistoryMessage, func(t *testing.T, srv *Server, svc *gmail.Service, id string) {
			m, err := svc.Users.Messages.Get("me", id).Format("minimal").Do()
			if err != nil {
				t.Fatal(err)
			}
			r, err := svc.Users.History.List("me").StartHistoryId(m.HistoryId - 1).Do()
			if err != nil {
				t.Fatal(err)
			}
			srv.SetFaults(Faults{})
			snap := srv.Snapshot(testUser)
			phantoms := 0
			for _, h := range r.History {
				for _, a := range h.MessagesAdded {
					if _, ok := snap[a.Message.Id]; !ok {
						phantoms++
						if _, err := svc.Users.Messages.Get("me", a.Message.Id).Do(); err == nil {
							t.Error("phantom message served")
						} else if code, _ := apiCode(err); code != 404 {
							t.Errorf("phantom fetch: %v", err)
						}
					}
				}
			}
			if phantoms != 1 {
				t.Errorf("%d phantom messages", phantoms)
			}
		}},
		{FaultGhostLabel, func(t *testing.T, srv *Server, svc *gmail.Service, id string) {
			m, err := svc.Users.Messages.Get("me", id).Format("minimal").Do()
			if err != nil {
				t.Fatal(err)
			}
			srv.SetFaults(Faults{})
			ls, err := svc.Users.Labels.List("me").Do()
			if err != nil {
				t.Fatal(err)
			}
			known := map[string]bool{}
			for _, l := range ls.Labels {
				known[l.Id] = true
			}
			ghosts := 0
			for _, l := range m.LabelIds {
				if !known[l] {
					ghosts++
				}
			}
			if ghosts != 1 {
				t.Errorf("labels %v: %d unknown", m.LabelIds, ghosts)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			srv, svc := setup(t)
			id := deliver(t, srv, fixture(t, "simple.eml"))
			srv.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{tc.kind}, SlowDelay: 100 * time.Millisecond})
			tc.check(t, srv, svc, id)
		})
	}
}

func TestParseFaultKinds(t *testing.T) {
	ks, err := ParseFaultKinds("500,reset,ghost-label")
	if err != nil || len(ks) != 3 || ks[0] != FaultServerError || ks[1] != FaultConnReset || ks[2] != FaultGhostLabel {
		t.Errorf("got %v %v", ks, err)
	}
	if _, err := ParseFaultKinds("500,nope"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("unknown kind: %v", err)
	}
	if ks, _ := ParseFaultKinds("all"); len(ks) != len(AllFaults()) {
		t.Errorf("all: %v", ks)
	}
}

// TestPushLabelFilter: a watch on STARRED ignores a delivery to INBOX and
// pushes once when the message is starred.
func TestPushLabelFilter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 50 * time.Millisecond
		e, svc, recv := pushEnv(t, interval)
		if _, err := svc.Users.Watch("me", &gmail.WatchRequest{TopicName: "projects/p/topics/t", LabelIds: []string{"STARRED"}, LabelFilterBehavior: "include"}).Do(); err != nil {
			t.Fatal(err)
		}
		id, err := e.Deliver(testUser, fixture(t, "simple.eml"))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * interval)
		if times, _ := recv.pushes(); len(times) != 0 {
			t.Errorf("%d pushes for an INBOX delivery while watching STARRED", len(times))
		}
		if err := e.ModifyLabels(testUser, id, []string{"STARRED"}, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * interval)
		if times, _ := recv.pushes(); len(times) != 1 {
			t.Errorf("%d pushes after starring, want 1", len(times))
		}
	})
}
