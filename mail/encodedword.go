package mail

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

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
	if plainText(v) {
		return v // what decodeWords gives, without its copies (FuzzPlainText)
	}
	return hd.decodeWords(v, where, msg)
}

func (hd headerDecoder) decodeWords(v, where string, msg *Message) string {
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

// plainText reports whether v needs no decoding at all: no encoded word
// can start in it, and it is valid UTF-8 without NUL bytes. Most header
// values are like that.
func plainText(v string) bool {
	return !strings.Contains(v, "=?") && utf8.ValidString(v) && strings.IndexByte(v, 0) < 0
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
