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
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
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
