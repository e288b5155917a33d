package mail

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	netmail "net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

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
// It returns the charset hint used for raw 8-bit bytes.
// Only the top-level message (top) falls back to Gmail's internal date; an
// embedded message without a Date keeps a zero Date silently.
func (d *decoder) decodeHeaders(msg *Message, h header, top bool) string {
	// Raw 8-bit header bytes are most often in the body's charset.
	_, ctParams, _ := parseMediaTypeLenient(h.get("Content-Type"), "text/plain")
	hint := ctParams["charset"]
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
			msg.warnf("header Date: cannot parse %q", oneLine(hd.text(v, "", nil)))
		}
	}
	if msg.DateSource == "" && top {
		if !d.opts.InternalDate.IsZero() {
			msg.Date, msg.DateSource = d.opts.InternalDate, DateSourceInternal
			if h.get("Date") == "" {
				msg.warnf("header Date: missing; using internal date")
			} else {
				msg.warnf("header Date: using internal date instead")
			}
		} else if h.get("Date") == "" {
			msg.warnf("header Date: missing and no internal date given")
		}
	}

	msg.Bulk = isBulk(h)
	return hint
}

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

var msgIDRe = regexp.MustCompile(`<([^<>]*)>`)

func msgIDs(v string) []string {
	var out []string
	for _, m := range msgIDRe.FindAllStringSubmatch(v, 200) {
		if id := strings.TrimSpace(m[1]); id != "" {
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

func firstMsgID(v string) string {
	if ids := msgIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return strings.Trim(strings.TrimSpace(v), "<>")
}

// headerDecoder decodes header values leniently.
type headerDecoder struct {
	conv *textConverter
	hint string // charset to try first for raw 8-bit bytes
}

// text repairs raw 8-bit bytes to UTF-8 without decoding encoded words (for
// structured fields: ids, dates).
func (hd headerDecoder) text(v, where string, msg *Message) string {
	if utf8.ValidString(v) && strings.IndexByte(v, 0) < 0 {
		return v
	}
	s, note := hd.conv.convert([]byte(v), "", hd.hint)
	if note != "" && msg != nil && where != "" {
		msg.warnf("%s: raw 8-bit bytes: %s", where, note)
	}
	return s
}

// segment is a run of literal text or of adjacent encoded words sharing a
// charset, in raw bytes.
type segment struct {
	encoded bool
	charset string
	b       []byte
}

// maxEncodedWord bounds the search for the end of an encoded word. RFC 2047
// §2 limits words to 75 characters; broken senders exceed that, but not by
// kilobytes, and the bound keeps scanning linear.
const maxEncodedWord = 1024

// decode decodes RFC 2047 encoded words leniently: words that are not
// separated by whitespace, that contain spaces, that have bad padding, that
// split a multi-byte character across two words, or that declare a wrong or
// unknown charset. Raw 8-bit bytes outside words are repaired too. Every
// repair is recorded on msg (when non-nil) under where.
func (hd headerDecoder) decode(v, where string, msg *Message) string {
	segs, broken := splitEncodedWords(v)
	var b strings.Builder
	var notes []string
	for _, s := range segs {
		if !s.encoded {
			if utf8.Valid(s.b) {
				b.Write(s.b)
				continue
			}
			t, note := hd.conv.convert(s.b, "", hd.hint)
			if note != "" {
				notes = append(notes, "raw 8-bit bytes: "+note)
			}
			b.WriteString(t)
			continue
		}
		t, note := hd.conv.convert(s.b, s.charset, hd.hint)
		if note != "" {
			notes = append(notes, "encoded word: "+note)
		}
		b.WriteString(t)
	}
	out, stripNote := stripNUL(b.String())
	if stripNote != "" {
		notes = append(notes, stripNote)
	}
	if msg != nil && where != "" {
		if broken > 0 {
			msg.warnf("%s: %d malformed encoded word(s) kept as text", where, broken)
		}
		for _, n := range notes {
			msg.warnf("%s: %s", where, n)
		}
	}
	return out
}

func stripNUL(s string) (string, string) {
	if strings.IndexByte(s, 0) < 0 {
		return s, ""
	}
	n := strings.Count(s, "\x00")
	return strings.ReplaceAll(s, "\x00", ""), fmt.Sprintf("removed %d NUL byte(s)", n)
}

// splitEncodedWords splits v into literal and encoded segments (RFC 2047 §2,
// §6.2: whitespace between adjacent encoded words is dropped). It returns the
// number of things that looked like encoded words but could not be decoded.
func splitEncodedWords(v string) ([]segment, int) {
	var segs []segment
	broken := 0
	lit := func(s string) {
		if s == "" {
			return
		}
		if n := len(segs); n > 0 && !segs[n-1].encoded {
			segs[n-1].b = append(segs[n-1].b, s...)
			return
		}
		segs = append(segs, segment{b: []byte(s)})
	}
	for {
		i := strings.Index(v, "=?")
		if i < 0 {
			lit(v)
			break
		}
		charset, payload, end, ok := parseEncodedWord(v[i:])
		if !ok {
			lit(v[:i+2])
			v = v[i+2:]
			if end < 0 {
				broken++
			}
			continue
		}
		before := v[:i]
		n := len(segs)
		if n > 0 && segs[n-1].encoded && strings.TrimSpace(before) == "" {
			before = "" // whitespace between encoded words is not displayed
		}
		lit(before)
		n = len(segs)
		if n > 0 && segs[n-1].encoded && strings.EqualFold(segs[n-1].charset, charset) {
			// Same charset: join the bytes before conversion, so a multi-byte
			// character split across words survives.
			segs[n-1].b = append(segs[n-1].b, payload...)
		} else {
			segs = append(segs, segment{encoded: true, charset: charset, b: payload})
		}
		v = v[i+end:]
	}
	return segs, broken
}

// parseEncodedWord parses "=?charset?enc?text?=" at the start of s. end is
// the length consumed; it is -1 when s looked like an encoded word (had the
// charset and encoding) that could not be decoded.
func parseEncodedWord(s string) (charset string, payload []byte, end int, ok bool) {
	rest := s[2:]
	q1 := strings.IndexByte(rest, '?')
	if q1 <= 0 || q1 > 64 || strings.ContainsAny(rest[:q1], " \t\"<>(),") {
		return "", nil, 0, false
	}
	charset = rest[:q1]
	rest = rest[q1+1:]
	if len(rest) < 2 || rest[1] != '?' {
		return "", nil, 0, false
	}
	enc := rest[0] | 0x20 // lower-case
	if enc != 'b' && enc != 'q' {
		return "", nil, -1, false
	}
	rest = rest[2:]
	limit := min(len(rest), maxEncodedWord)
	e := strings.Index(rest[:limit], "?=")
	if e < 0 {
		return "", nil, -1, false
	}
	text := rest[:e]
	end = 2 + q1 + 1 + 2 + e + 2
	if enc == 'b' {
		b, err := decodeBase64Lenient(text)
		if err != nil {
			return "", nil, -1, false
		}
		return charset, b, end, true
	}
	return charset, decodeQ(text), end, true
}

// decodeQ decodes the RFC 2047 §4.2 "Q" encoding; a "=" not followed by two
// hex digits is kept literally, as broken encoders produce that.
func decodeQ(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// decodeBase64Lenient accepts missing or extra padding and stray bytes.
func decodeBase64Lenient(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	return base64.RawStdEncoding.DecodeString(string(clean))
}

// addresses parses an address list (RFC 5322 §3.4) with net/mail after
// normalising every encoded word to UTF-8 (so wrong charset labels are
// repaired the same way as elsewhere). When strict parsing fails it falls
// back to extracting what looks like addresses and reports ok=false.
func (hd headerDecoder) addresses(v, where string, msg *Message) ([]Address, bool) {
	norm := hd.normalizeWords(v, where, msg)
	if strings.TrimSpace(norm) == "" {
		return nil, true
	}
	p := netmail.AddressParser{WordDecoder: &mime.WordDecoder{}}
	if list, err := p.ParseList(norm); err == nil {
		return hd.convertList(list), true
	}
	var out []Address
	for _, piece := range splitAddressList(norm) {
		if strings.TrimSpace(piece) == "" {
			continue
		}
		if a, err := p.Parse(piece); err == nil {
			out = append(out, hd.convertList([]*netmail.Address{a})...)
			continue
		}
		if a, ok := extractAddress(piece, hd); ok {
			out = append(out, a)
		}
	}
	return out, false
}

func (hd headerDecoder) convertList(list []*netmail.Address) []Address {
	out := make([]Address, 0, len(list))
	for _, a := range list {
		out = append(out, Address{Name: oneLine(hd.decode(a.Name, "", nil)), Address: oneLine(a.Address)})
	}
	return out
}

// normalizeWords rewrites each encoded word (or run of adjacent words) as a
// UTF-8 "B" encoded word and repairs raw 8-bit text, leaving the structure
// (quotes, commas, angle brackets) untouched for the address parser.
func (hd headerDecoder) normalizeWords(v, where string, msg *Message) string {
	segs, _ := splitEncodedWords(v)
	var b strings.Builder
	inQuote := false
	for _, s := range segs {
		if !s.encoded {
			t := string(s.b)
			if !utf8.Valid(s.b) {
				var note string
				t, note = hd.conv.convert(s.b, "", hd.hint)
				if note != "" && msg != nil {
					msg.warnf("%s: raw 8-bit bytes: %s", where, note)
				}
			}
			b.WriteString(t)
			inQuote = quoteStateAfter(t, inQuote)
			continue
		}
		t, note := hd.conv.convert(s.b, s.charset, hd.hint)
		if note != "" && msg != nil {
			msg.warnf("%s: encoded word: %s", where, note)
		}
		// Decoded text goes in as (part of) a quoted-string, RFC 5322
		// §3.2.4, UTF-8 allowed by RFC 6532: a comma or "<" inside an
		// encoded word must not change the structure.
		q := quoteEscaper.Replace(oneLine(t))
		if inQuote {
			b.WriteString(q)
		} else {
			b.WriteString(`"` + q + `"`)
		}
	}
	out, _ := stripNUL(b.String())
	return out
}

// quoteStateAfter reports whether s, starting inside a quoted-string when
// in is true, ends inside one.
func quoteStateAfter(s string, in bool) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if in {
				i++
			}
		case '"':
			in = !in
		}
	}
	return in
}

// splitAddressList splits on commas and semicolons outside quoted strings,
// comments and angle brackets.
func splitAddressList(s string) []string {
	var out []string
	depthParen, inQuote, inAngle := 0, false, false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (inQuote || depthParen > 0):
			i++
		case c == '"' && depthParen == 0:
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depthParen++
		case c == ')' && depthParen > 0:
			depthParen--
		case depthParen > 0:
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case (c == ',' || c == ';') && !inAngle:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

var (
	angleAddrRe = regexp.MustCompile(`<\s*([^<>\s]+@[^<>\s]+?)\s*>`)
	bareAddrRe  = regexp.MustCompile(`[^\s<>"',;:()\[\]@]+@[^\s<>"',;:()\[\]@]+`)
)

// extractAddress pulls an address out of a piece net/mail rejected, e.g.
// `John Doe <john@example.com` or `"Doe, J." john@example.com`.
func extractAddress(piece string, hd headerDecoder) (Address, bool) {
	if m := angleAddrRe.FindStringSubmatchIndex(piece); m != nil {
		name := piece[:m[0]] + piece[m[1]:]
		return Address{Name: cleanName(name, hd), Address: piece[m[2]:m[3]]}, true
	}
	if m := bareAddrRe.FindStringIndex(piece); m != nil {
		name := piece[:m[0]] + piece[m[1]:]
		return Address{Name: cleanName(name, hd), Address: strings.Trim(piece[m[0]:m[1]], "<>.")}, true
	}
	return Address{}, false
}

// quoteEscaper escapes the specials of a quoted-string (RFC 5322 §3.2.4).
var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// nameCleaner strips stray angle brackets and unescapes quotes in display
// names; built once (a Replacer builds its lookup table on first use).
var nameCleaner = strings.NewReplacer("<", "", ">", "", "\\\"", "\"")

func cleanName(s string, hd headerDecoder) string {
	s = nameCleaner.Replace(s)
	s = strings.Trim(strings.TrimSpace(s), "\"' ")
	return oneLine(hd.decode(s, "", nil))
}

// dateLayouts are tried after net/mail.ParseDate, which implements RFC 5322
// §3.3 plus the obsolete forms of §4.3. They cover what it rejects in real
// mail: missing seconds, ISO 8601, asctime, dashes, two-digit years, zone
// names that are not RFC 822 ones.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04:05",
	"Mon, 2 Jan 2006 15:04:05 -0700 MST",
	"Mon, 2 Jan 2006 03:04:05 PM -0700",
	"2 Jan 2006 03:04:05 PM -0700",
	"Mon, 2 Jan 06 15:04:05",
	"2 Jan 06 3:04:05 PM",
	"2006/01/02 Mon 15:04:05",
	"Mon, 02-Jan-2006 15:04:05 -0700",
	"02-Jan-2006 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 January 2006 15:04:05 -0700",
	"Monday, 2 January 2006 15:04:05 -0700",
	"Monday, January 2, 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon, Jan 2 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15.04.05 -0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
	time.RFC3339,
	"2006-01-02T15:04:05",
	"01/02/2006 15:04:05",
	"Mon, 2 Jan 2006",
	"2 Jan 2006",
}

var (
	dateCommentRe = regexp.MustCompile(`\([^()]*\)`)
	dateSpaceRe   = regexp.MustCompile(`\s+`)
	// "GMT+0100", "UTC-05:00" → "+0100", "-0500"
	dateGMTOffsetRe = regexp.MustCompile(`(?i)\b(?:GMT|UTC|UT)\s*([+-])(\d{1,2}):?(\d{2})\b`)
	dateColonZoneRe = regexp.MustCompile(`([+-])(\d{2}):(\d{2})$`)
	dateCommaRe     = regexp.MustCompile(`,\s*`)
	// "16:54:6" → "16:54:06"
	dateOneDigitRe  = regexp.MustCompile(`(:)(\d)\b`)
	dateTimeOfDayRe = regexp.MustCompile(`\b\d{1,2}:\d{2}(:\d{2})?\b`)
	dateOffsetRe    = regexp.MustCompile(`^[+-]\d{4}$`)
)

// parseDateLenient parses a Date header value.
func parseDateLenient(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 200 {
		return time.Time{}, false
	}
	if t, err := netmail.ParseDate(v); err == nil && plausibleDate(t) {
		return t, true
	}
	s := dateCommentRe.ReplaceAllString(v, " ")
	s = strings.ReplaceAll(s, "+-", "-") // "+-0700": a sign printed twice
	s = dateCommaRe.ReplaceAllString(s, ", ")
	s = dateOneDigitRe.ReplaceAllString(s, "${1}0$2")
	s = dateGMTOffsetRe.ReplaceAllStringFunc(s, func(m string) string {
		p := dateGMTOffsetRe.FindStringSubmatch(m)
		h := p[2]
		if len(h) == 1 {
			h = "0" + h
		}
		return p[1] + h + p[3]
	})
	s = strings.Trim(dateSpaceRe.ReplaceAllString(s, " "), " ,.")
	s = dateColonZoneRe.ReplaceAllString(s, "$1$2$3")
	// Drop a trailing zone name after a numeric offset ("+0200 CEST").
	if f := strings.Fields(s); len(f) > 2 {
		last := f[len(f)-1]
		prev := f[len(f)-2]
		if (strings.HasPrefix(prev, "+") || strings.HasPrefix(prev, "-")) && isAlpha(last) {
			s = strings.Join(f[:len(f)-1], " ")
		}
	}
	if t, err := netmail.ParseDate(s); err == nil && plausibleDate(fixCenturyBug(t)) {
		return fixCenturyBug(t), true
	}
	// Day names are often misspelt or localised; try without them too.
	candidates := []string{s}
	if i := strings.IndexAny(s, ", "); i > 0 && isAlpha(s[:i]) && len(s[:i]) > 3 || i > 0 && s[i] == ',' {
		candidates = append(candidates, strings.TrimSpace(s[i+1:]))
	}
	// Last resort: whatever follows the time of day is junk or a zone
	// name Go cannot resolve ("Eastern Daylight Time"): keep a numeric
	// offset if there is one, else read the time as UTC.
	if m := dateTimeOfDayRe.FindStringIndex(s); m != nil {
		head, tail := s[:m[1]], strings.Fields(s[m[1]:])
		if len(tail) > 0 && dateOffsetRe.MatchString(tail[0]) {
			head += " " + tail[0]
		} else if len(tail) > 0 && strings.EqualFold(tail[0], "PM") || len(tail) > 0 && strings.EqualFold(tail[0], "AM") {
			head += " " + strings.ToUpper(tail[0])
			if len(tail) > 1 && dateOffsetRe.MatchString(tail[1]) {
				head += " " + tail[1]
			}
		}
		if head != s {
			candidates = append(candidates, head)
			if i := strings.IndexByte(head, ','); i > 0 {
				candidates = append(candidates, strings.TrimSpace(head[i+1:]))
			}
		}
	}
	for _, c := range candidates {
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, c); err == nil && plausibleDate(fixCenturyBug(t)) {
				return fixCenturyBug(t), true
			}
		}
	}
	return time.Time{}, false
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// plausibleDate rejects years that only come from garbage (e.g. "0000").
func plausibleDate(t time.Time) bool {
	y := t.Year()
	return y >= 1970 && y <= 2200
}

// fixCenturyBug repairs years printed as "0102" by software that wrote
// struct tm's years-since-1900 (common in 2002 spam).
func fixCenturyBug(t time.Time) time.Time {
	if y := t.Year(); y >= 100 && y < 200 {
		return t.AddDate(1900, 0, 0)
	}
	return t
}
