package models

import (
	"context"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"time"
)

// This file holds the queries behind the mail workspace: thread lists with
// their summaries and per-label counts, conversations, and the look-ups
// that link mail to CRM records (contact by address, account by domain).

// SetUserTimeZone stores the user's IANA time zone; an unknown name is an
// error and nothing is written.
func (s *Store) SetUserTimeZone(ctx context.Context, userID int64, zone string) error {
	zone = strings.TrimSpace(zone)
	if zone != "" {
		if _, err := time.LoadLocation(zone); err != nil || zone == "Local" {
			return fmt.Errorf("models: unknown time zone %q", zone)
		}
	}
	return oneRow(s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Updates(map[string]any{"time_zone": zone, "updated_at": time.Now().UTC()}), "set time zone")
}

// ThreadFilter narrows ListThreadSummaries. LabelID "" lists all mail
// except threads that are only in spam or trash, as Gmail's All Mail does.
type ThreadFilter struct {
	Page
	LabelID string
}

// ThreadSummary is a thread as a list row shows it.
type ThreadSummary struct {
	Thread
	// Participants are the senders' short names in order of first
	// appearance ("me" for the mailbox owner).
	Participants   []string
	Snippet        string
	Unread         bool
	HasAttachments bool
	// LabelIDs is the union of the messages' labels.
	LabelIDs []string
}

// ListThreadSummaries lists a mailbox's threads, most recent first, with
// what a thread list shows of each.
func (s *Store) ListThreadSummaries(ctx context.Context, tenantID, mailboxID int64, owner string, f ThreadFilter) ([]ThreadSummary, int64, error) {
	q := s.scoped(ctx, tenantID).Model(&Thread{}).Where("mailbox_id = ?", mailboxID)
	if f.LabelID != "" {
		q = q.Where(`gmail_thread_id IN (SELECT m.gmail_thread_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id
			WHERE m.tenant_id = ? AND m.mailbox_id = ? AND ml.label_id = ?)`, tenantID, mailboxID, f.LabelID)
	} else {
		q = q.Where(`gmail_thread_id IN (SELECT m.gmail_thread_id FROM messages m WHERE m.tenant_id = ? AND m.mailbox_id = ?
			AND NOT EXISTS (SELECT 1 FROM message_labels ml WHERE ml.message_id = m.id AND ml.label_id IN ('SPAM', 'TRASH')))`, tenantID, mailboxID)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("models: count threads: %w", err)
	}
	var threads []Thread
	if err := q.Order("last_message_at DESC, id DESC").Limit(f.limit()).Offset(f.Offset).Find(&threads).Error; err != nil {
		return nil, 0, fmt.Errorf("models: list threads: %w", err)
	}
	out, err := s.summarize(ctx, tenantID, mailboxID, owner, threads)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

func (s *Store) summarize(ctx context.Context, tenantID, mailboxID int64, owner string, threads []Thread) ([]ThreadSummary, error) {
	out := make([]ThreadSummary, len(threads))
	if len(threads) == 0 {
		return out, nil
	}
	keys := make([]string, len(threads))
	byKey := make(map[string]*ThreadSummary, len(threads))
	for i, t := range threads {
		out[i].Thread = t
		keys[i] = t.GmailThreadID
		byKey[t.GmailThreadID] = &out[i]
	}
	var msgs []Message
	err := s.scoped(ctx, tenantID).Select("id, gmail_thread_id, \"from\", from_address, snippet, date, has_attachments").
		Where("mailbox_id = ? AND gmail_thread_id IN ?", mailboxID, keys).Preload("Labels").
		Order("date, id").Find(&msgs).Error
	if err != nil {
		return nil, fmt.Errorf("models: thread messages: %w", err)
	}
	owner = NormalizeAddress(owner)
	for _, m := range msgs {
		t := byKey[m.GmailThreadID]
		name := ShortName(m.From)
		if owner != "" && NormalizeAddress(m.FromAddress) == owner {
			name = "me"
		}
		if !contains(t.Participants, name) {
			t.Participants = append(t.Participants, name)
		}
		t.Snippet = m.Snippet // the latest message's, as messages come oldest first
		t.HasAttachments = t.HasAttachments || m.HasAttachments
		for _, l := range m.Labels {
			if l.LabelID == "UNREAD" {
				t.Unread = true
			}
			if !contains(t.LabelIDs, l.LabelID) {
				t.LabelIDs = append(t.LabelIDs, l.LabelID)
			}
		}
	}
	for i := range out {
		sort.Strings(out[i].LabelIDs)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ShortName is how a list names a sender: the first word of the display
// name, or the address's local part.
func ShortName(from string) string {
	name, addr := from, ""
	if a, err := mail.ParseAddress(from); err == nil {
		name, addr = a.Name, a.Address
	}
	name = strings.Trim(strings.TrimSpace(name), `"'`)
	if name == "" || strings.Contains(name, "@") {
		if addr == "" {
			addr = name
		}
		local, _, _ := strings.Cut(addr, "@")
		return local
	}
	if f := strings.Fields(name); len(f) > 0 && len([]rune(f[0])) > 1 {
		return f[0]
	}
	return name
}

// LabelCount is how many threads of a mailbox carry a label, and how many
// of those are unread.
type LabelCount struct {
	LabelID string
	Threads int64
	Unread  int64
}

// ThreadCountsByLabel counts a mailbox's threads per label id.
func (s *Store) ThreadCountsByLabel(ctx context.Context, tenantID, mailboxID int64) (map[string]LabelCount, error) {
	var all, unread []LabelCount
	base := `SELECT ml.label_id AS label_id, COUNT(DISTINCT m.gmail_thread_id) AS threads
		FROM message_labels ml JOIN messages m ON m.id = ml.message_id %s
		WHERE m.tenant_id = ? AND m.mailbox_id = ? GROUP BY ml.label_id`
	db := s.db.WithContext(ctx)
	if err := db.Raw(fmt.Sprintf(base, ""), tenantID, mailboxID).Scan(&all).Error; err != nil {
		return nil, fmt.Errorf("models: label counts: %w", err)
	}
	join := "JOIN message_labels u ON u.message_id = m.id AND u.label_id = 'UNREAD'"
	if err := db.Raw(fmt.Sprintf(base, join), tenantID, mailboxID).Scan(&unread).Error; err != nil {
		return nil, fmt.Errorf("models: unread counts: %w", err)
	}
	out := make(map[string]LabelCount, len(all))
	for _, c := range all {
		out[c.LabelID] = c
	}
	for _, u := range unread {
		c := out[u.LabelID]
		c.Unread = u.Threads
		out[u.LabelID] = c
	}
	return out, nil
}

// ThreadMessages loads a thread's messages, oldest first, with bodies,
// labels and attachments: the conversation view.
func (s *Store) ThreadMessages(ctx context.Context, tenantID int64, t *Thread) ([]Message, error) {
	var out []Message
	err := s.scoped(ctx, tenantID).Where("mailbox_id = ? AND gmail_thread_id = ?", t.MailboxID, t.GmailThreadID).
		Preload("Labels").Preload("Attachments").Order("date, id").Limit(500).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: thread messages: %w", err)
	}
	return out, nil
}

// ThreadOfMessage finds the thread a message belongs to.
func (s *Store) ThreadOfMessage(ctx context.Context, tenantID int64, m *Message) (*Thread, error) {
	var t Thread
	if err := s.scoped(ctx, tenantID).Where("mailbox_id = ? AND gmail_thread_id = ?", m.MailboxID, m.GmailThreadID).First(&t).Error; err != nil {
		return nil, notFound(err)
	}
	return &t, nil
}

// ContactsByAddress maps lower-cased addresses to the tenant's contacts
// owning them; addresses without a contact are absent.
func (s *Store) ContactsByAddress(ctx context.Context, tenantID int64, addresses []string) (map[string]Contact, error) {
	return ownersByKey(ctx, s, tenantID, "contacts by address", "address", normalized(addresses, NormalizeAddress),
		func(e *ContactEmail) (string, int64) { return e.Address, e.ContactID },
		func(c *Contact) int64 { return c.ID })
}

// AccountsByDomain maps domains to the tenant's accounts owning them.
func (s *Store) AccountsByDomain(ctx context.Context, tenantID int64, domains []string) (map[string]Account, error) {
	return ownersByKey(ctx, s, tenantID, "accounts by domain", "domain", normalized(domains, NormalizeDomain),
		func(d *AccountDomain) (string, int64) { return d.Domain, d.AccountID },
		func(a *Account) int64 { return a.ID })
}

func normalized(keys []string, norm func(string) string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = norm(k)
	}
	return out
}

// ownersByKey maps keys to the records owning them in two queries: the key
// rows R (a contact's addresses, an account's domains), found by their
// column, name their owner O by id. Keys without an owner are absent; what
// names the lookup in errors.
func ownersByKey[R, O any](ctx context.Context, s *Store, tenantID int64, what, column string, keys []string,
	keyOwner func(*R) (string, int64), id func(*O) int64) (map[string]O, error) {
	out := map[string]O{}
	if len(keys) == 0 {
		return out, nil
	}
	var rows []R
	if err := s.scoped(ctx, tenantID).Where(column+" IN ?", keys).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("models: %s: %w", what, err)
	}
	ids := make([]int64, 0, len(rows))
	for i := range rows {
		_, owner := keyOwner(&rows[i])
		ids = append(ids, owner)
	}
	var owners []O
	if len(ids) > 0 {
		if err := s.scoped(ctx, tenantID).Where("id IN ?", ids).Find(&owners).Error; err != nil {
			return nil, fmt.Errorf("models: %s: %w", what, err)
		}
	}
	byID := make(map[int64]O, len(owners))
	for i := range owners {
		byID[id(&owners[i])] = owners[i]
	}
	for i := range rows {
		key, owner := keyOwner(&rows[i])
		if o, ok := byID[owner]; ok {
			out[key] = o
		}
	}
	return out, nil
}

// LinkThread links every message of a thread to a case (idempotent) and
// returns how many messages the thread has.
func (s *Store) LinkThread(ctx context.Context, tenantID, caseID int64, t *Thread) (int, error) {
	if _, err := s.GetCase(ctx, tenantID, caseID); err != nil {
		return 0, err
	}
	var ids []int64
	if err := s.scoped(ctx, tenantID).Model(&Message{}).Where("mailbox_id = ? AND gmail_thread_id = ?", t.MailboxID, t.GmailThreadID).
		Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("models: thread messages: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	links := make([]CaseMessage, len(ids))
	for i, id := range ids {
		links[i] = CaseMessage{TenantID: tenantID, CaseID: caseID, MessageID: id}
	}
	if err := s.db.WithContext(ctx).Clauses(upsertOn([]string{"case_id", "message_id"}, nil)).Create(&links).Error; err != nil {
		return 0, fmt.Errorf("models: link thread: %w", err)
	}
	return len(ids), nil
}

// domainOf returns an address's domain, "" when it has none.
func domainOf(addr string) string {
	_, d, ok := strings.Cut(NormalizeAddress(addr), "@")
	if !ok {
		return ""
	}
	return NormalizeDomain(d)
}
