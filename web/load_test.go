package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
	"tidings/search"
)

// BenchmarkLoad drives the REST API with concurrent keep-alive clients on
// loopback: the search endpoint (on the real embedded bleve index) and a
// CRM list endpoint (on SQLite). It reports throughput and latency
// percentiles. Bound it in time with -benchtime, e.g.
//
//	go test ./web/ -run '^$' -bench BenchmarkLoad -benchtime 10s
func BenchmarkLoad(b *testing.B) {
	store := testenv.OpenSQLite(b)
	ctx := context.Background()
	tenant, user, err := store.SignUp(ctx, "Bench Org", "bench@bench.example", "Bench", testPassword)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		a := &models.Account{Name: fmt.Sprintf("Account %04d %s", i, []string{"Logistics", "Foods", "Robotics", "Media"}[i%4])}
		if err := store.CreateAccount(ctx, tenant.ID, a); err != nil {
			b.Fatal(err)
		}
	}
	mb := &models.Mailbox{Email: "bench@bench.example", OwnerID: user.ID}
	if err := store.CreateMailbox(ctx, tenant.ID, mb); err != nil {
		b.Fatal(err)
	}
	idx, err := search.OpenBleve(b.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	words := []string{"invoice", "shipment", "meeting", "proposal", "contract", "renewal", "support", "delivery"}
	var writes []models.MessageWrite
	for i := range 5000 {
		subj := fmt.Sprintf("%s %s number %d", words[i%len(words)], words[(i/8)%len(words)], i)
		writes = append(writes, messageWrite(fmt.Sprintf("g%d", i), fmt.Sprintf("t%d", i/3), subj, fmt.Sprintf("person%d@customer%d.example", i%50, i%20), "",
			time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour)))
	}
	for start := 0; start < len(writes); start += 500 {
		msgs, err := store.UpsertMessages(ctx, tenant.ID, mb.ID, writes[start:start+500])
		if err != nil {
			b.Fatal(err)
		}
		docs, err := search.BuildDocuments(ctx, store, tenant.ID, msgs)
		if err != nil {
			b.Fatal(err)
		}
		if err := idx.Index(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	token, _, err := store.CreateAPIToken(ctx, tenant.ID, user.ID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, store, func(d *Deps) { d.Search = idx; d.Logger = slog.New(slog.DiscardHandler) })

	run := func(b *testing.B, paths []string) {
		const clients = 8
		tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		var (
			mu   sync.Mutex
			lats []time.Duration
			fail error
		)
		// RunParallel starts parallelism × GOMAXPROCS goroutines.
		b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			var local []time.Duration
			i := 0
			for pb.Next() {
				req, _ := http.NewRequest("GET", e.ts.URL+paths[i%len(paths)], nil)
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("%s: %d", req.URL, resp.StatusCode)
					}
				}
				local = append(local, time.Since(t0))
				if err != nil {
					mu.Lock()
					fail = err
					mu.Unlock()
					return
				}
				i++
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
		elapsed := time.Since(start)
		b.StopTimer()
		if fail != nil {
			b.Fatal(fail)
		}
		slices.Sort(lats)
		pct := func(p float64) float64 { return float64(lats[int(float64(len(lats)-1)*p)].Microseconds()) / 1000 }
		b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "req/s")
		b.ReportMetric(pct(0.50), "p50_ms")
		b.ReportMetric(pct(0.99), "p99_ms")
	}

	b.Run("search", func(b *testing.B) {
		run(b, []string{"/api/search?q=invo", "/api/search?q=ship+deliv", "/api/search?q=from:person7", "/api/search?q=subject:meeting&sort=date_desc", "/api/search?q=contr"})
	})
	b.Run("accounts", func(b *testing.B) {
		run(b, []string{"/api/accounts?limit=25", "/api/accounts?limit=25&offset=500", "/api/accounts?q=robotics&limit=25", "/api/accounts?limit=100&offset=900"})
	})
}
