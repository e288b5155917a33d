package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/oauth2"

	"tidings/models"
	mailsync "tidings/sync"
)

func runMailbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: tidings mailbox connect [--tenant ID] [--owner USER_ID] EMAIL")
		fmt.Fprintln(stderr, "       tidings mailbox list [--tenant ID]")
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "connect":
		return runMailboxConnect(ctx, args[1:], stdout, stderr)
	case "list":
		return runMailboxList(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage()
		return 0
	}
	fmt.Fprintf(stderr, "tidings mailbox: unknown subcommand %q\n", args[0])
	usage()
	return 2
}

// runMailboxConnect runs the OAuth loopback flow for installed apps
// (RFC 8252 §7.3, with PKCE per RFC 7636): it listens on 127.0.0.1,
// prints the consent URL and waits for the redirect. Against the Gmail
// emulator consent is automatic, so the command visits the URL itself
// and completes unattended.
func runMailboxConnect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailbox connect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.Int64("tenant", 0, "tenant id (default: the only tenant)")
	owner := fs.Int64("owner", 0, "id of the user who owns the mailbox (0: none)")
	wait := fs.Duration("timeout", 10*time.Minute, "how long to wait for the consent")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || !strings.Contains(fs.Arg(0), "@") {
		fmt.Fprintln(stderr, "usage: tidings mailbox connect [--tenant ID] [--owner USER_ID] EMAIL")
		return 2
	}
	email := fs.Arg(0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "tidings mailbox connect: listen for the OAuth redirect:", err)
		return 1
	}
	redirect := fmt.Sprintf("http://%s/oauth2/callback", ln.Addr())
	env, err := openSyncEnv(ctx, stderr, func(d *mailsync.Deps) { d.RedirectURL = redirect })
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, "tidings mailbox connect:", err)
		return 1
	}
	defer env.Close()
	tid, err := tenantFor(ctx, env.app.Store, *tenant)
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, "tidings mailbox connect:", err)
		return 1
	}

	state := rand.Text()
	verifier := oauth2.GenerateVerifier()
	authURL := env.syncer.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", email))
	got := make(chan oauthResult, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: oauthRedirect(state, got)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(stdout, "Open this URL in a browser and allow access to %s:\n\n  %s\n\nWaiting for the authorization…\n", email, authURL)
	if env.cfg.GmailEndpoint != "" {
		go func() {
			resp, err := http.Get(authURL)
			if err != nil {
				got <- oauthResult{err: fmt.Errorf("emulator consent: %w", err)}
				return
			}
			resp.Body.Close()
		}()
	}
	var res oauthResult
	select {
	case res = <-got:
	case <-ctx.Done():
		fmt.Fprintln(stderr, "tidings mailbox connect: interrupted")
		return 1
	case <-time.After(*wait):
		fmt.Fprintln(stderr, "tidings mailbox connect: no authorization within", *wait)
		return 1
	}
	if res.err != nil {
		fmt.Fprintln(stderr, "tidings mailbox connect:", res.err)
		return 1
	}
	mb, err := env.syncer.Connect(ctx, tid, *owner, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		fmt.Fprintln(stderr, "tidings mailbox connect:", err)
		return 1
	}
	if !strings.EqualFold(mb.Email, email) {
		fmt.Fprintf(stderr, "warning: you authorized %s, not %s; connected %s\n", mb.Email, email, mb.Email)
	}
	fmt.Fprintf(stdout, "Connected %s (mailbox %d). Run `tidings sync %s` or let the worker sync it.\n", mb.Email, mb.ID, mb.Email)
	return 0
}

// oauthResult is what the OAuth redirect brought: a code or an error.
type oauthResult struct {
	code string
	err  error
}

// oauthRedirect serves the loopback redirect URI: it checks the state
// (RFC 6749 §10.12), answers the browser and hands the first result to got.
func oauthRedirect(state string, got chan<- oauthResult) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res oauthResult
		switch {
		case q.Get("state") != state:
			res.err = errors.New("the redirect carried the wrong state (possible CSRF); start again")
		case q.Get("error") != "":
			res.err = fmt.Errorf("authorization refused: %s", q.Get("error"))
		case q.Get("code") == "":
			res.err = errors.New("the redirect carried no code")
		default:
			res.code = q.Get("code")
		}
		if res.err != nil {
			http.Error(w, res.err.Error(), http.StatusBadRequest)
		} else {
			fmt.Fprintln(w, "tidings is authorized. You can close this window.")
		}
		select {
		case got <- res:
		default:
		}
	})
}

func runMailboxList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailbox list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.Int64("tenant", 0, "tenant id (default: the only tenant)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	env, err := openSyncEnv(ctx, stderr, func(d *mailsync.Deps) {
		if d.ClientID == "" {
			d.ClientID = "unused" // listing needs no OAuth client
		}
	})
	if err != nil {
		fmt.Fprintln(stderr, "tidings mailbox list:", err)
		return 1
	}
	defer env.Close()
	tid, err := tenantFor(ctx, env.app.Store, *tenant)
	if err != nil {
		fmt.Fprintln(stderr, "tidings mailbox list:", err)
		return 1
	}
	mbs, err := env.app.Store.ListMailboxes(ctx, tid)
	if err != nil {
		fmt.Fprintln(stderr, "tidings mailbox list:", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tSTATE\tPROGRESS\tHISTORY ID\tRESYNCS\tLAST SYNC\tLAST ERROR")
	for _, m := range mbs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", m.ID, m.Email, state(m), progress(m), m.HistoryID, m.Resyncs, lastSync(m), oneLine(m.LastError))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

func state(m models.Mailbox) string {
	if m.NeedsReauth {
		return "needs re-authorization"
	}
	if m.FullSyncHistoryID != 0 && m.SyncState != models.SyncFull {
		return string(m.SyncState) + " (full sync to resume)"
	}
	return string(m.SyncState)
}

func progress(m models.Mailbox) string {
	if m.ProgressTotal <= 0 {
		return fmt.Sprint(m.ProgressDone)
	}
	return fmt.Sprintf("%d/%d (%d%%)", m.ProgressDone, m.ProgressTotal, m.ProgressDone*100/m.ProgressTotal)
}

func lastSync(m models.Mailbox) string {
	if m.LastSyncAt == nil {
		return "never"
	}
	return m.LastSyncAt.UTC().Format(time.RFC3339)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "..."
	}
	if s == "" {
		return "-"
	}
	return s
}
