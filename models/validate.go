package models

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ValidationError is one rejected field of a write: which field and why,
// in words meant for the person who sent it. The UI shows Reason next to
// the form, the API lists it under "invalid-params" (RFC 9457 §3).
type ValidationError struct {
	Field  string
	Reason string
}

func (e ValidationError) Error() string { return e.Field + " " + e.Reason }

// ValidationErrors is the error every Store write returns for client
// mistakes; it is never wrapped around database failures, so callers map it
// to 4xx and everything else to 5xx. Use errors.As to get it.
type ValidationErrors []ValidationError

func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return "models: invalid: " + strings.Join(parts, "; ")
}

// AsValidation extracts the validation errors of err, if any.
func AsValidation(err error) (ValidationErrors, bool) {
	var v ValidationErrors
	if errors.As(err, &v) && len(v) > 0 {
		return v, true
	}
	return nil, false
}

// Bounds on what one record may hold. They keep a single request from
// storing megabytes of names or thousands of index rows.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 100_000
	MaxDomainsPer     = 50
	MaxEmailsPer      = 50
	maxURLLen         = 2048
)

// validator collects field errors.
type validator struct{ errs ValidationErrors }

func (v *validator) add(field, reason string, args ...any) {
	v.errs = append(v.errs, ValidationError{Field: field, Reason: fmt.Sprintf(reason, args...)})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

// text checks a free-text field: valid UTF-8, no NUL or other C0 control
// characters except tab and newlines, at most max bytes.
func (v *validator) text(field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		v.add(field, "is not valid UTF-8")
	case len(s) > max:
		v.add(field, "is longer than %d bytes", max)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f }):
		v.add(field, "contains control characters")
	}
}

// CheckDomain validates a (normalized) domain name: at least two labels of
// letters, digits and hyphens, each 1–63 octets, 253 in all (RFC 1035
// §2.3.4, RFC 5890 for internationalized names, checked through IDNA).
func CheckDomain(d string) error {
	if d == "" {
		return errors.New("is empty")
	}
	if !utf8.ValidString(d) {
		return errors.New("is not valid UTF-8")
	}
	ascii, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return errors.New("is not a domain name")
	}
	if len(ascii) > 253 {
		return errors.New("is longer than 253 characters")
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return errors.New("needs a dot (example.com)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("is not a domain name")
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return errors.New("is not a domain name")
			}
		}
	}
	return nil
}

// CheckAddress validates a (normalized) email address: exactly one
// addr-spec as net/mail parses it (RFC 5322 §3.4.1), no display name, a
// valid domain, at most 254 octets (RFC 5321 §4.5.3.1.3 path limit).
func CheckAddress(a string) error {
	if a == "" {
		return errors.New("is empty")
	}
	if len(a) > 254 || !utf8.ValidString(a) {
		return errors.New("is not an email address")
	}
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" || !strings.EqualFold(p.Address, a) {
		return errors.New("is not an email address")
	}
	at := strings.LastIndexByte(a, '@')
	if at < 1 {
		return errors.New("is not an email address")
	}
	if err := CheckDomain(a[at+1:]); err != nil {
		return errors.New("has no valid domain")
	}
	return nil
}

// NormalizeWebsite checks a website and returns it as an absolute http(s)
// URL; a bare host name gets https://. Other schemes (javascript:, data:)
// are rejected: the UI renders websites as links.
func NormalizeWebsite(w string) (string, error) {
	w = strings.TrimSpace(w)
	if w == "" {
		return "", nil
	}
	if len(w) > maxURLLen || !utf8.ValidString(w) {
		return "", errors.New("is not a web address")
	}
	if !strings.Contains(w, "://") && !strings.Contains(w, ":") {
		w = "https://" + w
	}
	u, err := url.Parse(w)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", errors.New("must be an http or https address")
	}
	if err := CheckDomain(strings.ToLower(u.Hostname())); err != nil && u.Hostname() != "localhost" {
		return "", errors.New("has no valid host name")
	}
	return u.String(), nil
}

// Validate normalizes and checks an account before it is stored.
func (a *Account) Validate() error {
	var v validator
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" {
		v.add("name", "is required")
	}
	v.text("name", a.Name, MaxNameLen)
	if w, err := NormalizeWebsite(a.Website); err != nil {
		v.add("website", "%s", err.Error())
	} else {
		a.Website = w
	}
	if len(a.Domains) > MaxDomainsPer {
		v.add("domains", "may hold at most %d domains", MaxDomainsPer)
	}
	for i := range a.Domains {
		a.Domains[i].Domain = NormalizeDomain(a.Domains[i].Domain)
		if err := CheckDomain(a.Domains[i].Domain); err != nil {
			v.add(fmt.Sprintf("domains[%d]", i), "%s", err.Error())
		}
	}
	return v.err()
}

// Validate normalizes and checks a contact before it is stored.
func (c *Contact) Validate() error {
	var v validator
	c.FirstName, c.LastName = strings.TrimSpace(c.FirstName), strings.TrimSpace(c.LastName)
	v.text("first_name", c.FirstName, MaxNameLen)
	v.text("last_name", c.LastName, MaxNameLen)
	if len(c.Emails) > MaxEmailsPer {
		v.add("emails", "may hold at most %d addresses", MaxEmailsPer)
	}
	for i := range c.Emails {
		c.Emails[i].Address = NormalizeAddress(c.Emails[i].Address)
		if err := CheckAddress(c.Emails[i].Address); err != nil {
			v.add(fmt.Sprintf("emails[%d]", i), "%s", err.Error())
		}
	}
	if c.FirstName == "" && c.LastName == "" && len(c.Emails) == 0 {
		v.add("first_name", "a contact needs a name or an email address")
	}
	return v.err()
}

// Validate normalizes and checks a case's own fields (references are
// checked against the tenant by the Store).
func (c *Case) Validate() error {
	var v validator
	c.Subject = strings.TrimSpace(c.Subject)
	if c.Subject == "" {
		v.add("subject", "is required")
	}
	v.text("subject", c.Subject, MaxNameLen*5)
	v.text("description", c.Description, MaxDescriptionLen)
	if c.Status == "" {
		c.Status = CaseNew
	}
	if c.Priority == "" {
		c.Priority = PriorityNormal
	}
	if !c.Status.Valid() {
		v.add("status", "must be one of new, open, pending, closed")
	}
	if !c.Priority.Valid() {
		v.add("priority", "must be one of low, normal, high, urgent")
	}
	return v.err()
}

// checkPassword enforces the password policy for new passwords.
func checkPassword(field, pw string) error {
	switch {
	case len(pw) < 10:
		return ValidationErrors{{Field: field, Reason: "must be at least 10 characters"}}
	case len(pw) > 1024:
		return ValidationErrors{{Field: field, Reason: "must be at most 1024 bytes"}}
	}
	return nil
}
