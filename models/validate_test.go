package models_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"tidings/models"
)

func TestCheckDomainAddressWebsite(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"example.com", true}, {"a-b.example.co.uk", true}, {"xn--mller-kva.example", true}, {"müller.example", true},
		{"", false}, {".", false}, {"a..b", false}, {"localhost", false}, {"-a.example", false}, {"a-.example", false},
		{"a b.example", false}, {"a@b.example", false}, {strings.Repeat("a", 64) + ".example", false},
		{strings.Repeat("abcdefghi.", 26) + "example", false}, {"a\x00.example", false}, {"\xff.example", false},
	} {
		if err := models.CheckDomain(c.in); (err == nil) != c.ok {
			t.Errorf("CheckDomain(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"ann@example.com", true}, {"a.b+tag@sub.example.org", true},
		{"@", false}, {"a@b@c.example", false}, {"@example.com", false}, {"ann@", false}, {"ann@localhost", false},
		{"Ann <ann@example.com>", false}, {"ann@example.com, bob@example.com", false}, {"an n@example.com", false},
		{"ann\x00@example.com", false}, {strings.Repeat("a", 250) + "@example.com", false},
	} {
		if err := models.CheckAddress(c.in); (err == nil) != c.ok {
			t.Errorf("CheckAddress(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", ""}, {"example.com", "https://example.com"}, {"http://example.com/a?b=c", "http://example.com/a?b=c"},
		{"https://localhost:8080", "https://localhost:8080"},
		{"javascript:alert(1)", "!"}, {"data:text/html,x", "!"}, {"ftp://example.com", "!"}, {"https://", "!"},
		{"https://user:pw@example.com", "!"}, {"https://a..b/", "!"}, {"//example.com", "!"},
	} {
		got, err := models.NormalizeWebsite(c.in)
		if c.want == "!" {
			if err == nil {
				t.Errorf("NormalizeWebsite(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeWebsite(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
}

// FuzzValidate: whatever a client sends, validation neither panics nor
// lets through a NUL, invalid UTF-8 or a non-http(s) website.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"example.com", "a@b.example", "javascript:alert(1)", "\x00", "\xff", "a..b", "https://x.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := models.Account{Name: s, Website: s, Domains: []models.AccountDomain{{Domain: s}}}
		if a.Validate() == nil {
			for _, v := range []string{a.Name, a.Website, a.Domains[0].Domain} {
				if strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
					t.Fatalf("accepted %q", v)
				}
			}
			if !strings.HasPrefix(a.Website, "http://") && !strings.HasPrefix(a.Website, "https://") {
				t.Fatalf("accepted website %q", a.Website)
			}
		}
		c := models.Contact{FirstName: s, Emails: []models.ContactEmail{{Address: s}}}
		if c.Validate() == nil && (strings.ContainsRune(c.FirstName, 0) || strings.Count(c.Emails[0].Address, "@") != 1) {
			t.Fatalf("accepted contact %+v", c)
		}
	})
}
