package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"tidings/internal/sorted"
)

// This file holds the Store methods the Gmail sync (package sync) needs
// beyond the CRUD of mail.go (the per-mailbox sync lease is in lease.go): batched lookups
// for one page of messages, and the cross-tenant lookup of push
// notifications.

// MessageStates returns the stored thread and sorted label set of the
// given messages of a mailbox, keyed by Gmail id; ids not stored are
// absent.
func (s *Store) MessageStates(ctx context.Context, tenantID, mailboxID int64, gmailIDs []string) (map[string]MessageState, error) {
	out := make(map[string]MessageState, len(gmailIDs))
	for start := 0; start < len(gmailIDs); start += 500 {
		chunk := gmailIDs[start:min(start+500, len(gmailIDs))]
		var rows []stateRow
		if err := messagesByGmailID(s.db.WithContext(ctx), s.engine, tenantID, mailboxID, "id, gmail_id, gmail_thread_id", chunk).
			Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("models: message states: %w", err)
		}
		if len(rows) == 0 {
			continue
		}
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		var labels []MessageLabel
		if err := s.db.WithContext(ctx).Where(tenantFilter+" AND message_id IN ?", tenantID, ids).Order("label_id").Find(&labels).Error; err != nil {
			return nil, fmt.Errorf("models: message labels: %w", err)
		}
		addStates(out, rows, labels)
	}
	return out, nil
}

// MailboxesByEmail finds the mailboxes connected for an address in every
// tenant (a Gmail push notification names only the address).
func (s *Store) MailboxesByEmail(ctx context.Context, email string) ([]MailboxRef, error) {
	var out []MailboxRef
	err := s.db.WithContext(ctx).Model(&Mailbox{}).
		Select("tenant_id, id AS mailbox_id, sync_state AS state").
		Where("email = ? AND needs_reauth = ?", NormalizeAddress(email), false).Order("id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: mailboxes by email: %w", err)
	}
	return out, nil
}

// ContactLink is the contact (and its account, if any) an address belongs to.
type ContactLink struct {
	ContactID int64
	AccountID *int64
}

// ContactsByAddresses maps the given (normalized) addresses to their
// contacts; addresses without a contact are absent.
func (s *Store) ContactsByAddresses(ctx context.Context, tenantID int64, addresses []string) (map[string]ContactLink, error) {
	out := make(map[string]ContactLink, len(addresses))
	for start := 0; start < len(addresses); start += 500 {
		chunk := addresses[start:min(start+500, len(addresses))]
		type row struct {
			Address   string
			ContactID int64
			AccountID *int64
		}
		var rows []row
		err := s.db.WithContext(ctx).Table("contact_emails").
			Select("contact_emails.address, contact_emails.contact_id, contacts.account_id").
			Joins("JOIN contacts ON contacts.id = contact_emails.contact_id").
			Where("contact_emails.tenant_id = ? AND contact_emails.address IN ?", tenantID, chunk).Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("models: contacts by address: %w", err)
		}
		for _, r := range rows {
			out[r.Address] = ContactLink{ContactID: r.ContactID, AccountID: r.AccountID}
		}
	}
	return out, nil
}

// AccountsByDomains maps the given (normalized) domains to their accounts.
func (s *Store) AccountsByDomains(ctx context.Context, tenantID int64, domains []string) (map[string]int64, error) {
	out := make(map[string]int64, len(domains))
	for start := 0; start < len(domains); start += 500 {
		chunk := domains[start:min(start+500, len(domains))]
		var rows []AccountDomain
		if err := s.scoped(ctx, tenantID).Where("domain IN ?", chunk).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("models: accounts by domain: %w", err)
		}
		for _, r := range rows {
			out[r.Domain] = r.AccountID
		}
	}
	return out, nil
}

// MessagesByIDs loads messages of the tenant (with labels and attachments)
// by database id, in id order; unknown ids are skipped.
func (s *Store) MessagesByIDs(ctx context.Context, tenantID int64, ids []int64) ([]Message, error) {
	var out []Message
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		var msgs []Message
		if err := s.scoped(ctx, tenantID).Where("id IN ?", chunk).Preload("Labels").Preload("Attachments").Order("id").Find(&msgs).Error; err != nil {
			return nil, fmt.Errorf("models: messages by id: %w", err)
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// SetLabelSets replaces the label sets of the named messages of a mailbox
// (Gmail id → complete set of label ids) in one transaction, and returns
// the database ids of the messages that are stored; the others are
// skipped. A page of label changes from history is one call, not one
// transaction per message.
func (s *Store) SetLabelSets(ctx context.Context, tenantID, mailboxID int64, sets map[string][]string) (map[string]int64, error) {
	if len(sets) == 0 {
		return map[string]int64{}, nil
	}
	gids := make([]string, 0, len(sets))
	for g := range sets {
		gids = append(gids, g)
	}
	var ids map[string]int64
	err := s.write(ctx, mailboxID, func(tx *gorm.DB) error {
		var err error
		if ids, err = messageIDs(tx, s.engine, tenantID, mailboxID, gids); err != nil {
			return err
		}
		idList := make([]int64, 0, len(ids))
		var rows []MessageLabel
		for g, id := range ids {
			idList = append(idList, id)
			for _, l := range sorted.Unique(sets[g]) {
				rows = append(rows, MessageLabel{TenantID: tenantID, MessageID: id, LabelID: l})
			}
		}
		for start := 0; start < len(idList); start += 500 {
			chunk := idList[start:min(start+500, len(idList))]
			if err := tx.Where(tenantFilter+" AND message_id IN ?", tenantID, chunk).Delete(&MessageLabel{}).Error; err != nil {
				return fmt.Errorf("models: clear labels: %w", err)
			}
		}
		if len(rows) > 0 {
			if err := tx.CreateInBatches(&rows, s.rowsPerInsert(500, 3)).Error; err != nil {
				return fmt.Errorf("models: set labels: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// GmailIDsAfter lists, in order, up to limit Gmail ids of the mailbox's
// stored messages that sort after after ("" for the first page): a keyset
// page on (mailbox_id, gmail_id), so a walk over a whole mailbox holds
// one page at a time and each page costs the same however far it is.
func (s *Store) GmailIDsAfter(ctx context.Context, tenantID, mailboxID int64, after string, limit int) ([]string, error) {
	var out []string
	if err := s.db.WithContext(ctx).Model(&Message{}).
		Where(tenantFilter+" AND mailbox_id = ? AND gmail_id > ?", tenantID, mailboxID, after).
		Order("gmail_id").Limit(limit).Pluck("gmail_id", &out).Error; err != nil {
		return nil, fmt.Errorf("models: gmail ids: %w", err)
	}
	return out, nil
}

// rowsPerInsert sizes multi-row INSERTs to rows per statement within the
// engine's limit on bound parameters (SQLite's SQLITE_MAX_VARIABLE_NUMBER,
// 32766 since 3.32; Postgres' protocol, 65535). Fewer, larger statements
// pay off on SQLite too since modernc v1.62 binds in linear time
// (modernc-org/sqlite#8; the driver before was quadratic, which kept
// statements to 256 parameters): each statement is prepared anew, and
// preparing an INSERT compiles the search-outbox triggers of its table.
func (s *Store) rowsPerInsert(rows, columns int) int {
	limit := 65535
	if s.engine == SQLite {
		limit = 32766
	}
	return max(1, min(rows, limit/columns))
}
