package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/internal/testenv"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestRunWebEmbeddedDefault starts the web process the way the README's run
// command does — nothing configured but a data dir — and checks that it
// migrates an embedded database, generates a 0600 key, answers /healthz
// and /metrics (to a scraper with the metrics token), and shuts down when
// cancelled (startWeb's clean-up checks that).
func TestRunWebEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	const metricsToken = "scrape-token-0123456789"
	base := startWeb(t, map[string]string{"TIDINGS_DATA_DIR": dir, "TIDINGS_METRICS_TOKEN": metricsToken})
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || health.Checks["database"] != "ok" || health.Checks["queue"] != "ok" {
		t.Fatalf("healthz = %d %v", resp.StatusCode, health.Checks)
	}
	mreq, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer "+metricsToken)
	mresp, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	// Two healthz requests got 200: startWeb's wait and the one above.
	if !strings.Contains(string(body), `tidings_http_request_duration_seconds_count{method="GET",route="GET /healthz",status="200"} 2`) {
		t.Fatalf("metrics do not show the healthz request:\n%s", body)
	}
	if _, err := os.Stat(filepath.Join(dir, "tidings.db")); err != nil {
		t.Fatalf("embedded database not created: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", st, err)
	}
}

func TestWorkerRequiresExternalRedis(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{"TIDINGS_DATA_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	err = app.RunWorkerProcess(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Fatalf("worker without REDIS_URL: err = %v, want one naming REDIS_URL", err)
	}
}

// TestOpenOnRealServices opens the app on Postgres and Redis when they are
// configured (always in CI).
func TestOpenOnRealServices(t *testing.T) {
	pg := testenv.PostgresURL(t)
	redisURL := testenv.RedisURL(t)
	if pg == "" {
		t.Skip("TIDINGS_TEST_DATABASE_URL not set")
	}
	cfg, err := config.Load(env(map[string]string{
		"TIDINGS_DATA_DIR":   t.TempDir(),
		"DATABASE_URL":       pg,
		"REDIS_URL":          redisURL,
		"TIDINGS_SECRET_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
	}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{Queue: true, RequireExternalRedis: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Store.Engine() != "postgres" {
		t.Fatalf("engine = %s", a.Store.Engine())
	}
	if err := a.PingRedis(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDataDirPrivateAndRedisPassword (findings 5 and 8): an existing
// install with world-readable files is made private on start (dir 0700,
// files 0600, the SQLite WAL and shm included), and the embedded Redis
// refuses clients without the generated password.
func TestDataDirPrivateAndRedisPassword(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old", "leftover"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(env(map[string]string{"TIDINGS_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(t.Context(), cfg, slog.New(slog.DiscardHandler), app.Options{Queue: true, Search: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// A write makes sure the WAL and shm files exist.
	if _, _, err := a.Store.SignUp(t.Context(), "Perm Org", "perm@perm.example", "P", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	// Files created while running inherit the database file's mode.
	seen := map[string]bool{}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, info.Mode().Perm(), want)
		}
		seen[filepath.Base(path)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tidings.db", "tidings.db-wal", "tidings.db-shm", "secret.key", "leftover"} {
		if !seen[f] {
			t.Errorf("%s not found in the data dir", f)
		}
	}

	opt := a.Redis.(asynq.RedisClientOpt)
	if opt.Password == "" {
		t.Fatal("embedded redis has no password")
	}
	c := redis.NewClient(&redis.Options{Addr: opt.Addr})
	defer c.Close()
	if err := c.Ping(t.Context()).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("ping without password: %v", err)
	}
	if err := a.PingRedis(t.Context()); err != nil {
		t.Errorf("ping with password: %v", err)
	}
}
