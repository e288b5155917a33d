package models

import (
	"context"
	"fmt"
)

// MessagesWithUnknownLabels returns up to limit Gmail ids of the mailbox's
// messages that carry a label id the mailbox's label list does not have.
// Gmail reports such ids now and then (a label deleted between two calls,
// or a one-off wrong answer); the sync re-reads these messages so that a
// label seen once does not stay on them for ever.
func (s *Store) MessagesWithUnknownLabels(ctx context.Context, tenantID, mailboxID int64, limit int) ([]string, error) {
	var out []string
	err := s.db.WithContext(ctx).Raw(`SELECT DISTINCT m.gmail_id FROM message_labels ml
		JOIN messages m ON m.id = ml.message_id
		WHERE m.tenant_id = ? AND m.mailbox_id = ?
		AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.mailbox_id = m.mailbox_id AND l.gmail_id = ml.label_id)
		ORDER BY m.gmail_id LIMIT ?`, tenantID, mailboxID, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: messages with unknown labels: %w", err)
	}
	return out, nil
}

// CountMessages returns how many messages of the mailbox are stored.
func (s *Store) CountMessages(ctx context.Context, tenantID, mailboxID int64) (int64, error) {
	var n int64
	if err := s.scoped(ctx, tenantID).Model(&Message{}).Where("mailbox_id = ?", mailboxID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("models: count messages: %w", err)
	}
	return n, nil
}
