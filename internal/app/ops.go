package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynq/x/metrics"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	mailsync "tidings/sync"
)

// queuesPath is where the asynq web UI (asynqmon) is mounted for operators.
const queuesPath = "/admin/queues"

// newRegistry is a process's Prometheus registry (never the global one):
// Go runtime and process metrics; the sync and web add theirs.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// syncMetrics returns the sync's counters on the app's registry, built once
// however many Syncers the process makes.
func (a *App) syncMetrics() *mailsync.Metrics {
	if a.syncCounters == nil {
		a.syncCounters = mailsync.NewMetrics(a.Registry)
	}
	return a.syncCounters
}

// registerStatusMetrics adds what is read from the shared state at scrape
// time: every mailbox's sync state, lag and index backlog from the
// database, and asynq's queue sizes, latency and processed/failed counts
// from Redis. One process registers them (the web process), so that two
// scrape targets do not report the same series.
func (a *App) registerStatusMetrics() {
	a.Registry.MustRegister(mailsync.NewStatusCollector(a.Store, a.Index, a.Logger))
	if a.Redis != nil {
		insp := asynq.NewInspector(a.Redis)
		a.OnClose(insp.Close)
		a.Registry.MustRegister(metrics.NewQueueMetricsCollector(insp))
	}
}

// queuesUI is asynq's own web UI on the app's Redis, rooted at queuesPath;
// nil without a queue.
func (a *App) queuesUI() http.Handler {
	if a.Redis == nil {
		return nil
	}
	h := asynqmon.New(asynqmon.Options{RootPath: queuesPath, RedisConnOpt: a.Redis})
	a.OnClose(h.Close)
	return h
}

// metricsHandler serves the app's registry in Prometheus' text format.
func (a *App) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn)})
}

// serveMetricsSeparately serves /metrics alone on TIDINGS_METRICS_LISTEN
// (unauthenticated: the address is meant for a private network) until ctx
// ends.
func (a *App) serveMetricsSeparately(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.Config.MetricsListen)
	if err != nil {
		return fmt.Errorf("listen on %s (TIDINGS_METRICS_LISTEN): %w", a.Config.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metricsHandler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	return Serve(ctx, srv, ln, a.Logger.With(slog.String("component", "metrics")))
}
