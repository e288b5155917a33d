// Package mail owns the decoding of raw RFC 5322 messages (as returned by the
// Gmail API with format=raw) into tidings' message model, and the composing
// of outgoing ones (compose.go: new messages, replies and forwards).
//
// Decoding is defensive: Decode never fails and never panics. Whatever it had
// to repair (mislabelled charsets, broken RFC 2047 encoded words, raw 8-bit
// headers, NUL bytes, unparsable addresses or dates, broken MIME structure)
// is recorded in Message.Warnings; a message that is not MIME at all still
// yields the headers that could be read plus text derived from the raw bytes,
// with Message.Err set. Every string in the result is valid UTF-8 without NUL
// bytes, so it can go straight into Postgres and the search index.
//
// MIME parsing streams through github.com/emersion/go-message/textproto so
// attachment bodies are counted and discarded, never held in memory: the
// sync layer fetches them lazily from Gmail by part id.
//
// Files by concern: message.go (Decode and the model), header.go (reading
// a header block and the fields derived from it), encodedword.go (RFC 2047),
// address.go (RFC 5322 §3.4 address lists), date.go (RFC 5322 §3.3 and what
// real mail sends instead), charset.go (charset labels and detection),
// walk.go (the MIME tree), transfer.go (RFC 2045 §6 transfer encodings;
// count_amd64.s counts base64 characters with AVX2),
// params.go (RFC 2045/2231 parameters, RFC 2183 dispositions, file names),
// html.go (sanitizing), calendar.go (text/calendar parts).
package mail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	stdsync "sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrNotMIME is reported (wrapped) in Message.Err when the input has no
// readable RFC 5322 header at all.
var ErrNotMIME = errors.New("mail: not an RFC 5322 message")

// errInternal marks a recovered decoder panic (a bug to fix, not an input
// property); tests and the fuzz target fail on it.
var errInternal = errors.New("mail: internal decoder error")

func isInternalError(err error) bool { return errors.Is(err, errInternal) }

// Defaults for Options fields left zero.
const (
	DefaultMaxTextBytes = 4 << 20 // per text/html/calendar part kept in memory
	DefaultMaxParts     = 2000
	DefaultMaxDepth     = 30
	snippetRunes        = 200
)

// Options tunes Decode. The zero value is usable.
type Options struct {
	// InternalDate is Gmail's internalDate for the message; it is used as
	// Date when the Date header is missing or unparsable.
	InternalDate time.Time
	// Logger receives debug records about repairs; nil discards them.
	Logger *slog.Logger
	// MaxTextBytes bounds the decoded bytes kept per text part (text/plain,
	// text/html, text/calendar); the rest is counted and dropped with a
	// warning. 0 means DefaultMaxTextBytes.
	MaxTextBytes int
	// MaxParts bounds the number of MIME parts visited. 0 means DefaultMaxParts.
	MaxParts int
	// MaxDepth bounds multipart and message/rfc822 nesting. 0 means DefaultMaxDepth.
	MaxDepth int
}

// Message is a decoded message. All strings are valid UTF-8 without NUL.
type Message struct {
	MessageID  string // RFC 5322 §3.6.4 msg-id without angle brackets
	InReplyTo  string
	References []string
	Subject    string
	From       []Address
	To         []Address
	Cc         []Address
	Bcc        []Address
	ReplyTo    []Address
	// RawHeaders holds the raw (repaired-to-UTF-8) value of address headers
	// that could not be parsed strictly, keyed by canonical header name, so
	// nothing is lost even when From/To/... are partial.
	RawHeaders map[string]string
	Date       time.Time
	DateSource string // DateSourceHeader or DateSourceInternal; "" when neither was available
	Text       string // plain text body (derived from HTML when there is no text part)
	HTML       string // sanitized HTML (bluemonday), "" if none
	Snippet    string // about 200 characters of Text, whitespace collapsed
	// Attachments lists non-body parts by metadata only; their bytes are
	// counted, not kept.
	Attachments []Attachment
	Calendar    []CalendarPart
	// Embedded holds message/rfc822 parts, decoded the same way.
	Embedded []*Message
	// Bulk is true for mailing-list and automated mail (RFC 2369 List-*,
	// RFC 2919 List-Id, Precedence bulk/list/junk, RFC 3834 Auto-Submitted).
	Bulk     bool
	Size     int
	Warnings []string
	// Err is non-nil when the input could not be parsed as a message at all;
	// the fields above then hold what could be read.
	Err error
}

// Date sources.
const (
	DateSourceHeader   = "header"
	DateSourceInternal = "internal"
)

// Address is a decoded mailbox.
type Address struct {
	Name    string
	Address string
}

// String formats the address for display (not for re-encoding into a header).
func (a Address) String() string {
	switch {
	case a.Name == "":
		return a.Address
	case a.Address == "":
		return a.Name
	}
	return fmt.Sprintf("%s <%s>", a.Name, a.Address)
}

// Attachment is the metadata of a non-body part.
type Attachment struct {
	// PartID follows the Gmail API's MessagePart.partId convention: "" for
	// the top-level part of a non-multipart message, "0", "1", ... for the
	// children of a multipart, "1.0", "1.1", ... for grandchildren.
	PartID      string
	Filename    string
	ContentType string
	ContentID   string // without angle brackets
	Size        int64  // decoded size in bytes
	Inline      bool
}

// CalendarPart is a text/calendar part (RFC 5545, with RFC 5546 methods).
type CalendarPart struct {
	PartID  string
	Method  string
	UID     string
	Summary string
	Start   time.Time // zero when absent or unparsable
	End     time.Time
	Raw     string // the decoded calendar text (bounded by MaxTextBytes)
}

// Decode decodes raw into a Message. It never fails and never panics: it
// always returns a usable *Message, with repairs listed in Warnings and Err
// set only when raw is not a message at all.
func Decode(raw []byte, opts Options) (msg *Message) {
	d := newDecoder(opts)
	msg = &Message{Size: len(raw)}
	defer func() {
		// Last line of defence only: the fuzz target asserts the decoder
		// itself does not panic, and panics found are fixed at their cause.
		if r := recover(); r != nil {
			d.log.Error("mail: decoder panic", slog.Any("panic", r))
			msg.Err = fmt.Errorf("%w: %v", errInternal, r)
			if msg.Text == "" {
				msg.Text, _ = d.conv.convert(capBytes(raw, d.maxText), "", "")
			}
			msg.sanitizeStrings()
		}
	}()
	d.decodeMessage(msg, raw, "", 0)
	msg.finish()
	if len(msg.Warnings) > 0 {
		d.log.Debug("mail: decoded with repairs",
			slog.String("message_id", msg.MessageID),
			slog.Int("warnings", len(msg.Warnings)))
	}
	return msg
}

type decoder struct {
	opts     Options
	log      *slog.Logger
	conv     *textConverter
	maxText  int
	maxParts int
	maxDepth int
	parts    int
}

func newDecoder(opts Options) *decoder {
	d := &decoder{opts: opts, log: opts.Logger, conv: newTextConverter()}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.maxText = opts.MaxTextBytes
	if d.maxText <= 0 {
		d.maxText = DefaultMaxTextBytes
	}
	d.maxParts = opts.MaxParts
	if d.maxParts <= 0 {
		d.maxParts = DefaultMaxParts
	}
	d.maxDepth = opts.MaxDepth
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	return d
}

func capBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// decodeMessage fills msg from a whole message held in memory (top level).
func (d *decoder) decodeMessage(msg *Message, raw []byte, partID string, depth int) {
	var r io.Reader = bytes.NewReader(raw)
	if !bytes.HasSuffix(raw, []byte("\n")) && !bytes.Contains(raw, []byte("\n\r\n")) && !bytes.Contains(raw, []byte("\n\n")) {
		// A header-only message: textproto drops a final header line that
		// has no line ending. (With a body, appending would alter it.)
		r = io.MultiReader(r, strings.NewReader("\r\n"))
	}
	br := messageReaders.Get().(*bufio.Reader)
	br.Reset(r)
	d.readMessage(msg, br, partID, depth)
	br.Reset(nil)
	messageReaders.Put(br)
	if msg.Err != nil {
		// Not a message: make it searchable by its raw bytes.
		text, note := d.conv.convert(capBytes(raw, d.maxText), "", "")
		msg.Text = normalizeNewlines(text)
		if note != "" {
			msg.warnf("raw text: %s", note)
		}
	}
}

// messageReaders recycles the read buffers of decodeMessage: one per
// message was the largest single allocation of a sync (7.6 % of its
// allocated bytes, BENCHMARKS.md 2026-11-30). Nothing read through one
// outlives readMessage: what the message keeps is copied into strings.
var messageReaders = stdsync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}

// readMessage reads a header block and the entity body from br.
func (d *decoder) readMessage(msg *Message, br *bufio.Reader, partID string, depth int) {
	h, skipped := readHeaderLenient(br)
	if h.len() == 0 {
		msg.Err = fmt.Errorf("%w: no header field could be read", ErrNotMIME)
		return
	}
	if skipped > 0 {
		msg.warnf("header: skipped %d malformed header line(s)", skipped)
	}
	hint, ct := d.decodeHeaders(msg, h, depth == 0)
	w := newWalker(d, msg, hint)
	w.headerType, w.headerTypeSet = ct, true
	w.entity(h, br, partID, depth, "")
	w.finishBodies()
}

func (m *Message) warnf(format string, args ...any) {
	m.Warnings = append(m.Warnings, fmt.Sprintf(format, args...))
}

// finish derives Text, Snippet and sanitizes every string.
func (m *Message) finish() {
	m.sanitizeStrings()
	m.Snippet = makeSnippet(m.Text)
}

// sanitizeStrings is the final guarantee that nothing invalid reaches a
// database: every string is made valid UTF-8 and NUL-free.
func (m *Message) sanitizeStrings() {
	fix := func(s *string) {
		if !utf8.ValidString(*s) {
			*s = strings.ToValidUTF8(*s, "\uFFFD")
		}
		if strings.IndexByte(*s, 0) >= 0 {
			*s = strings.ReplaceAll(*s, "\x00", "")
		}
	}
	fix(&m.MessageID)
	fix(&m.InReplyTo)
	for i := range m.References {
		fix(&m.References[i])
	}
	fix(&m.Subject)
	for _, list := range [][]Address{m.From, m.To, m.Cc, m.Bcc, m.ReplyTo} {
		for i := range list {
			fix(&list[i].Name)
			fix(&list[i].Address)
		}
	}
	for k, v := range m.RawHeaders {
		fix(&v)
		m.RawHeaders[k] = v
	}
	fix(&m.Text)
	fix(&m.HTML)
	fix(&m.Snippet)
	for i := range m.Attachments {
		a := &m.Attachments[i]
		fix(&a.PartID)
		fix(&a.Filename)
		fix(&a.ContentType)
		fix(&a.ContentID)
	}
	for i := range m.Calendar {
		c := &m.Calendar[i]
		fix(&c.PartID)
		fix(&c.Method)
		fix(&c.UID)
		fix(&c.Summary)
		fix(&c.Raw)
	}
	for i := range m.Warnings {
		fix(&m.Warnings[i])
	}
	for _, e := range m.Embedded {
		e.sanitizeStrings()
	}
}

// makeSnippet collapses whitespace and cuts at about snippetRunes runes,
// on a word boundary when one is near.
func makeSnippet(text string) string {
	var b strings.Builder
	b.Grow(min(len(text), snippetRunes)) // one allocation for ASCII text
	space := false
	n := 0
	for _, r := range text {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			if n >= snippetRunes-20 {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		if n >= snippetRunes {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
