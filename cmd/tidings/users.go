package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/models"
)

// The organization and user commands are for headless set-ups and for the
// server's operator: they act with the operator's authority (no session),
// through the same Store methods as the web UI.

// openStore opens the configured database, migrated.
func openStore(ctx context.Context, stderr io.Writer) (*app.App, *config.Config, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.Open(ctx, cfg, logger, app.Options{})
	if err != nil {
		return nil, nil, err
	}
	return a, cfg, nil
}

// readPassword takes the password from stdin (one line) when asked to, or
// generates one that is printed once.
func readPassword(fromStdin bool, stdin io.Reader) (pw string, generated bool, err error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("read password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}
	b := make([]byte, 15)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b), true, nil
}

// runOrg: tidings org create --name NAME --admin EMAIL.
func runOrg(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: tidings org create --name NAME --admin EMAIL [--admin-name NAME] [--password-stdin]")
		return 2
	}
	fs := flag.NewFlagSet("org create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "organization name")
	admin := fs.String("admin", "", "email of the first admin")
	adminName := fs.String("admin-name", "", "the admin's name (new users only)")
	pwStdin := fs.Bool("password-stdin", false, "read the admin's password from stdin instead of generating one")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	a, _, err := openStore(ctx, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "tidings org create:", err)
		return 1
	}
	defer a.Close()
	pw, generated, err := readPassword(*pwStdin, os.Stdin)
	if err != nil {
		fmt.Fprintln(stderr, "tidings org create:", err)
		return 1
	}
	t, u, created, err := a.Store.CreateOrganization(ctx, *name, *admin, *adminName, pw)
	if err != nil {
		fmt.Fprintln(stderr, "tidings org create:", err)
		return 1
	}
	fmt.Fprintf(stdout, "organization %d %q created with admin %s\n", t.ID, t.Name, u.Email)
	switch {
	case created && generated:
		fmt.Fprintf(stdout, "password for %s (shown once): %s\n", u.Email, pw)
	case !created:
		fmt.Fprintf(stdout, "%s already had an account; its password is unchanged\n", u.Email)
	}
	return 0
}

// runUser dispatches the user subcommands.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = `usage: tidings user list
       tidings user set-password [--password-stdin] EMAIL
       tidings user invite --org ID [--role member|admin] EMAIL
       tidings user role --org ID EMAIL ROLE
       tidings user remove --org ID EMAIL`
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	org := fs.Int64("org", 0, "organization id")
	role := fs.String("role", "member", "role: member or admin")
	pwStdin := fs.Bool("password-stdin", false, "read the password from stdin instead of generating one")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	rest := fs.Args()
	want := map[string]int{"list": 0, "set-password": 1, "invite": 1, "role": 2, "remove": 1}
	n, ok := want[args[0]]
	if !ok || len(rest) != n || (*org == 0 && args[0] != "list" && args[0] != "set-password") {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	a, cfg, err := openStore(ctx, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "tidings user:", err)
		return 1
	}
	defer a.Close()
	if err := userCommand(ctx, a.Store, cfg, args[0], rest, *org, models.Role(*role), *pwStdin, stdout); err != nil {
		fmt.Fprintf(stderr, "tidings user %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func userCommand(ctx context.Context, s *models.Store, cfg *config.Config, cmd string, args []string, org int64, role models.Role, pwStdin bool, stdout io.Writer) error {
	switch cmd {
	case "list":
		return listUsers(ctx, s, stdout)
	case "set-password":
		pw, generated, err := readPassword(pwStdin, os.Stdin)
		if err != nil {
			return err
		}
		u, err := s.SetPasswordByEmail(ctx, args[0], pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s set; their sessions have ended\n", u.Email)
		if generated {
			fmt.Fprintf(stdout, "new password (shown once): %s\n", pw)
		}
		return nil
	case "invite":
		if _, err := s.GetTenant(ctx, org); err != nil {
			return fmt.Errorf("organization %d: %w", org, err)
		}
		// The invitation is the operator's: it names the tenant's oldest admin as inviter.
		ms, err := s.Members(ctx, org)
		if err != nil {
			return err
		}
		var by int64
		for _, m := range ms {
			if m.Role == models.RoleAdmin {
				by = m.ID
				break
			}
		}
		tok, inv, err := s.CreateInvitation(ctx, org, by, args[0], role, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "invitation for %s as %s; link (shown once, valid 7 days):\n%s/invitations/%s\n",
			inv.Email, inv.Role, strings.TrimSuffix(cfg.BaseURL, "/"), tok)
		return nil
	}
	u, err := s.UserByEmail(ctx, args[0])
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	if cmd == "role" {
		if err := s.SetRole(ctx, org, u.ID, models.Role(args[1])); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is now %s of organization %d; their sessions there have ended\n", u.Email, args[1], org)
		return nil
	}
	if err := s.RemoveMember(ctx, org, u.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s removed from organization %d\n", u.Email, org)
	return nil
}

func listUsers(ctx context.Context, s *models.Store, stdout io.Writer) error {
	us, ms, err := s.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tORGANIZATIONS")
	for _, u := range us {
		var orgs []string
		for _, m := range ms[u.ID] {
			orgs = append(orgs, fmt.Sprintf("%d:%s", m.TenantID, m.Role))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, strings.Join(orgs, ","))
	}
	return tw.Flush()
}
