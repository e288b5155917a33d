// Command web serves tidings' web UI, REST API, /healthz and /metrics. In
// the embedded default (no REDIS_URL) it also runs the sync worker and
// scheduler in-process on an embedded Redis.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tidings/internal/app"
	"tidings/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tidings web:", err)
		os.Exit(2)
	}
	if err := app.RunWeb(ctx, cfg, cfg.Logger(), nil); err != nil {
		fmt.Fprintln(os.Stderr, "tidings web:", err)
		os.Exit(1)
	}
}
