package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
)

// TestSearchAndCheckOnPostgres: on Postgres without ELASTICSEARCH_URL the
// CLI searches and checks the index inside Postgres that the web process
// and workers share — it finds a message no process indexed yet (its
// search drains the outbox first), `reindex --check` then finds the
// shared index in sync, and no embedded index appears in the data dir.
func TestSearchAndCheckOnPostgres(t *testing.T) {
	pgURL := testenv.PostgresSchemaURL(t)
	const key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	dataDir := t.TempDir()
	for k, v := range map[string]string{"DATABASE_URL": pgURL, "TIDINGS_SECRET_KEY": key, "TIDINGS_DATA_DIR": dataDir,
		"ELASTICSEARCH_URL": "", "TIDINGS_SEARCH_ENGINE": "", "REDIS_URL": ""} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	db, engine, err := models.Open(ctx, models.OpenOptions{DatabaseURL: pgURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.Migrate(ctx, db, engine); err != nil {
		t.Fatal(err)
	}
	keys, _ := models.ParseKeys(key)
	cipher, err := models.NewCipher(keys...)
	if err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db, engine, cipher)
	defer store.Close()
	tenant, _, err := store.SignUp(ctx, "Acme", "admin@acme.example", "Admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	mb := &models.Mailbox{Email: "owner@acme.example"}
	if err := store.CreateMailbox(ctx, tenant.ID, mb); err != nil {
		t.Fatal(err)
	}
	w := models.MessageWrite{Message: models.Message{GmailID: "g-zeppelin", GmailThreadID: "t1", Subject: "Quixotic zeppelin invoice",
		Date: time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC), Text: "The airship is paid."}, LabelIDs: []string{"INBOX"}}
	if _, err := store.UpsertMessages(ctx, tenant.ID, mb.ID, []models.MessageWrite{w}); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"search", "quixo"}, &out, &errb); code != 0 {
		t.Fatalf("search: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"gmail_id":"g-zeppelin"`) || !strings.Contains(errb.String(), "1 hits") {
		t.Errorf("search output %q, stderr %q: want the one message", out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run(ctx, []string{"reindex", "--check"}, &out, &errb); code != 0 {
		t.Fatalf("reindex --check: exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), `"database":1`) || !strings.Contains(out.String(), `"index":1`) {
		t.Errorf("reindex --check = %s, want one document in database and index", out.String())
	}
	var n int64
	if err := db.Raw("SELECT count(*) FROM search_documents").Scan(&n).Error; err != nil || n != 1 {
		t.Errorf("search_documents holds %d rows (%v), want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "search")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the CLI made an embedded index (%v)", err)
	}
}
