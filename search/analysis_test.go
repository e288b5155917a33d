package search

import (
	"slices"
	"testing"
)

func TestFoldedAnalyzer(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Peter Jansen <p.jansen@acme.com>", []string{"peter", "jansen", "p", "jansen", "acme", "com"}},
		{"Müller, Zoë & Øystein", []string{"muller", "zoe", "oystein"}},
		{"Straße café-résumé", []string{"strasse", "cafe", "resume"}},
		{"invoice-117.pdf Q3/2024", []string{"invoice", "117", "pdf", "q3", "2024"}},
		{"e\u0301clair", []string{"eclair"}}, // a combining mark stays inside the word, then folds away
		{"  ,;  ", []string{}},
	} {
		if got := foldTokens(c.in); !slices.Equal(got, c.want) {
			t.Errorf("foldTokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFoldedAnalyzerOffsets(t *testing.T) {
	// Offsets must point into the original text for highlighting.
	in := []byte("Anna Müller wrote")
	toks := wordsTokenizer{}.Tokenize(in)
	if len(toks) != 3 || string(in[toks[1].Start:toks[1].End]) != "Müller" || toks[1].Position != 2 {
		t.Fatalf("tokens = %v", toks)
	}
}
