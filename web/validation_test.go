package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tidings/models"
)

// TestValidationSameForUIAndAPI (finding 9): the inputs the UI used to
// store are refused by UI and API alike, with the field named, and
// nothing is stored.
func TestValidationSameForUIAndAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		a := seedTenant(t, store, "alpha")
		b := e.loginAs(a)
		many := func(n int, f string) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf(f, i)
			}
			return out
		}
		type in struct {
			name    string
			kind    string // accounts or contacts
			fields  map[string][]string
			invalid string // the field the API names
		}
		for _, c := range []in{
			{"domain dot", "accounts", map[string][]string{"name": {"X"}, "domains": {"."}}, "domains[0]"},
			{"domain double dot", "accounts", map[string][]string{"name": {"X"}, "domains": {"a..b"}}, "domains[0]"},
			{"domain no dot", "accounts", map[string][]string{"name": {"X"}, "domains": {"localhost"}}, "domains[0]"},
			{"website javascript", "accounts", map[string][]string{"name": {"X"}, "website": {"javascript:alert(1)"}}, "website"},
			{"website data", "accounts", map[string][]string{"name": {"X"}, "website": {"data:text/html,hi"}}, "website"},
			{"NUL in name", "accounts", map[string][]string{"name": {"X\x00Y"}}, "name"},
			{"too many domains", "accounts", map[string][]string{"name": {"X"}, "domains": many(models.MaxDomainsPer+1, "d%d.example")}, "domains"},
			{"email at only", "contacts", map[string][]string{"first_name": {"X"}, "emails": {"@"}}, "emails[0]"},
			{"email two ats", "contacts", map[string][]string{"first_name": {"X"}, "emails": {"a@b@c.example"}}, "emails[0]"},
			{"email bad domain", "contacts", map[string][]string{"first_name": {"X"}, "emails": {"a@b..c"}}, "emails[0]"},
			{"NUL in first name", "contacts", map[string][]string{"first_name": {"X\x00"}}, "first_name"},
			{"long name", "contacts", map[string][]string{"first_name": {strings.Repeat("x", models.MaxNameLen+1)}}, "first_name"},
			{"too many emails", "contacts", map[string][]string{"first_name": {"X"}, "emails": many(models.MaxEmailsPer+1, "p%d@x.example")}, "emails"},
		} {
			t.Run(c.name, func(t *testing.T) {
				body := map[string]any{}
				form := url.Values{}
				for k, v := range c.fields {
					if k == "domains" || k == "emails" {
						body[k] = v
						form.Set(k, strings.Join(v, ","))
					} else {
						body[k] = v[0]
						form.Set(k, v[0])
					}
				}
				js, _ := json.Marshal(body)
				resp, out := e.call("POST", "/api/"+c.kind, a.Token, string(js))
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != problemType || !strings.Contains(string(out), `"name":"`+c.invalid+`"`) {
					t.Errorf("API: %d %s", resp.StatusCode, out)
				}
				if resp, _ := b.post("/"+c.kind, form); resp.StatusCode != http.StatusUnprocessableEntity {
					t.Errorf("UI: %d", resp.StatusCode)
				}
			})
		}
		// Only the seeded rows exist.
		if _, n, _ := store.ListAccounts(t.Context(), a.TenantID, models.Page{}); n != 1 {
			t.Errorf("%d accounts stored", n)
		}
		if _, n, _ := store.ListContacts(t.Context(), a.TenantID, models.Page{}); n != 1 {
			t.Errorf("%d contacts stored", n)
		}
		// Good input is normalized the same way on both paths.
		resp, out := e.call("POST", "/api/accounts", a.Token, `{"name":"Good","website":"good.example","domains":["WWW.Good.Example"]}`)
		if resp.StatusCode != http.StatusCreated || !strings.Contains(string(out), `"website":"https://good.example"`) || !strings.Contains(string(out), `"good.example"`) {
			t.Errorf("good account: %d %s", resp.StatusCode, out)
		}
	})
}
