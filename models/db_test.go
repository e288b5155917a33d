package models_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"tidings/models"
)

// TestSQLiteConnectionSettings checks that the DSN's settings reach every
// pooled connection of the embedded database, whichever driver is behind
// it: a driver that dropped or renamed a DSN parameter would silently lose
// WAL, the busy timeout, foreign keys or immediate transactions.
func TestSQLiteConnectionSettings(t *testing.T) {
	ctx := context.Background()
	sqlDB := openSQLite(t, "pragmas.db")

	// Hold the whole pool (4 connections) so each one is checked.
	want := []struct{ pragma, value string }{
		{"journal_mode", "wal"},
		{"busy_timeout", "10000"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"cache_size", "-8192"},
	}
	for i := range 4 {
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, w := range want {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+w.pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, w.pragma, err)
			}
			if strings.ToLower(got) != w.value {
				t.Errorf("connection %d: PRAGMA %s = %q, want %q", i, w.pragma, got, w.value)
			}
		}
	}
}

// TestSQLiteTransactionsAreImmediate checks _txlock=immediate: a
// transaction takes the write lock at BEGIN, so two writers queue on the
// busy timeout instead of one failing with SQLITE_BUSY on its first write
// after both had read (a deferred transaction cannot be upgraded then).
func TestSQLiteTransactionsAreImmediate(t *testing.T) {
	ctx := context.Background()
	sqlDB := openSQLite(t, "txlock.db")

	tx, err := sqlDB.BeginTx(ctx, nil) // no statement run in it yet
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	defer other.ExecContext(ctx, "PRAGMA busy_timeout = 10000")
	_, err = other.ExecContext(ctx, "BEGIN IMMEDIATE")
	if err == nil {
		other.ExecContext(ctx, "ROLLBACK")
		t.Fatal("a second writer got the write lock while a transaction was open: transactions are not immediate")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "locked") && !strings.Contains(strings.ToLower(err.Error()), "busy") {
		t.Fatalf("BEGIN IMMEDIATE beside an open transaction: %v, want a busy/locked error", err)
	}
}

// openSQLite opens a fresh embedded database the way the app does and
// returns its connection pool, closed when the test ends.
func openSQLite(t *testing.T, name string) *sql.DB {
	t.Helper()
	db, _, err := models.Open(context.Background(), models.OpenOptions{SQLitePath: filepath.Join(t.TempDir(), name)})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return sqlDB
}
