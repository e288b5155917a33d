package sync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/api/gmail/v1"

	"tidings/mail"
	"tidings/models"
)

// storeMessages stores decoded messages in one transaction, then applies
// the contact policy and asks for the index work they queued to be applied.
func (r *run) storeMessages(ctx context.Context, writes []models.MessageWrite) error {
	if len(writes) == 0 {
		return nil
	}
	stored, err := r.s.store.UpsertMessages(ctx, r.tenantID, r.mb.ID, writes)
	if err != nil {
		return fmt.Errorf("sync: store messages: %w", err)
	}
	r.s.metrics.stored(len(stored))
	// The messages are committed: contacts and the index must follow even
	// if the sync is being cancelled, or a restarted sync (which will not
	// fetch these messages again) would leave them behind.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := r.applyContactPolicy(pctx, writes); err != nil {
		// Contacts are derived data; the mail itself is stored.
		r.log.Error("sync: contact policy", slog.Any("err", err))
	}
	r.s.drainIndex(pctx, r.log)
	return nil
}

// keptRawMax is the largest message whose raw bytes are kept for decoding
// warnings alone.
const keptRawMax = 1 << 20

// buildWrite turns a format=raw Gmail message, raw being its decoded
// bytes, into what the store keeps; a message too large to hold arrives
// already decoded (streamed) with raw nil. Decoding never fails: a message that
// cannot be parsed (or whose raw field was not base64url, rawErr) is
// stored with its DecodeError and raw bytes, never dropped (Nylas keeps
// raw MIME too); for a streamed one, Gmail's copy (RawRef) stands in for
// the raw bytes, which were never held.
func (s *Syncer) buildWrite(m *gmail.Message, raw []byte, rawErr error, streamed *mail.Message) models.MessageWrite {
	internal := time.UnixMilli(m.InternalDate).UTC()
	var dm *mail.Message
	rawLen := len(raw)
	switch {
	case rawErr != nil:
		dm = &mail.Message{Err: rawErr, Snippet: m.Snippet}
	case streamed != nil:
		dm, rawLen = streamed, streamed.Size
		dm.UseInternalDate(internal)
	default:
		dm = mail.Decode(raw, mail.Options{InternalDate: internal})
	}
	date := dm.Date
	if date.IsZero() {
		date = internal
	}
	msg := messageOf(m, dm, date, internal, rawLen)
	w := models.MessageWrite{Message: msg, LabelIDs: m.LabelIds, Participants: models.Participants{
		From: nameAddrs(dm.From), To: nameAddrs(dm.To), Cc: nameAddrs(dm.Cc), Bcc: nameAddrs(dm.Bcc),
	}}
	// Messages that needed repair keep their raw bytes so that a better
	// decoder can redo them. Above keptRawMax Gmail's own copy (RawRef)
	// serves for those with warnings only: holding a 25 MB attachment
	// until its page is stored, and copying it into the database driver,
	// would double the peak memory of a sync for a warning.
	if dm.Err != nil || (len(dm.Warnings) > 0 && len(raw) <= keptRawMax) {
		w.Raw = raw
	}
	w.Attachments = attachmentsOf(dm)
	return w
}

// messageOf is the message row of a decoded Gmail message.
func messageOf(m *gmail.Message, dm *mail.Message, date, internal time.Time, rawLen int) models.Message {
	msg := models.Message{
		GmailID:       m.Id,
		GmailThreadID: m.ThreadId,
		RFCMessageID:  dm.MessageID,
		InReplyTo:     dm.InReplyTo,
		Subject:       dm.Subject,
		Date:          date.UTC(),
		InternalDate:  internal,
		Snippet:       dm.Snippet,
		Size:          m.SizeEstimate,
		Text:          dm.Text,
		HTML:          dm.HTML,
		Warnings:      models.StringList(dm.Warnings),
		Bulk:          dm.Bulk,
		HistoryID:     m.HistoryId,
	}
	if msg.Size == 0 {
		msg.Size = int64(rawLen)
	}
	if dm.Err != nil {
		msg.DecodeError = dm.Err.Error()
	}
	return msg
}

// attachmentsOf is the attachment metadata of a decoded message, one row
// per MIME part.
func attachmentsOf(dm *mail.Message) []models.Attachment {
	var out []models.Attachment
	parts := map[string]bool{}
	for _, a := range dm.Attachments {
		if parts[a.PartID] {
			continue
		}
		parts[a.PartID] = true
		out = append(out, models.Attachment{
			PartID: a.PartID, Filename: a.Filename, ContentType: a.ContentType,
			ContentID: a.ContentID, Size: a.Size, Inline: a.Inline,
		})
	}
	return out
}

// nameAddrs carries decoded addresses to the store as they are: the store
// derives display columns and participant rows from them.
func nameAddrs(as []mail.Address) []models.NameAddr {
	if len(as) == 0 {
		return nil
	}
	out := make([]models.NameAddr, len(as))
	for i, a := range as {
		out[i] = models.NameAddr{Name: a.Name, Address: a.Address}
	}
	return out
}
