package sync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"tidings/models"
)

// ContactPolicy chooses which message participants become CRM contacts
// automatically. Mail is always linked to existing contacts by address
// and to accounts by domain (through MessageAddress); the policy only
// decides what is created.
type ContactPolicy string

// Contact policies.
const (
	// ContactsNone never creates contacts.
	ContactsNone ContactPolicy = "none"
	// ContactsCorrespondents creates contacts for the people the mailbox
	// owner wrote to (recipients of SENT mail): people who matter to the
	// business, not whoever sends mail.
	ContactsCorrespondents ContactPolicy = "correspondents"
	// ContactsAll creates contacts for every participant of non-bulk mail.
	ContactsAll ContactPolicy = "all"
)

func (p ContactPolicy) valid() bool {
	return p == ContactsNone || p == ContactsCorrespondents || p == ContactsAll
}

// ParseContactPolicy parses a policy name.
func ParseContactPolicy(s string) (ContactPolicy, error) {
	p := ContactPolicy(strings.ToLower(strings.TrimSpace(s)))
	if p == "" {
		return ContactsCorrespondents, nil
	}
	if !p.valid() {
		return "", fmt.Errorf("sync: unknown contact policy %q (want none, correspondents or all)", s)
	}
	return p, nil
}

// freeMailDomains are consumer mail providers: a contact there is a
// person, not a company, so no account is created for the domain
// (HelloLily skips them the same way). Entries ending in "." match any
// top-level domain (yahoo.co.uk, hotmail.fr …).
var freeMailDomains = []string{
	"gmail.com", "googlemail.com", "yahoo.", "ymail.com", "rocketmail.com", "outlook.", "hotmail.", "live.",
	"msn.com", "passport.com", "aol.com", "aim.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.",
	"pm.me", "gmx.", "web.de", "t-online.de", "freenet.de", "yandex.", "mail.ru", "inbox.ru", "list.ru", "bk.ru",
	"zoho.com", "zohomail.com", "qq.com", "163.com", "126.com", "sina.com", "naver.com", "hanmail.net", "daum.net",
	"fastmail.", "hey.com", "tutanota.", "tuta.io", "mail.com", "email.com", "orange.fr", "laposte.net", "free.fr",
	"sfr.fr", "wanadoo.fr", "libero.it", "virgilio.it", "btinternet.com", "comcast.net", "verizon.net", "att.net",
	"sbcglobal.net", "cox.net", "rediffmail.com", "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "onet.pl",
	"ziggo.nl", "kpnmail.nl", "home.nl", "planet.nl", "telenet.be", "skynet.be", "bluewin.ch", "uol.com.br",
	"bol.com.br", "terra.com.br",
}

// IsFreeMailDomain reports whether domain belongs to a consumer mail
// provider.
func IsFreeMailDomain(domain string) bool {
	d := models.NormalizeDomain(domain)
	for _, f := range freeMailDomains {
		if strings.HasSuffix(f, ".") {
			if strings.HasPrefix(d, f) && !strings.Contains(d[len(f):], "..") {
				return true
			}
			continue
		}
		if d == f {
			return true
		}
	}
	return false
}

// isAutomatedAddress catches role addresses that never belong to a person.
func isAutomatedAddress(addr string) bool {
	local := addr[:max(strings.LastIndexByte(addr, '@'), 0)]
	for _, p := range []string{"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "mailer-daemon", "postmaster", "bounce", "notifications", "notification"} {
		if strings.Contains(local, p) {
			return true
		}
	}
	return false
}

func (r *run) ownDomain(ctx context.Context, domain string) (bool, error) {
	tenant, err := r.loadTenant(ctx)
	if err != nil {
		return false, err
	}
	d := models.NormalizeDomain(domain)
	for _, own := range tenant.Domains {
		o := models.NormalizeDomain(own)
		if d == o || strings.HasSuffix(d, "."+o) {
			return true, nil
		}
	}
	owner := r.mb.Email
	if at := strings.LastIndexByte(owner, '@'); at >= 0 && !IsFreeMailDomain(owner[at+1:]) && d == models.NormalizeDomain(owner[at+1:]) {
		return true, nil
	}
	return false, nil
}

// loadTenant reads the run's tenant once; the write lanes of a full sync
// (pagewriter.go) may ask for it at the same time.
func (r *run) loadTenant(ctx context.Context) (*models.Tenant, error) {
	r.tenantMu.Lock()
	defer r.tenantMu.Unlock()
	if r.tenant == nil {
		t, err := r.s.store.GetTenant(ctx, r.tenantID)
		if err != nil {
			return nil, fmt.Errorf("sync: tenant %d: %w", r.tenantID, err)
		}
		r.tenant = t
	}
	return r.tenant, nil
}

type candidate struct {
	addr, domain, name string
}

// applyContactPolicy creates contacts (and accounts for their company
// domains) for the participants the policy selects. Bulk and automated
// mail (List-Unsubscribe, List-Id, Precedence, Auto-Submitted: decoded as
// Bulk) and spam never create anything (Twenty #3933, #3938); neither do
// the tenant's own domains (Twenty #4008) nor the mailbox owner.
func (r *run) applyContactPolicy(ctx context.Context, writes []models.MessageWrite) error {
	if r.s.policy == ContactsNone {
		return nil
	}
	byAddr := r.contactCandidates(writes)
	if len(byAddr) == 0 {
		return nil
	}
	todo, domains, err := r.unknownContacts(ctx, byAddr)
	if err != nil || len(todo) == 0 {
		return err
	}
	accounts, err := r.s.store.AccountsByDomains(ctx, r.tenantID, domains)
	if err != nil {
		return err
	}
	return r.createContacts(ctx, todo, accounts)
}

// contactCandidates are the participants of a page of messages the policy
// selects, by address, with a display name when any message gave one.
func (r *run) contactCandidates(writes []models.MessageWrite) map[string]candidate {
	byAddr := map[string]candidate{}
	owner := models.NormalizeAddress(r.mb.Email)
	for _, w := range writes {
		if w.Message.Bulk || slices.Contains(w.LabelIDs, "SPAM") || w.Message.DecodeError != "" {
			continue
		}
		sent := slices.Contains(w.LabelIDs, "SENT")
		if r.s.policy == ContactsCorrespondents && !sent {
			continue
		}
		for _, a := range w.Addresses {
			if r.s.policy == ContactsCorrespondents && a.Role == "from" {
				continue
			}
			if a.Address == owner || isAutomatedAddress(a.Address) {
				continue
			}
			if c, ok := byAddr[a.Address]; !ok || (c.name == "" && a.Name != "") {
				byAddr[a.Address] = candidate{addr: a.Address, domain: a.Domain, name: a.Name}
			}
		}
	}
	return byAddr
}

// unknownContacts keeps the candidates that are neither contacts yet nor
// colleagues (the tenant's own domains), in address order, with the set of
// their domains.
func (r *run) unknownContacts(ctx context.Context, byAddr map[string]candidate) ([]candidate, []string, error) {
	addrs := slices.Sorted(maps.Keys(byAddr))
	existing, err := r.s.store.ContactsByAddresses(ctx, r.tenantID, addrs)
	if err != nil {
		return nil, nil, err
	}
	var todo []candidate
	domainSet := map[string]bool{}
	for _, a := range addrs {
		if _, ok := existing[a]; ok {
			continue
		}
		c := byAddr[a]
		own, err := r.ownDomain(ctx, c.domain)
		if err != nil {
			return nil, nil, err
		}
		if own {
			continue // colleagues are users, not CRM contacts
		}
		todo = append(todo, c)
		domainSet[c.domain] = true
	}
	return todo, slices.Collect(maps.Keys(domainSet)), nil
}

// createContacts creates a contact per candidate, with the account of its
// company domain (created when needed).
func (r *run) createContacts(ctx context.Context, todo []candidate, accounts map[string]int64) error {
	for _, c := range todo {
		accID, err := r.accountFor(ctx, c.domain, accounts)
		if err != nil {
			return err
		}
		first, last := splitName(c.name)
		ct := &models.Contact{FirstName: first, LastName: last, AccountID: accID, AutoCreated: true,
			Emails: []models.ContactEmail{{Address: c.addr}}}
		err = r.s.store.CreateContact(ctx, r.tenantID, ct)
		if _, invalid := models.AsValidation(err); invalid {
			// An address or name the CRM does not accept (no valid
			// domain, control characters): the mail is stored all the
			// same, only no contact is created for it.
			continue
		}
		if err != nil && !errors.Is(err, models.ErrConflict) {
			return fmt.Errorf("sync: create contact: %w", err)
		}
	}
	return nil
}

// accountFor returns the account of a company domain, creating it when
// needed; nil for free-mail domains.
func (r *run) accountFor(ctx context.Context, domain string, known map[string]int64) (*int64, error) {
	if id, ok := known[domain]; ok {
		return &id, nil
	}
	if domain == "" || IsFreeMailDomain(domain) {
		return nil, nil
	}
	a := &models.Account{Name: domain, Website: "https://" + domain, Domains: []models.AccountDomain{{Domain: domain}}}
	err := r.s.store.CreateAccount(ctx, r.tenantID, a)
	if _, invalid := models.AsValidation(err); invalid {
		return nil, nil // not a domain the CRM accepts: no account
	}
	if errors.Is(err, models.ErrConflict) {
		// Another worker created it meanwhile.
		got, err := r.s.store.AccountsByDomains(ctx, r.tenantID, []string{domain})
		if err != nil {
			return nil, err
		}
		if id, ok := got[domain]; ok {
			known[domain] = id
			return &id, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync: create account: %w", err)
	}
	known[domain] = a.ID
	return &a.ID, nil
}

// splitName splits a display name into first and last name.
func splitName(name string) (string, string) {
	name = strings.TrimSpace(strings.Trim(name, `"'`))
	if name == "" || strings.Contains(name, "@") {
		return "", ""
	}
	if first, last, ok := strings.Cut(name, ", "); ok && !strings.Contains(last, " ") {
		return last, first // "Doe, Jane"
	}
	i := strings.LastIndexByte(name, ' ')
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i+1:]
}
