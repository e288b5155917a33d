package app_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"tidings/internal/app"
	"tidings/internal/config"
)

// TestOperatorsToolsInEmbeddedDefault checks who reaches /metrics and the
// queue UI of the embedded default: the operator organization's admin
// (the first sign-up) and a scraper with the metrics token, but neither an
// anonymous visitor nor the admin of another organization.
func TestOperatorsToolsInEmbeddedDefault(t *testing.T) {
	const token = "scrape-token-0123456789"
	// A 1 s sync interval makes the scheduler enqueue a task at once, so
	// asynq has queues to report.
	// Two organizations sign up: open sign-up.
	base := startWeb(t, map[string]string{"TIDINGS_METRICS_TOKEN": token, "TIDINGS_SYNC_INTERVAL": "1s", "TIDINGS_OPEN_SIGNUP": "true"})

	operator := signUp(t, base, "Operator Org", "ops@operator.example")
	other := signUp(t, base, "Other Org", "admin@other.example")
	waitForQueue(t, base, token)
	anonymous := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		name   string
		client *http.Client
		path   string
		bearer string
		status int
		want   []string
	}{
		{"anonymous metrics go to login", anonymous, "/metrics", "", http.StatusSeeOther, nil},
		{"wrong token", anonymous, "/metrics", "not-the-token-at-all", http.StatusUnauthorized, nil},
		{"scraper with token", anonymous, "/metrics", token, http.StatusOK, []string{
			"tidings_mailbox_status_up 1", `asynq_queue_size{queue="critical"}`, "go_goroutines",
		}},
		{"operator's browser", operator, "/metrics", "", http.StatusOK, []string{"tidings_mailbox_status_up 1"}},
		{"another organization's admin", other, "/metrics", "", http.StatusForbidden, nil},
		{"anonymous queue UI goes to login", anonymous, "/admin/queues/", "", http.StatusSeeOther, nil},
		{"the token is for metrics only", anonymous, "/admin/queues/", token, http.StatusUnauthorized, nil},
		{"another organization's admin, queues", other, "/admin/queues/", "", http.StatusForbidden, nil},
		{"operator's queue UI", operator, "/admin/queues/", "", http.StatusOK, []string{"<html"}},
		{"operator's queue API", operator, "/admin/queues/api/queues", "", http.StatusOK, []string{`"queues"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d, want %d\n%.300s", tc.path, resp.StatusCode, tc.status, body)
			}
			if tc.status == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
				t.Fatalf("redirect to %q, want the login page", resp.Header.Get("Location"))
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("GET %s: response lacks %q:\n%.500s", tc.path, w, body)
				}
			}
		})
	}
}

// TestMetricsOnTheirOwnAddress checks TIDINGS_METRICS_LISTEN: /metrics is
// served there without credentials and no longer on the web listener.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := probe.Addr().String()
	probe.Close()
	base := startWeb(t, map[string]string{"TIDINGS_METRICS_LISTEN": metricsAddr})
	waitHealthy(t, "http://"+metricsAddr+"/metrics")

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "tidings_mailbox_status_up 1") {
		t.Fatalf("metrics address: %d\n%.500s", resp.StatusCode, body)
	}
	operator := signUp(t, base, "Operator Org", "ops@operator.example")
	resp, err = operator.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("/metrics is still served on the web listener")
	}
}

// startWeb runs the web process (RunWeb) with the variables vars (on a
// fresh data dir unless they name one) on a loopback port until the test
// ends, when it must shut down cleanly, and returns its base URL once
// /healthz answers.
func startWeb(tb testing.TB, vars map[string]string) string {
	tb.Helper()
	all := map[string]string{"TIDINGS_DATA_DIR": tb.TempDir()}
	maps.Copy(all, vars)
	cfg, err := config.Load(env(all))
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunWeb(ctx, cfg, slog.New(slog.DiscardHandler), ln) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("RunWeb returned %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Error("RunWeb did not shut down")
		}
	})
	base := "http://" + ln.Addr().String()
	waitHealthy(tb, base)
	return base
}

// waitForQueue waits until the scheduler's first task made asynq report a
// queue in /metrics.
func waitForQueue(t *testing.T, base, token string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `asynq_tasks_processed_total{queue="critical"}`) {
			return
		}
	}
	t.Fatal("asynq never reported the critical queue in /metrics")
}

// waitHealthy polls url (base + /healthz when it has no path) until it
// answers 200.
func waitHealthy(t testing.TB, target string) {
	t.Helper()
	if u, _ := url.Parse(target); u.Path == "" {
		target += "/healthz"
	}
	var lastErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(target)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = errorStatus(resp.StatusCode)
		}
		lastErr = err
	}
	t.Fatalf("%s never answered 200: %v", target, lastErr)
}

type errorStatus int

func (e errorStatus) Error() string { return http.StatusText(int(e)) }

// signUp creates an organization through the UI and returns a browser
// (cookie jar, redirects not followed) logged in as its admin.
func signUp(t *testing.T, base, org, email string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"org": {org}, "name": {"Admin"}, "email": {email}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}}
	resp, err := c.PostForm(base+"/signup", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign up %s: %d", email, resp.StatusCode)
	}
	return c
}
