// Command tidings is the admin CLI: migrate the database, decode messages,
// connect and sync mailboxes, search, reindex and benchmark, and manage
// organizations and users. Each
// subcommand parses its own flags and hands over to the packages.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"tidings/internal/config"
)

// command is one subcommand. run returns the process exit status.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"migrate": {"apply database migrations (idempotent)", runMigrate},
		"decode":  {"decode .eml files and print one JSON object per file", runDecode},
		"mailbox": {"connect a Gmail mailbox (OAuth loopback flow) or list mailboxes", runMailbox},
		"sync":    {"sync a mailbox in the foreground until it is consistent", runSync},
		"search":  {"search mail with Gmail-style queries; prints JSON hits", runSearch},
		"reindex": {"rebuild the search index from the database, or check it for drift", runReindex},
		"bench":   {"run a benchmark: search, ingest", runBench},
		"org":     {"create an organization with its first admin (headless set-up)", runOrg},
		"user":    {"list users, set a password, invite, change a role or remove a member", runUser},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tidings: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: tidings COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nConfiguration comes from the environment (see README.md):")
	for _, v := range config.Vars {
		def := v.Default
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(w, "  %-28s %s (default: %s)\n", v.Name, v.Help, def)
	}
}

// runBench dispatches `tidings bench KIND`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && args[0] == "search":
		return runSearchBench(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "ingest":
		return runIngestBench(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: tidings bench search|ingest [flags]")
	return 2
}
