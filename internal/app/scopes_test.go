package app_test

import (
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"tidings/internal/app"
	"tidings/internal/config"
	"tidings/internal/testenv"
)

// TestConnectURLScope: the consent URL a mailbox connects through asks for
// gmail.modify by default and for https://mail.google.com/ (the scope
// permanent delete needs) with TIDINGS_GMAIL_FULL_ACCESS=true.
func TestConnectURLScope(t *testing.T) {
	for _, c := range []struct {
		full, want string
	}{
		{"", "https://www.googleapis.com/auth/gmail.modify"},
		{"false", "https://www.googleapis.com/auth/gmail.modify"},
		{"true", "https://mail.google.com/"},
	} {
		t.Run("full="+c.full, func(t *testing.T) {
			cfg, err := config.Load(env(map[string]string{"TIDINGS_DATA_DIR": t.TempDir(), "TIDINGS_GMAIL_FULL_ACCESS": c.full,
				"GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "secret"}))
			if err != nil {
				t.Fatal(err)
			}
			a := &app.App{Config: cfg, Store: testenv.OpenSQLite(t), Registry: prometheus.NewRegistry()}
			s, err := a.NewSyncer("")
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(s.AuthCodeURL("state"))
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Query().Get("scope"); got != c.want {
				t.Errorf("consent URL asks for scope %q, want %q (%s)", got, c.want, u)
			}
		})
	}
}
