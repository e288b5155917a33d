package sync

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tidings/emulator"
	"tidings/internal/testenv"
	"tidings/models"
	"tidings/search"
)

// Benchmarks (numbers for BENCHMARKS.md). Run with, e.g.:
//
//	go test ./sync -run '^$' -bench BenchmarkIngest -benchtime 1x
//	TIDINGS_TEST_DATABASE_URL=... go test ./sync -run '^$' -bench BenchmarkIngest/postgres -benchtime 1x
//	go test ./sync -run '^$' -bench BenchmarkQuota -benchtime 1x -timeout 30m
//	go test ./sync -run '^$' -bench BenchmarkNewest500 -benchtime 1x

func benchEngines(b *testing.B) []testenv.Engine { return testenv.Engines(b) }

// BenchmarkIngest measures end-to-end ingest with no quota: a full sync
// of a generated mailbox through the real Gmail client (list, fetch
// format=raw, decode, store, contacts, index), in messages per second.
func BenchmarkIngest(b *testing.B) {
	const n = 3000
	for _, eng := range benchEngines(b) {
		for _, indexKind := range []string{"noindex", "bleve"} {
			b.Run(fmt.Sprintf("%s/%s", eng, indexKind), func(b *testing.B) {
				var total, cpu time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					store := eng.Open(b)
					e := newEnv(b, store)
					generated(b, e, n)
					mod := func(d *Deps) {}
					switch indexKind {
					case "noindex":
						mod = func(d *Deps) { d.Indexer = nil }
					case "bleve":
						idx, err := search.OpenBleve(filepath.Join(b.TempDir(), "idx.bleve"), nil)
						if err != nil {
							b.Fatal(err)
						}
						b.Cleanup(func() { idx.Close() })
						mod = func(d *Deps) { d.Indexer = search.NewIndexer(store, idx, nil) }
					}
					s := e.syncer(mod)
					b.StartTimer()
					cpu0 := cpuTime()
					start := time.Now()
					if err := e.run(s, false); err != nil {
						b.Fatal(err)
					}
					total += time.Since(start)
					cpu += cpuTime() - cpu0
				}
				b.ReportMetric(float64(n*b.N)/total.Seconds(), "msg/s")
				// CPU per message of the whole process (sync + emulator
				// + database driver; Postgres server CPU not included):
				// less sensitive than msg/s to other load on the machine.
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n*b.N), "cpu-ms/msg")
			})
		}
	}
}

// quotaCounter sums the quota units of the Gmail calls that got through
// and counts rate-limit answers.
type quotaCounter struct {
	base      http.RoundTripper
	units     atomic.Int64
	limited   atomic.Int64
	responses atomic.Int64
}

func (q *quotaCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := q.base.RoundTrip(r)
	if err != nil || !strings.Contains(r.URL.Path, "/gmail/v1/") {
		return resp, err
	}
	q.responses.Add(1)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden {
		q.limited.Add(1)
		return resp, nil
	}
	method := ""
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/profile"):
		method = "getProfile"
	case strings.HasSuffix(p, "/labels"):
		method = "labels.list"
	case strings.HasSuffix(p, "/history"):
		method = "history.list"
	case strings.HasSuffix(p, "/messages"):
		method = "messages.list"
	case strings.Contains(p, "/messages/"):
		method = "messages.get"
	}
	q.units.Add(int64(emulator.Cost(method)))
	return resp, nil
}

// BenchmarkQuota runs a full sync against the emulator enforcing Gmail's
// per-user quota (15,000 units per moving minute) and reports the share of
// that ceiling the sync used, and how many calls were rate-limited.
func BenchmarkQuota(b *testing.B) {
	n := envInt("TIDINGS_BENCH_QUOTA_N", 6000)
	for i := 0; i < b.N; i++ {
		store := testenv.OpenSQLite(b)
		e := newEnv(b, store, emulator.WithQuota(os.Getenv("TIDINGS_BENCH_EMU_QUOTA") != "off"))
		generated(b, e, n)
		qc := &quotaCounter{base: http.DefaultTransport.(*http.Transport).Clone()}
		s := e.syncer(func(d *Deps) {
			d.Quota = Quota{} // Gmail's published limit
			if os.Getenv("TIDINGS_BENCH_CLIENT_QUOTA") == "off" {
				d.Quota.UnitsPerMinute = -1
			}
			d.Retry = Retry{}
			d.HTTPClient = &http.Client{Transport: qc, Timeout: time.Minute}
		})
		start := time.Now()
		if err := e.run(s, false); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		ceiling := el.Minutes() * emulator.DefaultQuotaPerMinute
		b.ReportMetric(100*float64(qc.units.Load())/ceiling, "%quota")
		b.ReportMetric(float64(qc.limited.Load()), "rate-limited")
		b.ReportMetric(float64(n)/el.Seconds(), "msg/s")
		b.Logf("%d messages in %s: %d units, %d calls, %d rate-limited", n, el.Round(time.Millisecond), qc.units.Load(), qc.responses.Load(), qc.limited.Load())
	}
}

// BenchmarkNewest500 measures, under Gmail's quota, the time from the
// start of the OAuth connect until the newest 500 messages of a large
// mailbox are searchable in the embedded index.
func BenchmarkNewest500(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ctx := context.Background()
		store := testenv.OpenSQLite(b)
		e := newEnv(b, store, emulator.WithQuota(true))
		const addr = "big@tidings.example"
		if _, err := e.emu.AddUser(addr); err != nil {
			b.Fatal(err)
		}
		if err := e.emu.AddGenerated(addr, emulator.NewGenerator(3, emulator.GeneratorOptions{Owner: addr}), 20000); err != nil {
			b.Fatal(err)
		}
		idx, err := search.OpenBleve(filepath.Join(b.TempDir(), "idx.bleve"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { idx.Close() })
		s := e.syncer(func(d *Deps) {
			d.Indexer = search.NewIndexer(store, idx, nil)
			d.Quota, d.Retry = Quota{}, Retry{}
			d.RedirectURL = "http://127.0.0.1:9/cb"
		})
		start := time.Now()
		mb, err := s.Connect(ctx, e.tenantID, 0, consent(b, s.AuthCodeURL("s", oauthLoginHint(addr)), "s"))
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		var searchable time.Duration
		err = s.Run(runCtx, e.tenantID, mb.ID, false, func(done, _ int64) {
			if searchable == 0 && done >= 500 {
				if c, err := idx.Count(ctx, e.tenantID, mb.ID); err == nil && c >= 500 {
					searchable = time.Since(start)
					cancel()
				}
			}
		})
		cancel()
		if searchable == 0 {
			b.Fatalf("newest 500 never searchable: %v", err)
		}
		res, err := idx.Search(ctx, e.tenantID, search.Request{Query: "", MailboxIDs: []int64{mb.ID}, Sort: search.DateDesc, Size: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(searchable.Seconds(), "s-to-500-searchable")
		b.Logf("newest 500 searchable after %s (a default search, which leaves out spam and trash, finds %d)", searchable.Round(time.Millisecond), res.Total)
		_ = models.SyncIdle
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
