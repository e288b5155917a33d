// Package testenv gives tests real dependencies: a fresh store on embedded
// SQLite always, and on Postgres when TIDINGS_TEST_DATABASE_URL is set (each
// test in its own schema); the Redis at TIDINGS_TEST_REDIS_URL. Under
// CI=true a missing service fails the test instead of skipping it.
package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"tidings/models"
)

// InCI reports whether the tests run in CI, where services must exist.
func InCI() bool { return os.Getenv("CI") == "true" }

// Engine is one database engine the tests run on.
type Engine struct {
	Name models.Engine
	// Open returns a fresh, migrated store on this engine, closed when the
	// test ends.
	Open func(t testing.TB) *models.Store
}

// Engines lists SQLite, plus Postgres when configured. Under CI=true a
// missing Postgres fails the test.
func Engines(t testing.TB) []Engine {
	t.Helper()
	engines := []Engine{{Name: models.SQLite, Open: OpenSQLite}}
	if PostgresURL(t) != "" {
		engines = append(engines, Engine{Name: models.Postgres, Open: OpenPostgres})
	}
	return engines
}

// PostgresURL returns TIDINGS_TEST_DATABASE_URL; empty (test continues on
// SQLite only) outside CI, a test failure under CI=true when unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TIDINGS_TEST_DATABASE_URL")
	if u == "" && InCI() {
		t.Fatal("CI=true but TIDINGS_TEST_DATABASE_URL is not set: Postgres tests cannot run")
	}
	return u
}

// RedisURL returns TIDINGS_TEST_REDIS_URL, skipping the test outside CI
// when unset and failing it under CI=true.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TIDINGS_TEST_REDIS_URL")
	if u == "" {
		if InCI() {
			t.Fatal("CI=true but TIDINGS_TEST_REDIS_URL is not set: Redis tests cannot run")
		}
		t.Skip("TIDINGS_TEST_REDIS_URL not set")
	}
	return u
}

// Cipher returns a cipher with a random key.
func Cipher(t testing.TB) *models.Cipher {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	c, err := models.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handles maps each store opened here to its database handle, for DB.
var handles stdsync.Map

// DB returns the database handle under a store opened by this package, for
// tests that must look at (or tamper with) rows directly.
func DB(t testing.TB, s *models.Store) *gorm.DB {
	t.Helper()
	db, ok := handles.Load(s)
	if !ok {
		t.Fatal("testenv.DB: store not opened by testenv")
	}
	return db.(*gorm.DB)
}

// OpenSQLite returns a migrated store on a new SQLite file in a temp dir.
func OpenSQLite(t testing.TB) *models.Store {
	t.Helper()
	return migrated(t, EmptySQLite(t), models.SQLite)
}

// EmptySQLite opens a new, empty (unmigrated) SQLite database.
func EmptySQLite(t testing.TB) *gorm.DB {
	t.Helper()
	db, _, err := models.Open(context.Background(), models.OpenOptions{SQLitePath: filepath.Join(t.TempDir(), "test.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// OpenPostgres returns a migrated store in a new schema of the test
// database; the schema is dropped when the test ends.
func OpenPostgres(t testing.TB) *models.Store {
	t.Helper()
	return migrated(t, EmptyPostgres(t), models.Postgres)
}

// EmptyPostgres opens a new, empty schema of the test database (dropped
// when the test ends); it skips or fails like PostgresURL.
func EmptyPostgres(t testing.TB) *gorm.DB {
	t.Helper()
	db, _, err := models.Open(context.Background(), models.OpenOptions{DatabaseURL: PostgresSchemaURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// PostgresSchemaURL creates a new, empty schema of the test database
// (dropped when the test ends) and returns a URL whose connections use it,
// for processes a test starts with their own configuration; it skips or
// fails like PostgresURL.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	if base == "" {
		t.Skip("TIDINGS_TEST_DATABASE_URL not set")
	}
	schema := "t_" + strings.ToLower(rand.Text()[:12])
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func migrated(t testing.TB, db *gorm.DB, engine models.Engine) *models.Store {
	t.Helper()
	if _, err := models.Migrate(context.Background(), db, engine); err != nil {
		t.Fatal(err)
	}
	s := models.NewStore(db, engine, Cipher(t))
	handles.Store(s, db)
	t.Cleanup(func() { handles.Delete(s) })
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Describe names an engine for subtest names.
func (e Engine) String() string { return fmt.Sprint(e.Name) }

// Mailbox signs up an organization in s and connects one mailbox to it,
// the starting point of most store-backed tests; it returns their ids.
func Mailbox(t testing.TB, s *models.Store) (tenantID, mailboxID int64) {
	t.Helper()
	ctx := context.Background()
	tenant, _, err := s.SignUp(ctx, "Acme", "admin@acme.example", "Admin", "correct horse battery")
	if err != nil {
		t.Fatalf("sign up: %v", err)
	}
	mb := &models.Mailbox{Email: "box@acme.example"}
	if err := s.CreateMailbox(ctx, tenant.ID, mb); err != nil {
		t.Fatalf("create mailbox: %v", err)
	}
	return tenant.ID, mb.ID
}
