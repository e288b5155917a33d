// Package config owns tidings' configuration: it reads environment
// variables once, in main, applies defaults, and validates them so that a
// bad value is a start-up error naming the variable. Everything else gets
// its settings through constructors, never from the environment.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var pubsubTopic = regexp.MustCompile(`^projects/[^/]+/topics/[^/]+$`)

// Config is the whole configuration of a tidings process.
type Config struct {
	// DataDir holds the embedded database, search index and secret key.
	DataDir string
	// DatabaseURL selects Postgres; empty means embedded SQLite.
	DatabaseURL string
	// RedisURL selects an external Redis for asynq; empty means an
	// embedded in-process Redis (single-process mode only).
	RedisURL string
	// ElasticsearchURL selects Elasticsearch; empty means the index inside
	// Postgres (with DATABASE_URL) or the embedded index (SQLite).
	ElasticsearchURL string
	// SearchOff (TIDINGS_SEARCH=off) keeps this process away from the
	// search index entirely.
	SearchOff bool
	// SearchEngine (TIDINGS_SEARCH_ENGINE) is "" (chosen by the database:
	// "postgres" with DATABASE_URL, "fts5" without), "postgres", or an
	// embedded engine for SQLite, "fts5", "bleve" or "bleve-shards".
	SearchEngine string
	// SecretKey is TIDINGS_SECRET_KEY (comma-separated base64 keys, the
	// sealing key first); empty means a key file in DataDir.
	SecretKey string
	// Listen is the web server's address.
	Listen string
	// BaseURL is the externally visible URL (OAuth redirects, cookies).
	BaseURL string
	// GoogleClientID and GoogleClientSecret configure the OAuth client.
	GoogleClientID     string
	GoogleClientSecret string
	// GmailEndpoint, when set, sends every Google call (Gmail API and
	// OAuth) to a Gmail API emulator at this base URL.
	GmailEndpoint string
	// GmailFullAccess asks Google for https://mail.google.com/ instead of
	// gmail.modify when a mailbox connects: the only way permanent delete
	// (users.messages.delete) is allowed. Mailboxes connected before keep
	// the scope they granted until they are connected again.
	GmailFullAccess bool
	// PubSubTopic ("projects/P/topics/T") enables Gmail push: mailboxes
	// are watched and notifications arrive at /gmail/push.
	PubSubTopic string
	// PushToken, when set, must be the push subscription's "token" query
	// parameter.
	PushToken string
	// MetricsToken, when set, lets a scraper read /metrics on the web
	// listener with "Authorization: Bearer <token>"; operators' browser
	// sessions always can.
	MetricsToken string
	// MetricsListen, when set, serves /metrics (without authentication) on
	// this separate address instead, in the web and the worker process;
	// keep it on a private network.
	MetricsListen string
	// PushAudience and PushServiceAccount verify Pub/Sub's signed push:
	// the OIDC token's audience and the service account it is issued to.
	PushAudience       string
	PushServiceAccount string
	// OpenSignup (TIDINGS_OPEN_SIGNUP) lets anyone create an organization
	// on /signup; off, only the first user can (invitations otherwise).
	OpenSignup bool
	// SyncInterval is how often the scheduler enqueues incremental syncs.
	SyncInterval time.Duration
	// SyncLeaseTTL is how long a mailbox stays locked to a worker that
	// stopped heartbeating before another may take it over
	// (TIDINGS_SYNC_LEASE_TTL, default 30s).
	SyncLeaseTTL time.Duration
	// UndoSend is how long a sent message waits so the user can undo it
	// (0 disables the window).
	UndoSend time.Duration
	// WorkerConcurrency is the number of asynq worker goroutines.
	WorkerConcurrency int
	// MemoryLimit is the Go runtime's soft memory limit in bytes
	// (runtime/debug.SetMemoryLimit); 0 leaves the runtime alone (GOMEMLIMIT
	// set, or TIDINGS_MEMORY_LIMIT=off).
	MemoryLimit int64
	// GCPercent is the Go garbage collector's target percentage
	// (runtime/debug.SetGCPercent); 0 leaves the runtime alone (GOGC set).
	GCPercent int
	// LogLevel and LogFormat configure slog.
	LogLevel  slog.Level
	LogFormat string
}

// Var documents one environment variable.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable tidings reads, for `tidings help`; the
// README's configuration table says the same (a test holds them together).
var Vars = []Var{
	{"TIDINGS_DATA_DIR", "./data", "directory for the embedded database, search index and generated secret key"},
	{"DATABASE_URL", "(embedded SQLite)", "Postgres URL, e.g. postgres://user:pass@host:5432/tidings?sslmode=disable"},
	{"REDIS_URL", "(embedded Redis)", "Redis URL for the asynq task queue, e.g. redis://host:6379/0; required by cmd/worker"},
	{"ELASTICSEARCH_URL", "(index in Postgres, or embedded with SQLite)", "Elasticsearch 8 URL, e.g. http://host:9200 (user:password@ allowed); unset, every process searches the index inside Postgres (DATABASE_URL) or the embedded index (SQLite)"},
	{"TIDINGS_SEARCH_ENGINE", "(by database)", "postgres (the index inside Postgres; the only choice with DATABASE_URL), or with SQLite an embedded engine: fts5 (SQLite FTS5, the default there), bleve, or bleve-shards (bleve split by tenant and date, measured in BENCHMARKS.md)"},
	{"TIDINGS_SECRET_KEY", "(key file in data dir)", "base64 32-byte key(s), comma-separated, first one encrypts; encrypts OAuth tokens at rest"},
	{"TIDINGS_LISTEN", "127.0.0.1:8080", "address the web server listens on"},
	{"TIDINGS_BASE_URL", "http://<listen address>", "public URL of the web server (OAuth redirect, secure cookies when https)"},
	{"GOOGLE_CLIENT_ID", "", "Google OAuth client id (Gmail API enabled)"},
	{"GOOGLE_CLIENT_SECRET", "", "Google OAuth client secret"},
	{"TIDINGS_GMAIL_ENDPOINT", "", "base URL of a Gmail API emulator; all Gmail and OAuth calls go there instead of Google"},
	{"TIDINGS_GMAIL_FULL_ACCESS", "false", "true asks Google for the full https://mail.google.com/ scope at connect time (needed for permanent delete) instead of gmail.modify"},
	{"TIDINGS_PUBSUB_TOPIC", "", "Pub/Sub topic (projects/P/topics/T) Gmail publishes changes to; enables push"},
	{"TIDINGS_PUSH_TOKEN", "", "shared secret the push subscription sends as ?token= on /gmail/push"},
	{"TIDINGS_METRICS_TOKEN", "", "bearer token a Prometheus scraper sends for /metrics on the web listener (operators' browser sessions need none)"},
	{"TIDINGS_METRICS_LISTEN", "", "separate address (e.g. 127.0.0.1:9090) serving /metrics without authentication, in web and worker; /metrics then leaves the web listener"},
	{"TIDINGS_PUSH_AUDIENCE", "", "audience of the push subscription's OIDC token; with TIDINGS_PUSH_SERVICE_ACCOUNT verifies signed push"},
	{"TIDINGS_PUSH_SERVICE_ACCOUNT", "", "service account email the push subscription's OIDC token must be issued to"},
	{"TIDINGS_OPEN_SIGNUP", "false", "true lets anyone create an organization on /signup (it then reveals whether an address is registered); otherwise only the first user signs up and others join by invitation"},
	{"TIDINGS_SYNC_INTERVAL", "60s", "how often every mailbox gets an incremental sync (push triggers syncs in between)"},
	{"TIDINGS_SYNC_LEASE_TTL", "30s", "how long a mailbox stays locked to a worker that stopped heartbeating (killed) before another takes it over"},
	{"TIDINGS_SEARCH", "on", "off: this process neither opens nor writes a search index (a cmd/worker whose index another process maintains)"},
	{"TIDINGS_UNDO_SEND", "10s", "how long a sent message waits so the user can undo it (0s: no window)"},
	{"TIDINGS_WORKER_CONCURRENCY", "8", "worker goroutines processing sync and mail tasks"},
	{"TIDINGS_MEMORY_LIMIT", "128MiB", "Go soft memory limit (B, KiB, MiB, GiB suffixes; off for none); GOMEMLIMIT, when set, wins"},
	{"TIDINGS_GC_PERCENT", "400", "Go garbage collector target (percent of live heap allocated between collections, 10 to 10000), bounded by the memory limit; GOGC, when set, wins"},
	{"TIDINGS_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"TIDINGS_LOG_FORMAT", "text", "text or json"},
}

// Load reads the configuration from getenv (os.Getenv in main). Every bad
// value is reported, each naming its variable, not only the first.
func Load(getenv func(string) string) (*Config, error) {
	l := &loader{getenv: getenv}
	c := &Config{
		DataDir:            l.get("TIDINGS_DATA_DIR"),
		DatabaseURL:        l.get("DATABASE_URL"),
		RedisURL:           l.get("REDIS_URL"),
		ElasticsearchURL:   l.get("ELASTICSEARCH_URL"),
		SearchEngine:       l.get("TIDINGS_SEARCH_ENGINE"),
		SecretKey:          l.get("TIDINGS_SECRET_KEY"),
		Listen:             l.get("TIDINGS_LISTEN"),
		BaseURL:            l.get("TIDINGS_BASE_URL"),
		GoogleClientID:     l.get("GOOGLE_CLIENT_ID"),
		GoogleClientSecret: l.get("GOOGLE_CLIENT_SECRET"),
		GmailEndpoint:      l.get("TIDINGS_GMAIL_ENDPOINT"),
		LogFormat:          l.get("TIDINGS_LOG_FORMAT"),
		PubSubTopic:        l.get("TIDINGS_PUBSUB_TOPIC"),
		PushToken:          l.get("TIDINGS_PUSH_TOKEN"),
		MetricsToken:       l.get("TIDINGS_METRICS_TOKEN"),
		MetricsListen:      l.get("TIDINGS_METRICS_LISTEN"),
		PushAudience:       l.get("TIDINGS_PUSH_AUDIENCE"),
		PushServiceAccount: l.get("TIDINGS_PUSH_SERVICE_ACCOUNT"),
	}
	c.loadStorage(l)
	c.loadGoogle(l)
	c.loadWeb(l)
	c.loadWork(l)
	c.loadLogging(l)
	if err := errors.Join(l.errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// loader reads variables and collects one error per bad one.
type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) get(name string) string { return strings.TrimSpace(l.getenv(name)) }

func (l *loader) bad(name string, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// checkURL reports name unless value (when set) parses as a URL with one of
// schemes and a host.
func (l *loader) checkURL(name, value, why string, schemes ...string) bool {
	if value == "" {
		return true
	}
	u, err := url.Parse(value)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		l.bad(name, "%s", why)
		return false
	}
	return true
}

// checkHostPort reports name unless value (when set) is host:port.
func (l *loader) checkHostPort(name, value string) {
	if value == "" {
		return
	}
	if _, _, err := net.SplitHostPort(value); err != nil {
		l.bad(name, "must be host:port (%v)", err)
	}
}

// boolean sets *dst from name when it is set.
func (l *loader) boolean(name string, dst *bool) {
	v := l.get(name)
	if v == "" {
		return
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.bad(name, "must be true or false")
	}
	*dst = b
}

// duration reads name as a duration within [lo, hi] (hi 0: unbounded), or
// def when it is not set.
func (l *loader) duration(name string, def, lo, hi time.Duration, why string) time.Duration {
	v := l.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || (hi > 0 && d > hi) {
		l.bad(name, "%s", why)
		return def
	}
	return d
}

// loadStorage checks where data, queue and index live.
func (c *Config) loadStorage(l *loader) {
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	if c.DatabaseURL != "" {
		// A Postgres URL may name its host in the query (host=/run/postgresql).
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			l.bad("DATABASE_URL", "must be a postgres:// or postgresql:// URL")
		}
	}
	l.checkURL("REDIS_URL", c.RedisURL, "must be a redis:// or rediss:// URL with a host", "redis", "rediss")
	l.checkURL("ELASTICSEARCH_URL", c.ElasticsearchURL, "must be an http:// or https:// URL", "http", "https")
	switch c.SearchEngine {
	case "", "fts5", "bleve", "bleve-shards", "postgres":
		// "": chosen by the database (search.Open): Postgres's own
		// index with DATABASE_URL, the embedded FTS5 index without.
	default:
		l.bad("TIDINGS_SEARCH_ENGINE", "must be postgres, fts5, bleve or bleve-shards")
	}
	switch v := strings.ToLower(l.get("TIDINGS_SEARCH")); v {
	case "", "on":
	case "off":
		c.SearchOff = true
	default:
		l.bad("TIDINGS_SEARCH", "must be on or off")
	}
}

// loadGoogle checks the OAuth client, the emulator endpoint and push.
func (c *Config) loadGoogle(l *loader) {
	if (c.PushAudience == "") != (c.PushServiceAccount == "") {
		l.bad("TIDINGS_PUSH_AUDIENCE", "and TIDINGS_PUSH_SERVICE_ACCOUNT must be set together")
	}
	if l.checkURL("TIDINGS_GMAIL_ENDPOINT", c.GmailEndpoint, "must be an http:// or https:// URL", "http", "https") {
		c.GmailEndpoint = strings.TrimSuffix(c.GmailEndpoint, "/")
	}
	if c.PubSubTopic != "" && !pubsubTopic.MatchString(c.PubSubTopic) {
		l.bad("TIDINGS_PUBSUB_TOPIC", "must look like projects/PROJECT/topics/TOPIC")
	}
	if (c.GoogleClientID == "") != (c.GoogleClientSecret == "") {
		l.bad("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET must be set together")
	}
	l.boolean("TIDINGS_GMAIL_FULL_ACCESS", &c.GmailFullAccess)
}

// loadWeb checks the web server's addresses, metrics and sign-up.
func (c *Config) loadWeb(l *loader) {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		l.bad("TIDINGS_LISTEN", "must be host:port (%v)", err)
	}
	l.checkHostPort("TIDINGS_METRICS_LISTEN", c.MetricsListen)
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		l.bad("TIDINGS_METRICS_TOKEN", "must be at least 16 characters")
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Listen
	} else {
		l.checkURL("TIDINGS_BASE_URL", c.BaseURL, "must be an http:// or https:// URL", "http", "https")
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	l.boolean("TIDINGS_OPEN_SIGNUP", &c.OpenSignup)
}

// loadWork reads the sync schedule, the workers and the memory limit.
func (c *Config) loadWork(l *loader) {
	c.SyncInterval = l.duration("TIDINGS_SYNC_INTERVAL", 60*time.Second, time.Second, 0,
		"must be a duration of at least 1s, like 60s or 5m")
	c.SyncLeaseTTL = l.duration("TIDINGS_SYNC_LEASE_TTL", 30*time.Second, 3*time.Second, 0,
		"must be a duration of at least 3s, like 30s")
	c.UndoSend = l.duration("TIDINGS_UNDO_SEND", 10*time.Second, 0, time.Hour,
		"must be a duration from 0s to 1h, like 10s")
	c.WorkerConcurrency = 8
	if v := l.get("TIDINGS_WORKER_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			l.bad("TIDINGS_WORKER_CONCURRENCY", "must be a whole number from 1 to 1000")
		} else {
			c.WorkerConcurrency = n
		}
	}
	if n, err := memoryLimit(l.get("TIDINGS_MEMORY_LIMIT"), l.get("GOMEMLIMIT")); err != nil {
		l.bad("TIDINGS_MEMORY_LIMIT", "%v", err)
	} else {
		c.MemoryLimit = n
	}
	if n, err := gcPercent(l.get("TIDINGS_GC_PERCENT"), l.get("GOGC")); err != nil {
		l.bad("TIDINGS_GC_PERCENT", "%v", err)
	} else {
		c.GCPercent = n
	}
}

// loadLogging reads slog's level and format.
func (c *Config) loadLogging(l *loader) {
	switch lv := strings.ToLower(l.get("TIDINGS_LOG_LEVEL")); lv {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		l.bad("TIDINGS_LOG_LEVEL", "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "":
		c.LogFormat = "text"
	case "text", "json":
	default:
		l.bad("TIDINGS_LOG_FORMAT", "must be text or json")
	}
}

// defaultMemoryLimit keeps a process's heap, with the garbage collector's
// headroom, near the 200 MB a sync worker is meant to fit in: the limit
// makes the collector run earlier instead of letting the heap double
// while one large message is in flight. The heap is not all of the
// resident memory (SQLite's page caches, stacks, the runtime's own): with
// 160 MiB the web process peaked at 192 MiB syncing the demo mailbox under
// 50 clients and a worker at 184–193 MiB on 25 MB attachments; with 128 MiB
// at 163 and 159 MiB (BENCHMARKS.md, 2026-11-30), while ordinary mail never
// brings the heap near the limit.
const defaultMemoryLimit = 128 << 20

// memoryLimit parses TIDINGS_MEMORY_LIMIT. A GOMEMLIMIT set in the
// environment has already been applied by the runtime and wins.
func memoryLimit(v, gomemlimit string) (int64, error) {
	if gomemlimit != "" {
		return 0, nil
	}
	switch strings.ToLower(v) {
	case "":
		return defaultMemoryLimit, nil
	case "off", "0":
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n <= 0 || n > (1<<50)/u.mult {
				break
			}
			if n*u.mult < 32<<20 {
				return 0, fmt.Errorf("%q is below 32MiB", v)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("%q must be a size like 160MiB or 1GiB, or off", v)
}

// defaultGCPercent lets the heap grow to five times its live size between
// collections instead of the runtime's two: a sync allocates a message's
// decode buffers and strings and drops them a few milliseconds later, and
// with GOGC=100 the collector's marking and the assists it charges to
// allocating goroutines were a fifth of tidings' CPU per message. The
// memory limit still bounds the heap, which is the pairing the Go GC guide
// recommends (https://go.dev/doc/gc-guide#Memory_limit): measured
// (BENCHMARKS.md, 2026-11-30), CPU per message fell by about 0.07 ms while
// peak RSS stayed under 200 MB, 25 MB attachments included.
const defaultGCPercent = 400

// gcPercent parses TIDINGS_GC_PERCENT. A GOGC set in the environment has
// already been applied by the runtime and wins.
func gcPercent(v, gogc string) (int, error) {
	if gogc != "" {
		return 0, nil
	}
	if strings.TrimSpace(v) == "" {
		return defaultGCPercent, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 10 || n > 10000 {
		return 0, fmt.Errorf("%q must be a whole number from 10 to 10000", v)
	}
	return n, nil
}

// SQLitePath is where the embedded database lives.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "tidings.db") }

// KeyFile is where the embedded default keeps its generated secret key.
func (c *Config) KeyFile() string { return filepath.Join(c.DataDir, "secret.key") }

// Embedded reports whether the queue runs on an in-process Redis, which
// means web and worker must share one process.
func (c *Config) Embedded() bool { return c.RedisURL == "" }

// Logger builds the process's slog logger.
func (c *Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
