package models

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// OutboxState is where an outgoing action stands.
type OutboxState string

// Outbox states. An item moves scheduled → queued → sending → sent, or
// ends failed (LastError says why, in words a person can act on) or
// cancelled (only before sending starts).
const (
	// OutboxPreparing: the request is still storing attachments; no
	// worker touches the item until it moves on.
	OutboxPreparing OutboxState = "preparing"
	OutboxScheduled OutboxState = "scheduled" // waits for SendAt (scheduled send or the undo window)
	OutboxQueued    OutboxState = "queued"    // due; a worker will pick it up
	OutboxSending   OutboxState = "sending"   // a worker is carrying it out
	OutboxSent      OutboxState = "sent"
	OutboxFailed    OutboxState = "failed"
	OutboxCancelled OutboxState = "cancelled"
)

// Done reports whether the state is final.
func (s OutboxState) Done() bool {
	return s == OutboxSent || s == OutboxFailed || s == OutboxCancelled
}

// OutboxKind is what an item does in Gmail.
type OutboxKind string

// Outbox kinds.
const (
	OutboxSend        OutboxKind = "send"         // users.messages.send of a composed message
	OutboxDraftSave   OutboxKind = "draft_save"   // drafts.create or drafts.update
	OutboxDraftSend   OutboxKind = "draft_send"   // drafts.send
	OutboxDraftDelete OutboxKind = "draft_delete" // drafts.delete
	OutboxAction      OutboxKind = "action"       // label changes, trash, untrash, delete (one or many messages)
)

// OutboxItem is one outgoing action: written in the request's transaction,
// carried out by a worker task exactly once. Spec is the JSON of what to
// do (the composition, or the action); the composed RFC 822 bytes and
// uploaded attachments live in OutboxChunks.
type OutboxItem struct {
	ID        int64       `gorm:"primaryKey"`
	TenantID  int64       `gorm:"index;not null;uniqueIndex:ux_outbox_idem"`
	MailboxID int64       `gorm:"index;not null"`
	UserID    int64       `gorm:"not null"`
	Kind      OutboxKind  `gorm:"not null"`
	State     OutboxState `gorm:"index;not null"`
	// IdempotencyKey is a REST caller's Idempotency-Key; nil when none.
	IdempotencyKey *string `gorm:"uniqueIndex:ux_outbox_idem"`
	Spec           string
	Subject        string
	Recipients     string
	CaseID         *int64
	// RFCMessageID is our Message-ID (no angle brackets): what an
	// ambiguous failure is resolved by (rfc822msgid: search).
	RFCMessageID   string `gorm:"index"`
	GmailThreadID  string
	GmailMessageID string
	GmailDraftID   string
	// MessageID is the stored Message once sent (or saved as a draft).
	MessageID *int64
	SendAt    time.Time `gorm:"index"`
	Attempts  int
	LastError string
	// InFlight is set before a request that may deliver goes out and
	// cleared when its outcome is known: a worker that finds it set looks
	// the message up before anything is sent again.
	InFlight bool
	// UploadURI and UploadOffset are a resumable upload session in
	// progress, so a restarted worker resumes instead of starting over.
	UploadURI    string `json:"-"`
	UploadOffset int64
	Size         int64
	Composed     bool
	SentAt       *time.Time
	// LeaseUntil is when the worker carrying the item out is presumed
	// dead; until then no other worker may claim it.
	LeaseUntil *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (o OutboxItem) tenant() int64 { return o.TenantID }

// OutboxChunk is one piece of an outbox item's stored bytes: Stream
// "message" is the composed message, "a0", "a1", ... uploaded attachments.
// Bytes are kept in chunks so a 35 MB message streams through a worker
// without ever being loaded whole.
type OutboxChunk struct {
	TenantID int64  `gorm:"index;not null"`
	OutboxID int64  `gorm:"primaryKey"`
	Stream   string `gorm:"primaryKey"`
	Seq      int    `gorm:"primaryKey"`
	Data     []byte
}

// OutboxChunkSize is the size of a stored chunk (1 MiB, a multiple of the
// 256 KiB that resumable upload chunks must be).
const OutboxChunkSize = 1 << 20

// ErrOutboxState: the item is not in a state that allows the change
// (cancel after sending started, retry of a sent item).
var ErrOutboxState = errors.New("models: outbox item is not in a state that allows this")

// CreateOutboxItem inserts an item. With an IdempotencyKey already used in
// the tenant it returns the existing item and created=false instead.
func (s *Store) CreateOutboxItem(ctx context.Context, tenantID int64, it *OutboxItem) (created bool, err error) {
	it.TenantID = tenantID
	if it.IdempotencyKey != nil {
		var existing OutboxItem
		err := s.scoped(ctx, tenantID).Where("idempotency_key = ?", *it.IdempotencyKey).First(&existing).Error
		if err == nil {
			*it = existing
			return false, nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return false, fmt.Errorf("models: outbox idempotency lookup: %w", err)
		}
	}
	if err := s.db.WithContext(ctx).Create(it).Error; err != nil {
		if errors.Is(conflict(err), ErrConflict) && it.IdempotencyKey != nil {
			// A concurrent request with the same key won the insert.
			var existing OutboxItem
			if err2 := s.scoped(ctx, tenantID).Where("idempotency_key = ?", *it.IdempotencyKey).First(&existing).Error; err2 == nil {
				*it = existing
				return false, nil
			}
		}
		return false, fmt.Errorf("models: create outbox item: %w", err)
	}
	return true, nil
}

// GetOutboxItem loads one item of the tenant.
func (s *Store) GetOutboxItem(ctx context.Context, tenantID, id int64) (*OutboxItem, error) {
	return getByID[OutboxItem](ctx, s, tenantID, id)
}

// OutboxFilter selects items for ListOutboxItems.
type OutboxFilter struct {
	MailboxID int64
	States    []OutboxState
	Kinds     []OutboxKind
	Page      Page
}

// ListOutboxItems lists the tenant's items, newest first.
func (s *Store) ListOutboxItems(ctx context.Context, tenantID int64, f OutboxFilter) ([]OutboxItem, int64, error) {
	q := s.scoped(ctx, tenantID).Model(&OutboxItem{})
	if f.MailboxID != 0 {
		q = q.Where("mailbox_id = ?", f.MailboxID)
	}
	if len(f.States) > 0 {
		q = q.Where("state IN ?", f.States)
	}
	if len(f.Kinds) > 0 {
		q = q.Where("kind IN ?", f.Kinds)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("models: count outbox: %w", err)
	}
	var out []OutboxItem
	if err := q.Order("id DESC").Limit(f.Page.limit()).Offset(f.Page.Offset).Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("models: list outbox: %w", err)
	}
	return out, total, nil
}

// TransitionOutbox sets fields (and state to) on an item whose state is
// one of from: the compare-and-set every state change goes through, so a
// cancel and a worker never both win. It returns ErrOutboxState when the
// item was not in one of from.
func (s *Store) TransitionOutbox(ctx context.Context, tenantID, id int64, from []OutboxState, to OutboxState, fields map[string]any) error {
	upd := map[string]any{"state": to, "updated_at": time.Now().UTC()}
	for k, v := range fields {
		upd[k] = v
	}
	res := s.scoped(ctx, tenantID).Model(&OutboxItem{}).Where("id = ? AND state IN ?", id, from).Updates(upd)
	if res.Error != nil {
		return fmt.Errorf("models: outbox %d → %s: %w", id, to, res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.GetOutboxItem(ctx, tenantID, id); err != nil {
			return err
		}
		return ErrOutboxState
	}
	return nil
}

// ClaimOutbox makes the caller the one worker carrying out the item until
// now+lease: it succeeds for a due scheduled or queued item, and for a
// sending item whose previous worker's lease ran out (it died). Returns
// ErrOutboxState when someone else holds it, it is not due or it is done.
func (s *Store) ClaimOutbox(ctx context.Context, tenantID, id int64, now time.Time, lease time.Duration) (*OutboxItem, error) {
	until := now.Add(lease).UTC()
	res := s.scoped(ctx, tenantID).Model(&OutboxItem{}).
		Where("id = ? AND ((state IN ? AND send_at <= ?) OR (state = ? AND (lease_until IS NULL OR lease_until < ?)))",
			id, []OutboxState{OutboxScheduled, OutboxQueued}, now.UTC(), OutboxSending, now.UTC()).
		Updates(map[string]any{"state": OutboxSending, "lease_until": until, "updated_at": now.UTC()})
	if res.Error != nil {
		return nil, fmt.Errorf("models: claim outbox %d: %w", id, res.Error)
	}
	it, err := s.GetOutboxItem(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected == 0 {
		return it, ErrOutboxState
	}
	return it, nil
}

// UpdateOutboxItem writes columns of an item regardless of its state
// (progress of a send in flight: upload offset, attempts).
func (s *Store) UpdateOutboxItem(ctx context.Context, tenantID, id int64, fields map[string]any) error {
	fields["updated_at"] = time.Now().UTC()
	res := s.scoped(ctx, tenantID).Model(&OutboxItem{}).Where("id = ?", id).Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("models: update outbox %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DueOutboxItems returns up to limit items of any tenant that a worker
// should look at: scheduled or queued ones due by now, and sending ones
// not touched for stale (their worker died). The sweep task re-enqueues
// them; the task itself decides what is left to do.
func (s *Store) DueOutboxItems(ctx context.Context, now time.Time, stale time.Duration, limit int) ([]OutboxItem, error) {
	var out []OutboxItem
	err := s.db.WithContext(ctx).
		Where("(state IN ? AND send_at <= ?) OR (state = ? AND updated_at <= ?)",
			[]OutboxState{OutboxScheduled, OutboxQueued}, now.UTC(), OutboxSending, now.Add(-stale).UTC()).
		Order("send_at").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: due outbox items: %w", err)
	}
	return out, nil
}

// OutboxStreamWriter stores bytes as OutboxChunks of OutboxChunkSize.
type OutboxStreamWriter struct {
	ctx      context.Context
	s        *Store
	tenantID int64
	outboxID int64
	stream   string
	buf      bytes.Buffer
	seq      int
	n        int64
}

// WriteOutboxStream replaces the stream's bytes; Close flushes the last
// chunk. Writes go straight to the database a chunk at a time.
func (s *Store) WriteOutboxStream(ctx context.Context, tenantID, outboxID int64, stream string) (*OutboxStreamWriter, error) {
	if err := s.DeleteOutboxStreams(ctx, tenantID, outboxID, stream); err != nil {
		return nil, err
	}
	return &OutboxStreamWriter{ctx: ctx, s: s, tenantID: tenantID, outboxID: outboxID, stream: stream}, nil
}

func (w *OutboxStreamWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		room := OutboxChunkSize - w.buf.Len()
		k := min(room, len(p))
		w.buf.Write(p[:k])
		p = p[k:]
		if w.buf.Len() == OutboxChunkSize {
			if err := w.flush(); err != nil {
				return total - len(p), err
			}
		}
	}
	w.n += int64(total)
	return total, nil
}

func (w *OutboxStreamWriter) flush() error {
	if w.buf.Len() == 0 {
		return nil
	}
	c := OutboxChunk{TenantID: w.tenantID, OutboxID: w.outboxID, Stream: w.stream, Seq: w.seq, Data: w.buf.Bytes()}
	err := w.s.db.WithContext(w.ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&c).Error
	if err != nil {
		return fmt.Errorf("models: write outbox chunk: %w", err)
	}
	w.seq++
	w.buf.Reset()
	return nil
}

// Size is the number of bytes written so far.
func (w *OutboxStreamWriter) Size() int64 { return w.n }

// Close stores the last partial chunk.
func (w *OutboxStreamWriter) Close() error { return w.flush() }

// OutboxStreamSize returns the stored size of a stream.
func (s *Store) OutboxStreamSize(ctx context.Context, tenantID, outboxID int64, stream string) (int64, error) {
	var n int64
	err := s.scoped(ctx, tenantID).Model(&OutboxChunk{}).Where("outbox_id = ? AND stream = ?", outboxID, stream).
		Select("COALESCE(SUM(LENGTH(data)), 0)").Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("models: outbox stream size: %w", err)
	}
	return n, nil
}

// OpenOutboxStream reads a stream from offset, one chunk in memory at a
// time.
func (s *Store) OpenOutboxStream(ctx context.Context, tenantID, outboxID int64, stream string, offset int64) io.Reader {
	return &outboxStreamReader{ctx: ctx, s: s, tenantID: tenantID, outboxID: outboxID, stream: stream,
		seq: int(offset / OutboxChunkSize), skip: int(offset % OutboxChunkSize)}
}

type outboxStreamReader struct {
	ctx      context.Context
	s        *Store
	tenantID int64
	outboxID int64
	stream   string
	seq      int
	skip     int
	cur      []byte
	eof      bool
}

func (r *outboxStreamReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		var c OutboxChunk
		err := r.s.scoped(r.ctx, r.tenantID).Where("outbox_id = ? AND stream = ? AND seq = ?", r.outboxID, r.stream, r.seq).
			Take(&c).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			r.eof = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("models: read outbox chunk: %w", err)
		}
		r.seq++
		if len(c.Data) < OutboxChunkSize {
			r.eof = true
		}
		if r.skip > 0 {
			c.Data = c.Data[min(r.skip, len(c.Data)):]
			r.skip = 0
		}
		r.cur = c.Data
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// DeleteOutboxStreams deletes stored bytes of an item: the named streams,
// or all of them when none is named (after a send, they are not needed).
func (s *Store) DeleteOutboxStreams(ctx context.Context, tenantID, outboxID int64, streams ...string) error {
	q := s.scoped(ctx, tenantID).Where("outbox_id = ?", outboxID)
	if len(streams) > 0 {
		q = q.Where("stream IN ?", streams)
	}
	if err := q.Delete(&OutboxChunk{}).Error; err != nil {
		return fmt.Errorf("models: delete outbox bytes: %w", err)
	}
	return nil
}
