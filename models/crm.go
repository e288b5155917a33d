package models

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"
)

// NormalizeDomain lower-cases a domain and strips a leading "@" or "www.".
func NormalizeDomain(d string) string {
	d = strings.ToLower(strings.TrimSpace(d))
	d = strings.TrimPrefix(d, "@")
	d = strings.TrimPrefix(d, "www.")
	return strings.TrimSuffix(d, ".")
}

// NormalizeAddress lower-cases an email address for matching.
func NormalizeAddress(a string) string { return strings.ToLower(strings.TrimSpace(a)) }

// CreateAccount stores a new account with its domains.
func (s *Store) CreateAccount(ctx context.Context, tenantID int64, a *Account) error {
	a.ID, a.TenantID = 0, tenantID
	if err := a.Validate(); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		domains := a.Domains
		a.Domains = nil
		if err := tx.Create(a).Error; err != nil {
			return fmt.Errorf("models: create account: %w", conflict(err))
		}
		a.Domains = domains
		return setAccountDomains(tx, a)
	})
}

func setAccountDomains(tx *gorm.DB, a *Account) error {
	if err := tx.Where("tenant_id = ? AND account_id = ?", a.TenantID, a.ID).Delete(&AccountDomain{}).Error; err != nil {
		return fmt.Errorf("models: account domains: %w", err)
	}
	seen := map[string]bool{}
	var rows []AccountDomain
	for _, d := range a.Domains {
		dom := NormalizeDomain(d.Domain)
		if dom == "" || seen[dom] {
			continue
		}
		seen[dom] = true
		rows = append(rows, AccountDomain{TenantID: a.TenantID, Domain: dom, AccountID: a.ID})
	}
	a.Domains = rows
	if len(rows) == 0 {
		return nil
	}
	if err := tx.Create(&rows).Error; err != nil {
		return fmt.Errorf("models: account domain already belongs to another account: %w", conflict(err))
	}
	// Contacts at these domains that have no account yet join this one.
	for _, d := range rows {
		err := tx.Model(&Contact{}).Where("tenant_id = ? AND account_id IS NULL", a.TenantID).
			Where("id IN (SELECT contact_id FROM contact_emails WHERE tenant_id = ? AND address LIKE ?)", a.TenantID, "%@"+d.Domain).
			Update("account_id", a.ID).Error
		if err != nil {
			return fmt.Errorf("models: link contacts of %s: %w", d.Domain, err)
		}
	}
	return nil
}

// GetAccount loads an account of the tenant.
func (s *Store) GetAccount(ctx context.Context, tenantID, id int64) (*Account, error) {
	return getByID[Account](ctx, s, tenantID, id, "Domains")
}

// ListAccounts lists the tenant's accounts.
func (s *Store) ListAccounts(ctx context.Context, tenantID int64, p Page) ([]Account, int64, error) {
	return list[Account](ctx, s, tenantID, p, []string{"name", "website"}, "Domains")
}

// UpdateAccount writes name, website and domains of an existing account.
func (s *Store) UpdateAccount(ctx context.Context, tenantID int64, a *Account) error {
	a.TenantID = tenantID
	if err := a.Validate(); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := updateByID(ctx, tx, tenantID, a.ID, a, "name", "website", "updated_at"); err != nil {
			return err
		}
		return setAccountDomains(tx, a)
	})
}

// DeleteAccount deletes an account and its domains; its contacts and
// cases are kept and unlinked (the foreign keys do both).
func (s *Store) DeleteAccount(ctx context.Context, tenantID, id int64) error {
	return deleteByID[Account](ctx, s.db, tenantID, id)
}

// AccountByDomain finds the account owning an email domain.
func (s *Store) AccountByDomain(ctx context.Context, tenantID int64, domain string) (*Account, error) {
	var d AccountDomain
	if err := s.scoped(ctx, tenantID).Where("domain = ?", NormalizeDomain(domain)).First(&d).Error; err != nil {
		return nil, notFound(err)
	}
	return s.GetAccount(ctx, tenantID, d.AccountID)
}

// CreateContact stores a new contact with its addresses.
func (s *Store) CreateContact(ctx context.Context, tenantID int64, c *Contact) error {
	c.ID, c.TenantID = 0, tenantID
	if err := c.Validate(); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.in(tx).checkAccount(ctx, tenantID, c.AccountID); err != nil {
			return err
		}
		emails := c.Emails
		c.Emails = nil
		if err := tx.Create(c).Error; err != nil {
			return fmt.Errorf("models: create contact: %w", conflict(err))
		}
		c.Emails = emails
		if err := setContactEmails(tx, c); err != nil {
			return err
		}
		return linkContactToAccount(tx, c)
	})
}

func setContactEmails(tx *gorm.DB, c *Contact) error {
	if err := tx.Where("tenant_id = ? AND contact_id = ?", c.TenantID, c.ID).Delete(&ContactEmail{}).Error; err != nil {
		return fmt.Errorf("models: contact emails: %w", err)
	}
	seen := map[string]bool{}
	var rows []ContactEmail
	for _, e := range c.Emails {
		addr := NormalizeAddress(e.Address)
		if addr == "" || seen[addr] {
			continue
		}
		if err := CheckAddress(addr); err != nil {
			return ValidationErrors{{Field: "emails", Reason: err.Error()}}
		}
		seen[addr] = true
		rows = append(rows, ContactEmail{TenantID: c.TenantID, Address: addr, ContactID: c.ID})
	}
	c.Emails = rows
	if len(rows) == 0 {
		return nil
	}
	if err := tx.Create(&rows).Error; err != nil {
		return fmt.Errorf("models: email address already belongs to another contact: %w", conflict(err))
	}
	return nil
}

// checkAccount makes sure a referenced account is the tenant's own.
func (s *Store) checkAccount(ctx context.Context, tenantID int64, id *int64) error {
	if id == nil {
		return nil
	}
	if _, err := s.GetAccount(ctx, tenantID, *id); err != nil {
		return fmt.Errorf("models: account %d: %w", *id, err)
	}
	return nil
}

// GetContact loads a contact of the tenant.
func (s *Store) GetContact(ctx context.Context, tenantID, id int64) (*Contact, error) {
	return getByID[Contact](ctx, s, tenantID, id, "Emails")
}

// ListContacts lists the tenant's contacts by name (their first address
// when they have none) in natural order: runs of digits compare as numbers,
// so user2 comes before user11 and user101. The query matches names and
// email addresses. Sorting happens on a projection of (id, key), then only
// the page is loaded.
func (s *Store) ListContacts(ctx context.Context, tenantID int64, p Page) ([]Contact, int64, error) {
	q := s.scoped(ctx, tenantID).Model(&Contact{})
	if p.Query != "" {
		like := "%" + strings.ToLower(strings.TrimSpace(p.Query)) + "%"
		q = q.Where(`(LOWER(first_name) LIKE ? OR LOWER(last_name) LIKE ? OR LOWER(COALESCE(first_name, '') || ' ' || COALESCE(last_name, '')) LIKE ?
			OR id IN (SELECT contact_id FROM contact_emails WHERE tenant_id = ? AND address LIKE ?))`, like, like, like, tenantID, like)
	}
	type key struct {
		ID                  int64
		FirstName, LastName string
		Address             string
	}
	var keys []key
	err := q.Select(`id, first_name, last_name,
		(SELECT MIN(ce.address) FROM contact_emails ce WHERE ce.tenant_id = contacts.tenant_id AND ce.contact_id = contacts.id) AS address`).
		Scan(&keys).Error
	if err != nil {
		return nil, 0, fmt.Errorf("models: list contacts: %w", err)
	}
	sortKey := func(k key) string {
		if n := strings.TrimSpace(k.FirstName + " " + k.LastName); n != "" {
			return strings.ToLower(n)
		}
		return k.Address
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := sortKey(keys[i]), sortKey(keys[j])
		if c := NaturalCompare(a, b); c != 0 {
			return c < 0
		}
		return keys[i].ID < keys[j].ID
	})
	total := int64(len(keys))
	start := min(p.Offset, len(keys))
	end := min(start+p.limit(), len(keys))
	ids := make([]int64, 0, end-start)
	for _, k := range keys[start:end] {
		ids = append(ids, k.ID)
	}
	var rows []Contact
	if len(ids) > 0 {
		if err := s.scoped(ctx, tenantID).Where("id IN ?", ids).Preload("Emails").Find(&rows).Error; err != nil {
			return nil, 0, fmt.Errorf("models: list contacts: %w", err)
		}
	}
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	out := make([]Contact, len(rows))
	for _, c := range rows {
		out[pos[c.ID]] = c
	}
	return out, total, nil
}

// NaturalCompare compares strings with runs of ASCII digits compared by
// value ("user2" < "user11").
func NaturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmpInt(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmpInt(int(a[0]), int(b[0]))
		}
		a, b = a[1:], b[1:]
	}
	return cmpInt(len(a), len(b))
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// AccountNames maps account ids to names (for list columns).
func (s *Store) AccountNames(ctx context.Context, tenantID int64, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Account
	if err := s.scoped(ctx, tenantID).Select("id, name").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("models: account names: %w", err)
	}
	for _, a := range rows {
		out[a.ID] = a.Name
	}
	return out, nil
}

// linkContactToAccount sets a contact without an account to the account
// owning one of its addresses' domains, so a contact is linked to its
// company whoever created it (a person or the sync).
func linkContactToAccount(tx *gorm.DB, c *Contact) error {
	if c.AccountID != nil || len(c.Emails) == 0 {
		return nil
	}
	for _, e := range c.Emails {
		var d AccountDomain
		err := tx.Where("tenant_id = ? AND domain = ?", c.TenantID, domainOf(e.Address)).Limit(1).Find(&d).Error
		if err != nil {
			return fmt.Errorf("models: account by domain: %w", err)
		}
		if d.AccountID != 0 {
			id := d.AccountID
			c.AccountID = &id
			return tx.Model(&Contact{}).Where("tenant_id = ? AND id = ?", c.TenantID, c.ID).Update("account_id", id).Error
		}
	}
	return nil
}

// ContactsOfAccount lists an account's contacts.
func (s *Store) ContactsOfAccount(ctx context.Context, tenantID, accountID int64) ([]Contact, error) {
	var out []Contact
	err := s.scoped(ctx, tenantID).Where("account_id = ?", accountID).Preload("Emails").Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: contacts of account: %w", err)
	}
	return out, nil
}

// UpdateContact writes names, account and addresses of an existing contact.
func (s *Store) UpdateContact(ctx context.Context, tenantID int64, c *Contact) error {
	c.TenantID = tenantID
	if err := c.Validate(); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.in(tx).checkAccount(ctx, tenantID, c.AccountID); err != nil {
			return err
		}
		if err := updateByID(ctx, tx, tenantID, c.ID, c, "first_name", "last_name", "account_id", "updated_at"); err != nil {
			return err
		}
		if err := setContactEmails(tx, c); err != nil {
			return err
		}
		return linkContactToAccount(tx, c)
	})
}

// DeleteContact deletes a contact and its addresses; cases are unlinked
// (the foreign keys do both).
func (s *Store) DeleteContact(ctx context.Context, tenantID, id int64) error {
	return deleteByID[Contact](ctx, s.db, tenantID, id)
}

// ContactByEmail finds the contact owning an address.
func (s *Store) ContactByEmail(ctx context.Context, tenantID int64, address string) (*Contact, error) {
	var e ContactEmail
	if err := s.scoped(ctx, tenantID).Where("address = ?", NormalizeAddress(address)).First(&e).Error; err != nil {
		return nil, notFound(err)
	}
	return s.GetContact(ctx, tenantID, e.ContactID)
}

// CreateCase stores a new case. Status and priority default to new/normal.
func (s *Store) CreateCase(ctx context.Context, tenantID int64, c *Case) error {
	c.ID, c.TenantID = 0, tenantID
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.in(tx).validateCase(ctx, tenantID, c); err != nil {
			return err
		}
		if err := tx.Create(c).Error; err != nil {
			return fmt.Errorf("models: create case: %w", conflict(err))
		}
		return nil
	})
}

func (s *Store) validateCase(ctx context.Context, tenantID int64, c *Case) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.checkAccount(ctx, tenantID, c.AccountID); err != nil {
		return err
	}
	if c.ContactID != nil {
		if _, err := s.GetContact(ctx, tenantID, *c.ContactID); err != nil {
			return fmt.Errorf("models: contact %d: %w", *c.ContactID, err)
		}
	}
	if c.AssigneeID != nil {
		if _, err := s.Membership(ctx, tenantID, *c.AssigneeID); err != nil {
			return fmt.Errorf("models: assignee %d: %w", *c.AssigneeID, err)
		}
	}
	return nil
}

// GetCase loads a case of the tenant.
func (s *Store) GetCase(ctx context.Context, tenantID, id int64) (*Case, error) {
	return getByID[Case](ctx, s, tenantID, id)
}

// CaseFilter narrows ListCases.
type CaseFilter struct {
	Page
	Status CaseStatus
	// Active lists cases that are not closed (new, open, pending).
	Active     bool
	AccountID  int64
	ContactID  int64
	AssigneeID int64
}

// ListCases lists the tenant's cases, newest first.
func (s *Store) ListCases(ctx context.Context, tenantID int64, f CaseFilter) ([]Case, int64, error) {
	q := s.scoped(ctx, tenantID).Model(&Case{})
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Active {
		q = q.Where("status <> ?", CaseClosed)
	}
	if f.AccountID != 0 {
		q = q.Where("account_id = ?", f.AccountID)
	}
	if f.ContactID != 0 {
		q = q.Where("contact_id = ?", f.ContactID)
	}
	if f.AssigneeID != 0 {
		q = q.Where("assignee_id = ?", f.AssigneeID)
	}
	if f.Query != "" {
		q = q.Where("LOWER(subject) LIKE ?", "%"+strings.ToLower(f.Query)+"%")
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("models: count cases: %w", err)
	}
	var out []Case
	if err := q.Order("id DESC").Limit(f.limit()).Offset(f.Offset).Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("models: list cases: %w", err)
	}
	return out, total, nil
}

// UpdateCase writes the editable fields of an existing case.
func (s *Store) UpdateCase(ctx context.Context, tenantID int64, c *Case) error {
	c.TenantID = tenantID
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.in(tx).validateCase(ctx, tenantID, c); err != nil {
			return err
		}
		return updateByID(ctx, tx, tenantID, c.ID, c,
			"subject", "description", "status", "priority", "assignee_id", "account_id", "contact_id", "updated_at")
	})
}

// DeleteCase deletes a case and (by foreign key) its message links, not
// the messages.
func (s *Store) DeleteCase(ctx context.Context, tenantID, id int64) error {
	return deleteByID[Case](ctx, s.db, tenantID, id)
}

// LinkMessage links a message to a case; linking twice is a no-op.
func (s *Store) LinkMessage(ctx context.Context, tenantID, caseID, messageID int64) error {
	if _, err := s.GetCase(ctx, tenantID, caseID); err != nil {
		return err
	}
	if _, err := s.GetMessage(ctx, tenantID, messageID); err != nil {
		return err
	}
	link := CaseMessage{TenantID: tenantID, CaseID: caseID, MessageID: messageID}
	if err := s.db.WithContext(ctx).Clauses(upsertOn([]string{"case_id", "message_id"}, nil)).Create(&link).Error; err != nil {
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			// The case or message was deleted since the checks above.
			return ErrNotFound
		}
		return fmt.Errorf("models: link message: %w", err)
	}
	return nil
}

// UnlinkMessage removes a message from a case.
func (s *Store) UnlinkMessage(ctx context.Context, tenantID, caseID, messageID int64) error {
	return oneRow(s.scoped(ctx, tenantID).Where("case_id = ? AND message_id = ?", caseID, messageID).Delete(&CaseMessage{}), "unlink message")
}

// CaseIDsByMessage maps message ids to the ids of the cases they are
// linked to, in case id order.
func (s *Store) CaseIDsByMessage(ctx context.Context, tenantID int64, messageIDs []int64) (map[int64][]int64, error) {
	out := map[int64][]int64{}
	for start := 0; start < len(messageIDs); start += 500 {
		chunk := messageIDs[start:min(start+500, len(messageIDs))]
		var rows []CaseMessage
		if err := s.scoped(ctx, tenantID).Where("message_id IN ?", chunk).Order("case_id").Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("models: case links: %w", err)
		}
		for _, r := range rows {
			out[r.MessageID] = append(out[r.MessageID], r.CaseID)
		}
	}
	return out, nil
}
