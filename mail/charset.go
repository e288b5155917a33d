package mail

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gogs/chardet"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// charsetInfo is the result of resolving a declared charset label.
type charsetInfo struct {
	enc  encoding.Encoding // nil when the label is unknown or absent
	name string            // canonical name of enc ("" when enc is nil)
	// normalized is true when the label only resolved after repairing its
	// spelling (quotes, underscores, missing hyphens, ...).
	normalized bool
}

// lookupCharset resolves a MIME charset label. WHATWG labels (htmlindex) are
// tried first because they encode what real mail clients do with common
// mislabels (e.g. "latin1"/"iso-8859-1" → windows-1252, "ks_c_5601-1987" →
// euc-kr, "gb2312" → gbk); IANA MIME names (ianaindex) cover the rest.
func lookupCharset(label string) charsetInfo {
	l := cleanLabel(label)
	if l == "" {
		return charsetInfo{}
	}
	if enc, name := resolveLabel(l); enc != nil {
		return charsetInfo{enc: enc, name: name}
	}
	// Misspellings seen in the wild: "utf_8", "iso8859-1", "iso_8859_15",
	// "cp-1252", "x-sjis" (already WHATWG), "win-1251", "utf-8 " ...
	variants := []string{
		strings.ReplaceAll(l, "_", "-"),
		strings.ReplaceAll(strings.ReplaceAll(l, "_", ""), "-", ""),
		strings.TrimPrefix(l, "x-"),
	}
	if rest, ok := strings.CutPrefix(strings.ReplaceAll(l, "_", "-"), "iso8859"); ok {
		variants = append(variants, "iso-8859"+rest)
	}
	for _, p := range []string{"cp-", "win-", "windows", "win"} {
		if rest, ok := strings.CutPrefix(l, p); ok {
			variants = append(variants, "windows-"+strings.TrimLeft(rest, "-_"))
		}
	}
	for _, v := range variants {
		if v == l || v == "" {
			continue
		}
		if enc, name := resolveLabel(v); enc != nil {
			return charsetInfo{enc: enc, name: name, normalized: true}
		}
	}
	return charsetInfo{}
}

func cleanLabel(label string) string {
	l := strings.ToLower(strings.TrimSpace(label))
	l = strings.Trim(l, "\"' \t;,")
	// Some senders append RFC 2231 language tags ("utf-8*en") to labels.
	if i := strings.IndexByte(l, '*'); i >= 0 {
		l = l[:i]
	}
	return l
}

func resolveLabel(l string) (encoding.Encoding, string) {
	if enc, err := htmlindex.Get(l); err == nil && enc != nil {
		name, _ := htmlindex.Name(enc)
		// WHATWG's "replacement" encoding (iso-2022-kr, hz-gb-2312, ...)
		// turns the whole input into one U+FFFD: treat it as unknown so
		// detection gets a chance.
		if name == "replacement" {
			return nil, ""
		}
		return enc, name
	}
	if enc, err := ianaindex.MIME.Encoding(l); err == nil && enc != nil {
		name, err := ianaindex.MIME.Name(enc)
		if err != nil {
			name = l
		}
		return enc, strings.ToLower(name)
	}
	return nil, ""
}

func isUTF8Name(name string) bool { return name == "utf-8" }

// is7bitStateful reports charsets whose encoded form is pure ASCII but must
// still be decoded (RFC 1468 ISO-2022-JP and friends).
func is7bitStateful(name string) bool { return strings.HasPrefix(name, "iso-2022") }

func isUTF16or32(name string) bool {
	return strings.HasPrefix(name, "utf-16") || strings.HasPrefix(name, "utf-32")
}

func hasHighBit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// decodeWith converts b with enc and reports whether the result looks like
// the right interpretation: no replacement characters (invalid sequences for
// that charset) and no C1 control characters (a single-byte charset applied to
// bytes from another one, e.g. windows-1252 quotes read as ISO-8859-2).
func decodeWith(enc encoding.Encoding, b []byte) (string, bool) {
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", false
	}
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	clean := true
	for _, r := range string(out) {
		if r == utf8.RuneError || (r >= 0x80 && r <= 0x9f) {
			clean = false
			break
		}
	}
	return string(out), clean
}

// textConverter turns bytes in a declared (and untrusted) charset into valid
// UTF-8 without NUL bytes.
type textConverter struct {
	detector *chardet.Detector
}

func newTextConverter() *textConverter {
	return &textConverter{detector: chardet.NewTextDetector()}
}

// detect returns chardet's candidates for b, most confident first, in an
// order that does not change between calls: chardet runs its recognizers
// concurrently and sorts their results unstably, so candidates of equal
// confidence (common for short 8-bit text: ISO-8859-2 and windows-1252)
// came back in a different order from call to call, and the same message
// could decode differently when synced again.
func (c *textConverter) detect(b []byte) []chardet.Result {
	results, err := c.detector.DetectAll(b)
	if err != nil {
		return nil
	}
	slices.SortStableFunc(results, func(x, y chardet.Result) int {
		if x.Confidence != y.Confidence {
			return cmp.Compare(y.Confidence, x.Confidence)
		}
		if x.Charset != y.Charset {
			return strings.Compare(x.Charset, y.Charset)
		}
		return strings.Compare(x.Language, y.Language)
	})
	return results
}

// convert decodes b, which its sender says is in charset label. It never
// trusts the label: the decoded text is validated and, when the label is
// wrong, missing or unknown, the charset is detected with chardet (a port of
// ICU's detector). hint is a charset to try before detection (e.g. the body's
// charset for raw 8-bit header bytes). The returned note is empty when no
// repair was needed and otherwise says what was done (without location).
func (c *textConverter) convert(b []byte, label, hint string) (string, string) {
	text, note := c.convertRaw(b, label, hint)
	if strings.IndexByte(text, 0) >= 0 {
		n := strings.Count(text, "\x00")
		text = strings.ReplaceAll(text, "\x00", "")
		note = joinNotes(note, fmt.Sprintf("removed %d NUL byte(s)", n))
	}
	// A byte-order mark is invisible and only confuses search.
	text = strings.TrimPrefix(text, "\uFEFF")
	if !utf8.ValidString(text) { // defensive: decoders should never produce this
		text = strings.ToValidUTF8(text, "\uFFFD")
		note = joinNotes(note, "replaced invalid UTF-8")
	}
	return text, note
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// convertRaw converts b, declared as charset label, to UTF-8; the note says
// how the declaration was wrong or repaired, "" when it was right. hint is
// the message body's charset, tried first when the label does not fit.
func (c *textConverter) convertRaw(b []byte, label, hint string) (string, string) {
	info := lookupCharset(label)
	declared := cleanLabel(label)
	var misspelled string
	if info.normalized {
		misspelled = fmt.Sprintf("declared charset %q is misspelled; read as %q", declared, info.name)
	}

	// UTF-16/32 and ISO-2022 text must go through their decoder even when
	// the bytes look like ASCII or UTF-8.
	if info.enc != nil && (isUTF16or32(info.name) || is7bitStateful(info.name)) {
		if s, ok := decodeWith(info.enc, b); ok {
			return s, misspelled
		}
	}
	switch {
	case !hasHighBit(b):
		return asciiText(b, declared, info, misspelled)
	case utf8.Valid(b):
		return c.utf8Text(b, declared, info, misspelled)
	}
	return c.legacyText(b, declared, info, misspelled, hint)
}

// asciiText reads 7-bit bytes: ASCII, unless ISO-2022 escape sequences
// show undeclared ISO-2022-JP.
func asciiText(b []byte, declared string, info charsetInfo, misspelled string) (string, string) {
	if bytes.Contains(b, []byte("\x1b$")) { // ISO-2022 escape sequences, undeclared
		if enc, name := resolveLabel("iso-2022-jp"); enc != nil && info.enc == nil {
			if s, ok := decodeWith(enc, b); ok {
				return s, fmt.Sprintf("%s; detected %q from escape sequences", describeDeclared(declared, info), name)
			}
		}
	}
	return string(b), misspelled
}

// utf8Text reads bytes that are valid UTF-8 but may be declared as
// something else.
func (c *textConverter) utf8Text(b []byte, declared string, info charsetInfo, misspelled string) (string, string) {
	if declared == "" || isUTF8Name(info.name) {
		return string(b), misspelled
	}
	if info.enc == nil {
		return string(b), fmt.Sprintf("%s; bytes are valid UTF-8, read as UTF-8", describeDeclared(declared, info))
	}
	// Non-ASCII bytes that form valid UTF-8 are very unlikely to be
	// single-byte legacy text (that would take pairs like "Ã¼"), but
	// short multi-byte strings can collide (e.g. two Shift_JIS
	// half-width katakana). For multi-byte charsets keep the declared
	// one when it decodes cleanly and the detector agrees with it.
	if _, singleByte := info.enc.(*charmap.Charmap); singleByte {
		return string(b), fmt.Sprintf("declared charset %q but the bytes are valid UTF-8; read as UTF-8", declared)
	}
	if s, ok := decodeWith(info.enc, b); ok {
		if results := c.detect(b); len(results) > 0 && results[0].Charset != "UTF-8" {
			best := results[0]
			if enc, _ := resolveLabel(strings.ToLower(best.Charset)); enc != nil && sameEncoding(enc, info.enc) {
				return s, misspelled
			}
		}
	}
	return string(b), fmt.Sprintf("declared charset %q but the bytes are valid UTF-8; read as UTF-8", declared)
}

// legacyText reads bytes that are not valid UTF-8: the declared charset
// when it decodes them, else mostly-UTF-8 with replacements, else the
// body's charset (hint) or a detected one, else a lossless fallback.
func (c *textConverter) legacyText(b []byte, declared string, info charsetInfo, misspelled, hint string) (string, string) {
	// Not UTF-8. Try the declared charset first.
	if info.enc != nil && !isUTF8Name(info.name) {
		if s, ok := decodeWith(info.enc, b); ok {
			return s, misspelled
		}
	}
	// UTF-8 with a few broken sequences (a truncated character, one stray
	// legacy byte) is still UTF-8: reading it as a legacy charset would
	// garble every correct character.
	if valid, invalid := utf8Stats(b); valid > 0 && valid >= 2*invalid {
		if info.enc == nil || isUTF8Name(info.name) {
			return strings.ToValidUTF8(string(b), "\uFFFD"), fmt.Sprintf("%s; mostly valid UTF-8, %d invalid sequence(s) replaced with U+FFFD", describeMismatch(declared, info), invalid)
		}
	}
	// The declared charset is wrong, missing or unknown: detect.
	tried := map[string]bool{}
	try := func(lbl string) (string, string, bool) {
		enc, name := resolveLabel(strings.ToLower(lbl))
		if enc == nil || tried[name] || isUTF8Name(name) || isUTF16or32(name) {
			return "", "", false
		}
		tried[name] = true
		if info.enc != nil && sameEncoding(enc, info.enc) {
			return "", "", false
		}
		s, ok := decodeWith(enc, b)
		return s, name, ok
	}
	if hint != "" {
		if s, name, ok := try(cleanLabel(hint)); ok {
			return s, fmt.Sprintf("%s; read as %q (charset of the message body)", describeMismatch(declared, info), name)
		}
	}
	for _, r := range c.detect(b) {
		if s, name, ok := try(r.Charset); ok {
			if ls, lname, ok := pickLatin(b, name); ok {
				s, name = ls, lname
			}
			return s, fmt.Sprintf("%s; detected %q", describeMismatch(declared, info), name)
		}
	}
	// Nothing decodes cleanly. Prefer the declared charset (with U+FFFD for
	// the bad sequences), otherwise windows-1252, which maps every byte to a
	// character so no byte is silently lost.
	if info.enc != nil && !isUTF8Name(info.name) {
		s, _ := decodeWith(info.enc, b)
		return s, fmt.Sprintf("%s; no charset fits, kept %q with replacement characters", describeMismatch(declared, info), info.name)
	}
	enc, _ := resolveLabel("windows-1252")
	s, _ := decodeWith(enc, b)
	return s, fmt.Sprintf("%s; no charset fits, read as \"windows-1252\"", describeMismatch(declared, info))
}

func describeDeclared(declared string, info charsetInfo) string {
	switch {
	case declared == "":
		return "no charset declared"
	case info.enc == nil:
		return fmt.Sprintf("unknown charset %q", declared)
	}
	return fmt.Sprintf("declared charset %q", declared)
}

func describeMismatch(declared string, info charsetInfo) string {
	if declared != "" && info.enc != nil {
		return fmt.Sprintf("declared charset %q is not valid for the bytes", declared)
	}
	return describeDeclared(declared, info)
}

// sameEncoding compares encodings by canonical WHATWG/IANA name.
func sameEncoding(a, b encoding.Encoding) bool {
	if a == b {
		return true
	}
	na, errA := htmlindex.Name(a)
	nb, errB := htmlindex.Name(b)
	if errA == nil && errB == nil {
		return na == nb
	}
	ia, errA := ianaindex.MIME.Name(a)
	ib, errB := ianaindex.MIME.Name(b)
	return errA == nil && errB == nil && ia == ib
}

// utf8Stats counts valid multi-byte UTF-8 sequences and invalid bytes.
func utf8Stats(b []byte) (valid, invalid int) {
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			invalid++
			b = b[1:]
			continue
		}
		valid++
		b = b[size:]
	}
	return valid, invalid
}

// latinFamily are the single-byte Western charsets a detector cannot tell
// apart by byte statistics: they differ only in 0x80–0x9F (C1 controls in
// Latin-1, punctuation and € in windows-1252) and eight bytes of 0xA0–0xBF
// (¤ ¦ ¨ ´ ¸ ¼ ½ ¾ in both, € Š š Ž ž Œ œ Ÿ in ISO-8859-15).
var latinFamily = []struct {
	name string
	enc  *charmap.Charmap
}{
	{"windows-1252", charmap.Windows1252},
	{"iso-8859-15", charmap.ISO8859_15},
	{"iso-8859-1", charmap.ISO8859_1},
}

// pickLatin re-decides a detected Western charset by which reading makes
// sense: the one with the fewest implausible characters wins (ties keep
// the detector's choice). "20 ¤ pour l'½uvre" loses to "20 € pour
// l'œuvre".
func pickLatin(b []byte, detected string) (string, string, bool) {
	inFamily := false
	for _, l := range latinFamily {
		inFamily = inFamily || l.name == detected
	}
	if !inFamily {
		return "", "", false
	}
	best, bestName, bestScore := "", "", -1
	for _, l := range latinFamily {
		s, err := l.enc.NewDecoder().String(string(b))
		if err != nil {
			continue
		}
		score := implausible(s)
		if bestScore < 0 || score < bestScore || score == bestScore && l.name == detected {
			best, bestName, bestScore = s, l.name, score
		}
	}
	return best, bestName, bestScore >= 0
}

// implausible counts characters that rarely occur in running text: C1
// controls, the generic currency sign, and the rare symbols of Latin-1's
// 0xA0–0xBF row when they touch a letter (where ISO-8859-15 has letters).
func implausible(s string) int {
	rs := []rune(s)
	n := 0
	letter := func(i int) bool { return i >= 0 && i < len(rs) && unicode.IsLetter(rs[i]) }
	for i, r := range rs {
		switch {
		case r >= 0x80 && r <= 0x9f:
			n += 3
		case r == '¤':
			n += 2
		case strings.ContainsRune("¦¨´¸¼½¾", r) && (letter(i-1) || letter(i+1)):
			n += 2
		}
	}
	return n
}
