package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tidings/internal/sorted"
)

// CreateMailbox connects a mailbox to the tenant, or returns the existing
// one for the same address (connecting twice is idempotent).
func (s *Store) CreateMailbox(ctx context.Context, tenantID int64, m *Mailbox) error {
	m.ID, m.TenantID = 0, tenantID
	m.Email = NormalizeAddress(m.Email)
	if !strings.Contains(m.Email, "@") {
		return fmt.Errorf("models: %q is not an email address", m.Email)
	}
	if m.Provider == "" {
		m.Provider = "gmail"
	}
	if m.SyncState == "" {
		m.SyncState = SyncPending
	}
	err := s.db.WithContext(ctx).Clauses(upsertOn([]string{"tenant_id", "email"}, nil)).Create(m).Error
	if err != nil {
		return fmt.Errorf("models: create mailbox: %w", err)
	}
	existing, err := s.MailboxByEmail(ctx, tenantID, m.Email)
	if err != nil {
		return err
	}
	*m = *existing
	return nil
}

// GetMailbox loads a mailbox of the tenant.
func (s *Store) GetMailbox(ctx context.Context, tenantID, id int64) (*Mailbox, error) {
	return getByID[Mailbox](ctx, s, tenantID, id)
}

// MailboxByEmail loads a mailbox of the tenant by address.
func (s *Store) MailboxByEmail(ctx context.Context, tenantID int64, email string) (*Mailbox, error) {
	var m Mailbox
	if err := s.scoped(ctx, tenantID).Where("email = ?", NormalizeAddress(email)).First(&m).Error; err != nil {
		return nil, notFound(err)
	}
	return &m, nil
}

// ListMailboxes lists the tenant's mailboxes.
func (s *Store) ListMailboxes(ctx context.Context, tenantID int64) ([]Mailbox, error) {
	var out []Mailbox
	if err := s.scoped(ctx, tenantID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: list mailboxes: %w", err)
	}
	return out, nil
}

// MailboxRef names a mailbox across tenants; only the scheduler uses it,
// to enqueue syncs for every tenant.
type MailboxRef struct {
	TenantID  int64
	MailboxID int64
	State     SyncState
}

// MailboxesToSync lists every mailbox that can be synced (not waiting for
// re-authorization), across all tenants. It is the scheduler's view; it
// returns ids only, never mail.
func (s *Store) MailboxesToSync(ctx context.Context) ([]MailboxRef, error) {
	var out []MailboxRef
	err := s.db.WithContext(ctx).Model(&Mailbox{}).
		Select("tenant_id, id AS mailbox_id, sync_state AS state").
		Where("needs_reauth = ?", false).Order("id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: mailboxes to sync: %w", err)
	}
	return out, nil
}

// UpdateMailbox writes the given columns of a mailbox (sync state,
// progress, cursor …). Keys are column names. Under a sync lease (see
// WithLease) the write is fenced: ErrLeaseLost when the lease is gone.
func (s *Store) UpdateMailbox(ctx context.Context, tenantID, id int64, fields map[string]any) error {
	fields["updated_at"] = time.Now().UTC()
	q := s.scoped(ctx, tenantID).Model(&Mailbox{}).Where("id = ?", id)
	l := leaseFrom(ctx)
	if l != nil && l.MailboxID == id {
		q = leased(q, l)
	}
	res := q.Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("models: update mailbox %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		if l != nil && l.MailboxID == id {
			return fmt.Errorf("models: update mailbox %d: %w", id, ErrLeaseLost)
		}
		return ErrNotFound
	}
	return nil
}

// DeleteMailbox disconnects a mailbox and deletes its synced mail (the
// foreign keys cascade to messages, threads, labels and what hangs off
// them; a sync still running fails its next fenced write). It returns the
// ids of the deleted messages so the search index can follow.
func (s *Store) DeleteMailbox(ctx context.Context, tenantID, id int64) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Message{}).Where("tenant_id = ? AND mailbox_id = ?", tenantID, id).Pluck("id", &ids).Error; err != nil {
			return err
		}
		return deleteByID[Mailbox](ctx, tx, tenantID, id)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func tokenAD(tenantID, mailboxID int64) []byte {
	return fmt.Appendf(nil, "tidings:mailbox-token:%d:%d", tenantID, mailboxID)
}

// SaveToken seals and stores a mailbox's OAuth token (any JSON value).
// It is called on connect and after every refresh, so the database never
// holds a token in plaintext.
func (s *Store) SaveToken(ctx context.Context, tenantID, mailboxID int64, token any) error {
	plain, err := json.Marshal(token)
	if err != nil {
		return fmt.Errorf("models: encode token: %w", err)
	}
	sealed, err := s.cipher.Seal(plain, tokenAD(tenantID, mailboxID))
	if err != nil {
		return err
	}
	return s.UpdateMailbox(ctx, tenantID, mailboxID, map[string]any{"token_ciphertext": sealed})
}

// ErrNoToken is returned by LoadToken for a mailbox that was never
// authorized.
var ErrNoToken = errors.New("models: mailbox has no token")

// LoadToken opens a mailbox's OAuth token into dst.
func (s *Store) LoadToken(ctx context.Context, tenantID, mailboxID int64, dst any) error {
	m, err := s.GetMailbox(ctx, tenantID, mailboxID)
	if err != nil {
		return err
	}
	if len(m.TokenCiphertext) == 0 {
		return ErrNoToken
	}
	plain, err := s.cipher.Open(m.TokenCiphertext, tokenAD(tenantID, mailboxID))
	if err != nil {
		return fmt.Errorf("mailbox %d token: %w", mailboxID, err)
	}
	if err := json.Unmarshal(plain, dst); err != nil {
		return fmt.Errorf("models: decode token: %w", err)
	}
	return nil
}

// UpsertLabels makes the mailbox's label list equal labels: new ones are
// created, renamed ones updated, and labels Gmail no longer has deleted.
func (s *Store) UpsertLabels(ctx context.Context, tenantID, mailboxID int64, labels []Label) error {
	return s.write(ctx, mailboxID, func(tx *gorm.DB) error {
		keep := make([]string, 0, len(labels))
		for i := range labels {
			labels[i].ID, labels[i].TenantID, labels[i].MailboxID = 0, tenantID, mailboxID
			keep = append(keep, labels[i].GmailID)
		}
		if len(labels) > 0 {
			if err := tx.Clauses(upsertOn([]string{"mailbox_id", "gmail_id"}, []string{"name", "type", "background_color", "text_color"})).Create(&labels).Error; err != nil {
				return fmt.Errorf("models: upsert labels: %w", err)
			}
		}
		q := tx.Where("tenant_id = ? AND mailbox_id = ?", tenantID, mailboxID)
		if len(keep) > 0 {
			q = q.Where("gmail_id NOT IN ?", keep)
		}
		if err := q.Delete(&Label{}).Error; err != nil {
			return fmt.Errorf("models: delete labels: %w", err)
		}
		return nil
	})
}

// ListLabels lists a mailbox's labels.
func (s *Store) ListLabels(ctx context.Context, tenantID, mailboxID int64) ([]Label, error) {
	var out []Label
	if err := s.scoped(ctx, tenantID).Where("mailbox_id = ?", mailboxID).Order("type, name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: list labels: %w", err)
	}
	return out, nil
}

// MessageWrite is everything needed to store one Gmail message.
type MessageWrite struct {
	Message  Message
	LabelIDs []string
	// Participants are the decoded From, To, Cc and Bcc headers, as
	// structured values; when set, the store derives both the display
	// columns (Message.From, To, Cc, Bcc, FromAddress) and the
	// MessageAddress rows from them, so nothing between decoding and
	// storage flattens an address into a string.
	Participants Participants
	// Addresses are the message's participants as stored rows; derived
	// from Participants when those are set.
	Addresses   []MessageAddress
	Attachments []Attachment
	// Raw is kept in RawMessage when set (messages that needed repair or
	// could not be parsed), so nothing is ever lost.
	Raw []byte
}

// messageColumns are overwritten when a message is stored again.
var messageColumns = []string{
	"gmail_thread_id", "rfc_message_id", "in_reply_to", "subject", "from", "from_address", "to", "cc", "bcc",
	"date", "internal_date", "snippet", "size", "text", "html", "warnings", "decode_error", "raw_ref",
	"bulk", "has_attachments", "history_id", "updated_at",
}

// UpsertMessages stores messages of a mailbox idempotently, keyed by
// (mailbox, Gmail id), with their exact label sets, participants and
// attachment metadata, in one transaction. It returns the stored rows in
// the order given, with their database ids. Writes with Participants get
// their derived fields (display columns, Addresses) filled in place.
func (s *Store) UpsertMessages(ctx context.Context, tenantID, mailboxID int64, ws []MessageWrite) ([]Message, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	msgs, gids := messageRows(tenantID, mailboxID, ws)
	err := s.write(ctx, mailboxID, func(tx *gorm.DB) error {
		if s.engine == Postgres && !s.gormPages {
			// pgpage.go: arrays and fixed statements instead of gorm's
			// multi-row VALUES lists.
			ids, err := pgUpsertMessages(tx, tenantID, mailboxID, msgs)
			if err != nil {
				return err
			}
			rows, err := dependentRows(tenantID, mailboxID, msgs, ws, ids)
			if err != nil {
				return err
			}
			return pgWriteDependentRows(tx, tenantID, mailboxID, rows)
		}
		if err := tx.Omit(clause.Associations).Clauses(upsertOn([]string{"mailbox_id", "gmail_id"}, messageColumns)).
			CreateInBatches(&msgs, s.rowsPerInsert(200, 26)).Error; err != nil {
			return fmt.Errorf("models: upsert messages: %w", err)
		}
		ids, err := messageIDs(tx, s.engine, tenantID, mailboxID, gids)
		if err != nil {
			return err
		}
		rows, err := dependentRows(tenantID, mailboxID, msgs, ws, ids)
		if err != nil {
			return err
		}
		return s.writeDependentRows(tx, tenantID, mailboxID, rows)
	})
	if err != nil {
		return nil, err
	}
	// The page is stored; a failed statistics refresh only costs speed
	// (and gorm's logger reports the failing statement).
	_ = s.noteMessagesWritten(ctx, len(ws))
	return msgs, nil
}

// messageRows are the message rows of ws, scoped to the mailbox, with the
// fields derived from Participants filled in (in ws too), and their Gmail
// ids.
func messageRows(tenantID, mailboxID int64, ws []MessageWrite) ([]Message, []string) {
	msgs := make([]Message, len(ws))
	gids := make([]string, len(ws))
	for i := range ws {
		if !ws[i].Participants.empty() {
			ws[i].Participants.apply(&ws[i])
		}
		m := ws[i].Message
		m.ID, m.TenantID, m.MailboxID = 0, tenantID, mailboxID
		m.Labels, m.Attachments = nil, nil
		m.HasAttachments = len(ws[i].Attachments) > 0
		if m.RawRef == "" {
			m.RawRef = "gmail:" + m.GmailID
		}
		msgs[i] = m
		gids[i] = m.GmailID
	}
	return msgs, gids
}

// pageRows are the rows that hang off a page of stored messages.
type pageRows struct {
	ids     []int64 // the messages' database ids
	labels  []MessageLabel
	addrs   []MessageAddress
	atts    []Attachment
	raws    []RawMessage
	threads map[string]Thread
}

// dependentRows builds the label, address, attachment, raw and thread rows
// of a page once its messages have database ids (ids by Gmail id); it sets
// msgs' ids and label sets.
func dependentRows(tenantID, mailboxID int64, msgs []Message, ws []MessageWrite, ids map[string]int64) (pageRows, error) {
	rows := pageRows{ids: make([]int64, 0, len(msgs)), threads: map[string]Thread{}}
	for i := range msgs {
		id, ok := ids[msgs[i].GmailID]
		if !ok {
			return pageRows{}, fmt.Errorf("models: message %s vanished during upsert", msgs[i].GmailID)
		}
		msgs[i].ID = id
		rows.ids = append(rows.ids, id)
		for _, l := range sorted.Unique(ws[i].LabelIDs) {
			rows.labels = append(rows.labels, MessageLabel{TenantID: tenantID, MessageID: id, LabelID: l})
			msgs[i].Labels = append(msgs[i].Labels, MessageLabel{TenantID: tenantID, MessageID: id, LabelID: l})
		}
		for _, a := range ws[i].Addresses {
			a.TenantID, a.MessageID = tenantID, id
			rows.addrs = append(rows.addrs, a)
		}
		for _, a := range ws[i].Attachments {
			a.ID, a.TenantID, a.MessageID = 0, tenantID, id
			rows.atts = append(rows.atts, a)
		}
		if ws[i].Raw != nil {
			rows.raws = append(rows.raws, RawMessage{TenantID: tenantID, MailboxID: mailboxID, GmailID: msgs[i].GmailID, Data: ws[i].Raw})
		}
		if t := msgs[i].GmailThreadID; t != "" {
			if _, ok := rows.threads[t]; !ok {
				rows.threads[t] = Thread{TenantID: tenantID, MailboxID: mailboxID, GmailThreadID: t, Subject: msgs[i].Subject, LastMessageAt: msgs[i].Date}
			}
		}
	}
	return rows, nil
}

// writeDependentRows replaces the label sets of the page's messages and
// upserts its addresses, attachments, raw bytes and threads.
func (s *Store) writeDependentRows(tx *gorm.DB, tenantID, mailboxID int64, rows pageRows) error {
	// A stored message's label set is replaced, never merged: Gmail's
	// answer is the truth for exactly this message.
	if err := tx.Where(tenantFilter+" AND message_id IN ?", tenantID, rows.ids).Delete(&MessageLabel{}).Error; err != nil {
		return fmt.Errorf("models: clear labels: %w", err)
	}
	if len(rows.labels) > 0 {
		if err := tx.CreateInBatches(&rows.labels, s.rowsPerInsert(500, 3)).Error; err != nil {
			return fmt.Errorf("models: store labels: %w", err)
		}
	}
	if len(rows.addrs) > 0 {
		if err := tx.Clauses(upsertOn([]string{"message_id", "role", "address"}, nil)).CreateInBatches(&rows.addrs, s.rowsPerInsert(500, 6)).Error; err != nil {
			return fmt.Errorf("models: store addresses: %w", err)
		}
	}
	if len(rows.atts) > 0 {
		if err := tx.Clauses(upsertOn([]string{"message_id", "part_id"}, []string{"filename", "content_type", "content_id", "size", "inline"})).CreateInBatches(&rows.atts, s.rowsPerInsert(200, 10)).Error; err != nil {
			return fmt.Errorf("models: store attachments: %w", err)
		}
	}
	if len(rows.raws) > 0 {
		if err := tx.Clauses(upsertOn([]string{"mailbox_id", "gmail_id"}, []string{"data"})).Create(&rows.raws).Error; err != nil {
			return fmt.Errorf("models: store raw messages: %w", err)
		}
	}
	return refreshThreads(tx, tenantID, mailboxID, rows.threads)
}

// refreshThreads creates missing threads and recomputes their counters
// from the messages, so that reapplying a write converges.
func refreshThreads(tx *gorm.DB, tenantID, mailboxID int64, threads map[string]Thread) error {
	if len(threads) == 0 {
		return nil
	}
	rows := make([]Thread, 0, len(threads))
	keys := make([]string, 0, len(threads))
	for k, t := range threads {
		rows = append(rows, t)
		keys = append(keys, k)
	}
	if err := tx.Clauses(upsertOn([]string{"mailbox_id", "gmail_thread_id"}, nil)).Create(&rows).Error; err != nil {
		return fmt.Errorf("models: upsert threads: %w", err)
	}
	return recountThreads(tx, tenantID, mailboxID, keys)
}

func recountThreads(tx *gorm.DB, tenantID, mailboxID int64, gmailThreadIDs []string) error {
	if len(gmailThreadIDs) == 0 {
		return nil
	}
	err := tx.Exec(`UPDATE threads SET
		message_count = (SELECT COUNT(*) FROM messages m WHERE m.mailbox_id = threads.mailbox_id AND m.gmail_thread_id = threads.gmail_thread_id),
		last_message_at = COALESCE((SELECT MAX(m.date) FROM messages m WHERE m.mailbox_id = threads.mailbox_id AND m.gmail_thread_id = threads.gmail_thread_id), last_message_at)
		WHERE tenant_id = ? AND mailbox_id = ? AND gmail_thread_id IN ?`, tenantID, mailboxID, gmailThreadIDs).Error
	if err != nil {
		return fmt.Errorf("models: recount threads: %w", err)
	}
	if err := tx.Where("tenant_id = ? AND mailbox_id = ? AND gmail_thread_id IN ? AND message_count = 0", tenantID, mailboxID, gmailThreadIDs).Delete(&Thread{}).Error; err != nil {
		return fmt.Errorf("models: delete empty threads: %w", err)
	}
	return nil
}

func messageIDs(tx *gorm.DB, engine Engine, tenantID, mailboxID int64, gmailIDs []string) (map[string]int64, error) {
	type row struct {
		ID      int64
		GmailID string
	}
	out := make(map[string]int64, len(gmailIDs))
	for start := 0; start < len(gmailIDs); start += 500 {
		end := min(start+500, len(gmailIDs))
		var rows []row
		if err := messagesByGmailID(tx, engine, tenantID, mailboxID, "id, gmail_id", gmailIDs[start:end]).
			Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("models: message ids: %w", err)
		}
		for _, r := range rows {
			out[r.GmailID] = r.ID
		}
	}
	return out, nil
}

// MessageIDsByGmailID maps Gmail ids to database ids for the ones stored.
func (s *Store) MessageIDsByGmailID(ctx context.Context, tenantID, mailboxID int64, gmailIDs []string) (map[string]int64, error) {
	return messageIDs(s.db.WithContext(ctx), s.engine, tenantID, mailboxID, gmailIDs)
}

// ChangeLabels adds and removes labels on exactly one message, named by
// Gmail id. It returns ErrNotFound when the message is not stored. The
// resulting label set is returned.
func (s *Store) ChangeLabels(ctx context.Context, tenantID, mailboxID int64, gmailID string, add, remove []string) (int64, []string, error) {
	var (
		id     int64
		result []string
	)
	err := s.write(ctx, mailboxID, func(tx *gorm.DB) error {
		ids, err := messageIDs(tx, s.engine, tenantID, mailboxID, []string{gmailID})
		if err != nil {
			return err
		}
		var ok bool
		if id, ok = ids[gmailID]; !ok {
			return ErrNotFound
		}
		if len(remove) > 0 {
			if err := tx.Where("tenant_id = ? AND message_id = ? AND label_id IN ?", tenantID, id, remove).Delete(&MessageLabel{}).Error; err != nil {
				return fmt.Errorf("models: remove labels: %w", err)
			}
		}
		if add = sorted.Unique(add); len(add) > 0 {
			rows := make([]MessageLabel, len(add))
			for i, l := range add {
				rows[i] = MessageLabel{TenantID: tenantID, MessageID: id, LabelID: l}
			}
			if err := tx.Clauses(upsertOn([]string{"message_id", "label_id"}, nil)).Create(&rows).Error; err != nil {
				return fmt.Errorf("models: add labels: %w", err)
			}
		}
		return tx.Model(&MessageLabel{}).Where("message_id = ?", id).Order("label_id").Pluck("label_id", &result).Error
	})
	if err != nil {
		return 0, nil, err
	}
	return id, result, nil
}

// DeleteMessages deletes messages of a mailbox by Gmail id (those not
// stored are ignored) and returns the database ids that were deleted.
func (s *Store) DeleteMessages(ctx context.Context, tenantID, mailboxID int64, gmailIDs []string) ([]int64, error) {
	var deleted []int64
	err := s.write(ctx, mailboxID, func(tx *gorm.DB) error {
		for start := 0; start < len(gmailIDs); start += 500 {
			chunk := gmailIDs[start:min(start+500, len(gmailIDs))]
			type row struct {
				ID            int64
				GmailThreadID string
			}
			var rows []row
			if err := messagesByGmailID(tx, s.engine, tenantID, mailboxID, "id, gmail_thread_id", chunk).Scan(&rows).Error; err != nil {
				return fmt.Errorf("models: find messages: %w", err)
			}
			ids := make([]int64, len(rows))
			threads := make([]string, 0, len(rows))
			for i, r := range rows {
				ids[i] = r.ID
				threads = append(threads, r.GmailThreadID)
			}
			if err := deleteMessageRows(tx, tenantID, ids); err != nil {
				return err
			}
			if err := tx.Where(tenantFilter+" AND mailbox_id = ? AND gmail_id IN ?", tenantID, mailboxID, chunk).Delete(&RawMessage{}).Error; err != nil {
				return fmt.Errorf("models: delete raw: %w", err)
			}
			if err := recountThreads(tx, tenantID, mailboxID, sorted.Unique(threads)); err != nil {
				return err
			}
			deleted = append(deleted, ids...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}

// deleteMessageRows deletes messages by id; their labels, addresses,
// attachments and case links go with them (ON DELETE CASCADE).
func deleteMessageRows(tx *gorm.DB, tenantID int64, ids []int64) error {
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		if err := tx.Where(tenantFilter+" AND id IN ?", tenantID, chunk).Delete(&Message{}).Error; err != nil {
			return fmt.Errorf("models: delete messages: %w", err)
		}
	}
	return nil
}

// GmailIDs lists the Gmail ids of every stored message of a mailbox.
func (s *Store) GmailIDs(ctx context.Context, tenantID, mailboxID int64) ([]string, error) {
	var out []string
	if err := s.scoped(ctx, tenantID).Model(&Message{}).Where("mailbox_id = ?", mailboxID).Order("gmail_id").Pluck("gmail_id", &out).Error; err != nil {
		return nil, fmt.Errorf("models: gmail ids: %w", err)
	}
	return out, nil
}

// MessageState is a stored message's Gmail-visible state, used to compare
// the store with Gmail exactly.
type MessageState struct {
	ThreadID string
	LabelIDs []string
}

// stateRow is the Gmail-visible identity of a stored message.
type stateRow struct {
	ID            int64
	GmailID       string
	GmailThreadID string
}

// addStates fills out with the rows' threads and label sets (labels sorted
// by label id, as the queries order them; an empty set is [] not nil).
func addStates(out map[string]MessageState, rows []stateRow, labels []MessageLabel) {
	byID := make(map[int64][]string, len(rows))
	for _, l := range labels {
		byID[l.MessageID] = append(byID[l.MessageID], l.LabelID)
	}
	for _, r := range rows {
		ls := byID[r.ID]
		if ls == nil {
			ls = []string{}
		}
		out[r.GmailID] = MessageState{ThreadID: r.GmailThreadID, LabelIDs: ls}
	}
}

// GetMessage loads a message of the tenant with labels and attachments.
func (s *Store) GetMessage(ctx context.Context, tenantID, id int64) (*Message, error) {
	return getByID[Message](ctx, s, tenantID, id, "Labels", "Attachments")
}

// RawMessageOf returns the kept raw bytes of a message, ErrNotFound when
// none were kept (the message then lives in Gmail only).
func (s *Store) RawMessageOf(ctx context.Context, tenantID, mailboxID int64, gmailID string) ([]byte, error) {
	var r RawMessage
	if err := s.scoped(ctx, tenantID).Where("mailbox_id = ? AND gmail_id = ?", mailboxID, gmailID).First(&r).Error; err != nil {
		return nil, notFound(err)
	}
	return r.Data, nil
}

// GetAttachment loads an attachment's metadata.
func (s *Store) GetAttachment(ctx context.Context, tenantID, id int64) (*Attachment, error) {
	return getByID[Attachment](ctx, s, tenantID, id)
}

// MessageFilter narrows ListMessages. Zero fields do not filter.
type MessageFilter struct {
	Page
	MailboxID     int64
	GmailThreadID string
	LabelID       string
	ContactID     int64
	AccountID     int64
	CaseID        int64
}

// ListMessages lists the tenant's messages, newest first, without bodies.
func (s *Store) ListMessages(ctx context.Context, tenantID int64, f MessageFilter) ([]Message, int64, error) {
	q := s.scoped(ctx, tenantID).Model(&Message{})
	if f.MailboxID != 0 {
		q = q.Where("mailbox_id = ?", f.MailboxID)
	}
	if f.GmailThreadID != "" {
		q = q.Where("gmail_thread_id = ?", f.GmailThreadID)
	}
	if f.LabelID != "" {
		q = q.Where("id IN (?)", s.db.Model(&MessageLabel{}).Select("message_id").Where("tenant_id = ? AND label_id = ?", tenantID, f.LabelID))
	}
	if f.ContactID != 0 {
		addrs := s.db.Model(&ContactEmail{}).Select("address").Where("tenant_id = ? AND contact_id = ?", tenantID, f.ContactID)
		q = q.Where("id IN (?)", s.db.Model(&MessageAddress{}).Select("message_id").Where("tenant_id = ? AND address IN (?)", tenantID, addrs))
	}
	if f.AccountID != 0 {
		doms := s.db.Model(&AccountDomain{}).Select("domain").Where("tenant_id = ? AND account_id = ?", tenantID, f.AccountID)
		q = q.Where("id IN (?)", s.db.Model(&MessageAddress{}).Select("message_id").Where("tenant_id = ? AND domain IN (?)", tenantID, doms))
	}
	if f.CaseID != 0 {
		q = q.Where("id IN (?)", s.db.Model(&CaseMessage{}).Select("message_id").Where("tenant_id = ? AND case_id = ?", tenantID, f.CaseID))
	}
	if f.Query != "" {
		q = q.Where("LOWER(subject) LIKE ?", "%"+strings.ToLower(f.Query)+"%")
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("models: count messages: %w", err)
	}
	var out []Message
	err := q.Omit("text", "html").Preload("Labels").Order("date DESC, id DESC").Limit(f.limit()).Offset(f.Offset).Find(&out).Error
	if err != nil {
		return nil, 0, fmt.Errorf("models: list messages: %w", err)
	}
	return out, total, nil
}

// ListThreads lists a mailbox's threads, most recent first.
func (s *Store) ListThreads(ctx context.Context, tenantID, mailboxID int64, p Page) ([]Thread, int64, error) {
	q := s.scoped(ctx, tenantID).Model(&Thread{}).Where("mailbox_id = ?", mailboxID)
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("models: count threads: %w", err)
	}
	var out []Thread
	if err := q.Order("last_message_at DESC, id DESC").Limit(p.limit()).Offset(p.Offset).Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("models: list threads: %w", err)
	}
	return out, total, nil
}

// GetThread loads a thread of the tenant.
func (s *Store) GetThread(ctx context.Context, tenantID, id int64) (*Thread, error) {
	return getByID[Thread](ctx, s, tenantID, id)
}

// EachMessage calls fn with batches of a tenant's messages (with labels
// and attachments), in id order; mailboxID 0 means all mailboxes. It feeds
// reindexing without loading everything at once.
func (s *Store) EachMessage(ctx context.Context, tenantID, mailboxID int64, batch int, fn func([]Message) error) error {
	var last int64
	for {
		q := s.scoped(ctx, tenantID).Where("id > ?", last)
		if mailboxID != 0 {
			q = q.Where("mailbox_id = ?", mailboxID)
		}
		var msgs []Message
		if err := q.Preload("Labels").Preload("Attachments").Order("id").Limit(batch).Find(&msgs).Error; err != nil {
			return fmt.Errorf("models: scan messages: %w", err)
		}
		if len(msgs) == 0 {
			return nil
		}
		if err := fn(msgs); err != nil {
			return err
		}
		last = msgs[len(msgs)-1].ID
	}
}

// MessageAddresses returns the participants of the given messages.
func (s *Store) MessageAddresses(ctx context.Context, tenantID int64, messageIDs []int64) ([]MessageAddress, error) {
	var out []MessageAddress
	if err := s.scoped(ctx, tenantID).Where("message_id IN ?", messageIDs).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: message addresses: %w", err)
	}
	return out, nil
}

// Tenants lists all tenant ids (for system jobs such as reindexing).
func (s *Store) Tenants(ctx context.Context) ([]int64, error) {
	var out []int64
	if err := s.db.WithContext(ctx).Model(&Tenant{}).Order("id").Pluck("id", &out).Error; err != nil {
		return nil, fmt.Errorf("models: tenants: %w", err)
	}
	return out, nil
}

// MessageIDs lists the database ids of a mailbox's messages (all of the
// tenant's when mailboxID is 0), ascending; the search consistency check
// compares them with the index.
func (s *Store) MessageIDs(ctx context.Context, tenantID, mailboxID int64) ([]int64, error) {
	q := s.scoped(ctx, tenantID).Model(&Message{})
	if mailboxID != 0 {
		q = q.Where("mailbox_id = ?", mailboxID)
	}
	var out []int64
	if err := q.Order("id").Pluck("id", &out).Error; err != nil {
		return nil, fmt.Errorf("models: message ids: %w", err)
	}
	return out, nil
}

// messagesByGmailID selects cols of the mailbox's messages with the given
// Gmail ids (at most a few hundred). On Postgres each id is looked up on
// its own in the (mailbox_id, gmail_id) index: written as one IN list,
// the planner of a table whose statistics lag behind its growth (a first
// full sync) chose to filter every message of the mailbox instead, 150 ms
// per lookup at 20,000 messages. The LIMIT keeps the lateral subquery
// from being flattened into a join the planner could again reorder.
func messagesByGmailID(tx *gorm.DB, engine Engine, tenantID, mailboxID int64, cols string, gmailIDs []string) *gorm.DB {
	if engine != Postgres {
		return tx.Model(&Message{}).Select(cols).
			Where(tenantFilter+" AND mailbox_id = ? AND gmail_id IN ?", tenantID, mailboxID, gmailIDs)
	}
	// The ids go as one array parameter: a fixed statement text that pgx
	// prepares once per connection (pgpage.go says why that matters).
	return tx.Raw("SELECT m.* FROM unnest(?::text[]) AS g(gmail_id) CROSS JOIN LATERAL (SELECT "+cols+
		" FROM messages WHERE mailbox_id = ? AND gmail_id = g.gmail_id AND "+tenantFilter+" LIMIT 1) m",
		pgArray(gmailIDs), mailboxID, tenantID)
}
