package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tidings/internal/config"
)

// Main is the body of the web and worker commands: it loads the
// configuration from the environment and runs run until SIGINT or SIGTERM
// cancels its context. A bad configuration exits 2, a failed run 1; name
// prefixes the error on stderr.
func Main(name string, run func(ctx context.Context, cfg *config.Config) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
