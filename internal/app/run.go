package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"tidings/internal/config"
	"tidings/web"
)

// RunWeb is the web process: HTTP server, plus the worker in-process when
// the queue is embedded. It serves on ln, or on TIDINGS_LISTEN when ln is
// nil, and returns when ctx is cancelled and everything has shut down.
func RunWeb(ctx context.Context, cfg *config.Config, logger *slog.Logger, ln net.Listener) error {
	a, err := Open(ctx, cfg, logger, Options{Queue: true})
	if err != nil {
		return err
	}
	defer a.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := web.NewMetrics(reg)

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", web.HealthHandler(map[string]web.Checker{
		"database": web.CheckFunc(a.Store.Ping),
		"queue":    web.CheckFunc(a.PingRedis),
	}, logger))
	mux.Handle("GET /metrics", metrics.Handler())

	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen on %s (TIDINGS_LISTEN): %w", cfg.Listen, err)
		}
	}
	srv := &http.Server{
		Handler:           metrics.Instrument(mux, logger),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return Serve(gctx, srv, ln, logger) })
	if cfg.Embedded() {
		g.Go(func() error { return a.RunWorker(gctx, workerOptions(a)) })
	}
	return g.Wait()
}

// RunWorkerProcess is the worker process of the scale setup.
func RunWorkerProcess(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	a, err := Open(ctx, cfg, logger, Options{Queue: true, RequireExternalRedis: true})
	if err != nil {
		return err
	}
	defer a.Close()
	return a.RunWorker(ctx, workerOptions(a))
}

// workerOptions wires the task handlers and periodic tasks.
func workerOptions(a *App) WorkerOptions {
	return WorkerOptions{Handler: asynq.NewServeMux()}
}
