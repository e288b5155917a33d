package chaos

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tidings/emulator"
	"tidings/models"
)

// chaosFaults are the Gmail faults injected during the chaos (10 % of
// calls). FaultGhostLabel makes Gmail report label ids it does not have:
// the syncs must heal them once the faults stop (finding 5).
var chaosFaults = []emulator.FaultKind{
	emulator.FaultServerError, emulator.FaultUnavailable, emulator.FaultRateLimit, emulator.FaultConnReset,
	emulator.FaultTruncated, emulator.FaultEmptyHistoryPage, emulator.FaultPhantomHistoryMessage,
	emulator.FaultGhostLabel,
}

const (
	mailboxCount = 3
	workerCount  = 3
	// leaseTTL is the processes' TIDINGS_SYNC_LEASE_TTL: a killed worker's
	// mailbox is taken over after at most this long.
	leaseTTL = 6 * time.Second
	// convergeWithin is the bound the issue sets for every mailbox to
	// equal Gmail after the chaos stops.
	convergeWithin = 60 * time.Second
)

// TestMultiProcessChaos runs the scale setup for real and breaks it: web
// and three workers as separate OS processes on private Postgres and Redis
// servers, the Gmail emulator (in this process) failing 10 % of calls
// while three mailboxes change throughout; at random a worker or the web
// process is killed with SIGKILL and restarted, and Redis and Postgres are
// each restarted mid-sync. When the chaos stops, every stored mailbox must
// equal Gmail's within 60 s, and within the same window the web process's
// search index must hold exactly the stored messages (checkSearch).
//
// TIDINGS_CHAOS_SEED replays a run (the seed is printed);
// TIDINGS_CHAOS_DURATION sets the chaos phase (default 60s).
func TestMultiProcessChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process chaos test skipped in -short mode")
	}
	pgBin := postgresBin(t)
	redisBin := need(t, "redis-server")
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("TIDINGS_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("TIDINGS_CHAOS_SEED: %v", err)
		}
		seed = s
	}
	t.Logf("seed %d (replay with TIDINGS_CHAOS_SEED=%d)", seed, seed)
	duration := 60 * time.Second
	if v := os.Getenv("TIDINGS_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("TIDINGS_CHAOS_DURATION: %v", err)
		}
		duration = d
	}
	rng := mrand.New(mrand.NewPCG(seed, 1))
	began := time.Now()

	bins := buildBinaries(t)
	pg := startPostgres(t, pgBin)
	rd := startRedis(t, redisBin)
	emu := emulator.NewServer(emulator.WithSeed(seed), emulator.WithQuota(true))
	t.Cleanup(emu.Close)
	h := newHarness(t, pg, rd, emu, bins)
	h.setUp(seed)
	h.startProcesses()
	t.Logf("set up in %s", time.Since(began).Round(time.Millisecond))

	emu.SetFaults(emulator.Faults{Rate: 0.10, Kinds: chaosFaults})
	mutCtx, stopMutations := context.WithCancel(context.Background())
	var mutWG sync.WaitGroup
	mutWG.Add(1)
	go func() {
		defer mutWG.Done()
		h.mutate(mutCtx, mrand.New(mrand.NewPCG(seed, 2)))
	}()
	stats := h.chaos(rng, duration)
	stopMutations()
	mutWG.Wait()
	emu.SetFaults(emulator.Faults{})
	h.ensureRunning()
	stopped := time.Now()
	t.Logf("chaos: %s; %d worker kills, %d web kills, %d redis restarts, %d postgres restarts; %d Gmail mutations",
		duration, stats.workerKills, stats.webKills, stats.redisRestarts, stats.pgRestarts, h.mutations.Load())

	converged := h.waitConverged(stopped, convergeWithin)
	for i, d := range converged {
		t.Logf("mailbox %d (%d messages) converged %s after the chaos stopped", i, len(emu.Snapshot(h.emails[i])), d.Round(100*time.Millisecond))
	}
	h.checkHealthy()
	h.checkQuietLogs()
	h.checkSearch(stopped, convergeWithin)
	t.Logf("total %s", time.Since(began).Round(time.Second))
}

// buildBinaries compiles cmd/web and cmd/worker once for the test.
func buildBinaries(t *testing.T) map[string]string {
	t.Helper()
	goBin := need(t, "go", "/usr/local/go/bin/go")
	dir := t.TempDir()
	out := map[string]string{}
	for _, name := range []string{"web", "worker"} {
		path := filepath.Join(dir, name)
		cmd := exec.Command(goBin, "build", "-o", path, "tidings/cmd/"+name)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build cmd/%s: %v\n%s", name, err, b)
		}
		out[name] = path
	}
	return out
}

type harness struct {
	t       *testing.T
	pg      *postgresServer
	rd      *redisServer
	emu     *emulator.Server
	bins    map[string]string
	key     string
	store   *models.Store
	logDir  string
	webPort int
	webData string // the web process's data directory (its embedded index)
	apiKey  string // an API token of the tenant's admin

	tenantID  int64
	emails    []string
	mailboxes []int64
	web       *proc
	workers   []*proc

	mutations countingInt
}

type countingInt struct {
	mu sync.Mutex
	n  int
}

func (c *countingInt) Add(n int) {
	c.mu.Lock()
	c.n += n
	c.mu.Unlock()
}

func (c *countingInt) Load() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func newHarness(t *testing.T, pg *postgresServer, rd *redisServer, emu *emulator.Server, bins map[string]string) *harness {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, pg: pg, rd: rd, emu: emu, bins: bins, key: base64.StdEncoding.EncodeToString(key), logDir: t.TempDir()}
}

// setUp migrates the private database and connects three mailboxes of one
// tenant, each with generated mail.
func (h *harness) setUp(seed uint64) {
	t := h.t
	ctx := context.Background()
	db, engine, err := models.Open(ctx, models.OpenOptions{DatabaseURL: h.pg.url()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.Migrate(ctx, db, engine); err != nil {
		t.Fatal(err)
	}
	keys, err := models.ParseKeys(h.key)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := models.NewCipher(keys...)
	if err != nil {
		t.Fatal(err)
	}
	h.store = models.NewStore(db, engine, cipher)
	t.Cleanup(func() { h.store.Close() })
	tenant, admin, err := h.store.SignUp(ctx, "Chaos", "admin@chaos.example", "Admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h.tenantID = tenant.ID
	if h.apiKey, _, err = h.store.CreateAPIToken(ctx, tenant.ID, admin.ID, "chaos"); err != nil {
		t.Fatal(err)
	}
	for i := range mailboxCount {
		email := fmt.Sprintf("owner%d@chaos.example", i)
		if _, err := h.emu.AddUser(email); err != nil {
			t.Fatal(err)
		}
		// The same seed for every mailbox: they share correspondents, so
		// three syncs create the same contacts at once (finding 6).
		g := emulator.NewGenerator(int64(seed%1000), emulator.GeneratorOptions{Owner: email})
		if err := h.emu.AddGenerated(email, g, 150); err != nil {
			t.Fatal(err)
		}
		mb := &models.Mailbox{Email: email}
		if err := h.store.CreateMailbox(ctx, h.tenantID, mb); err != nil {
			t.Fatal(err)
		}
		tok, err := h.emu.Token(email)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.SaveToken(ctx, h.tenantID, mb.ID, tok); err != nil {
			t.Fatal(err)
		}
		h.emails = append(h.emails, email)
		h.mailboxes = append(h.mailboxes, mb.ID)
	}
}

// env is a process's environment. Web and workers all run the search
// index inside Postgres (no ELASTICSEARCH_URL): the triggers of the search
// outbox record what the workers store, and every process's indexer
// drains the outbox into the one shared index, concurrently, while the
// chaos kills them mid-drain (README "How to run at scale").
func (h *harness) env(dataDir string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"DATABASE_URL=" + h.pg.url(), "REDIS_URL=" + h.rd.url(),
		"TIDINGS_SECRET_KEY=" + h.key, "TIDINGS_GMAIL_ENDPOINT=" + h.emu.URL,
		"TIDINGS_DATA_DIR=" + dataDir, "TIDINGS_LISTEN=127.0.0.1:" + strconv.Itoa(h.webPort),
		"TIDINGS_SYNC_INTERVAL=2s", "TIDINGS_SYNC_LEASE_TTL=" + leaseTTL.String(),
		"TIDINGS_WORKER_CONCURRENCY=4", "TIDINGS_LOG_LEVEL=info",
	}
	return env
}

func (h *harness) startProcesses() {
	h.webPort = freePort(h.t)
	h.webData = filepath.Join(h.logDir, "web-data")
	h.web = &proc{name: "web", path: h.bins["web"], env: h.env(h.webData), logPath: filepath.Join(h.logDir, "web.log")}
	h.web.start(h.t)
	for i := range workerCount {
		w := &proc{name: fmt.Sprintf("worker%d", i), path: h.bins["worker"], env: h.env(filepath.Join(h.logDir, fmt.Sprintf("worker%d-data", i))),
			logPath: filepath.Join(h.logDir, fmt.Sprintf("worker%d.log", i))}
		w.start(h.t)
		h.workers = append(h.workers, w)
	}
	h.t.Cleanup(func() {
		for _, p := range append([]*proc{h.web}, h.workers...) {
			p.kill(h.t)
		}
		if h.t.Failed() {
			h.dumpLogs()
		}
	})
}

// ensureRunning restarts any process under test that is not running (one
// that exited by itself is a finding: logged with its log's tail).
func (h *harness) ensureRunning() {
	for _, p := range append([]*proc{h.web}, h.workers...) {
		if !p.running() {
			p.start(h.t)
		}
	}
}

type chaosStats struct{ workerKills, webKills, redisRestarts, pgRestarts int }

// chaos kills and restarts processes at random for d: mostly workers, now
// and then the web process; Redis restarts at a third and Postgres at two
// thirds of d (while syncs run), each once more at random.
func (h *harness) chaos(rng *mrand.Rand, d time.Duration) chaosStats {
	var st chaosStats
	start := time.Now()
	redisAt, pgAt := start.Add(d/3), start.Add(2*d/3)
	for time.Since(start) < d {
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		for _, p := range append([]*proc{h.web}, h.workers...) {
			if !p.running() {
				h.t.Logf("%s exited by itself; restarting", p.name)
				p.start(h.t)
			}
		}
		switch n := rng.IntN(100); {
		case !redisAt.IsZero() && time.Now().After(redisAt), n < 3 && st.redisRestarts < 2:
			redisAt = time.Time{}
			h.rd.kill(h.t)
			time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
			h.rd.restart(h.t, false)
			st.redisRestarts++
		case !pgAt.IsZero() && time.Now().After(pgAt), n < 6 && st.pgRestarts < 2:
			pgAt = time.Time{}
			h.pg.restart(h.t, true)
			st.pgRestarts++
		case n < 15:
			h.web.kill(h.t)
			st.webKills++
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
			h.web.start(h.t)
		case n < 85:
			w := h.workers[rng.IntN(len(h.workers))]
			w.kill(h.t)
			st.workerKills++
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
			w.start(h.t)
		}
	}
	return st
}

// mutate changes the three mailboxes until ctx ends: deliveries, label
// changes, trash and permanent deletes, and once a history expiry.
func (h *harness) mutate(ctx context.Context, rng *mrand.Rand) {
	ids := make([][]string, len(h.emails))
	labels := []string{"INBOX", "UNREAD", "STARRED", "IMPORTANT"}
	expired := false
	for n := 0; ctx.Err() == nil; n++ {
		time.Sleep(15 * time.Millisecond)
		i := rng.IntN(len(h.emails))
		email := h.emails[i]
		if !expired && n == 1500 {
			expired = true
			if err := h.emu.ExpireHistory(email); err != nil {
				h.t.Error(err)
			}
		}
		var err error
		switch op := rng.IntN(10); {
		case op < 5 || len(ids[i]) == 0:
			raw := fmt.Appendf(nil, "From: Peer %d <peer%d@customer%d.example>\r\nTo: %s\r\nSubject: Chaos %d\r\nMessage-ID: <chaos%d.%d@customer.example>\r\nDate: Mon, 2 Mar 2026 10:%02d:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody %d.\r\n",
				n%50, n%50, n%7, email, n, n, i, n%60, n)
			var id string
			if id, err = h.emu.Deliver(email, raw, "INBOX", "UNREAD"); err == nil {
				ids[i] = append(ids[i], id)
			}
		case op < 8:
			id, l := ids[i][rng.IntN(len(ids[i]))], labels[rng.IntN(len(labels))]
			if rng.IntN(2) == 0 {
				err = h.emu.ModifyLabels(email, id, []string{l}, nil)
			} else {
				err = h.emu.ModifyLabels(email, id, nil, []string{l})
			}
		default:
			k := rng.IntN(len(ids[i]))
			if rng.IntN(3) == 0 {
				err = h.emu.Trash(email, ids[i][k])
			} else {
				err = h.emu.Delete(email, ids[i][k])
				ids[i] = slices.Delete(ids[i], k, k+1)
			}
		}
		if err != nil && !errors.Is(err, emulator.ErrNotFound) {
			h.t.Errorf("mutation: %v", err)
			return
		}
		h.mutations.Add(1)
	}
}

// diff compares one stored mailbox with Gmail: "" when equal.
func (h *harness) diff(i int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := h.emu.Snapshot(h.emails[i])
	ids, err := h.store.GmailIDs(ctx, h.tenantID, h.mailboxes[i])
	if err != nil {
		return "read store: " + err.Error()
	}
	got, err := h.store.MessageStates(ctx, h.tenantID, h.mailboxes[i], ids)
	if err != nil {
		return "read store: " + err.Error()
	}
	var diffs []string
	for id, w := range want {
		g, ok := got[id]
		wl := w.LabelIDs
		if wl == nil {
			wl = []string{}
		}
		switch {
		case !ok:
			diffs = append(diffs, id+" missing")
		case g.ThreadID != w.ThreadID:
			diffs = append(diffs, id+" thread differs")
		case !slices.Equal(g.LabelIDs, wl):
			diffs = append(diffs, fmt.Sprintf("%s labels %v, want %v", id, g.LabelIDs, wl))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, id+" stored but not in Gmail")
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	slices.Sort(diffs)
	return fmt.Sprintf("%d differences, e.g. %s", len(diffs), strings.Join(diffs[:min(len(diffs), 5)], "; "))
}

// waitConverged polls until every mailbox equals Gmail, failing the test
// for those that do not within the bound; it returns when each converged.
func (h *harness) waitConverged(from time.Time, within time.Duration) []time.Duration {
	out := make([]time.Duration, len(h.emails))
	done := make([]bool, len(h.emails))
	for {
		all := true
		for i := range h.emails {
			if done[i] {
				continue
			}
			if h.diff(i) == "" {
				done[i], out[i] = true, time.Since(from)
				continue
			}
			all = false
		}
		if all {
			return out
		}
		if time.Since(from) > within {
			for i := range h.emails {
				if !done[i] {
					mb, _ := h.store.GetMailbox(context.Background(), h.tenantID, h.mailboxes[i])
					h.t.Errorf("mailbox %d did not converge within %s: %s (mailbox row: %+v)", i, within, h.diff(i), mb)
				}
			}
			return out
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkHealthy: the web process reports ready once its services are back.
func (h *harness) checkHealthy() {
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", h.webPort)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			h.t.Errorf("web /healthz not ready 30 s after the chaos: %v", err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkQuietLogs (finding 6): conflicts the code handles (three mailboxes
// creating the same contacts) are not logged as errors.
func (h *harness) checkQuietLogs() {
	for _, p := range append([]*proc{h.web}, h.workers...) {
		f, err := os.Open(p.logPath)
		if err != nil {
			h.t.Error(err)
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "level=ERROR") && (strings.Contains(line, "duplicate key") || strings.Contains(line, "UNIQUE constraint")) {
				h.t.Errorf("%s logged a handled conflict as an error: %s", p.name, line)
				break
			}
		}
		f.Close()
	}
}

func (h *harness) dumpLogs() {
	for _, p := range append([]*proc{h.web, h.pg.proc, h.rd.proc}, h.workers...) {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		h.t.Logf("----- last lines of %s (%s)\n%s", p.name, p.logPath, strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}
