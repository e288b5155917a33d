package mail

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// header is an ordered list of fields with canonical keys. Values are as
// read (unfolded, raw bytes, possibly not UTF-8).
type header struct {
	fields []field
}

type field struct{ key, value string }

func (h *header) len() int { return len(h.fields) }

func (h *header) get(key string) string {
	for _, f := range h.fields {
		if f.key == key {
			return f.value
		}
	}
	return ""
}

func (h *header) has(key string) bool {
	for _, f := range h.fields {
		if f.key == key {
			return true
		}
	}
	return false
}

func (h *header) values(key string) []string {
	var out []string
	for _, f := range h.fields {
		if f.key == key {
			out = append(out, f.value)
		}
	}
	return out
}

const maxHeaderRetries = 1000

// readHeaderLenient reads a header block with go-message's textproto reader.
// That reader stops at the first malformed line (no colon, bad field-name
// byte, leading whitespace on the first line, an mbox "From " line); here the
// offending line, which it has already consumed, is skipped and reading goes
// on, so one bad line does not cost the rest of the header. It returns the
// number of lines skipped.
func readHeaderLenient(br *bufio.Reader) (header, int) {
	var h header
	skipped := 0
	for range maxHeaderRetries {
		th, err := textproto.ReadHeader(br)
		h.fields = slices.Grow(h.fields, th.Len())
		fs := th.Fields()
		for fs.Next() {
			h.fields = append(h.fields, field{key: fs.Key(), value: fs.Value()})
		}
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return h, skipped
		}
		skipped++
		if _, perr := br.Peek(1); perr != nil {
			return h, skipped
		}
	}
	return h, skipped
}

// decodeHeaders fills the header-derived fields of msg.
// It returns the charset hint used for raw 8-bit bytes, and the parsed
// Content-Type, for the walker not to parse it again.
// Only the top-level message (top) falls back to Gmail's internal date; an
// embedded message without a Date keeps a zero Date silently.
func (d *decoder) decodeHeaders(msg *Message, h header, top bool) (string, mediaType) {
	// Raw 8-bit header bytes are most often in the body's charset.
	ct := parseContentType(h, "text/plain")
	hint := ct.params["charset"]
	hd := headerDecoder{conv: d.conv, hint: hint}

	msg.Subject = oneLine(hd.decode(h.get("Subject"), "header Subject", msg))
	msg.MessageID = firstMsgID(hd.text(h.get("Message-Id"), "header Message-ID", msg))
	msg.InReplyTo = firstMsgID(hd.text(h.get("In-Reply-To"), "header In-Reply-To", msg))
	msg.References = msgIDs(hd.text(h.get("References"), "header References", msg))

	for _, a := range []struct {
		key string
		dst *[]Address
	}{
		{"From", &msg.From}, {"To", &msg.To}, {"Cc", &msg.Cc}, {"Bcc", &msg.Bcc}, {"Reply-To", &msg.ReplyTo},
	} {
		vals := h.values(a.key)
		if len(vals) == 0 {
			continue
		}
		// Repeated address fields are invalid (RFC 5322 §3.6) but seen in
		// the wild: keep them all.
		raw := strings.Join(vals, ", ")
		list, ok := hd.addresses(raw, "header "+a.key, msg)
		*a.dst = list
		if !ok {
			if msg.RawHeaders == nil {
				msg.RawHeaders = map[string]string{}
			}
			msg.RawHeaders[a.key] = oneLine(hd.decode(raw, "header "+a.key, nil))
			msg.warnf("header %s: could not parse address list; raw value kept", a.key)
		}
	}

	if v := h.get("Date"); v != "" {
		if t, ok := parseDateLenient(hd.text(v, "header Date", msg)); ok {
			msg.Date, msg.DateSource = t, DateSourceHeader
		} else {
			msg.warnf(warnBadDatePrefix+"%q", oneLine(hd.text(v, "", nil)))
		}
	}
	if msg.DateSource == "" && top {
		if !d.opts.InternalDate.IsZero() {
			msg.Date, msg.DateSource = d.opts.InternalDate, DateSourceInternal
			if h.get("Date") == "" {
				msg.warnf(warnDateMissing)
			} else {
				msg.warnf(warnDateInstead)
			}
		} else if h.get("Date") == "" {
			msg.warnf(warnNoDate)
		}
	}

	msg.Bulk = isBulk(h)
	return hint, ct
}

// The warnings about the Date header (UseInternalDate rewrites them).
const (
	warnBadDatePrefix = "header Date: cannot parse "
	warnDateMissing   = "header Date: missing; using internal date"
	warnDateInstead   = "header Date: using internal date instead"
	warnNoDate        = "header Date: missing and no internal date given"
)

// isBulk follows what other CRMs learnt (peer-lessons #5): list and
// automated mail must not create contacts.
func isBulk(h header) bool {
	if h.has("List-Unsubscribe") || h.has("List-Id") {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(h.get("Precedence"))) {
	case "bulk", "list", "junk":
		return true
	}
	// RFC 3834 §5: any value other than "no" marks automatic responses.
	if v := strings.ToLower(strings.TrimSpace(h.get("Auto-Submitted"))); v != "" && !strings.HasPrefix(v, "no") {
		return true
	}
	return false
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s))
}

// msgIDs returns the message ids of a Message-ID, In-Reply-To or
// References value (RFC 5322 §3.6.4): what is inside each pair of angle
// brackets, at most 200, else the whitespace-separated words with an '@'.
func msgIDs(v string) []string {
	var out []string
	for _, m := range bracketed(v, 200) {
		if id := strings.TrimSpace(m); id != "" {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		// No angle brackets: accept whitespace-separated ids.
		for _, f := range strings.Fields(v) {
			if strings.Contains(f, "@") {
				out = append(out, strings.Trim(f, "<>,"))
			}
		}
	}
	return out
}

// bracketed returns up to max texts enclosed in '<' and '>' with neither
// inside, left to right: what the regular expression <([^<>]*)> finds,
// without its matching machinery, which was 2 % of a sync's CPU in
// References headers (FuzzBracketed holds the two together).
func bracketed(v string, max int) []string {
	var out []string
	for len(out) < max {
		open := strings.IndexByte(v, '<')
		if open < 0 {
			break
		}
		v = v[open+1:]
		end := strings.IndexAny(v, "<>")
		if end < 0 {
			break
		}
		if v[end] == '<' {
			v = v[end:] // an unclosed '<': start again at the next one
			continue
		}
		out = append(out, v[:end])
		v = v[end+1:]
	}
	return out
}

func firstMsgID(v string) string {
	if ids := msgIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return strings.Trim(strings.TrimSpace(v), "<>")
}
