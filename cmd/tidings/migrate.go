package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"tidings/internal/config"
	"tidings/models"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "tidings migrate:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, engine, err := models.Open(ctx, models.OpenOptions{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "tidings migrate:", err)
		return 1
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	applied, err := models.Migrate(ctx, db, engine)
	if err != nil {
		fmt.Fprintln(stderr, "tidings migrate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s schema at version %d (%d migrations applied)\n", engine, models.SchemaVersion(), applied)
	return 0
}
