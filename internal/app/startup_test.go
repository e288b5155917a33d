package app_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"tidings/internal/app"
	"tidings/internal/config"
)

// TestOpenWaitsForRedis (finding 4): a worker process started while Redis
// is down waits and connects once Redis is up, instead of exiting.
func TestOpenWaitsForRedis(t *testing.T) {
	// A port nobody listens on yet: reserve it, then free it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := config.Load(env(map[string]string{"TIDINGS_DATA_DIR": t.TempDir(), "REDIS_URL": "redis://" + addr + "/0"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type result struct {
		a   *app.App
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := app.Open(ctx, cfg, testLogger(t), app.Options{Queue: true, RequireExternalRedis: true})
		done <- result{a, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Open returned while Redis was down: %v", r.err)
	case <-time.After(1500 * time.Millisecond):
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		t.Fatal(err)
	}
	defer mr.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("Open after Redis came up = %v", r.err)
	}
	defer r.a.Close()
	if err := r.a.PingRedis(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFailsFastOnBadConfiguration: waiting is for unreachable
// services, not for a database URL that can never work.
func TestOpenFailsFastOnBadConfiguration(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{"TIDINGS_DATA_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = "mysql://nope"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := app.Open(ctx, cfg, testLogger(t), app.Options{}); err == nil || ctx.Err() != nil {
		t.Fatalf("Open with a bad DATABASE_URL = %v (ctx %v), want an immediate error", err, ctx.Err())
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}
