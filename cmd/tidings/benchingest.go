package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	stdsync "sync"
	"text/tabwriter"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"tidings/emulator"
	"tidings/internal/app"
	"tidings/internal/config"
)

// benchOwner is the generated mailbox's owner (the emulator's default
// user and the one lieer's setup script authorizes).
const benchOwner = "me@example.com"

// ingestResult is one row of the ingest benchmark: a program that took
// the same N messages, run as a child process so its CPU time and peak
// RSS are its own (wait4 rusage, which includes reaped descendants).
type ingestResult struct {
	name    string
	n       int
	wall    time.Duration
	cpu     time.Duration
	maxRSS  int64 // bytes
	emuCPU  time.Duration
	server  serverCPU // Postgres runs only
	note    string
	skipped string
}

func (r ingestResult) rate() float64 { return float64(r.n) / r.wall.Seconds() }

// runIngestBench implements `tidings bench ingest`: the whole real path
// (a gmail-emulator process serving a generated mailbox over HTTP, a
// `tidings sync --no-quota` process fetching format=raw, decoding and
// storing) on SQLite and Postgres, next to notmuch, mu and lieer on the
// same messages.
func runIngestBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 20000, "messages in the generated mailbox (generator defaults)")
	seed := fs.Int64("seed", 1, "generator seed")
	pgURL := fs.String("postgres", "", "Postgres `URL` of a database the benchmark may create schemas in (empty: SQLite only)")
	engines := fs.String("engines", "sqlite,postgres", "tidings stores to sync into (comma-separated; postgres needs -postgres)")
	peers := fs.String("peers", "notmuch,mu,lieer", "reference programs to run on the same messages (comma-separated; empty for none)")
	lieerDir := fs.String("lieer-dir", "/work/shared/peers/lieer", "`DIR` with lieer's emulator setup.sh and gmi-emu")
	emuBin := fs.String("emulator", "", "gmail-emulator binary (default: next to this binary, then $PATH)")
	workDir := fs.String("dir", "", "work `DIR` for the Maildir, data dirs and profiles (default: a temporary one, removed)")
	index := fs.Bool("index", false, "let the sync feed the embedded search index as well")
	profile := fs.Bool("profile", false, "write CPU, heap and block profiles of each tidings sync into the work dir")
	attach := fs.Int("attachment-mb", 0, "give 1% of the messages one attachment of this many MB (0: generator defaults)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	b := &ingestBench{n: *n, seed: *seed, stderr: stderr, index: *index, profile: *profile, attachMB: *attach}
	var err error
	if b.self, err = os.Executable(); err != nil {
		fmt.Fprintln(stderr, "tidings bench ingest:", err)
		return 1
	}
	if b.emulator, err = findEmulator(*emuBin, b.self); err != nil {
		fmt.Fprintln(stderr, "tidings bench ingest:", err)
		return 1
	}
	b.dir = *workDir
	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "tidings-bench-ingest-"); err != nil {
			fmt.Fprintln(stderr, "tidings bench ingest:", err)
			return 1
		}
		defer os.RemoveAll(b.dir)
	}
	results, err := b.run(ctx, splitList(*engines), *pgURL, splitList(*peers), *lieerDir)
	printIngest(stdout, b, results)
	if err != nil {
		fmt.Fprintln(stderr, "tidings bench ingest:", err)
		return 1
	}
	return 0
}

type ingestBench struct {
	n, attachMB    int
	seed           int64
	self, emulator string
	dir            string
	index, profile bool
	stderr         io.Writer
	maildirWritten bool
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func findEmulator(flagPath, self string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if p := filepath.Join(filepath.Dir(self), "gmail-emulator"); fileExists(p) {
		return p, nil
	}
	p, err := exec.LookPath("gmail-emulator")
	if err != nil {
		return "", errors.New("gmail-emulator not found: build it (go build -o DIR ./cmd/gmail-emulator ./cmd/tidings) or pass -emulator")
	}
	return p, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func (b *ingestBench) generator() *emulator.Generator {
	return emulator.NewGenerator(b.seed, emulator.GeneratorOptions{Owner: benchOwner}.WithLargeAttachments(b.attachMB))
}

func (b *ingestBench) run(ctx context.Context, engines []string, pgURL string, peers []string, lieerDir string) ([]ingestResult, error) {
	var out []ingestResult
	for _, eng := range engines {
		switch {
		case eng == "postgres" && pgURL == "":
			continue // no database given: SQLite only, as before -engines
		case eng != "sqlite" && eng != "postgres":
			return out, fmt.Errorf("unknown engine %q (want sqlite or postgres)", eng)
		}
		r, err := b.tidings(ctx, eng, pgURL)
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	for _, p := range peers {
		var r ingestResult
		var err error
		switch p {
		case "notmuch":
			r, err = b.notmuch(ctx)
		case "mu":
			r, err = b.mu(ctx)
		case "lieer":
			r, err = b.lieer(ctx, lieerDir)
		default:
			err = fmt.Errorf("unknown peer %q (want notmuch, mu or lieer)", p)
		}
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// rendered reports whether the emulator serves the mailbox rendered at
// its start. A mailbox of large attachments (the memory target's) is
// rebuilt per request instead: rendered, 20,000 messages with 25 MB
// attachments would take 19 GB of disk.
func (b *ingestBench) rendered() bool { return b.attachMB == 0 }

// emulatorProc is a running gmail-emulator child.
type emulatorProc struct {
	cmd     *exec.Cmd
	url     string
	startup time.Duration // until it reported ready: generating and rendering the mailbox
}

// startEmulator starts a gmail-emulator child serving the generated
// mailbox; with -profile it writes a CPU profile named after run.
func (b *ingestBench) startEmulator(ctx context.Context, run string) (*emulatorProc, error) {
	// The emulator generates the same mailbox (seed and options). It
	// renders it once, before it reports ready, into a spill file in the
	// run's directory and serves format=raw gets from that file, as Gmail
	// serves stored messages, so that the run measures tidings rather
	// than the emulator rebuilding and encoding each message.
	args := []string{"-addr", "127.0.0.1:0", "-seed", fmt.Sprint(b.seed), "-generate", fmt.Sprint(b.n)}
	if b.rendered() {
		args = append(args, "-render-dir", b.dir)
	}
	if b.attachMB > 0 {
		args = append(args, "-attachment-mb", fmt.Sprint(b.attachMB))
	}
	if b.profile {
		args = append(args, "-cpuprofile", filepath.Join(b.dir, "emulator-"+run+".cpu.pprof"))
	}
	cmd := exec.CommandContext(ctx, b.emulator, args...)
	cmd.Stderr = io.Discard
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	sc := bufio.NewScanner(pipe)
	p := &emulatorProc{cmd: cmd}
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "base_url "); ok {
			p.url = v
		}
		if strings.HasPrefix(line, "ready") {
			p.startup = time.Since(started)
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pipe) }()
	if p.url == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, errors.New("emulator did not report its address")
	}
	return p, nil
}

// cpu is the CPU time (user + system) the running emulator has used so
// far, so that a run counts only what the emulator spent serving it and
// not generating the mailbox at start.
func (p *emulatorProc) cpu() time.Duration {
	t, _ := procTicks(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	return time.Duration(t) * time.Second / clockTicks
}

// stop ends the emulator and returns the CPU time it used.
func (p *emulatorProc) stop() time.Duration {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
	cpu, _ := procUsage(p.cmd.ProcessState)
	return cpu
}

// procUsage is the CPU time (user + system) of an ended child and of its
// reaped descendants (wait4).
func procUsage(ps *os.ProcessState) (time.Duration, int64) {
	if ps == nil {
		return 0, 0
	}
	return ps.UserTime() + ps.SystemTime(), 0
}

// child runs a measured child process to completion.
func (b *ingestBench) child(ctx context.Context, name string, env []string, dir string, argv ...string) (ingestResult, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	errBuf := &tailWriter{n: 8 << 10}
	cmd.Stdout = io.Discard
	cmd.Stderr = errBuf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return ingestResult{name: name}, fmt.Errorf("%s: %w", name, err)
	}
	hwm := watchPeakRSS(cmd.Process.Pid)
	err := cmd.Wait()
	r := ingestResult{name: name, n: b.n, wall: time.Since(start)}
	r.cpu, _ = procUsage(cmd.ProcessState)
	r.maxRSS = hwm()
	if err != nil {
		return r, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(errBuf.String()))
	}
	return r, nil
}

// watchPeakRSS polls the process's resident-set high-water mark (VmHWM
// in /proc/PID/status) until the returned function is called, and returns
// the last value seen. wait4's ru_maxrss cannot be used: Linux carries
// the parent's high-water mark into a child across fork and exec.
func watchPeakRSS(pid int) func() int64 {
	var (
		mu   stdsync.Mutex
		peak int64
	)
	done := make(chan struct{})
	stopped := make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(stopped)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v, ok := vmHWM(path); ok {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func vmHWM(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// tailWriter keeps the last n bytes written to it: a failing child's
// error is at the end of its output, after any progress lines.
type tailWriter struct {
	buf []byte
	n   int
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.n; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.buf) }

// tidings syncs the generated mailbox into a fresh store of the engine.
func (b *ingestBench) tidings(ctx context.Context, engine, pgURL string) (ingestResult, error) {
	name := "tidings sync (" + engine + ")"
	data := filepath.Join(b.dir, "tidings-"+engine)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return ingestResult{name: name}, err
	}
	emu, err := b.startEmulator(ctx, engine)
	if err != nil {
		return ingestResult{name: name}, err
	}
	env := []string{"TIDINGS_DATA_DIR=" + data, "TIDINGS_GMAIL_ENDPOINT=" + emu.url, "DATABASE_URL=", "ELASTICSEARCH_URL="}
	if engine == "postgres" {
		schema := fmt.Sprintf("tidings_bench_%d", time.Now().UnixNano())
		url, drop, err := benchSchema(ctx, pgURL, schema)
		if err != nil {
			emu.stop()
			return ingestResult{name: name}, err
		}
		defer drop()
		env = append(env, "DATABASE_URL="+url)
	}
	if err := b.prepareTenant(ctx, env); err != nil {
		emu.stop()
		return ingestResult{name: name}, err
	}
	if _, err := b.child(ctx, "connect", env, data, b.self, "mailbox", "connect", benchOwner); err != nil {
		emu.stop()
		return ingestResult{name: name}, err
	}
	argv := []string{b.self, "sync", "--no-quota", "--contacts", "correspondents"}
	if !b.index {
		argv = append(argv, "--no-index")
	}
	if b.profile {
		argv = append(argv, "--cpuprofile", filepath.Join(b.dir, engine+".cpu.pprof"),
			"--memprofile", filepath.Join(b.dir, engine+".heap.pprof"),
			"--blockprofile", filepath.Join(b.dir, engine+".block.pprof"))
	}
	argv = append(argv, benchOwner)
	var server func() serverCPU
	if engine == "postgres" {
		server = watchServerCPU(pgURL)
	}
	emuBefore := emu.cpu()
	r, err := b.child(ctx, name, env, data, argv...)
	emuAfter := emu.cpu()
	if server != nil {
		r.server = server()
	}
	emu.stop()
	r.emuCPU = emuAfter - emuBefore
	r.note = fmt.Sprintf("emulator start-up %.1f s", emu.startup.Seconds())
	if b.index {
		r.note += ", with the embedded search index"
	}
	return r, err
}

// prepareTenant migrates the store and signs up the tenant the mailbox
// is connected to, with the child's configuration.
func (b *ingestBench) prepareTenant(ctx context.Context, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	_, _, err = a.Store.SignUp(ctx, "Bench", "bench@example.org", "Bench", "correct horse battery staple")
	return err
}

func (b *ingestBench) maildir() string { return filepath.Join(b.dir, "Maildir") }

// writeMaildir writes the generated messages as a Maildir (once).
func (b *ingestBench) writeMaildir(ctx context.Context) error {
	if b.maildirWritten {
		return nil
	}
	root := b.maildir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o700); err != nil {
			return err
		}
	}
	g := b.generator()
	for i := 0; i < b.n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Maildir names: unique, and ":2," info with the Seen flag.
		p := filepath.Join(root, "cur", fmt.Sprintf("%010d.bench.tidings:2,S", i))
		if err := os.WriteFile(p, g.Message(i), 0o600); err != nil {
			return err
		}
	}
	b.maildirWritten = true
	return nil
}

func (b *ingestBench) notmuch(ctx context.Context) (ingestResult, error) {
	name := "notmuch new (Maildir)"
	if err := b.writeMaildir(ctx); err != nil {
		return ingestResult{name: name}, err
	}
	home := filepath.Join(b.dir, "notmuch")
	_ = os.RemoveAll(filepath.Join(b.maildir(), ".notmuch"))
	if err := os.MkdirAll(home, 0o700); err != nil {
		return ingestResult{name: name}, err
	}
	conf := filepath.Join(home, "config")
	body := fmt.Sprintf("[database]\npath=%s\n[user]\nname=Me\nprimary_email=%s\n[new]\ntags=new\n", b.maildir(), benchOwner)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return ingestResult{name: name}, err
	}
	return b.child(ctx, name, []string{"NOTMUCH_CONFIG=" + conf}, home, "notmuch", "new", "--quiet")
}

func (b *ingestBench) mu(ctx context.Context) (ingestResult, error) {
	name := "mu index (Maildir)"
	if err := b.writeMaildir(ctx); err != nil {
		return ingestResult{name: name}, err
	}
	home := filepath.Join(b.dir, "mu")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return ingestResult{name: name}, err
	}
	if _, err := b.child(ctx, "mu init", nil, home, "mu", "init", "--muhome="+home, "--maildir="+b.maildir()); err != nil {
		return ingestResult{name: name}, err
	}
	return b.child(ctx, name, nil, home, "mu", "index", "--muhome="+home, "--quiet")
}

// lieer pulls the same generated mailbox from a fresh emulator with lieer
// (Python, Gmail API into notmuch), set up by its emulator scripts.
func (b *ingestBench) lieer(ctx context.Context, dir string) (ingestResult, error) {
	name := "lieer pull (emulator, notmuch)"
	setup, gmi := filepath.Join(dir, "setup.sh"), filepath.Join(dir, "gmi-emu")
	if !fileExists(setup) || !fileExists(gmi) {
		return ingestResult{name: name, skipped: "lieer emulator scripts not found in " + dir}, nil
	}
	emu, err := b.startEmulator(ctx, "lieer")
	if err != nil {
		return ingestResult{name: name}, err
	}
	root := filepath.Join(b.dir, "lieer")
	if _, err := b.child(ctx, "lieer setup", nil, b.dir, "bash", setup, root, emu.url); err != nil {
		emu.stop()
		return ingestResult{name: name}, err
	}
	env := []string{"NOTMUCH_CONFIG=" + filepath.Join(root, "notmuch-config"), "GMI_EMU=" + emu.url}
	r, err := b.child(ctx, name, env, filepath.Join(root, "db", "gmail"), gmi, "pull")
	r.emuCPU = emu.stop()
	return r, err
}

func printIngest(w io.Writer, b *ingestBench, rs []ingestResult) {
	load := "?"
	if bs, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(bs))[:3], " ")
	}
	fmt.Fprintf(w, "ingest benchmark: %d generated messages (seed %d), load average after the run %s\n", b.n, b.seed, load)
	if b.rendered() {
		fmt.Fprintf(w, "the emulator serves the mailbox rendered once at its start (gmail-emulator -render-dir); its start-up is not measured\n\n")
	} else {
		fmt.Fprintf(w, "the emulator rebuilds each message per request (not rendered: -attachment-mb); its start-up is not measured\n\n")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "program\tmsg/s\tCPU ms/msg\tpeak RSS MiB\twall s\temulator CPU s\temulator ms/msg\tPostgres backends ms/msg\tPostgres background s\tnote")
	for _, r := range rs {
		if r.skipped != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\tskipped: %s\n", r.name, r.skipped)
			continue
		}
		if r.wall == 0 {
			continue
		}
		emu, emuPer, pg, pgBG := "-", "-", "-", "-"
		if r.emuCPU > 0 {
			emu = fmt.Sprintf("%.1f", r.emuCPU.Seconds())
			emuPer = fmt.Sprintf("%.3f", perMessage(r.emuCPU, r.n))
		}
		if r.server != (serverCPU{}) {
			pg = fmt.Sprintf("%.3f", perMessage(r.server.backends, r.n))
			pgBG = fmt.Sprintf("%.1f", r.server.background.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.3f\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\n", r.name, r.rate(),
			perMessage(r.cpu, r.n), float64(r.maxRSS)/(1<<20), r.wall.Seconds(), emu, emuPer, pg, pgBG, r.note)
	}
	_ = tw.Flush()
}

func perMessage(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / 1000 / float64(n)
}

// benchSchema creates a fresh schema in the Postgres database at base and
// returns a URL using it and a function dropping it.
func benchSchema(ctx context.Context, base, schema string) (string, func(), error) {
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	closeAdmin := func() {
		if db, err := admin.DB(); err == nil {
			_ = db.Close()
		}
	}
	if err := admin.WithContext(ctx).Exec("CREATE SCHEMA " + schema).Error; err != nil {
		closeAdmin()
		return "", nil, fmt.Errorf("postgres: create schema: %w", err)
	}
	drop := func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		closeAdmin()
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("postgres URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}
