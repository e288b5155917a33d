package sync

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"google.golang.org/api/gmail/v1"

	"tidings/models"
)

// Costs of the calls below, from Gmail's usage-limits page.
const (
	costMessagesModify  = 5
	costAttachmentsGet  = 5
	costMessagesGetFull = 5
)

// ErrAttachmentNotFound is returned when Gmail no longer has the part an
// attachment row describes.
var ErrAttachmentNotFound = errors.New("sync: attachment not found in Gmail")

// EnqueueSync asks the workers for a sync of one mailbox (the web UI's and
// REST API's "sync now").
func (s *Syncer) EnqueueSync(ctx context.Context, tenantID, mailboxID int64, full bool) error {
	if _, err := s.store.GetMailbox(ctx, tenantID, mailboxID); err != nil {
		return err
	}
	kind := KindIncremental
	if full {
		kind = KindFull
	}
	return s.enqueue(ctx, tenantID, mailboxID, kind, QueueCritical)
}

// ChangeLabels adds and removes labels on one message: first in Gmail
// (users.messages.modify), then in the store and the index, so the CRM
// never shows a state Gmail does not have. The next incremental sync sees
// the same change in history and applies it again, which is a no-op.
func (s *Syncer) ChangeLabels(ctx context.Context, tenantID, messageID int64, add, remove []string) error {
	msg, err := s.store.GetMessage(ctx, tenantID, messageID)
	if err != nil {
		return err
	}
	mb, err := s.store.GetMailbox(ctx, tenantID, msg.MailboxID)
	if err != nil {
		return err
	}
	if mb.NeedsReauth {
		return ErrNeedsReauth
	}
	api, err := s.newGmailClient(ctx, mb)
	if err != nil {
		return err
	}
	err = api.call(ctx, costMessagesModify, func(o ...gmailCallOption) error {
		_, err := api.svc.Users.Messages.Modify("me", msg.GmailID, &gmail.ModifyMessageRequest{AddLabelIds: add, RemoveLabelIds: remove}).Context(ctx).Do(o...)
		return err
	})
	if errors.Is(err, ErrNeedsReauth) {
		s.markReauth(ctx, tenantID, mb.ID, err)
	}
	if err != nil {
		return fmt.Errorf("sync: modify labels of message %d: %w", messageID, err)
	}
	if _, _, err := s.store.ChangeLabels(ctx, tenantID, mb.ID, msg.GmailID, add, remove); err != nil {
		return err
	}
	return s.indexStored(ctx, tenantID, []int64{messageID}, nil)
}

// FetchAttachment fetches an attachment's bytes from Gmail. Attachments
// are never stored at ingest; the Gmail attachment id is looked up by part
// id in the message's full payload (it is not stable across fetches), then
// users.messages.attachments.get returns the bytes. Small parts come back
// inline in the payload.
func (s *Syncer) FetchAttachment(ctx context.Context, tenantID int64, att *models.Attachment) (io.ReadCloser, error) {
	msg, err := s.store.GetMessage(ctx, tenantID, att.MessageID)
	if err != nil {
		return nil, err
	}
	mb, err := s.store.GetMailbox(ctx, tenantID, msg.MailboxID)
	if err != nil {
		return nil, err
	}
	if mb.NeedsReauth {
		return nil, ErrNeedsReauth
	}
	api, err := s.newGmailClient(ctx, mb)
	if err != nil {
		return nil, err
	}
	var full *gmail.Message
	err = api.call(ctx, costMessagesGetFull, func(o ...gmailCallOption) (err error) {
		full, err = api.svc.Users.Messages.Get("me", msg.GmailID).Format("full").Context(ctx).Do(o...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sync: fetch message %s: %w", msg.GmailID, err)
	}
	part := findPart(full.Payload, att.PartID)
	if part == nil || part.Body == nil {
		return nil, fmt.Errorf("%w: part %q of message %s", ErrAttachmentNotFound, att.PartID, msg.GmailID)
	}
	if part.Body.AttachmentId != "" {
		// Large parts are fetched on their own and streamed: a 25 MB
		// attachment is never held in memory.
		var rc io.ReadCloser
		err = api.call(ctx, costAttachmentsGet, func(o ...gmailCallOption) (err error) {
			rc, err = api.getAttachment(ctx, msg.GmailID, part.Body.AttachmentId, o...)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("sync: fetch attachment of %s: %w", msg.GmailID, err)
		}
		return rc, nil
	}
	// Small parts come inline in format=full.
	data := part.Body.Data
	b, err := base64.URLEncoding.DecodeString(data)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(data); err != nil {
			return nil, fmt.Errorf("sync: attachment of %s: bad base64url: %w", msg.GmailID, err)
		}
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func findPart(p *gmail.MessagePart, id string) *gmail.MessagePart {
	if p == nil {
		return nil
	}
	if p.PartId == id {
		return p
	}
	for _, c := range p.Parts {
		if f := findPart(c, id); f != nil {
			return f
		}
	}
	return nil
}
