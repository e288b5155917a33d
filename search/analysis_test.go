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
		{"e\u0301clair", []string{"e\u0301clair"}}, // a combining mark stays inside the word
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

func TestCorpusDeterministic(t *testing.T) {
	a, b := NewCorpus(DefaultCorpus()), NewCorpus(DefaultCorpus())
	for _, i := range []int{0, 1, 999, 123456} {
		da, db := a.Doc(i), b.Doc(i)
		if da.ID != int64(i)+1 || da.Subject != db.Subject || da.Body != db.Body || da.From != db.From || !da.Date.Equal(db.Date) {
			t.Errorf("Doc(%d) differs between generators", i)
		}
		if da.Subject == "" || len(da.Body) < 100 || da.MailboxID < 1 || da.MailboxID > 20 || len(da.To) == 0 {
			t.Errorf("Doc(%d) = %+v, implausible", i, da)
		}
	}
	if a.Doc(1).Body == a.Doc(2).Body {
		t.Error("consecutive documents have the same body")
	}
}
