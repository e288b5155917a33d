package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"time"

	"tidings/mail"
	"tidings/models"
)

// ErrInvalidSend: the request cannot become a message (bad address, no
// recipients, nothing to reply to); the error says what to fix.
var ErrInvalidSend = errors.New("invalid message")

// Upload is a file attached by the user, read once while it is stored.
type Upload struct {
	Filename    string
	ContentType string
	Body        io.Reader
}

// Uploads lists files for Submission.Files.
func Uploads(ups ...Upload) iter.Seq2[Upload, error] {
	return func(yield func(Upload, error) bool) {
		for _, u := range ups {
			if !yield(u, nil) {
				return
			}
		}
	}
}

// Submission is a request for an outbox item.
type Submission struct {
	TenantID, UserID, MailboxID int64
	Kind                        models.OutboxKind
	Spec                        SendSpec
	// Files are read in order, each once, while the item is stored (a
	// multipart request body streams straight into the outbox).
	Files iter.Seq2[Upload, error]
	// SendAt is when to carry it out (zero: now). The undo window is
	// SendAt = now + window.
	SendAt         time.Time
	IdempotencyKey string
	CaseID         *int64
	// RFCMessageID fixes the Message-ID (a draft being sent keeps its
	// own); empty makes a new one.
	RFCMessageID string
	GmailDraftID string
}

// Submit validates a send or draft request, stores it as an outbox item
// with its files (streamed into chunks, never held whole) and enqueues it.
// The same IdempotencyKey returns the first item and created=false.
func (s *Syncer) Submit(ctx context.Context, sub Submission) (*models.OutboxItem, bool, error) {
	mb, err := s.store.GetMailbox(ctx, sub.TenantID, sub.MailboxID)
	if err != nil {
		return nil, false, err
	}
	if err := s.validateSubmission(ctx, sub, mb.ID); err != nil {
		return nil, false, err
	}
	sp := sub.Spec
	if sub.RFCMessageID == "" {
		sub.RFCMessageID = mail.NewMessageID(mb.Email)
	}
	it := &models.OutboxItem{
		MailboxID: mb.ID, UserID: sub.UserID, Kind: sub.Kind, State: models.OutboxPreparing,
		Subject: sp.Subject, Recipients: joinNonEmpty(sp.To, sp.Cc, sp.Bcc), CaseID: sub.CaseID,
		RFCMessageID: sub.RFCMessageID, GmailDraftID: sub.GmailDraftID, SendAt: sub.SendAt,
	}
	if it.SendAt.IsZero() {
		it.SendAt = s.now()
	}
	if sub.IdempotencyKey != "" {
		k := sub.IdempotencyKey
		it.IdempotencyKey = &k
	}
	spec, _ := json.Marshal(sp)
	it.Spec = string(spec)
	created, err := s.store.CreateOutboxItem(ctx, sub.TenantID, it)
	if err != nil || !created {
		return it, false, err
	}
	isSend := sub.Kind == models.OutboxSend || sub.Kind == models.OutboxDraftSave
	atts, err := s.storeAttachments(ctx, sub, it, isSend)
	if err != nil {
		return nil, false, s.abandon(ctx, it, err)
	}
	sp.Attachments = append(sp.Attachments, atts...)
	spec, _ = json.Marshal(sp)
	state := models.OutboxQueued
	if it.SendAt.After(s.now()) {
		state = models.OutboxScheduled
	}
	if err := s.store.TransitionOutbox(ctx, sub.TenantID, it.ID, []models.OutboxState{models.OutboxPreparing}, state, map[string]any{"spec": string(spec)}); err != nil {
		return nil, false, err
	}
	it.State, it.Spec = state, string(spec)
	if err := s.EnqueueOutbox(ctx, it); err != nil && !errors.Is(err, ErrNoQueue) {
		// The sweep enqueues it; the item is stored.
		s.log.Warn("sync: enqueue outbox item", "outbox", it.ID, "err", err)
	}
	return it, true, nil
}

// validateSubmission refuses what Gmail would refuse or what does not
// belong to the mailbox: unparsable address lists (RFC 5322 section 3.4),
// a send without recipients, a reply or forward of a message of another
// mailbox, a case that does not exist.
func (s *Syncer) validateSubmission(ctx context.Context, sub Submission, mailboxID int64) error {
	sp := sub.Spec
	for _, v := range []string{sp.To, sp.Cc, sp.Bcc} {
		if _, err := mail.ParseAddressList(v); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSend, err)
		}
	}
	if sub.Kind == models.OutboxSend && sp.To+sp.Cc+sp.Bcc == "" && sp.ReplyTo == 0 {
		return fmt.Errorf("%w: add at least one recipient", ErrInvalidSend)
	}
	for _, ref := range []int64{sp.ReplyTo, sp.Forward} {
		if ref == 0 {
			continue
		}
		m, err := s.store.GetMessage(ctx, sub.TenantID, ref)
		if err != nil || m.MailboxID != mailboxID {
			return fmt.Errorf("%w: message %d is not in this mailbox", ErrInvalidSend, ref)
		}
	}
	if sub.CaseID != nil {
		if _, err := s.store.GetCase(ctx, sub.TenantID, *sub.CaseID); err != nil {
			return fmt.Errorf("%w: case %d does not exist", ErrInvalidSend, *sub.CaseID)
		}
	}
	return nil
}

// storeAttachments streams the submission's files into the item's stored
// streams ("a0", "a1", …), stopping a send as soon as the message could
// no longer fit Gmail's limit.
func (s *Syncer) storeAttachments(ctx context.Context, sub Submission, it *models.OutboxItem, isSend bool) ([]SpecAttachment, error) {
	var out []SpecAttachment
	var total int64
	i := -1
	files := sub.Files
	if files == nil {
		files = Uploads()
	}
	for f, err := range files {
		i++
		if err != nil {
			return nil, fmt.Errorf("sync: read attachment: %w", err)
		}
		stream := "a" + strconv.Itoa(i)
		w, err := s.store.WriteOutboxStream(ctx, sub.TenantID, it.ID, stream)
		if err != nil {
			return nil, err
		}
		// Base64 makes a file 4/3 larger: stop reading once the message
		// cannot fit any more.
		n, err := io.Copy(w, io.LimitReader(f.Body, mail.MaxSendBytes*3/4+1-total))
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("sync: store attachment %q: %w", f.Filename, err)
		}
		total += n
		if isSend && total*4/3 > mail.MaxSendBytes {
			return nil, fmt.Errorf("%w: attachments are over Gmail's %d-byte message limit (35 MB)", mail.ErrTooLarge, mail.MaxSendBytes)
		}
		out = append(out, SpecAttachment{Filename: f.Filename, ContentType: f.ContentType, Size: n, Stream: stream})
	}
	return out, nil
}

func (s *Syncer) abandon(ctx context.Context, it *models.OutboxItem, cause error) error {
	bg := context.WithoutCancel(ctx)
	_ = s.store.DeleteOutboxStreams(bg, it.TenantID, it.ID)
	_ = s.store.TransitionOutbox(bg, it.TenantID, it.ID, []models.OutboxState{models.OutboxPreparing}, models.OutboxFailed,
		map[string]any{"last_error": errorText(cause)})
	return cause
}

func joinNonEmpty(ss ...string) string {
	out := ""
	for _, s := range ss {
		if s == "" {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += s
	}
	return out
}

// SubmitAction stores a mailbox action (label change, trash, untrash,
// permanent delete) on messages of one mailbox and enqueues it. Permanent
// delete without a scope that allows it is refused here, with a message
// that says so.
func (s *Syncer) SubmitAction(ctx context.Context, tenantID, userID, mailboxID int64, sp ActionSpec, idemKey string) (*models.OutboxItem, bool, error) {
	mb, err := s.store.GetMailbox(ctx, tenantID, mailboxID)
	if err != nil {
		return nil, false, err
	}
	switch sp.Op {
	case OpModify, OpTrash, OpUntrash:
	case OpDelete:
		if !CanDeletePermanently(mb.Scopes) {
			return nil, false, ErrScopeForDelete
		}
	default:
		return nil, false, fmt.Errorf("%w: unknown action %q", ErrInvalidSend, sp.Op)
	}
	if len(sp.GmailIDs) == 0 {
		return nil, false, fmt.Errorf("%w: no messages selected", ErrInvalidSend)
	}
	spec, _ := json.Marshal(sp)
	it := &models.OutboxItem{MailboxID: mb.ID, UserID: userID, Kind: models.OutboxAction, State: models.OutboxQueued,
		Spec: string(spec), Subject: fmt.Sprintf("%s %d message(s)", sp.Op, len(sp.GmailIDs)), SendAt: s.now()}
	if idemKey != "" {
		it.IdempotencyKey = &idemKey
	}
	created, err := s.store.CreateOutboxItem(ctx, tenantID, it)
	if err != nil || !created {
		return it, false, err
	}
	if err := s.EnqueueOutbox(ctx, it); err != nil && !errors.Is(err, ErrNoQueue) {
		s.log.Warn("sync: enqueue outbox item", "outbox", it.ID, "err", err)
	}
	return it, true, nil
}

// CancelOutbox cancels an item that has not started (the undo of "undo
// send", or a scheduled send called off).
func (s *Syncer) CancelOutbox(ctx context.Context, tenantID, id int64) error {
	return s.store.TransitionOutbox(ctx, tenantID, id,
		[]models.OutboxState{models.OutboxScheduled, models.OutboxQueued}, models.OutboxCancelled, map[string]any{"last_error": ""})
}

// RetryOutbox queues a failed item again. An item whose last send was
// ambiguous is still resolved by lookup first.
func (s *Syncer) RetryOutbox(ctx context.Context, tenantID, id int64) (*models.OutboxItem, error) {
	err := s.store.TransitionOutbox(ctx, tenantID, id, []models.OutboxState{models.OutboxFailed}, models.OutboxQueued,
		map[string]any{"attempts": 0, "send_at": s.now().UTC()})
	if err != nil {
		return nil, err
	}
	it, err := s.store.GetOutboxItem(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if err := s.EnqueueOutbox(ctx, it); err != nil && !errors.Is(err, ErrNoQueue) {
		s.log.Warn("sync: enqueue outbox item", "outbox", it.ID, "err", err)
	}
	return it, nil
}
