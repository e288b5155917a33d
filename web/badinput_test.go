package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"tidings/models"
)

// gmailRefuses is a LabelChanger and AttachmentFetcher failing like the
// real sync does when Gmail answers 400 or the grant was revoked.
type gmailRefuses struct{}

func (gmailRefuses) ChangeLabels(context.Context, int64, int64, []string, []string) error {
	return fmt.Errorf("sync: modify: %w", &googleapi.Error{Code: 400, Message: "Invalid label: Label_nope"})
}

func (gmailRefuses) FetchAttachment(context.Context, int64, *models.Attachment) (io.ReadCloser, error) {
	return nil, fmt.Errorf("sync: attachment: %w", models.ErrNeedsReauth)
}

// TestNoServerErrorsOnBadInput (finding 6): what the issue reproduced as
// 500s answers 4xx — problem+json on the API, a page in the UI.
func TestNoServerErrorsOnBadInput(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store, func(d *Deps) { d.Labels = gmailRefuses{}; d.Attachments = gmailRefuses{} })
	a := seedTenant(t, store, "alpha")
	msg := fmt.Sprintf("/api/messages/%d/labels", a.MessageID)
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/api/search?q=" + url.QueryEscape("before:9999999999"), "", 400},
		{"GET", "/api/search?q=" + url.QueryEscape("after:99999/1/1"), "", 400},
		{"GET", "/api/search?q=x&after=garbage", "", 400},
		{"POST", msg, `{"add":["Label_nope"]}`, 400},
		{"POST", msg, `{"add":[""]}`, 400},
		{"POST", msg, `{"add":["a\u0000b"]}`, 400},
		{"POST", msg, `{"add":[` + strings.Repeat(`"L",`, 4999) + `"L"]}`, 400},
		{"POST", msg, `null`, 400},
		{"POST", msg, `{"add":null}`, 400},
		{"GET", fmt.Sprintf("/api/messages/%d/attachments/%d", a.MessageID, a.AttachmentID), "", 409},
		{"GET", "/api/nothing-here", "", 404},
		{"DELETE", "/api/search", "", 405},
		{"PUT", "/api/accounts", `{}`, 405},
	} {
		resp, body := e.call(c.method, c.path, a.Token, c.body)
		if resp.StatusCode != c.want || resp.Header.Get("Content-Type") != problemType {
			t.Errorf("%s %s %.40s: %d %s %s", c.method, c.path, c.body, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if c.want == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
	b := e.loginAs(a)
	for _, c := range []struct {
		path string
		form url.Values
		want int
	}{
		{"/search?q=x&after=garbage", nil, 200},
		{"/search?q=" + url.QueryEscape("before:9999999999"), nil, 200},
		{fmt.Sprintf("/messages/%d/action", a.MessageID), url.Values{"action": {"label"}, "label": {"No such label"}}, 422},
		{fmt.Sprintf("/messages/%d/action", a.MessageID), url.Values{"action": {""}}, 422},
		{fmt.Sprintf("/messages/%d/attachments/%d", a.MessageID, a.AttachmentID), nil, 409},
	} {
		var resp *http.Response
		if c.form != nil {
			resp, _ = b.post(c.path, c.form)
		} else {
			resp, _ = b.get(c.path)
		}
		if resp.StatusCode != c.want {
			t.Errorf("UI %s: %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
}

// TestSlowBodyTimesOut (finding 7): a client trickling its body is cut
// off after BodyTimeout instead of holding the request open.
func TestSlowBodyTimesOut(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store, func(d *Deps) { d.BodyTimeout = 300 * time.Millisecond })
	a := seedTenant(t, store, "alpha")
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", a.Token)
	// Keep trickling a byte now and then; the server must give up.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	// The deadline here only stops a broken server from hanging the test.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("slow body: %d, want 4xx", resp.StatusCode)
	}
	_, total, _ := store.ListAccounts(t.Context(), a.TenantID, models.Page{})
	if total != 1 {
		t.Errorf("%d accounts stored, want the seeded one only", total)
	}
}

// TestTokenLastUsedThrottled (finding 10): API requests record a token's
// last use at most once a minute, not on every request.
func TestTokenLastUsedThrottled(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	a := seedTenant(t, store, "alpha")
	stamp := func() *time.Time {
		toks, err := store.ListAPITokens(t.Context(), a.TenantID, a.UserID)
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens: %v %v", toks, err)
		}
		return toks[0].LastUsedAt
	}
	for range 20 {
		if resp, _ := e.call("GET", "/api", a.Token, ""); resp.StatusCode != 200 {
			t.Fatalf("GET /api: %d", resp.StatusCode)
		}
	}
	store.WaitBackground()
	first := stamp()
	if first == nil {
		t.Fatal("last use never recorded")
	}
	for range 20 {
		e.call("GET", "/api", a.Token, "")
	}
	store.WaitBackground()
	if second := stamp(); !second.Equal(*first) {
		t.Errorf("last_used_at rewritten within a minute: %v then %v", first, second)
	}
}
