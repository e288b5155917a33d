package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"github.com/blevesearch/bleve/v2/registry"
	"golang.org/x/text/unicode/norm"
)

// foldFilterName is a token filter that folds each token to ASCII with
// bleve's ASCII folding table ("Müller" → "Muller", "ß" → "ss"). Bleve ships
// the table only as a char filter, which runs before tokenizing and so
// shifts byte offsets whenever a folded character changes length — the
// highlighter would then mark "Mülle" instead of "Müller". Folding each
// token keeps offsets pointing into the original text.
const foldFilterName = "tidings_fold"

type foldFilter struct {
	f *asciifolding.AsciiFoldingFilter
}

func (f foldFilter) Filter(input analysis.TokenStream) analysis.TokenStream {
	for _, tok := range input {
		for _, c := range tok.Term {
			if c >= 0x80 {
				// Canonical decomposition without combining marks first
				// (UAX #15), which also folds scripts the ASCII table
				// leaves alone ("отчёт" → "отчет"), then the ASCII table.
				tok.Term = f.f.Filter([]byte(stripMarks(string(tok.Term))))
				break
			}
		}
	}
	return input
}

// stripMarks removes combining marks after canonical decomposition.
func stripMarks(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}

func init() {
	// Registration is how bleve resolves analysis components named in a
	// stored index mapping, so an index reopened from disk finds it too.
	registry.RegisterTokenFilter(foldFilterName, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return foldFilter{asciifolding.New()}, nil
	})
	registry.RegisterTokenizer(wordsTokenizerName, func(map[string]any, *registry.Cache) (analysis.Tokenizer, error) {
		return wordsTokenizer{}, nil
	})
}

// wordsTokenizerName splits text into runs of letters, digits and
// combining marks (so "p.jansen@acme.com" yields p, jansen, acme, com and
// "jans" finds the address as a word prefix). It does what a regexp
// tokenizer with [\p{L}\p{N}][\p{L}\p{M}\p{N}]* does, without the regexp
// engine, which dominated indexing time.
const wordsTokenizerName = "tidings_words"

type wordsTokenizer struct{}

func isWordRune(r rune, first bool) bool {
	if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) {
		return true
	}
	return !first && unicode.Is(unicode.M, r)
}

func (wordsTokenizer) Tokenize(input []byte) analysis.TokenStream {
	var out analysis.TokenStream
	start := -1
	pos := 1
	for i := 0; i < len(input); {
		r, size := rune(input[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(input[i:])
		}
		if isCJK(r) {
			// CJK is written without spaces: each character is a token,
			// and a CJK word in a query becomes a phrase of its
			// characters, found anywhere in a run (as bigrams would be).
			if start >= 0 {
				out = append(out, &analysis.Token{Term: input[start:i], Start: start, End: i, Position: pos, Type: analysis.AlphaNumeric})
				pos++
				start = -1
			}
			out = append(out, &analysis.Token{Term: input[i : i+size], Start: i, End: i + size, Position: pos, Type: analysis.Ideographic})
			pos++
		} else if isWordRune(r, start < 0) {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			out = append(out, &analysis.Token{Term: input[start:i], Start: start, End: i, Position: pos, Type: analysis.AlphaNumeric})
			pos++
			start = -1
		}
		i += size
	}
	if start >= 0 {
		out = append(out, &analysis.Token{Term: input[start:], Start: start, End: len(input), Position: pos, Type: analysis.AlphaNumeric})
	}
	return out
}
