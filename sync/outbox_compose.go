package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	netmail "net/mail"
	"strings"

	"google.golang.org/api/gmail/v1"

	"tidings/mail"
	"tidings/models"
)

// SendSpec is the JSON in OutboxItem.Spec of send and draft items: what
// the user wrote. Threading, quoting and forwarded attachments are added
// by the worker from the original message.
type SendSpec struct {
	To      string `json:"to,omitempty"`
	Cc      string `json:"cc,omitempty"`
	Bcc     string `json:"bcc,omitempty"`
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
	// ReplyTo is the stored message answered (reply or reply-all);
	// Forward the stored message forwarded. At most one is set.
	ReplyTo  int64 `json:"reply_to,omitempty"`
	ReplyAll bool  `json:"reply_all,omitempty"`
	Forward  int64 `json:"forward,omitempty"`
	// NoQuote leaves the original out of a reply's body.
	NoQuote     bool             `json:"no_quote,omitempty"`
	Attachments []SpecAttachment `json:"attachments,omitempty"`
	// DraftGmailID is the Gmail message id of the draft being edited or
	// sent (a draft that may have been made in Gmail).
	DraftGmailID string `json:"draft_gmail_id,omitempty"`
	// KeepAttachmentsFrom is a stored message (the draft being edited)
	// whose attachments go along, streamed from Gmail: editing a draft
	// never drops its files.
	KeepAttachmentsFrom int64 `json:"keep_attachments_from,omitempty"`
	// WithContent makes a draft send replace the draft's content with
	// this spec first (edit and send in one step).
	WithContent bool `json:"with_content,omitempty"`
}

// SpecAttachment is an uploaded file, stored in the item's stream Stream.
type SpecAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Stream      string `json:"stream"`
}

// ParseSendSpec decodes an item's spec.
func ParseSendSpec(s string) (SendSpec, error) {
	var sp SendSpec
	if err := json.Unmarshal([]byte(s), &sp); err != nil {
		return sp, fmt.Errorf("sync: outbox spec: %w", err)
	}
	return sp, nil
}

// compose builds the message once and stores its bytes (stream
// "message"); its Message-ID was fixed when the item was created, so every
// attempt sends identical bytes.
func (o *outboxRun) compose(ctx context.Context) error {
	sp, err := ParseSendSpec(o.it.Spec)
	if err != nil {
		return permanent("the message could not be read back: %v", err)
	}
	c, threadID, err := o.composition(ctx, sp)
	if err != nil {
		return err
	}
	// Count each attachment's bytes as it streams by: the shadow copy
	// below records them.
	sizes := make([]int64, len(c.Attachments))
	for i := range c.Attachments {
		open := c.Attachments[i].Open
		c.Attachments[i].Open = func() (io.ReadCloser, error) {
			rc, err := open()
			if err != nil {
				return nil, err
			}
			return &countingReadCloser{ReadCloser: rc, n: &sizes[i]}, nil
		}
	}
	w, err := o.s.store.WriteOutboxStream(ctx, o.it.TenantID, o.it.ID, "message")
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(w); err != nil {
		if errors.Is(err, mail.ErrNoRecipients) {
			return permanent("the message has no recipients")
		}
		return fmt.Errorf("sync: outbox: compose: %w", err)
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := o.writeShadow(ctx, c, sizes); err != nil {
		return err
	}
	o.it.Composed, o.it.Size, o.it.GmailThreadID = true, w.Size(), threadID
	return o.save(ctx, map[string]any{"composed": true, "size": w.Size(), "gmail_thread_id": threadID})
}

func (o *outboxRun) composition(ctx context.Context, sp SendSpec) (*mail.Composition, string, error) {
	c := &mail.Composition{
		From: netmail.Address{Address: o.mb.Email}, Subject: sp.Subject, Text: sp.Text, HTML: sp.HTML,
		MessageID: o.it.RFCMessageID, Date: o.s.now(),
	}
	var err error
	for _, f := range []struct {
		dst *[]netmail.Address
		v   string
	}{{&c.To, sp.To}, {&c.Cc, sp.Cc}, {&c.Bcc, sp.Bcc}} {
		if *f.dst, err = mail.ParseAddressList(f.v); err != nil {
			return nil, "", permanent("%v", err)
		}
	}
	if u, err := o.s.store.GetUser(ctx, o.it.UserID); err == nil {
		c.From.Name = u.Name
	}
	for _, a := range sp.Attachments {
		stream := a.Stream
		c.Attachments = append(c.Attachments, mail.OutgoingAttachment{Filename: a.Filename, ContentType: a.ContentType,
			Open: func() (io.ReadCloser, error) {
				return io.NopCloser(o.s.store.OpenOutboxStream(ctx, o.it.TenantID, o.it.ID, stream, 0)), nil
			}})
	}
	if sp.KeepAttachmentsFrom != 0 {
		kept, err := o.s.store.GetMessage(ctx, o.it.TenantID, sp.KeepAttachmentsFrom)
		if err == nil && kept.MailboxID == o.it.MailboxID {
			c.Attachments = append(o.forwardedAttachments(ctx, kept), c.Attachments...)
		}
	}
	threadID := o.it.GmailThreadID
	origID := sp.ReplyTo
	if origID == 0 {
		origID = sp.Forward
	}
	if origID == 0 {
		return c, threadID, nil
	}
	stored, orig, err := o.original(ctx, origID)
	if err != nil {
		return nil, "", err
	}
	auto := &mail.Composition{Text: sp.Text}
	if sp.ReplyTo != 0 {
		auto.Reply(orig, []string{o.mb.Email}, sp.ReplyAll)
		if len(c.To)+len(c.Cc)+len(c.Bcc) == 0 {
			c.To, c.Cc = auto.To, auto.Cc
		}
		c.InReplyTo = auto.InReplyTo
	} else {
		auto.Forward(orig)
		c.Attachments = append(o.forwardedAttachments(ctx, stored), c.Attachments...)
	}
	if c.Subject == "" {
		c.Subject = auto.Subject
	}
	c.References = auto.References
	if !sp.NoQuote {
		c.Text = auto.Text
	}
	return c, stored.GmailThreadID, nil
}

// original loads the answered message: the stored copy, plus the headers
// the CRM does not keep (References, Reply-To) from Gmail.
func (o *outboxRun) original(ctx context.Context, id int64) (*models.Message, mail.Original, error) {
	m, err := o.s.store.GetMessage(ctx, o.it.TenantID, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, mail.Original{}, permanent("the message being answered no longer exists")
	}
	if err != nil {
		return nil, mail.Original{}, err
	}
	if m.MailboxID != o.it.MailboxID {
		return nil, mail.Original{}, permanent("the message being answered belongs to another mailbox")
	}
	orig, err := OriginalOf(ctx, o.s.store, o.it.TenantID, m)
	if err != nil {
		return nil, mail.Original{}, err
	}
	var g *gmail.Message
	err = o.api.call(ctx, costMessagesGet, func(opt ...gmailCallOption) (err error) {
		g, err = o.api.svc.Users.Messages.Get("me", m.GmailID).Format("metadata").
			MetadataHeaders("References", "Reply-To", "Message-ID").Context(ctx).Do(opt...)
		return err
	})
	if errors.Is(err, errGone) {
		return nil, mail.Original{}, permanent("the message being answered was deleted in Gmail")
	}
	if err != nil {
		return nil, mail.Original{}, err
	}
	for _, h := range g.Payload.Headers {
		switch strings.ToLower(h.Name) {
		case "references":
			orig.References = strings.Fields(h.Value)
		case "reply-to":
			if l, err := mail.ParseAddressList(h.Value); err == nil {
				orig.ReplyTo = l
			}
		case "message-id":
			if orig.MessageID == "" {
				orig.MessageID = strings.Trim(strings.TrimSpace(h.Value), "<>")
			}
		}
	}
	return m, orig, nil
}

// OriginalOf is the stored message m as composing a reply or forward
// needs it. The participants come from the stored participant rows, not
// from the display columns: a display name with a comma or a quote
// ("Müller, Eva") cannot be parsed back reliably (RFC 5322 section 3.4
// would need it quoted), and a reply-all must not lose that recipient.
// References and Reply-To are not stored; the worker adds them from Gmail.
func OriginalOf(ctx context.Context, store *models.Store, tenantID int64, m *models.Message) (mail.Original, error) {
	orig := mail.Original{MessageID: m.RFCMessageID, InReplyTo: m.InReplyTo, Subject: m.Subject, Date: m.Date, Text: m.Text,
		From: netmail.Address{Address: m.FromAddress}}
	rows, err := store.MessageAddresses(ctx, tenantID, []int64{m.ID})
	if err != nil {
		return mail.Original{}, fmt.Errorf("original of message %d: %w", m.ID, err)
	}
	for _, r := range rows {
		a := netmail.Address{Name: r.Name, Address: r.Address}
		switch r.Role {
		case "from":
			if r.Address == m.FromAddress {
				orig.From = a
			}
		case "to":
			orig.To = append(orig.To, a)
		case "cc":
			orig.Cc = append(orig.Cc, a)
		}
	}
	return orig, nil
}

// forwardedAttachments streams the original's attachments from Gmail
// (users.messages.attachments.get) into the forward, byte for byte.
func (o *outboxRun) forwardedAttachments(ctx context.Context, m *models.Message) []mail.OutgoingAttachment {
	var out []mail.OutgoingAttachment
	for i := range m.Attachments {
		a := m.Attachments[i]
		if a.Inline && a.Filename == "" {
			continue
		}
		out = append(out, mail.OutgoingAttachment{Filename: a.Filename, ContentType: a.ContentType,
			Open: func() (io.ReadCloser, error) { return o.s.FetchAttachment(ctx, o.it.TenantID, &a) }})
	}
	return out
}

// storeGmailMessage fetches a message just sent or saved and stores it like
// sync does (same upsert on the Gmail id, so the next sync finds it there),
// links it to the item's case, and returns its id (0 when that failed: the
// next sync stores it anyway).
func (o *outboxRun) storeGmailMessage(ctx context.Context, msg *gmail.Message) int64 {
	log := o.s.log.With(slog.Int64("outbox", o.it.ID))
	var id int64
	if o.it.Size > bigMessageBytes && o.it.Kind == models.OutboxSend {
		// Fetching a big message back would cost its size several times
		// over in memory; the shadow copy has all the CRM keeps.
		var err error
		if id, err = o.storeFromShadow(ctx, msg); err != nil {
			log.Warn("sync: outbox: store sent message (sync will)", slog.Any("err", err))
			return 0
		}
	} else {
		r := &run{s: o.s, tenantID: o.it.TenantID, mb: o.mb, api: o.api, log: log, progress: func(int64, int64) {}}
		err := r.fetch(ctx, []string{msg.Id}, "raw", func(fs []fetched) error {
			return r.storeMessages(ctx, writesOf(fs))
		})
		if err != nil {
			log.Warn("sync: outbox: store sent message (sync will)", slog.Any("err", err))
			return 0
		}
		ids, err := o.s.store.MessageIDsByGmailID(ctx, o.it.TenantID, o.mb.ID, []string{msg.Id})
		if err != nil {
			return 0
		}
		id = ids[msg.Id]
	}
	if id == 0 {
		return 0
	}
	if o.it.CaseID != nil {
		if err := o.s.store.LinkMessage(ctx, o.it.TenantID, *o.it.CaseID, id); err != nil {
			log.Warn("sync: outbox: link sent message to case", slog.Any("err", err))
		}
	}
	return id
}

type countingReadCloser struct {
	io.ReadCloser
	n *int64
}

func (c *countingReadCloser) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	*c.n += int64(n)
	return n, err
}

// shadow is the composed message without attachment bytes (same headers,
// text and MIME structure, so the same part ids), plus the attachment
// sizes: what the CRM stores for a big sent message without fetching
// 35 MB back from Gmail.
type shadow struct {
	Raw   []byte  `json:"raw"`
	Sizes []int64 `json:"sizes"`
}

func (o *outboxRun) writeShadow(ctx context.Context, c *mail.Composition, sizes []int64) error {
	empty := *c
	empty.Attachments = make([]mail.OutgoingAttachment, len(c.Attachments))
	for i, a := range c.Attachments {
		a.Open = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }
		empty.Attachments[i] = a
	}
	var raw strings.Builder
	if _, err := empty.WriteTo(&raw); err != nil {
		return fmt.Errorf("sync: outbox: shadow copy: %w", err)
	}
	b, err := json.Marshal(shadow{Raw: []byte(raw.String()), Sizes: sizes})
	if err != nil {
		return err
	}
	w, err := o.s.store.WriteOutboxStream(ctx, o.it.TenantID, o.it.ID, "shadow")
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.Close()
}

// storeFromShadow stores a sent message from its shadow copy, with the
// real attachment sizes, as sync would store it after fetching it.
func (o *outboxRun) storeFromShadow(ctx context.Context, msg *gmail.Message) (int64, error) {
	b, err := io.ReadAll(o.s.store.OpenOutboxStream(ctx, o.it.TenantID, o.it.ID, "shadow", 0))
	if err != nil {
		return 0, err
	}
	var sh shadow
	if err := json.Unmarshal(b, &sh); err != nil {
		return 0, fmt.Errorf("sync: outbox: shadow copy: %w", err)
	}
	labels := msg.LabelIds
	if len(labels) == 0 {
		labels = []string{"SENT"}
	}
	w := o.s.buildWrite(&gmail.Message{Id: msg.Id, ThreadId: msg.ThreadId, LabelIds: labels,
		InternalDate: o.s.now().UnixMilli(), SizeEstimate: o.it.Size}, sh.Raw, nil, nil)
	for i := range w.Attachments {
		if i < len(sh.Sizes) {
			w.Attachments[i].Size = sh.Sizes[i]
		}
	}
	w.Raw = nil
	r := &run{s: o.s, tenantID: o.it.TenantID, mb: o.mb, api: o.api, log: o.s.log, progress: func(int64, int64) {}}
	if err := r.storeMessages(ctx, []models.MessageWrite{w}); err != nil {
		return 0, err
	}
	ids, err := o.s.store.MessageIDsByGmailID(ctx, o.it.TenantID, o.mb.ID, []string{msg.Id})
	if err != nil {
		return 0, err
	}
	return ids[msg.Id], nil
}
