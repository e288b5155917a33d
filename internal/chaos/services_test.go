package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
)

// need returns the path of a binary the test needs; a missing one skips
// the test, or fails it under CI=true.
func need(t *testing.T, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if strings.ContainsRune(p, '/') {
			if _, err := os.Stat(p); err == nil {
				return p
			}
			continue
		}
		if lp, err := exec.LookPath(p); err == nil {
			return lp
		}
	}
	if testenv.InCI() {
		t.Fatalf("CI=true but none of %v is installed", paths)
	}
	t.Skipf("none of %v is installed", paths)
	return ""
}

// postgresBin finds the directory with initdb and postgres: PG_BIN, else
// Debian's /usr/lib/postgresql/15/bin, else the newest version there.
func postgresBin(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("PG_BIN"), "/usr/lib/postgresql/15/bin"}
	if ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(ms) > 0 {
		cands = append(cands, ms[len(ms)-1])
	}
	for _, d := range cands {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	need(t, "/usr/lib/postgresql/15/bin/postgres")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is one OS process of the test, restartable, its output appended
// to one log file across restarts.
type proc struct {
	name    string
	path    string
	args    []string
	env     []string
	dir     string
	cred    *syscall.Credential
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "----- start %d of %s at %s\n", p.starts+1, p.name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.path, p.args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = p.env, p.dir, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	p.starts++
}

// signal sends sig to the running process and waits (up to 30 s) for it
// to exit.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (p *proc) kill(t *testing.T) { p.signal(t, syscall.SIGKILL) }

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// postgresServer is a private Postgres cluster in a temp dir. Postgres
// refuses to run as root, so as root it runs as the postgres user.
type postgresServer struct {
	*proc
	port int
}

func startPostgres(t *testing.T, bin string) *postgresServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "tidings-chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user to run Postgres as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "tidings", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	logDir := t.TempDir()
	pg := &postgresServer{port: port, proc: &proc{
		name: "postgres", path: filepath.Join(bin, "postgres"), dir: dir, cred: cred,
		args: []string{"-D", data, "-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"},
		logPath: filepath.Join(logDir, "postgres.log"),
	}}
	pg.restart(t, false)
	t.Cleanup(func() { pg.signal(t, syscall.SIGQUIT) })
	return pg
}

func (pg *postgresServer) url() string {
	return fmt.Sprintf("postgres://tidings@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// restart stops Postgres the hard way (immediate shutdown, like a crash:
// recovery runs at the next start) when stop is set, then starts it and
// waits until it accepts connections.
func (pg *postgresServer) restart(t *testing.T, stop bool) {
	t.Helper()
	if stop {
		pg.signal(t, syscall.SIGQUIT)
	}
	pg.start(t)
	waitTCP(t, pg.port, 60*time.Second)
	pg.waitQueries(t, 60*time.Second)
}

// waitQueries waits until the server answers queries: it accepts TCP a
// moment before that, while it still starts up or recovers, and the
// harness's own connections (unlike the processes under test) do not
// retry.
func (pg *postgresServer) waitQueries(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		db, _, err := models.Open(ctx, models.OpenOptions{DatabaseURL: pg.url()})
		if err == nil {
			err = db.WithContext(ctx).Exec("SELECT 1").Error
			if sqlDB, derr := db.DB(); derr == nil {
				sqlDB.Close()
			}
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres on port %d does not answer queries after %s: %v", pg.port, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type redisServer struct {
	*proc
	port int
}

func startRedis(t *testing.T, bin string) *redisServer {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	// No persistence: a restart loses the queue, the harshest case (the
	// database is the source of truth and the scheduler re-enqueues).
	r := &redisServer{port: port, proc: &proc{
		name: "redis", path: bin, dir: dir, logPath: filepath.Join(dir, "redis.log"),
		args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir},
	}}
	r.restart(t, false)
	t.Cleanup(func() { r.kill(t) })
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) restart(t *testing.T, stop bool) {
	t.Helper()
	if stop {
		r.kill(t)
	}
	r.start(t)
	waitTCP(t, r.port, 30*time.Second)
}

func waitTCP(t *testing.T, port int, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			// Postgres accepts TCP a moment before it accepts queries
			// (recovery); the processes under test retry anyway.
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("nothing listens on port %d after %s", port, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
