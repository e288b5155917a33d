package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"

	"tidings/internal/config"
	"tidings/models"
	mailsync "tidings/sync"
	"tidings/web"
)

// oauthCallbackPath is where Google redirects after consent; register
// TIDINGS_BASE_URL + this path as the OAuth client's redirect URI.
const oauthCallbackPath = "/oauth/google/callback"

// RunWeb is the web process: HTTP server, plus the worker in-process when
// the queue is embedded. It serves on ln, or on TIDINGS_LISTEN when ln is
// nil, and returns when ctx is cancelled and everything has shut down.
func RunWeb(ctx context.Context, cfg *config.Config, logger *slog.Logger, ln net.Listener) error {
	a, err := Open(ctx, cfg, logger, Options{Queue: true, Search: true})
	if err != nil {
		return err
	}
	defer a.Close()

	// With no Google OAuth client and no emulator configured (a fresh
	// machine), an in-process emulator serves demo mailboxes. It needs the
	// in-process worker, so only the embedded default gets it.
	var demo *Demo
	endpoint := cfg.GmailEndpoint
	if cfg.GoogleClientID == "" && endpoint == "" && cfg.Embedded() {
		demo = NewDemo(a.Store, logger, DemoMessages)
		a.OnClose(demo.Close)
		endpoint = demo.URL()
	}
	syncer, err := a.NewSyncer(endpoint)
	if err != nil {
		return err
	}
	metrics := web.NewMetrics(a.Registry)
	a.registerStatusMetrics()
	if demo != nil {
		demo.SetSyncer(syncer)
	}
	ui, err := web.New(a.webDeps(syncer, demo))
	if err != nil {
		return err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen on %s (TIDINGS_LISTEN): %w", cfg.Listen, err)
		}
	}
	srv := newHTTPServer(metrics.Instrument(a.webMux(ui), logger), logger)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return Serve(gctx, srv, ln, logger) })
	if cfg.MetricsListen != "" {
		g.Go(func() error { return a.serveMetricsSeparately(gctx) })
	}
	if cfg.Embedded() {
		g.Go(func() error { return a.RunWorker(gctx, workerOptions(a, syncer)) })
	}
	if a.Indexer != nil {
		g.Go(func() error { a.Indexer.Run(gctx, indexerInterval); return nil })
	}
	if demo != nil {
		g.Go(func() error {
			if err := demo.Restore(gctx); err != nil && !errors.Is(err, context.Canceled) {
				logger.Warn("restoring demo mailboxes failed", slog.Any("err", err))
			}
			return nil
		})
	}
	return g.Wait()
}

// webDeps is what the web UI and API run on: the store, the syncer in its
// several roles, the search index, and push and OAuth when configured.
func (a *App) webDeps(syncer *mailsync.Syncer, demo *Demo) web.Deps {
	cfg := a.Config
	deps := web.Deps{
		Store: a.Store, Sync: syncer, Attachments: syncer, Labels: syncer, Outbox: syncer,
		UndoWindow: undoWindow(cfg.UndoSend), Logger: a.Logger, BaseURL: cfg.BaseURL, SessionKey: a.SessionKey,
		OpenSignup: cfg.OpenSignup,
		// Gmail push through a Pub/Sub push subscription: mounted only
		// when it can be authenticated.
		PushAuth: web.PushAuth{Token: cfg.PushToken, Audience: cfg.PushAudience, ServiceAccount: cfg.PushServiceAccount},
	}
	if cfg.PubSubTopic != "" {
		deps.Push = syncer
		if cfg.PushToken == "" && cfg.PushAudience == "" {
			a.Logger.Warn("TIDINGS_PUBSUB_TOPIC is set but push cannot be authenticated: set TIDINGS_PUSH_AUDIENCE and TIDINGS_PUSH_SERVICE_ACCOUNT, or TIDINGS_PUSH_TOKEN; /gmail/push is not mounted and mailboxes are polled")
		}
	}
	if a.Indexer != nil {
		deps.Search = a.Indexer
	}
	if cfg.GoogleClientID != "" || cfg.GmailEndpoint != "" {
		deps.Gmail = gmailConnector{syncer}
	}
	if demo != nil {
		deps.Demo = demo
	}
	return deps
}

// webMux routes the health check and the operators' tools beside the web
// UI and API.
func (a *App) webMux(ui *web.Server) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", web.HealthHandler(map[string]web.Checker{
		"database": web.CheckFunc(a.Store.Ping),
		"queue":    web.CheckFunc(a.PingRedis),
	}, a.Logger))
	// Operators' tools: /metrics on the web listener unless it has an
	// address of its own, and asynq's queue UI.
	if a.Config.MetricsListen == "" {
		mux.Handle("GET /metrics", ui.OperatorsOnly(a.metricsHandler(), a.Config.MetricsToken))
	}
	if queues := a.queuesUI(); queues != nil {
		mux.Handle(queuesPath+"/", ui.OperatorsOnly(queues, ""))
	}
	mux.Handle("/", ui)
	return mux
}

// newHTTPServer bounds the web server's timeouts and logs its errors
// through slog.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// A backstop for the whole request; web bounds bodies to 30 s.
		ReadTimeout: 2 * time.Minute,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// RunWorkerProcess is the worker process of the scale setup.
func RunWorkerProcess(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	if cfg.RedisURL == "" {
		return errors.New("configuration: REDIS_URL: required when the worker runs as its own process")
	}
	if cfg.ElasticsearchURL == "" && cfg.DatabaseURL == "" && !cfg.SearchOff {
		// The embedded index belongs to one process; a separate worker
		// would index into a copy the web process never reads. With
		// Postgres every process shares the index inside the database.
		return errors.New("configuration: a worker in its own process needs DATABASE_URL (Postgres, whose search index every process shares) or ELASTICSEARCH_URL (or TIDINGS_SEARCH=off)")
	}
	a, err := Open(ctx, cfg, logger, Options{Queue: true, RequireExternalRedis: true, Search: !cfg.SearchOff})
	if err != nil {
		return err
	}
	defer a.Close()
	syncer, err := a.NewSyncer(cfg.GmailEndpoint)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if cfg.MetricsListen != "" {
		g.Go(func() error { return a.serveMetricsSeparately(gctx) })
	}
	g.Go(func() error { return a.RunWorker(gctx, workerOptions(a, syncer)) })
	if a.Indexer != nil {
		// Every process with an index drains the shared search outbox
		// (on Postgres concurrently, each claim taking disjoint marks);
		// with TIDINGS_SEARCH=off another process drains what this
		// worker's writes fill.
		g.Go(func() error { a.Indexer.Run(gctx, indexerInterval); return nil })
	}
	return g.Wait()
}

// indexerInterval is how often a process that writes the search index
// applies index work nobody drained (a killed worker, a web-side change).
const indexerInterval = 2 * time.Second

// NewSyncer builds the Gmail sync engine on the app's store, index and
// queue. endpoint is a Gmail API emulator's base URL, "" for Google.
func (a *App) NewSyncer(endpoint string) (*mailsync.Syncer, error) {
	cfg := a.Config
	deps := mailsync.Deps{
		Store: a.Store, Queue: a.Queue, GmailEndpoint: endpoint, Logger: a.Logger,
		ClientID: cfg.GoogleClientID, ClientSecret: cfg.GoogleClientSecret,
		RedirectURL: cfg.BaseURL + oauthCallbackPath,
		PubSubTopic: cfg.PubSubTopic,
		LeaseTTL:    cfg.SyncLeaseTTL,
		Metrics:     a.syncMetrics(),
	}
	if cfg.GmailFullAccess {
		// Permanent delete needs the full scope; mailboxes connected
		// before keep their grant until they connect again.
		deps.OAuthScopes = mailsync.FullAccessScopes
	}
	if a.Indexer != nil {
		deps.Indexer = a.Indexer
	}
	if deps.ClientID == "" && endpoint != "" {
		// The emulator accepts any client.
		deps.ClientID, deps.ClientSecret = "tidings", "emulator"
	}
	s, err := mailsync.New(deps)
	if err != nil {
		return nil, fmt.Errorf("build syncer: %w", err)
	}
	return s, nil
}

// workerOptions wires the sync task handlers and periodic tasks.
func workerOptions(a *App, s *mailsync.Syncer) WorkerOptions {
	mux := asynq.NewServeMux()
	s.Register(mux)
	return WorkerOptions{
		Handler:  mux,
		Schedule: func(sc *asynq.Scheduler) error { return s.Schedule(sc, a.Config.SyncInterval) },
		Queues:   mailsync.Queues(),
	}
}

// gmailConnector adapts the Syncer's OAuth methods to the web package's
// GmailConnector.
type gmailConnector struct{ s *mailsync.Syncer }

func (g gmailConnector) AuthCodeURL(state string) string { return g.s.AuthCodeURL(state) }

func (g gmailConnector) Connect(ctx context.Context, tenantID, ownerID int64, code string) (*models.Mailbox, error) {
	return g.s.Connect(ctx, tenantID, ownerID, code)
}

// undoWindow maps TIDINGS_UNDO_SEND=0 (no window) to the smallest delay
// web accepts as "set".
func undoWindow(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Nanosecond
	}
	return d
}
