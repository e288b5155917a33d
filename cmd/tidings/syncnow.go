package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/models"
	"tidings/search"
	mailsync "tidings/sync"
)

// syncEnv is what the mailbox and sync commands need: the store, the
// search index (when it can be opened) and a Syncer.
type syncEnv struct {
	cfg    *config.Config
	app    *app.App
	index  search.Index
	syncer *mailsync.Syncer
	log    *slog.Logger
}

func (e *syncEnv) Close() {
	if e.index != nil {
		_ = e.index.Close()
	}
	_ = e.app.Close()
}

// openSyncEnv opens the configured store and index and builds a Syncer
// without a queue: the CLI works in the foreground.
func openSyncEnv(ctx context.Context, stderr io.Writer, mod func(*mailsync.Deps)) (*syncEnv, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.Open(ctx, cfg, logger, app.Options{})
	if err != nil {
		return nil, err
	}
	e := &syncEnv{cfg: cfg, app: a, log: logger}
	e.index = openIndex(ctx, cfg, a.Store, logger, stderr)
	deps := mailsync.Deps{
		Store: a.Store, ClientID: cfg.GoogleClientID, ClientSecret: cfg.GoogleClientSecret,
		GmailEndpoint: cfg.GmailEndpoint, Logger: logger,
		HTTPClient: &http.Client{Timeout: 2 * time.Minute},
	}
	if e.index != nil {
		deps.Indexer = search.NewIndexer(a.Store, e.index, logger)
	}
	if deps.ClientID == "" && cfg.GmailEndpoint != "" {
		// The emulator accepts any client.
		deps.ClientID, deps.ClientSecret = "tidings-cli", "emulator"
	}
	if mod != nil {
		mod(&deps)
	}
	if deps.ClientID == "" {
		e.Close()
		return nil, errors.New("GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are not set (or set TIDINGS_GMAIL_ENDPOINT to use the emulator)")
	}
	if e.syncer, err = mailsync.New(deps); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// openIndex opens the search index (on Postgres the shared one inside the
// database, which the CLI writes like any process). When another process
// holds the embedded index (a running `tidings web`), the CLI syncs
// without it: the changes wait in the search outbox and that process's
// indexer applies them.
func openIndex(ctx context.Context, cfg *config.Config, store *models.Store, logger *slog.Logger, stderr io.Writer) search.Index {
	idx, err := search.Open(ctx, search.Config{ElasticsearchURL: cfg.ElasticsearchURL, Store: store, DataDir: cfg.DataDir, Engine: cfg.SearchEngine}, logger)
	if err == nil {
		return idx
	}
	fmt.Fprintf(stderr, "note: %v\nthe sync's changes are queued for the index and applied by the process that holds it (or the next `tidings reindex --check --repair`)\n", err)
	return nil
}

// tenantFor resolves --tenant: the given id, or the only tenant.
func tenantFor(ctx context.Context, store *models.Store, flagID int64) (int64, error) {
	if flagID != 0 {
		if _, err := store.GetTenant(ctx, flagID); err != nil {
			return 0, fmt.Errorf("tenant %d: %w", flagID, err)
		}
		return flagID, nil
	}
	ids, err := store.Tenants(ctx)
	if err != nil {
		return 0, err
	}
	switch len(ids) {
	case 0:
		return 0, errors.New("no tenant exists yet: sign up in the web UI first")
	case 1:
		return ids[0], nil
	}
	return 0, fmt.Errorf("%d tenants exist: pass --tenant ID", len(ids))
}

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	full := fs.Bool("full", false, "run a full (reconciling) sync instead of an incremental one")
	tenant := fs.Int64("tenant", 0, "tenant id (default: the only tenant)")
	policy := fs.String("contacts", "correspondents", "contact auto-creation policy: none, correspondents or all")
	noQuota := fs.Bool("no-quota", false, "disable the client-side quota limiter (emulator benchmarks only)")
	noIndex := fs.Bool("no-index", false, "do not feed the search index (`tidings reindex` catches up)")
	var prof profileFlags
	prof.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tidings sync [--full] [--tenant ID] [--contacts POLICY] EMAIL")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cp, err := mailsync.ParseContactPolicy(*policy)
	if err != nil {
		fmt.Fprintln(stderr, "tidings sync:", err)
		return 2
	}
	stopProf, err := prof.start()
	if err != nil {
		fmt.Fprintln(stderr, "tidings sync:", err)
		return 1
	}
	defer func() {
		if err := stopProf(); err != nil {
			fmt.Fprintln(stderr, "tidings sync: profiles:", err)
		}
	}()
	env, err := openSyncEnv(ctx, stderr, func(d *mailsync.Deps) {
		d.ContactPolicy = cp
		if *noQuota {
			d.Quota.UnitsPerMinute = -1
		}
		if *noIndex {
			d.Indexer = nil
		}
	})
	if err != nil {
		fmt.Fprintln(stderr, "tidings sync:", err)
		return 1
	}
	defer env.Close()
	if err := syncUntilConsistent(ctx, env, *tenant, fs.Arg(0), *full, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "tidings sync:", err)
		return 1
	}
	return 0
}

// syncUntilConsistent runs one sync of the mailbox email with a progress
// bar on stderr and reports the consistent state it reached on stdout.
func syncUntilConsistent(ctx context.Context, env *syncEnv, tenant int64, email string, full bool, stdout, stderr io.Writer) error {
	tid, err := tenantFor(ctx, env.app.Store, tenant)
	if err != nil {
		return err
	}
	mb, err := env.app.Store.MailboxByEmail(ctx, tid, email)
	if err != nil {
		return fmt.Errorf("mailbox %s: %w (connect it with `tidings mailbox connect`)", email, err)
	}
	progress, finish := progressBar(stderr, mb.Email)
	start := time.Now()
	err = env.syncer.Run(ctx, tid, mb.ID, full, progress)
	finish()
	switch {
	case errors.Is(err, mailsync.ErrBusy):
		return errors.New("a worker is syncing this mailbox right now; try again later")
	case errors.Is(err, mailsync.ErrNeedsReauth):
		return fmt.Errorf("%s needs re-authorization: run `tidings mailbox connect %s`", mb.Email, mb.Email)
	case err != nil:
		return err
	}
	after, err := env.app.Store.GetMailbox(ctx, tid, mb.ID)
	if err != nil {
		return err
	}
	ids, err := env.app.Store.GmailIDs(ctx, tid, mb.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s consistent at history id %d: %d messages (%s)\n", mb.Email, after.HistoryID, len(ids), time.Since(start).Round(time.Millisecond))
	return nil
}

// progressBar draws a sync's progress on w: progress is the Syncer's
// callback (total is 0 until Gmail's estimate is known), finish ends the
// bar's line.
func progressBar(w io.Writer, desc string) (progress func(done, total int64), finish func()) {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("msg"),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetPredictTime(true))
	var lastTotal int64 = -1
	progress = func(done, total int64) {
		if total != lastTotal {
			if total > 0 {
				bar.ChangeMax64(total)
			}
			lastTotal = total
		}
		_ = bar.Set64(done)
	}
	finish = func() {
		_ = bar.Finish()
		fmt.Fprintln(w)
	}
	return progress, finish
}
