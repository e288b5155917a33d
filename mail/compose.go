package mail

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	netmail "net/mail"
	"slices"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
)

// MaxSendBytes is the largest message Gmail's users.messages.send and
// users.drafts.* accept (36,700,160 bytes, the documented 35 MB).
const MaxSendBytes = 36700160

// MaxReferences bounds the References header of a reply. RFC 5322 section
// 3.6.4 lets a client trim it; the first id (the thread root) is always
// kept, then the most recent ones.
const MaxReferences = 20

// ErrNoRecipients: a message needs at least one To, Cc or Bcc address.
var ErrNoRecipients = errors.New("mail: no recipients")

// ErrTooLarge: the composed message exceeds MaxSendBytes.
var ErrTooLarge = errors.New("mail: message exceeds Gmail's 36,700,160-byte limit")

// OutgoingAttachment is a file to attach. Open is called once, while the message
// is written, so the bytes stream from wherever they are stored.
type OutgoingAttachment struct {
	Filename    string
	ContentType string // default application/octet-stream
	Open        func() (io.ReadCloser, error)
}

// Composition is an outgoing message. Addresses are RFC 5322 address
// lists as a person types them ("Ann <ann@x.org>, bob@y.com").
type Composition struct {
	From       netmail.Address
	To, Cc     []netmail.Address
	Bcc        []netmail.Address
	ReplyTo    []netmail.Address
	Subject    string
	Text       string // plain-text body (required, may be empty)
	HTML       string // optional HTML alternative
	MessageID  string // without angle brackets; NewMessageID when empty
	InReplyTo  string // without angle brackets
	References []string
	Date       time.Time
	// Attachments are written in order as multipart/mixed parts.
	Attachments []OutgoingAttachment
}

// NewMessageID returns a globally unique Message-ID (RFC 5322 section
// 3.6.4) without angle brackets, on the domain of the sender's address:
// 128 random bits make collisions impossible in practice, and the id is
// what an outbox searches for (rfc822msgid:) before it ever re-sends.
func NewMessageID(from string) string {
	domain := "tidings.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = strings.Trim(from[i+1:], "<> ")
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "tidings." + hex.EncodeToString(b[:]) + "@" + domain
}

// ParseAddressList parses a typed address list; an empty string is no
// addresses.
func ParseAddressList(s string) ([]netmail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	l, err := netmail.ParseAddressList(s)
	if err != nil {
		return nil, fmt.Errorf("mail: address list %q: %w", s, err)
	}
	out := make([]netmail.Address, len(l))
	for i, a := range l {
		out[i] = *a
	}
	return out, nil
}

func addrPtrs(as []netmail.Address) []*gomail.Address {
	out := make([]*gomail.Address, len(as))
	for i := range as {
		out[i] = &gomail.Address{Name: as[i].Name, Address: as[i].Address}
	}
	return out
}

// header builds the top-level header. go-message encodes non-ASCII
// display names and the subject as RFC 2047 encoded-words and folds long
// lines (RFC 5322 section 2.2.3). Bcc is kept on purpose: Gmail's
// messages.send delivers to it and strips it from what recipients see.
func (c *Composition) header() (gomail.Header, error) {
	if len(c.To)+len(c.Cc)+len(c.Bcc) == 0 {
		return gomail.Header{}, ErrNoRecipients
	}
	if c.MessageID == "" {
		c.MessageID = NewMessageID(c.From.Address)
	}
	if c.Date.IsZero() {
		c.Date = time.Now()
	}
	var h gomail.Header
	h.SetDate(c.Date)
	h.SetAddressList("From", addrPtrs([]netmail.Address{c.From}))
	for _, f := range []struct {
		k string
		v []netmail.Address
	}{{"To", c.To}, {"Cc", c.Cc}, {"Bcc", c.Bcc}, {"Reply-To", c.ReplyTo}} {
		if len(f.v) > 0 {
			h.SetAddressList(f.k, addrPtrs(f.v))
		}
	}
	h.SetSubject(c.Subject)
	h.SetMessageID(c.MessageID)
	if c.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{c.InReplyTo})
	}
	if len(c.References) > 0 {
		h.SetMsgIDList("References", c.References)
	}
	h.Set("MIME-Version", "1.0")
	return h, nil
}

// WriteTo writes the message as RFC 5322 + MIME: multipart/mixed holding a
// multipart/alternative (text, then HTML when present) and the
// attachments. Text parts are quoted-printable and attachments base64, so
// no line exceeds 78 characters. Attachment bytes are copied from their
// readers, never held whole in memory.
func (c *Composition) WriteTo(w io.Writer) (int64, error) {
	h, err := c.header()
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: w}
	mw, err := gomail.CreateWriter(cw, h)
	if err != nil {
		return cw.n, fmt.Errorf("mail: compose: %w", err)
	}
	if err := c.writeBody(mw); err != nil {
		return cw.n, err
	}
	for i, a := range c.Attachments {
		if err := writeAttachment(mw, a); err != nil {
			return cw.n, fmt.Errorf("mail: attachment %d (%q): %w", i, a.Filename, err)
		}
	}
	if err := mw.Close(); err != nil {
		return cw.n, fmt.Errorf("mail: compose: %w", err)
	}
	return cw.n, nil
}

func (c *Composition) writeBody(mw *gomail.Writer) error {
	iw, err := mw.CreateInline()
	if err != nil {
		return fmt.Errorf("mail: compose: %w", err)
	}
	parts := []struct{ ctype, body string }{{"text/plain", c.Text}}
	if c.HTML != "" {
		parts = append(parts, struct{ ctype, body string }{"text/html", c.HTML})
	}
	for _, p := range parts {
		var ih gomail.InlineHeader
		ih.SetContentType(p.ctype, map[string]string{"charset": "utf-8"})
		pw, err := iw.CreatePart(ih)
		if err != nil {
			return fmt.Errorf("mail: compose %s: %w", p.ctype, err)
		}
		if _, err := io.WriteString(pw, p.body); err != nil {
			return fmt.Errorf("mail: compose %s: %w", p.ctype, err)
		}
		if err := pw.Close(); err != nil {
			return fmt.Errorf("mail: compose %s: %w", p.ctype, err)
		}
	}
	if err := iw.Close(); err != nil {
		return fmt.Errorf("mail: compose: %w", err)
	}
	return nil
}

// writeAttachment writes one attachment part. The file name goes in RFC
// 2231 parameter form (filename*=utf-8”...) when it is not plain ASCII:
// go-message's SetFilename would put an RFC 2047 encoded-word inside the
// quoted parameter, which RFC 2047 section 5 forbids.
func writeAttachment(mw *gomail.Writer, a OutgoingAttachment) error {
	ctype := a.ContentType
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt, params = "application/octet-stream", map[string]string{}
	}
	name := a.Filename
	if name == "" {
		name = "attachment"
	}
	params["name"] = name
	var ah gomail.AttachmentHeader
	ah.Set("Content-Type", mime.FormatMediaType(mt, params))
	ah.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	pw, err := mw.CreateAttachment(ah)
	if err != nil {
		return err
	}
	rc, err := a.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(pw, rc); err != nil {
		return err
	}
	return pw.Close()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Original is what a reply or forward needs of the message it answers.
type Original struct {
	MessageID  string // without angle brackets
	References []string
	InReplyTo  string
	Subject    string
	From       netmail.Address
	ReplyTo    []netmail.Address
	To, Cc     []netmail.Address
	Date       time.Time
	Text       string
}

// ReplySubject adds "Re: " unless the subject already starts with a reply
// prefix (RFC 5322 section 3.6.5 suggests "Re: " once, not repeated).
func ReplySubject(s string) string { return prefixed("Re: ", s, "re:") }

// ForwardSubject adds "Fwd: " unless already there.
func ForwardSubject(s string) string { return prefixed("Fwd: ", s, "fwd:", "fw:") }

func prefixed(p, s string, known ...string) string {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, k := range known {
		if strings.HasPrefix(l, k) {
			return strings.TrimSpace(s)
		}
	}
	return p + strings.TrimSpace(s)
}

// ThreadReferences returns the References of a reply to o: o's References
// (or its In-Reply-To when it has none) plus o's Message-ID, without
// duplicates, trimmed to MaxReferences keeping the root (RFC 5322 section
// 3.6.4).
func ThreadReferences(o Original) []string {
	var refs []string
	src := o.References
	if len(src) == 0 && o.InReplyTo != "" {
		src = []string{o.InReplyTo}
	}
	for _, r := range append(slices.Clone(src), o.MessageID) {
		r = strings.Trim(strings.TrimSpace(r), "<>")
		if r != "" && !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	if len(refs) > MaxReferences {
		refs = append(refs[:1], refs[len(refs)-(MaxReferences-1):]...)
	}
	return refs
}

// Reply makes c a reply to o from the mailbox whose own addresses are
// self: To is the original's Reply-To (else From); with all, the
// original's To and Cc go to Cc, leaving out self and duplicates. A reply
// to one's own message goes to the original recipients instead.
func (c *Composition) Reply(o Original, self []string, all bool) {
	isSelf := func(a string) bool {
		return slices.ContainsFunc(self, func(s string) bool { return strings.EqualFold(s, a) })
	}
	to := o.ReplyTo
	if len(to) == 0 {
		to = []netmail.Address{o.From}
	}
	if isSelf(o.From.Address) && len(o.ReplyTo) == 0 {
		to = o.To
	}
	seen := map[string]bool{}
	add := func(dst []netmail.Address, as []netmail.Address) []netmail.Address {
		for _, a := range as {
			k := strings.ToLower(a.Address)
			if k == "" || seen[k] || isSelf(a.Address) {
				continue
			}
			seen[k] = true
			dst = append(dst, a)
		}
		return dst
	}
	c.To = add(c.To, to)
	if all {
		c.Cc = add(c.Cc, append(slices.Clone(o.To), o.Cc...))
	}
	c.Subject = ReplySubject(o.Subject)
	c.InReplyTo = strings.Trim(o.MessageID, "<>")
	c.References = ThreadReferences(o)
	c.Text = strings.TrimRight(c.Text, "\n") + "\n\n" + quoteAttribution(o) + "\n" + quote(o.Text)
}

// Forward makes c a forward of o: "Fwd:" subject and the original's
// headers and text below the note. The caller adds o's attachments
// (streamed from Gmail). A forward starts a new conversation for the
// recipients but keeps References so the sender's Gmail threads it.
func (c *Composition) Forward(o Original) {
	c.Subject = ForwardSubject(o.Subject)
	c.References = ThreadReferences(o)
	var b strings.Builder
	b.WriteString(strings.TrimRight(c.Text, "\n"))
	b.WriteString("\n\n---------- Forwarded message ---------\n")
	fmt.Fprintf(&b, "From: %s\n", o.From.String())
	if !o.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", o.Date.Format(time.RFC1123Z))
	}
	fmt.Fprintf(&b, "Subject: %s\n", o.Subject)
	if len(o.To) > 0 {
		fmt.Fprintf(&b, "To: %s\n", joinAddrs(o.To))
	}
	if len(o.Cc) > 0 {
		fmt.Fprintf(&b, "Cc: %s\n", joinAddrs(o.Cc))
	}
	b.WriteString("\n")
	b.WriteString(o.Text)
	c.Text = b.String()
}

func joinAddrs(as []netmail.Address) string {
	s := make([]string, len(as))
	for i := range as {
		s[i] = as[i].String()
	}
	return strings.Join(s, ", ")
}

func quoteAttribution(o Original) string {
	who := o.From.Name
	if who == "" {
		who = o.From.Address
	}
	if o.Date.IsZero() {
		return who + " wrote:"
	}
	return "On " + o.Date.Format("Mon, 2 Jan 2006 at 15:04") + ", " + who + " wrote:"
}

// quote prefixes every line with "> " (RFC 3676 section 4.5 style).
func quote(s string) string {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ">") {
			lines[i] = ">" + l
		} else {
			lines[i] = "> " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
