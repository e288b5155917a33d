package models

import (
	"context"
	"fmt"
	"time"
)

// MailboxStatus is one mailbox's sync status as operators see it (the
// metrics endpoint): ids, state, times and counts, never an address or
// any mail.
type MailboxStatus struct {
	TenantID   int64
	MailboxID  int64
	State      SyncState
	LastSyncAt *time.Time
	CreatedAt  time.Time
	// Messages is how many messages of the mailbox are stored.
	Messages int64
}

// MailboxStatuses lists the sync status of every mailbox across all
// tenants, for operators' metrics (not for tenant-facing views).
func (s *Store) MailboxStatuses(ctx context.Context) ([]MailboxStatus, error) {
	var out []MailboxStatus
	err := s.db.WithContext(ctx).Model(&Mailbox{}).
		Select("mailboxes.tenant_id, mailboxes.id AS mailbox_id, mailboxes.sync_state AS state, " +
			"mailboxes.last_sync_at, mailboxes.created_at, " +
			"(SELECT COUNT(*) FROM messages WHERE messages.mailbox_id = mailboxes.id) AS messages").
		Order("mailboxes.id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: mailbox statuses: %w", err)
	}
	return out, nil
}

// OperatorTenantID is the tenant whose admins operate the instance (the
// queue UI and metrics, which span every tenant): the first one created,
// i.e. the organization that set the instance up. ErrNotFound before any
// sign-up.
func (s *Store) OperatorTenantID(ctx context.Context) (int64, error) {
	var t Tenant
	if err := s.db.WithContext(ctx).Order("id").Select("id").Take(&t).Error; err != nil {
		return 0, notFound(err)
	}
	return t.ID, nil
}
