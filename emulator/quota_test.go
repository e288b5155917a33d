package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
)

func TestQuota429UnderBurst(t *testing.T) {
	clk := newFakeClock()
	srv, svc := setup(t, WithClock(clk), WithQuota(true))
	id := deliver(t, srv, fixture(t, "simple.eml"))
	// 15,000 units/min at 5 units per messages.get: 3,000 calls fit.
	ok := 0
	var last error
	for range 3001 {
		if _, err := svc.Users.Messages.Get("me", id).Format("minimal").Do(); err != nil {
			last = err
			break
		}
		ok++
	}
	if ok != 3000 {
		t.Fatalf("%d calls succeeded before 429, want 3000 (last error %v)", ok, last)
	}
	var ge *googleapi.Error
	if !errors.As(last, &ge) || ge.Code != 429 || len(ge.Errors) == 0 || ge.Errors[0].Reason != "userRateLimitExceeded" {
		t.Fatalf("over quota: %v", last)
	}
	if ra, err := strconv.Atoi(ge.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", ge.Header.Get("Retry-After"))
	}
	// getProfile costs 1: still over the limit within the window.
	if _, err := svc.Users.GetProfile("me").Do(); err == nil {
		t.Error("getProfile within an exhausted window succeeded")
	}
	clk.Advance(61 * time.Second)
	if _, err := svc.Users.Messages.Get("me", id).Do(); err != nil {
		t.Fatalf("after the window moved: %v", err)
	}
}

func TestQuotaCostsPerMethod(t *testing.T) {
	tests := []struct {
		name string
		cost int
		call func(svc *gmail.Service, id string) error
	}{
		{"messages.send", 100, func(svc *gmail.Service, _ string) error {
			_, err := svc.Users.Messages.Send("me", &gmail.Message{Raw: "VG86IGFAYi5leGFtcGxlDQoNCng"}).Do()
			return err
		}},
		{"history.list", 2, func(svc *gmail.Service, _ string) error {
			_, err := svc.Users.History.List("me").StartHistoryId(1 << 40).Do()
			return err
		}},
		{"labels.list", 1, func(svc *gmail.Service, _ string) error { _, err := svc.Users.Labels.List("me").Do(); return err }},
		{"messages.batchModify", 50, func(svc *gmail.Service, id string) error {
			return svc.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: []string{id}, AddLabelIds: []string{"STARRED"}}).Do()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const limit = 300
			clk := newFakeClock()
			srv, svc := setup(t, WithClock(clk), WithQuota(true), WithQuotaLimit(limit))
			id := deliver(t, srv, fixture(t, "simple.eml"))
			n := 0
			for ; n < limit+1; n++ {
				if err := tc.call(svc, id); err != nil {
					if code, _ := apiCode(err); code != 429 {
						t.Fatalf("call %d: %v", n, err)
					}
					break
				}
			}
			if n != limit/tc.cost {
				t.Errorf("%d calls fit in %d units, want %d (cost %d)", n, limit, limit/tc.cost, tc.cost)
			}
			if Cost(tc.name) != tc.cost {
				t.Errorf("Cost(%s) = %d", tc.name, Cost(tc.name))
			}
		})
	}
}

func TestConcurrencyLimit(t *testing.T) {
	srv, svc := setup(t, WithQuota(true), WithConcurrencyLimit(1))
	srv.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{FaultSlow}, SlowDelay: 300 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = svc.Users.GetProfile("me").Do() })
	}
	wg.Wait()
	limited := 0
	for _, err := range errs {
		if code, reason := apiCode(err); code == 429 && reason == "userRateLimitExceeded" {
			limited++
		}
	}
	if limited == 0 || limited == len(errs) {
		t.Errorf("%d of %d concurrent calls limited; want some but not all (%v)", limited, len(errs), errs)
	}
}

// batchRequest builds a multipart/mixed batch body as Google's client
// libraries do (https://developers.google.com/gmail/api/guides/batch).
func batchRequest(t *testing.T, base, token string, paths []string) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i, p := range paths {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/http")
		h.Set("Content-ID", fmt.Sprintf("<item%d>", i))
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "GET %s\r\n\r\n", p)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", base+"/batch/gmail/v1", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

type batchPart struct {
	contentID string
	resp      *http.Response
	body      []byte
}

func doBatch(t *testing.T, req *http.Request) (int, []batchPart) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("batch response content type %q", resp.Header.Get("Content-Type"))
	}
	var out []batchPart
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ct := p.Header.Get("Content-Type"); ct != "application/http" {
			t.Errorf("part content type %q", ct)
		}
		r, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		out = append(out, batchPart{contentID: p.Header.Get("Content-ID"), resp: r, body: b})
	}
	return 200, out
}

func TestBatch(t *testing.T) {
	clk := newFakeClock()
	srv, _ := setup(t, WithClock(clk), WithQuota(true))
	a := deliver(t, srv, fixture(t, "simple.eml"))
	b := deliver(t, srv, fixture(t, "multipart.eml"))
	tok, err := srv.IssueAccessToken(testUser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	code, parts := doBatch(t, batchRequest(t, srv.URL, tok, []string{
		"/gmail/v1/users/me/messages/" + a + "?format=minimal",
		"/gmail/v1/users/me/messages/" + b + "?format=raw",
		"/gmail/v1/users/me/messages/00000000deadbeef",
		"/gmail/v1/users/me/profile",
	}))
	if code != 200 || len(parts) != 4 {
		t.Fatalf("batch: status %d, %d parts", code, len(parts))
	}
	wantStatus := []int{200, 200, 404, 200}
	for i, p := range parts {
		if p.resp.StatusCode != wantStatus[i] || p.contentID != fmt.Sprintf("<response-item%d>", i) {
			t.Errorf("part %d: status %d content-id %q", i, p.resp.StatusCode, p.contentID)
		}
	}
	var m gmail.Message
	if err := json.Unmarshal(parts[1].body, &m); err != nil || m.Id != b || m.Raw == "" {
		t.Errorf("part 1 message: %v %+v", err, m)
	}
	// Each inner call is charged: 3 x messages.get (5) + getProfile (1).
	srv.mu.Lock()
	mb := srv.users[testUser]
	srv.mu.Unlock()
	mb.mu.Lock()
	spent := mb.quota.sum
	mb.mu.Unlock()
	if spent != 16 {
		t.Errorf("batch charged %d units, want 16", spent)
	}
	// More than 100 calls is refused.
	many := make([]string, MaxBatchParts+1)
	for i := range many {
		many[i] = "/gmail/v1/users/me/profile"
	}
	if code, _ := doBatch(t, batchRequest(t, srv.URL, tok, many)); code != 400 {
		t.Errorf("101-part batch: status %d, want 400", code)
	}
	// Without a valid token each inner call answers 401.
	_, parts = doBatch(t, batchRequest(t, srv.URL, "nope", []string{"/gmail/v1/users/me/profile"}))
	if len(parts) != 1 || parts[0].resp.StatusCode != 401 {
		t.Errorf("unauthenticated batch: %+v", parts)
	}
	if !strings.Contains(string(parts[0].body), `"UNAUTHENTICATED"`) {
		t.Errorf("401 body %s", parts[0].body)
	}
}

// TestQuotaWindowMatchesItsDefinition drives a window through many calls
// at irregular times and checks each answer against the definition:
// admitted when the units charged in the 60 s before now, plus these,
// stay within the limit; otherwise retry when enough of them have expired.
func TestQuotaWindowMatchesItsDefinition(t *testing.T) {
	const limit = 400
	var q quotaWindow
	type charge struct {
		at    time.Time
		units int
	}
	var charged []charge
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 20000 {
		now = now.Add(time.Duration(r.IntN(40)) * time.Millisecond)
		if i%3000 == 0 {
			now = now.Add(50 * time.Second) // a pause: much expires at once
		}
		units := []int{1, 2, 5, 10, 50}[r.IntN(5)]
		cut := now.Add(-time.Minute)
		inWindow, sum := []charge{}, 0
		for _, c := range charged {
			if c.at.After(cut) {
				inWindow = append(inWindow, c)
				sum += c.units
			}
		}
		wantOK := sum+units <= limit
		wantWait := time.Duration(0)
		if !wantOK {
			wantWait = time.Minute
			need := sum + units - limit
			for _, c := range inWindow {
				if need -= c.units; need <= 0 {
					wantWait = max(c.at.Sub(cut), time.Second)
					break
				}
			}
		}
		ok, wait := q.take(now, units, limit)
		if ok != wantOK || wait != wantWait || (ok && q.sum != sum+units) {
			t.Fatalf("call %d at %v (%d units, %d in window): take = %v, %v (sum %d); want %v, %v", i, now, units, sum, ok, wait, q.sum, wantOK, wantWait)
		}
		charged = inWindow // what the reference keeps
		if ok {
			charged = append(charged, charge{now, units})
		}
	}
	if len(q.events)-q.head > len(charged) || len(q.events) > 2*len(charged)+1 {
		t.Errorf("window keeps %d events (%d expired) for %d in the window", len(q.events), q.head, len(charged))
	}
}
