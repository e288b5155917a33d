package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Checker is one dependency that /healthz probes.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckFunc adapts a function to Checker.
type CheckFunc func(ctx context.Context) error

// Check implements Checker.
func (f CheckFunc) Check(ctx context.Context) error { return f(ctx) }

// HealthHandler answers 200 with each check's status when all pass, 503
// when any fails. It never reveals error details beyond the check's name
// and a short message.
func HealthHandler(checks map[string]Checker, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		status := http.StatusOK
		out := map[string]string{}
		for name, c := range checks {
			if err := c.Check(ctx); err != nil {
				status = http.StatusServiceUnavailable
				out[name] = "fail"
				logger.Warn("health check failed", slog.String("check", name), slog.Any("err", err))
				continue
			}
			out[name] = "ok"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": http.StatusText(status), "checks": out})
	})
}

// Metrics records request counts and latency by route pattern and status.
type Metrics struct {
	duration *prometheus.HistogramVec
	gatherer prometheus.Gatherer
}

// NewMetrics registers the HTTP metrics on reg (a per-process registry,
// not the global default).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tidings",
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "HTTP request latency by route pattern, method and status.",
			Buckets:   []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		gatherer: reg,
	}
	reg.MustRegister(m.duration)
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// Instrument wraps the root handler: it observes every request under the
// ServeMux pattern that matched it (never the raw path, which would make
// one time series per id) and logs it once.
func (m *Metrics) Instrument(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		m.duration.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Observe(elapsed.Seconds())
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelError
		}
		logger.Log(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", rec.status),
			slog.Duration("duration", elapsed))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and friends.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
