package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/search"
)

// runSearch implements `tidings search [--mailbox EMAIL] QUERY`: one JSON
// object per hit on stdout, the total on stderr.
func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mailbox := fs.String("mailbox", "", "search only this mailbox (its email address)")
	tenant := fs.Int64("tenant", 0, "tenant id (default: the only tenant)")
	size := fs.Int("n", 20, "number of hits")
	sortBy := fs.String("sort", "relevance", "relevance, date_desc or date_asc")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tidings search [--mailbox EMAIL] [--n N] [--sort S] QUERY")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	query := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(query) == "" {
		fs.Usage()
		return 2
	}
	order, err := search.ParseSort(*sortBy)
	if err != nil {
		fmt.Fprintln(stderr, "tidings search:", err)
		return 2
	}
	a, err := openWithIndex(ctx, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "tidings search:", err)
		return 1
	}
	defer a.Close()
	tid, err := tenantFor(ctx, a.Store, *tenant)
	if err != nil {
		fmt.Fprintln(stderr, "tidings search:", err)
		return 1
	}
	req := search.Request{Query: query, Size: *size, Sort: order, Now: time.Now()}
	if *mailbox != "" {
		mb, err := a.Store.MailboxByEmail(ctx, tid, *mailbox)
		if err != nil {
			fmt.Fprintf(stderr, "tidings search: mailbox %s: %v\n", *mailbox, err)
			return 1
		}
		req.MailboxIDs = []int64{mb.ID}
	}
	res, err := a.Indexer.Search(ctx, tid, req)
	var syn *search.SyntaxError
	if errors.As(err, &syn) {
		fmt.Fprintln(stderr, "tidings search: bad query:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "tidings search:", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	for _, h := range res.Hits {
		if err := enc.Encode(h); err != nil {
			fmt.Fprintln(stderr, "tidings search:", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "%s hits in all\n", res.TotalText())
	return 0
}

// openWithIndex opens the store and the search index from the environment.
func openWithIndex(ctx context.Context, stderr io.Writer) (*app.App, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return app.Open(ctx, cfg, logger, app.Options{Search: true})
}
