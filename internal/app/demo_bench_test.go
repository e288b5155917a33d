package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tidings/internal/app"
	"tidings/internal/config"
)

// BenchmarkDemoSync50 runs the real web process (RunWeb, embedded default:
// SQLite, embedded Redis, in-process worker and demo emulator), connects
// the demo mailbox (app.DemoMessages messages) through the REST API and,
// while it syncs, keeps 50 concurrent clients busy: half of them on UI
// pages with a session, half on the REST API with a token. An iteration
// ends when the demo mailbox's full sync has finished. It reports the
// process's peak RSS (VmHWM; the test clients live in the same process,
// so the figure is an upper bound of the web process's own) and how many
// requests were answered during the sync; issue 12's bound is 200 MB.
//
//	go test ./internal/app -run '^$' -bench BenchmarkDemoSync50 -benchtime 1x
func BenchmarkDemoSync50(b *testing.B) {
	dir := b.TempDir()
	vars := map[string]string{"TIDINGS_DATA_DIR": dir, "TIDINGS_SYNC_INTERVAL": "1h"}
	for _, k := range []string{"TIDINGS_MEMORY_LIMIT"} { // to compare settings
		if v := os.Getenv(k); v != "" {
			vars[k] = v
		}
	}
	cfg, err := config.Load(env(vars))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunWeb(ctx, cfg, slog.New(slog.DiscardHandler), ln) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()
	waitWebHealthy(b, base)

	jar, _ := cookiejar.New(nil)
	ui := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	form := url.Values{"org": {"Bench"}, "email": {"owner@bench.example"}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}}
	if resp, err := ui.PostForm(base+"/signup", form); err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("sign-up: %v %v", resp, err)
	}
	token := benchAPIToken(b, ctx, cfg, "owner@bench.example")
	api := func(method, path, body string) (int, []byte, error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	before := peakRSS(b)
	var answered, failed atomic.Int64
	b.ResetTimer()
	for range b.N {
		code, body, err := api("POST", "/api/mailboxes", `{"provider":"demo"}`)
		if err != nil || code >= 300 {
			b.Fatalf("connect demo: %d %s %v", code, body, err)
		}
		var mb struct{ ID int64 }
		if err := json.Unmarshal(body, &mb); err != nil || mb.ID == 0 {
			b.Fatalf("connect demo: %s %v", body, err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 50 {
			paths := []string{"/", "/search?q=invoice", fmt.Sprintf("/mailboxes/%d/progress", mb.ID)}
			if i%2 == 1 {
				paths = []string{fmt.Sprintf("/api/mailboxes/%d/messages", mb.ID), fmt.Sprintf("/api/mailboxes/%d/threads", mb.ID),
					"/api/search?q=invoice", "/api/contacts", fmt.Sprintf("/api/mailboxes/%d/sync", mb.ID)}
			}
			wg.Go(func() {
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					var code int
					var err error
					if i%2 == 1 {
						code, _, err = api("GET", paths[k%len(paths)], "")
					} else {
						var resp *http.Response
						if resp, err = ui.Get(base + paths[k%len(paths)]); err == nil {
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							code = resp.StatusCode
						}
					}
					if err != nil || code >= 500 {
						failed.Add(1)
					} else {
						answered.Add(1)
					}
				}
			})
		}
		waitDemoSynced(b, api, mb.ID)
		close(stop)
		wg.Wait()
	}
	b.StopTimer()
	peak := peakRSS(b)
	b.ReportMetric(peak, "peak-rss-MiB")
	b.ReportMetric(before, "rss-before-MiB")
	b.ReportMetric(float64(answered.Load())/float64(b.N), "requests/sync")
	b.Logf("peak RSS %.1f MiB (%.1f MiB before the first sync), %d requests answered, %d failed", peak, before, answered.Load(), failed.Load())
	if failed.Load() > 0 {
		b.Errorf("%d requests failed or answered 5xx", failed.Load())
	}
	if peak > 200*1e6/(1<<20) {
		b.Errorf("peak RSS %.0f MiB exceeds 200 MB", peak)
	}
}

func waitWebHealthy(b *testing.B, base string) {
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("web process did not start")
		}
	}
}

// apiToken creates an API token for the user through a second handle on
// the same data directory, as `tidings` commands do beside a running web
// process.
func benchAPIToken(b *testing.B, ctx context.Context, cfg *config.Config, email string) string {
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	u, err := a.Store.UserByEmail(ctx, email)
	if err != nil {
		b.Fatal(err)
	}
	ms, err := a.Store.Memberships(ctx, u.ID)
	if err != nil || len(ms) == 0 {
		b.Fatalf("memberships: %v %v", ms, err)
	}
	token, _, err := a.Store.CreateAPIToken(ctx, ms[0].TenantID, u.ID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return token
}

// waitDemoSynced polls the mailbox's sync state until its full sync is done.
func waitDemoSynced(b *testing.B, api func(method, path, body string) (int, []byte, error), id int64) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		code, body, err := api("GET", fmt.Sprintf("/api/mailboxes/%d/sync", id), "")
		if err == nil && code == http.StatusOK {
			var st struct {
				State string `json:"state"`
				Done  int64  `json:"progress_done"`
			}
			if json.Unmarshal(body, &st) == nil && st.State == "idle" && st.Done >= app.DemoMessages {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("demo sync did not finish: %d %s %v", code, body, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
