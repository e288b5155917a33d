package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"tidings/emulator"
	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/internal/testenv"
	"tidings/models"
)

// TestWebAndWorkerShareThePostgresIndex is the scale setup without
// Elasticsearch: a web process and a cmd/worker process on Postgres and
// Redis, each with its own configuration, data directory and connection
// pools. The worker (which before refused to start without
// ELASTICSEARCH_URL) syncs a new Gmail message; the web process's search
// API must find it, because both use the one index inside Postgres.
func TestWebAndWorkerShareThePostgresIndex(t *testing.T) {
	pgURL := testenv.PostgresSchemaURL(t)
	// A private Redis: the queue must not be shared with other packages'
	// tests running at the same time.
	mr := miniredis.RunT(t)
	const key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	ctx := context.Background()

	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	const owner = "owner@acme.example"
	if _, err := emu.AddUser(owner); err != nil {
		t.Fatal(err)
	}
	raw := "From: Eva Lindqvist <eva@wayne.example>\r\nTo: " + owner + "\r\nSubject: Quixotic zeppelin invoice\r\n" +
		"Date: Mon, 30 Nov 2026 07:00:00 +0000\r\nMessage-ID: <zeppelin@wayne.example>\r\n\r\nThe airship is paid.\r\n"
	if _, err := emu.Deliver(owner, []byte(raw), "INBOX"); err != nil {
		t.Fatal(err)
	}

	db, engine, err := models.Open(ctx, models.OpenOptions{DatabaseURL: pgURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.Migrate(ctx, db, engine); err != nil {
		t.Fatal(err)
	}
	keys, err := models.ParseKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := models.NewCipher(keys...)
	if err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db, engine, cipher)
	t.Cleanup(func() { _ = store.Close() })
	tenant, admin, err := store.SignUp(ctx, "Acme", "admin@acme.example", "Admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	apiKey, _, err := store.CreateAPIToken(ctx, tenant.ID, admin.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	mb := &models.Mailbox{Email: owner}
	if err := store.CreateMailbox(ctx, tenant.ID, mb); err != nil {
		t.Fatal(err)
	}
	tok, err := emu.Token(owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveToken(ctx, tenant.ID, mb.ID, tok); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dataDirs := []string{t.TempDir(), t.TempDir()}
	load := func(dataDir string) *config.Config {
		cfg, err := config.Load(env(map[string]string{
			"TIDINGS_DATA_DIR": dataDir, "DATABASE_URL": pgURL, "REDIS_URL": "redis://" + mr.Addr(),
			"TIDINGS_SECRET_KEY": key, "TIDINGS_GMAIL_ENDPOINT": emu.URL, "TIDINGS_SYNC_INTERVAL": "1s",
			"TIDINGS_LISTEN": ln.Addr().String(),
		}))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() {
		done <- fmt.Errorf("worker: %w", app.RunWorkerProcess(runCtx, load(dataDirs[0]), slog.New(slog.DiscardHandler)))
	}()
	go func() {
		done <- fmt.Errorf("web: %w", app.RunWeb(runCtx, load(dataDirs[1]), slog.New(slog.DiscardHandler), ln))
	}()
	t.Cleanup(func() {
		stop()
		for range 2 {
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("a process did not stop")
			}
		}
	})

	search := "http://" + ln.Addr().String() + "/api/search?" + url.Values{"q": {"quixo zeppel"}}.Encode()
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("a process stopped: %v", err)
		default:
		}
		ids, err := searchIDs(search, apiKey)
		if err != nil {
			last = err.Error()
			continue
		}
		if len(ids) == 1 {
			stored, err := store.MessageIDs(ctx, tenant.ID, mb.ID)
			if err != nil || len(stored) != 1 || stored[0] != ids[0] {
				t.Fatalf("web found %v, the store holds %v (%v)", ids, stored, err)
			}
			// Found in the shared index, and neither process made an
			// index of its own.
			var n int64
			if err := db.Raw("SELECT count(*) FROM search_documents WHERE id = ?", ids[0]).Scan(&n).Error; err != nil || n != 1 {
				t.Errorf("search_documents holds %d rows of the message (%v), want 1", n, err)
			}
			for _, d := range dataDirs {
				if _, err := os.Stat(filepath.Join(d, "search")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a process created an embedded index in %s (%v)", d, err)
				}
			}
			return
		}
		last = fmt.Sprintf("%d hits", len(ids))
	}
	t.Fatalf("the web process never found the message the worker synced (last: %s)", last)
}

func searchIDs(u, apiKey string) ([]int64, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("search: %s", resp.Status)
	}
	var body struct {
		Embedded struct {
			Messages []struct {
				ID int64 `json:"id"`
			} `json:"messages"`
		} `json:"_embedded"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var ids []int64
	for _, m := range body.Embedded.Messages {
		ids = append(ids, m.ID)
	}
	return ids, nil
}
