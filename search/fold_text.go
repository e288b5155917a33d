package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"golang.org/x/text/unicode/norm"
)

// foldText is the folding of the FTS5 backend, applied to indexed text and
// to query words alike (SQLite's unicode61 tokenizer then only splits and
// lower-cases): canonical decomposition with combining marks removed (NFD,
// Unicode Standard Annex #15), so "Müller", "Résumé" and Cyrillic "отчёт"
// match "muller", "resume" and "отчет" as Gmail does; ASCII folding of
// letters that do not decompose ("ß" → "ss", "ø" → "o"); and every CJK
// character standing alone, so that a CJK word in a query, searched as a
// phrase of its characters, is found anywhere inside a run of CJK text
// (the bigram approach of Lucene's CJK analysis, without a dictionary).
func foldText(s string) string {
	i := nonASCII(s, 0)
	if i == len(s) {
		return s
	}
	// Mail is mostly ASCII with a few accented names: only the words that
	// hold a non-ASCII byte are normalized, the rest is copied. A word
	// here runs between ASCII bytes other than letters and digits, which
	// neither decompose nor compose with a neighbour, so folding word by
	// word gives what folding the whole text does (FuzzFoldText checks it
	// against foldWhole).
	var b strings.Builder
	b.Grow(len(s) + 8)
	done := 0
	for i < len(s) {
		start := i
		for start > done && isASCIIAlnum(s[start-1]) {
			start--
		}
		end := i
		for end < len(s) && (s[end] >= utf8.RuneSelf || isASCIIAlnum(s[end])) {
			end++
		}
		b.WriteString(s[done:start])
		b.WriteString(foldWhole(s[start:end]))
		done = end
		i = nonASCII(s, end)
	}
	b.WriteString(s[done:])
	return b.String()
}

// nonASCII is the index of the first byte of s at or after i that is not
// ASCII, or len(s).
func nonASCII(s string, i int) int {
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return i
		}
	}
	return len(s)
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// foldWhole is foldText's folding applied to all of s at once.
func foldWhole(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a combining mark: dropped
		case isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if strings.IndexFunc(out, func(r rune) bool { return r >= utf8.RuneSelf && !isCJK(r) }) >= 0 {
		out = string(asciiFolder.Filter([]byte(out)))
	}
	return norm.NFC.String(out)
}

var asciiFolder = asciifolding.New()

// isCJK reports Han, Hiragana, Katakana and Hangul characters: scripts
// written without spaces between words.
func isCJK(r rune) bool {
	return r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r))
}
