package sync

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/http"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"tidings/emulator"
	"tidings/models"
)

// sendChaosFaults: transport failures before and after Gmail stored the
// message, rate limits and truncated answers.
var sendChaosFaults = []emulator.FaultKind{
	emulator.FaultServerError, emulator.FaultUnavailable, emulator.FaultRateLimit, emulator.FaultConnReset,
	emulator.FaultTruncated, emulator.FaultFailAfterStore, emulator.FaultFailAfterStore,
}

// TestSendChaos: 500+ sends (most small, some multi-megabyte through
// resumable uploads) while the emulator fails 15 % of calls, including
// sends that fail after Gmail stored them, and workers are killed at
// random points. At the end every message is in Gmail exactly once (by
// Message-ID) and every outbox row is sent, or failed with a reason.
func TestSendChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test")
	}
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 3))
		e := newEnv(t, store, emulator.WithSeed(seed))
		lw := &lookupWatch{base: e.counter}
		mod := func(d *Deps) {
			d.OutboxLease = 150 * time.Millisecond
			d.HTTPClient = &http.Client{Transport: lw, Timeout: 30 * time.Second}
		}
		s := e.syncer(mod)
		const small, big = 500, 12
		var items []*models.OutboxItem
		for i := range small + big {
			sp := SendSpec{To: fmt.Sprintf("peer%d@customer.example", i), Bcc: "audit@tidings.example", Subject: fmt.Sprintf("chaos %d", i), Text: "hello"}
			var files iter.Seq2[Upload, error]
			if i >= small {
				// 4-7 MB: both simple (≤ 5 MiB) and resumable uploads.
				files = Uploads(Upload{Filename: "f.bin", Body: bytes.NewReader(bytes.Repeat([]byte{byte(i)}, (3+rng.IntN(3))<<20))})
			}
			items = append(items, e.submit(s, Submission{Spec: sp, Files: files}))
		}
		e.emu.SetFaults(emulator.Faults{Rate: 0.15, Kinds: sendChaosFaults})

		work := make(chan int64, len(items))
		for _, it := range items {
			work <- it.ID
		}
		var (
			remaining    atomic.Int64
			kills, runs  atomic.Int64
			wg           stdsync.WaitGroup
			deadline     = time.Now().Add(4 * time.Minute)
			mu           stdsync.Mutex
			workerRng    = rand.New(rand.NewPCG(seed, 4))
			randDuration = func() (time.Duration, bool) {
				mu.Lock()
				defer mu.Unlock()
				if workerRng.IntN(4) == 0 {
					return time.Duration(1+workerRng.IntN(40)) * time.Millisecond, true
				}
				return time.Minute, false
			}
		)
		remaining.Store(int64(len(items)))
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				worker := e.syncer(mod) // one process each; replaced after a kill
				for remaining.Load() > 0 && time.Now().Before(deadline) {
					var id int64
					select {
					case id = <-work:
					case <-time.After(50 * time.Millisecond):
						continue
					}
					life, killing := randDuration()
					ctx, cancel := context.WithTimeout(context.Background(), life)
					err := worker.ProcessOutbox(ctx, e.tenantID, id)
					cancel()
					runs.Add(1)
					if killing && ctx.Err() != nil {
						kills.Add(1)
						worker = e.syncer(mod)
					}
					it, gerr := store.GetOutboxItem(context.Background(), e.tenantID, id)
					if gerr != nil {
						t.Error(gerr)
						return
					}
					if it.State.Done() {
						remaining.Add(-1)
						continue
					}
					_ = err
					go func() { time.Sleep(time.Duration(20+w) * time.Millisecond); work <- id }()
				}
			}()
		}
		wg.Wait()
		e.emu.SetFaults(emulator.Faults{})
		t.Logf("%d runs, %d killed, %d requests, %d rfc822msgid: lookups", runs.Load(), kills.Load(), e.counter.total.Load(), lw.n.Load())
		if kills.Load() == 0 || lw.n.Load() == 0 {
			t.Error("no worker was killed or no send was ambiguous: the test did not exercise resolution")
		}
		// Exactly once, by Message-ID, among what Gmail has in SENT.
		count := map[string]int{}
		for gid, st := range e.emu.Snapshot(e.email) {
			if !containsLabel(st.LabelIDs, "SENT") {
				continue
			}
			raw, err := e.emu.Raw(e.email, gid)
			if err != nil {
				t.Fatal(err)
			}
			count[headerMessageID(raw)]++
		}
		sent, failed := 0, 0
		for _, it := range items {
			got, err := store.GetOutboxItem(context.Background(), e.tenantID, it.ID)
			if err != nil {
				t.Fatal(err)
			}
			switch got.State {
			case models.OutboxSent:
				sent++
				if count[got.RFCMessageID] != 1 {
					t.Errorf("item %d sent, Gmail has it %d times", got.ID, count[got.RFCMessageID])
				}
			case models.OutboxFailed:
				failed++
				if got.LastError == "" {
					t.Errorf("item %d failed without a reason", got.ID)
				}
				if count[got.RFCMessageID] > 1 {
					t.Errorf("failed item %d is in Gmail %d times", got.ID, count[got.RFCMessageID])
				}
			default:
				t.Errorf("item %d ended %s (%q)", got.ID, got.State, got.LastError)
			}
		}
		t.Logf("%d sent, %d failed", sent, failed)
		if sent < len(items)*9/10 {
			t.Errorf("only %d of %d sent", sent, len(items))
		}
	})
}

// lookupWatch counts rfc822msgid: searches (ambiguous sends resolved).
type lookupWatch struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (l *lookupWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Query().Get("q"), "rfc822msgid:") {
		l.n.Add(1)
	}
	return l.base.RoundTrip(r)
}

func containsLabel(ls []string, l string) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func headerMessageID(raw []byte) string {
	for _, line := range bytes.Split(raw[:min(len(raw), 8192)], []byte("\r\n")) {
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Message-Id")) {
			return string(bytes.Trim(bytes.TrimSpace(v), "<>"))
		}
		if len(line) == 0 {
			break
		}
	}
	return ""
}
