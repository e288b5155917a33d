package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestOrgAndUserCommands: a headless set-up creates an organization and
// its admin, and the user commands act on it.
func TestOrgAndUserCommands(t *testing.T) {
	t.Setenv("TIDINGS_DATA_DIR", t.TempDir())
	for _, k := range []string{"DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "TIDINGS_SECRET_KEY"} {
		t.Setenv(k, "")
	}
	cli := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != want {
			t.Fatalf("tidings %s: exit %d, want %d; stderr: %s", strings.Join(args, " "), code, want, errb.String())
		}
		return out.String()
	}
	out := cli(0, "org", "create", "--name", "Acme", "--admin", "Boss@Acme.example")
	m := regexp.MustCompile(`password for boss@acme.example \(shown once\): (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "organization 1 \"Acme\"") {
		t.Fatalf("org create: %s", out)
	}
	cli(1, "org", "create", "--name", "", "--admin", "x@acme.example")
	cli(1, "org", "create", "--name", "Bad", "--admin", "a@b@c")

	out = cli(0, "user", "invite", "--org", "1", "--role", "admin", "new@acme.example")
	if !regexp.MustCompile(`/invitations/[A-Za-z0-9_-]{40,}`).MatchString(out) {
		t.Errorf("invite: %s", out)
	}
	out = cli(0, "user", "list")
	if !strings.Contains(out, "boss@acme.example") || !strings.Contains(out, "1:admin") || strings.Contains(out, "new@acme.example") {
		t.Errorf("user list (the invitee is no user before accepting): %s", out)
	}
	out = cli(0, "user", "set-password", "boss@acme.example")
	if !strings.Contains(out, "new password (shown once)") {
		t.Errorf("set-password: %s", out)
	}
	// The last admin can be neither demoted nor removed.
	cli(1, "user", "role", "--org", "1", "boss@acme.example", "member")
	cli(1, "user", "remove", "--org", "1", "boss@acme.example")
	cli(1, "user", "remove", "--org", "1", "nobody@acme.example")
	cli(2, "user", "remove", "boss@acme.example")
}
