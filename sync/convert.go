package sync

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/api/gmail/v1"

	"tidings/mail"
	"tidings/models"
)

// storeMessages stores decoded messages in one transaction, then applies
// the contact policy and indexes them.
func (r *run) storeMessages(ctx context.Context, writes []models.MessageWrite) error {
	if len(writes) == 0 {
		return nil
	}
	_, err := r.s.store.UpsertMessages(ctx, r.tenantID, r.mb.ID, writes)
	if err != nil {
		return fmt.Errorf("sync: store messages: %w", err)
	}
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

// buildWrite turns a format=raw Gmail message into what the store keeps.
// Decoding never fails: a message that cannot be parsed is stored with
// its DecodeError and raw bytes, never dropped (Nylas keeps raw MIME too).
func (s *Syncer) buildWrite(m *gmail.Message) models.MessageWrite {
	internal := time.UnixMilli(m.InternalDate).UTC()
	// Drop the message's reference to the base64 text: for a message with
	// a 25 MB attachment it is ~34 MB that the garbage collector can
	// reclaim while the decoded bytes are parsed.
	encoded := m.Raw
	m.Raw = ""
	raw, rawErr := decodeRaw(encoded)
	var dm *mail.Message
	if rawErr != nil {
		dm = &mail.Message{Err: rawErr, Snippet: m.Snippet}
		raw = []byte(encoded)
	} else {
		dm = mail.Decode(raw, mail.Options{InternalDate: internal})
	}
	date := dm.Date
	if date.IsZero() {
		date = internal
	}
	msg := models.Message{
		GmailID:       m.Id,
		GmailThreadID: m.ThreadId,
		RFCMessageID:  dm.MessageID,
		InReplyTo:     dm.InReplyTo,
		Subject:       dm.Subject,
		To:            formatAddrs(dm.To),
		Cc:            formatAddrs(dm.Cc),
		Bcc:           formatAddrs(dm.Bcc),
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
		msg.Size = int64(len(raw))
	}
	if len(dm.From) > 0 {
		msg.From = dm.From[0].String()
		msg.FromAddress = models.NormalizeAddress(dm.From[0].Address)
	}
	if dm.Err != nil {
		msg.DecodeError = dm.Err.Error()
	}
	w := models.MessageWrite{Message: msg, LabelIDs: m.LabelIds}
	if dm.Err != nil || len(dm.Warnings) > 0 {
		w.Raw = raw
	}
	seen := map[string]bool{}
	for _, role := range []struct {
		name  string
		addrs []mail.Address
	}{{"from", dm.From}, {"to", dm.To}, {"cc", dm.Cc}, {"bcc", dm.Bcc}} {
		for _, a := range role.addrs {
			addr := models.NormalizeAddress(a.Address)
			at := strings.LastIndexByte(addr, '@')
			if at <= 0 || at == len(addr)-1 || seen[role.name+" "+addr] {
				continue
			}
			seen[role.name+" "+addr] = true
			w.Addresses = append(w.Addresses, models.MessageAddress{
				Role: role.name, Address: addr, Domain: models.NormalizeDomain(addr[at+1:]), Name: a.Name,
			})
		}
	}
	parts := map[string]bool{}
	for _, a := range dm.Attachments {
		if parts[a.PartID] {
			continue
		}
		parts[a.PartID] = true
		w.Attachments = append(w.Attachments, models.Attachment{
			PartID: a.PartID, Filename: a.Filename, ContentType: a.ContentType,
			ContentID: a.ContentID, Size: a.Size, Inline: a.Inline,
		})
	}
	return w
}

func formatAddrs(as []mail.Address) models.StringList {
	if len(as) == 0 {
		return nil
	}
	out := make(models.StringList, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}
