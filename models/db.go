package models

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Engine names the database behind a Store.
type Engine string

// Supported engines.
const (
	Postgres Engine = "postgres"
	SQLite   Engine = "sqlite"
)

// ErrUnavailable marks a failure to reach the database server (down,
// restarting, not yet started): worth retrying, unlike a bad URL.
var ErrUnavailable = errors.New("models: database unavailable")

// OpenOptions say which database to open.
type OpenOptions struct {
	// DatabaseURL selects Postgres (postgres:// or postgresql://). When
	// empty, SQLite at SQLitePath is used.
	DatabaseURL string
	// SQLitePath is the embedded database file (created when missing).
	SQLitePath string
	Logger     *slog.Logger
}

// Open connects to the database chosen by opts. It does not migrate; call
// Migrate (start-up and `tidings migrate` both do).
func Open(ctx context.Context, opts OpenOptions) (*gorm.DB, Engine, error) {
	cfg := &gorm.Config{
		Logger: newGormLogger(opts.Logger),
		// Driver errors become gorm's typed errors (ErrDuplicatedKey,
		// ErrForeignKeyViolated) on both engines, so callers test with
		// errors.Is instead of matching driver messages.
		TranslateError: true,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	var (
		db     *gorm.DB
		engine Engine
		err    error
	)
	switch {
	case opts.DatabaseURL != "":
		if !strings.HasPrefix(opts.DatabaseURL, "postgres://") && !strings.HasPrefix(opts.DatabaseURL, "postgresql://") {
			return nil, "", errors.New("models: DATABASE_URL must start with postgres:// or postgresql://")
		}
		engine = Postgres
		db, err = gorm.Open(postgres.Open(opts.DatabaseURL), cfg)
	case opts.SQLitePath != "":
		engine = SQLite
		if err := os.MkdirAll(filepath.Dir(opts.SQLitePath), 0o700); err != nil {
			return nil, "", fmt.Errorf("models: create database directory: %w", err)
		}
		// The driver is modernc.org/sqlite (SQLite translated to Go, no
		// cgo) under libtnb/sqlite's gorm dialector; the DSN parameters are
		// modernc's. WAL lets readers (the web UI) run while the worker
		// writes; busy_timeout turns lock contention into waiting, not
		// errors; _txlock=immediate takes the write lock at BEGIN, so two
		// writers queue instead of failing when one upgrades a read lock.
		// An 8 MiB page cache per connection (SQLite's default is 2 MB)
		// keeps the inner pages of the messages indexes cached while a
		// sync inserts: with the default, ingest spent a sixth of its CPU
		// re-reading them. temp_store=MEMORY keeps statement journals
		// (https://sqlite.org/tempfiles.html §2.5: every multi-row upsert
		// inside a transaction writes the pages it changes there so the
		// statement alone can be rolled back) off the disk: written to a
		// temporary file they were 5 % of the CPU of a SQLite sync, all
		// system calls.
		dsn := "file:" + opts.SQLitePath + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-8192)&_pragma=temp_store(MEMORY)&_txlock=immediate"
		db, err = gorm.Open(sqlite.Open(dsn), cfg)
	default:
		return nil, "", errors.New("models: neither a database URL nor a SQLite path was given")
	}
	if err != nil {
		if engine == Postgres {
			// gorm pings on open: a refused connection lands here.
			return nil, "", fmt.Errorf("models: open %s: %w: %w", engine, ErrUnavailable, err)
		}
		return nil, "", fmt.Errorf("models: open %s: %w", engine, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, "", fmt.Errorf("models: %w", err)
	}
	if engine == SQLite {
		// SQLite allows one writer; a small pool avoids "database is
		// locked" storms while WAL still serves concurrent reads.
		sqlDB.SetMaxOpenConns(4)
		// Kept open, connections keep their page caches.
		sqlDB.SetMaxIdleConns(4)
	} else {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, "", fmt.Errorf("models: connect to %s: %w: %w", engine, ErrUnavailable, err)
	}
	return db, engine, nil
}

// newGormLogger routes gorm's messages to slog: errors and slow queries
// only, never the SQL parameters (they may hold personal data or secrets).
// Constraint violations and cancelled statements are not logged: the
// store turns the former into ErrConflict (or a lost lease) and its
// callers decide whether they are expected (three mailboxes creating the
// same contact at once) or errors.
func newGormLogger(l *slog.Logger) logger.Interface {
	if l == nil {
		return logger.Discard
	}
	const slow = 2 * time.Second
	return quietLogger{Interface: logger.NewSlogLogger(l, logger.Config{
		SlowThreshold:             slow,
		LogLevel:                  logger.Warn,
		IgnoreRecordNotFoundError: true,
		ParameterizedQueries:      true,
	}), slow: slow}
}

// quietLogger skips gorm's Trace for statements that will not be logged:
// gorm's slog logger renders every statement's SQL (a regexp over the
// whole text) before deciding, which cost about 6 % of a sync's CPU. It
// also drops the error of statements that failed on a constraint (handled
// by the caller as a typed error) before gorm's logger sees it; slow
// statements still log.
type quietLogger struct {
	logger.Interface
	slow    time.Duration
	verbose bool // LogMode(Info): every statement is logged
}

func (q quietLogger) LogMode(level logger.LogLevel) logger.Interface {
	return quietLogger{Interface: q.Interface.LogMode(level), slow: q.slow, verbose: level >= logger.Info}
}

func (q quietLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if isConstraint(err) || errors.Is(err, context.Canceled) {
		// A cancelled statement is the caller's decision (a finished
		// run stopping its heartbeat), not a database error.
		err = nil
	}
	if !q.verbose && (err == nil || errors.Is(err, gorm.ErrRecordNotFound)) && time.Since(begin) <= q.slow {
		return
	}
	q.Interface.Trace(ctx, begin, fc, err)
}

// isConstraint reports whether err is a (translated) constraint violation.
func isConstraint(err error) bool {
	return errors.Is(err, gorm.ErrDuplicatedKey) || errors.Is(err, gorm.ErrForeignKeyViolated)
}
