// Command gmail-emulator serves tidings' Gmail API emulator (package
// emulator) standalone, for offline development, demos and
// benchmarks. It prints its base URL and, per user, an access token for
// curl, and stops gracefully on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"tidings/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gmail-emulator:", err)
		os.Exit(1)
	}
}

type userList []string

func (u *userList) String() string     { return strings.Join(*u, ",") }
func (u *userList) Set(v string) error { *u = append(*u, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gmail-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var users userList
	addr := fs.String("addr", "127.0.0.1:8085", "listen address")
	fs.Var(&users, "user", "mailbox owner `EMAIL` (repeatable; default me@example.com)")
	seedDir := fs.String("seed-dir", "", "load .eml files, mbox files and Maildirs from `DIR` into the first user's mailbox")
	generate := fs.Int("generate", 0, "generate `N` synthetic messages into each user's mailbox")
	seed := fs.Int64("seed", 1, "generator and emulator seed")
	attachMB := fs.Int("attachment-mb", 0, "with -generate: give 1% of the messages one attachment of this many MiB (0: generator defaults)")
	renderDir := fs.String("render-dir", "", "with -generate: render the generated messages once, before reporting ready, into a spill file in `DIR` (about 1.4× the mailbox on disk, removed at shutdown) and serve format=raw gets from it")
	quota := fs.Bool("quota", false, "enforce Gmail's per-user quota (15,000 units/min)")
	faultRate := fs.Float64("faults", 0, "inject a fault into this share of API calls (0..1)")
	faultKinds := fs.String("fault-kinds", "all", "comma-separated fault kinds: 500,503,429,reset,slow,truncate,empty-history-page,phantom-message,ghost-label")
	retention := fs.Duration("history-retention", 7*24*time.Hour, "how long history ids stay valid")
	pushURL := fs.String("push-url", "", "POST Pub/Sub-style push notifications for watch() to this URL")
	tokenTTL := fs.Duration("token-ttl", 30*24*time.Hour, "lifetime of the printed access tokens")
	verbose := fs.Bool("v", false, "debug logging")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (runtime/pprof) to `FILE` until shutdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if len(users) == 0 {
		users = userList{"me@example.com"}
	}
	if *faultRate < 0 || *faultRate > 1 {
		return fmt.Errorf("-faults must be within 0..1, got %v", *faultRate)
	}
	kinds, err := emulator.ParseFaultKinds(*faultKinds)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv, err := emulator.Listen(*addr,
		emulator.WithLogger(log),
		emulator.WithSeed(uint64(*seed)),
		emulator.WithQuota(*quota),
		emulator.WithFaults(emulator.Faults{Rate: *faultRate, Kinds: kinds}),
		emulator.WithHistoryRetention(*retention),
		emulator.WithPushURL(*pushURL),
		emulator.WithRenderDir(*renderDir),
	)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := seedMailboxes(srv, log, users, *generate, *seed, *attachMB, *seedDir); err != nil {
		return err
	}
	if *renderDir != "" {
		// Give back the rendering's buffers (a message each per CPU,
		// 35 MB with -attachment-mb 25) before serving.
		debug.FreeOSMemory()
	}
	if err := printEndpoints(stdout, srv, users, *tokenTTL); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// seedMailboxes adds the users, each with n generated messages (attachMB:
// see GeneratorOptions.WithLargeAttachments), and loads dir (when given)
// into the first user's mailbox.
func seedMailboxes(srv *emulator.Server, log *slog.Logger, users []string, n int, seed int64, attachMB int, dir string) error {
	for _, u := range users {
		if _, err := srv.AddUser(u); err != nil {
			return err
		}
		if n > 0 {
			g := emulator.NewGenerator(seed, emulator.GeneratorOptions{Owner: u}.WithLargeAttachments(attachMB))
			start := time.Now()
			if err := srv.AddGenerated(u, g, n); err != nil {
				return err
			}
			log.Info("generated mailbox", slog.String("user", u), slog.Int("messages", n), slog.Duration("took", time.Since(start)))
		}
	}
	if dir == "" {
		return nil
	}
	loaded, err := srv.LoadDir(users[0], dir)
	if err != nil {
		return err
	}
	log.Info("loaded seed directory", slog.String("dir", dir), slog.Int("messages", loaded), slog.String("user", users[0]))
	return nil
}

// printEndpoints prints, one "key value" per line, the URLs a client
// needs and an access token per user.
func printEndpoints(stdout io.Writer, srv *emulator.Server, users []string, tokenTTL time.Duration) error {
	fmt.Fprintf(stdout, "base_url %s\n", srv.URL)
	fmt.Fprintf(stdout, "gmail_endpoint %s/\n", srv.URL)
	ep := emulator.OAuthEndpoint(srv.URL)
	fmt.Fprintf(stdout, "oauth_auth_url %s\noauth_token_url %s\n", ep.AuthURL, ep.TokenURL)
	for _, u := range users {
		tok, err := srv.IssueAccessToken(u, tokenTTL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s access_token %s\n", u, tok)
	}
	fmt.Fprintf(stdout, "ready (curl -H 'Authorization: Bearer <access_token>' %s/gmail/v1/users/me/profile)\n", srv.URL)
	return nil
}

// startCPUProfile profiles the emulator's CPU into path until the
// returned function is called (the benchmark's way to see what serving
// a mailbox costs beside the client syncing it).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
