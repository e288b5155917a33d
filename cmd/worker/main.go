// Command worker runs tidings' asynq worker and scheduler for the scale
// setup: many worker processes on many machines share one Redis
// (REDIS_URL, required) and one Postgres.
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
		fmt.Fprintln(os.Stderr, "tidings worker:", err)
		os.Exit(2)
	}
	if err := app.RunWorkerProcess(ctx, cfg, cfg.Logger()); err != nil {
		fmt.Fprintln(os.Stderr, "tidings worker:", err)
		os.Exit(1)
	}
}
