// Package app owns the wiring of tidings' processes. It builds the shared
// dependencies from a Config — the migrated store with its token cipher,
// the asynq queue on external or embedded Redis, the search index — and
// tears them down in order; it runs the web server (RunWeb), the worker
// and scheduler (RunWorker, RunWorkerProcess) and the demo mailbox on the
// in-process emulator, and the operators' tools (ops.go: the metrics
// registry and endpoints, asynqmon). The three binaries (web, worker,
// admin CLI) all start here (the first two through Main), so the embedded
// default and the scale setup run one code path.
package app

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"tidings/internal/config"
	"tidings/internal/retry"
	"tidings/models"
	"tidings/search"
	mailsync "tidings/sync"
)

// App holds the dependencies of a tidings process.
type App struct {
	Config *config.Config
	Logger *slog.Logger
	Store  *models.Store
	Cipher *models.Cipher
	// SessionKey seals web session cookies; derived from the secret key so
	// that sessions survive restarts and work across web processes.
	SessionKey []byte
	// Redis is the asynq connection; nil when the process did not ask for
	// the queue.
	Redis asynq.RedisConnOpt
	// Queue enqueues tasks; nil without Redis.
	Queue *asynq.Client
	// Index is the search index (Elasticsearch or embedded); nil when the
	// process did not ask for it.
	Index search.Index
	// Registry collects this process's Prometheus metrics (no global
	// registry); /metrics serves it.
	Registry *prometheus.Registry
	// Indexer keeps Index equal to the database (the search outbox); nil
	// exactly when Index is.
	Indexer *search.Indexer

	syncCounters *mailsync.Metrics
	closers      []func() error
}

// Options select what a process needs.
type Options struct {
	// Queue connects to Redis (starting the embedded one when REDIS_URL is
	// unset).
	Queue bool
	// RequireExternalRedis refuses the embedded Redis (cmd/worker: a
	// separate worker process cannot share an in-process Redis).
	RequireExternalRedis bool
	// Search opens the search index.
	Search bool
}

// Open builds the dependencies. On error, whatever was opened is closed.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) (*App, error) {
	a := &App{Config: cfg, Logger: logger, Registry: newRegistry()}
	if err := a.open(ctx, opts); err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) open(ctx context.Context, opts Options) (err error) {
	cfg, logger := a.Config, a.Logger
	if cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if cfg.DatabaseURL == "" || cfg.SecretKey == "" || (opts.Search && cfg.ElasticsearchURL == "") {
		if err := privateDataDir(cfg.DataDir); err != nil {
			return err
		}
	}
	keys, err := secretKeys(cfg)
	if err != nil {
		return err
	}
	if a.Cipher, err = models.NewCipher(keys...); err != nil {
		return err
	}
	// A separate key per purpose (RFC 5869 HKDF): a leaked session key
	// reveals nothing about the token key.
	if a.SessionKey, err = hkdf.Key(sha256.New, keys[0], nil, "tidings web sessions v1", 32); err != nil {
		return fmt.Errorf("derive session key: %w", err)
	}
	if err := a.openDatabase(ctx); err != nil {
		return err
	}

	if opts.Search {
		idx, err := search.Open(ctx, search.Config{ElasticsearchURL: cfg.ElasticsearchURL, Store: a.Store, DataDir: cfg.DataDir, Engine: cfg.SearchEngine}, logger)
		if err != nil {
			return fmt.Errorf("open search index: %w", err)
		}
		a.Index = idx
		a.Indexer = search.NewIndexer(a.Store, idx, logger)
		a.closers = append(a.closers, idx.Close)
	}
	if opts.Queue {
		if cfg.RedisURL == "" && opts.RequireExternalRedis {
			return errors.New("configuration: REDIS_URL: required when the worker runs as its own process")
		}
		if err := a.openQueue(ctx); err != nil {
			return err
		}
	}
	if cfg.DatabaseURL == "" || (opts.Search && cfg.ElasticsearchURL == "") {
		// Again now that the database and index files exist: SQLite and
		// bleve create them with the process umask.
		return privateDataDir(cfg.DataDir)
	}
	return nil
}

// Start-up waits for Postgres and Redis with the project's backoff, from
// startBackoff up to maxStartBackoff between tries: in the scale setup
// processes often start before (or while restarting) their services.
const (
	startBackoff    = 250 * time.Millisecond
	maxStartBackoff = 10 * time.Second
)

// openDatabase connects and migrates, waiting while the database server is
// unreachable; a bad configuration or a failing migration on a reachable
// server fails at once.
func (a *App) openDatabase(ctx context.Context) error {
	cfg := a.Config
	err := retry.Wait(ctx, a.Logger, "database", startBackoff, maxStartBackoff, func(ctx context.Context) error {
		if a.Store == nil {
			db, engine, err := models.Open(ctx, models.OpenOptions{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: a.Logger})
			if err != nil {
				if errors.Is(err, models.ErrUnavailable) {
					return err
				}
				return retry.Permanent(err)
			}
			a.Store = models.NewStore(db, engine, a.Cipher)
			a.closers = append(a.closers, a.Store.Close)
		}
		applied, err := a.Store.Migrate(ctx)
		if err != nil {
			if a.Store.Ping(ctx) != nil {
				return fmt.Errorf("%w: %w", models.ErrUnavailable, err)
			}
			return retry.Permanent(err)
		}
		a.Logger.Info("database ready", slog.String("engine", string(a.Store.Engine())), slog.Int("schema_version", models.SchemaVersion()), slog.Int("migrations_applied", applied))
		return nil
	})
	return err
}

// secretKeys reads TIDINGS_SECRET_KEY, or the key file in the data dir
// (generated on first start) when it is unset; the sealing key comes first.
func secretKeys(cfg *config.Config) ([][]byte, error) {
	if cfg.SecretKey != "" {
		keys, err := models.ParseKeys(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("configuration: TIDINGS_SECRET_KEY: %w", err)
		}
		return keys, nil
	}
	key, err := models.LoadOrCreateKeyFile(cfg.KeyFile())
	if err != nil {
		return nil, err
	}
	return [][]byte{key}, nil
}

func (a *App) openQueue(ctx context.Context) error {
	if a.Config.RedisURL != "" {
		opt, err := asynq.ParseRedisURI(a.Config.RedisURL)
		if err != nil {
			return fmt.Errorf("configuration: REDIS_URL: %w", err)
		}
		a.Redis = opt
	} else {
		// The embedded default: an in-process Redis that asynq's client,
		// server, retries and scheduler all work with. Its contents die with
		// the process; the database is the source of truth and the
		// scheduler re-enqueues whatever a restart lost.
		// It listens on loopback, where any local user could connect: a
		// password generated per start keeps them from reading or
		// deleting tasks.
		mr := miniredis.NewMiniRedis()
		pw := make([]byte, 24)
		_, _ = rand.Read(pw) // crypto/rand.Read never fails (Go 1.24+).
		password := base64.RawURLEncoding.EncodeToString(pw)
		mr.RequireAuth(password)
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start embedded redis: %w", err)
		}
		a.closers = append(a.closers, func() error { mr.Close(); return nil })
		a.Redis = asynq.RedisClientOpt{Addr: mr.Addr(), Password: password}
		a.Logger.Info("embedded redis started", slog.String("addr", mr.Addr()))
	}
	a.Queue = asynq.NewClient(a.Redis)
	a.closers = append(a.closers, a.Queue.Close)
	return retry.Wait(ctx, a.Logger, "redis", startBackoff, maxStartBackoff, a.PingRedis)
}

// PingRedis checks the queue's Redis connection (used by /healthz).
func (a *App) PingRedis(ctx context.Context) error {
	if a.Redis == nil {
		return nil
	}
	c, ok := a.Redis.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return errors.New("redis: unexpected client type")
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// OnClose registers a function to run on Close, before the ones already
// registered (dependencies close in reverse order of opening).
func (a *App) OnClose(fn func() error) { a.closers = append(a.closers, fn) }

// Close releases everything Open built, last opened first.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}
