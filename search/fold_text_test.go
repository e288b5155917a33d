package search

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestFoldText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Invoice 2024", "Invoice 2024"},
		{"Müller Café Résumé", "Muller Cafe Resume"},
		{"Отчёт ёлка", "Отчет елка"},
		{"Straße Ølberg Łódź", "Strasse Olberg Lodz"},
		{"東京都に住む", " 東  京  都  に  住  む "},
		{"e\u0301", "e"}, // already decomposed
		{"Dear Jürgen, see the Café.\nBjörn", "Dear Jurgen, see the Cafe.\nBjorn"},
		{"x<\u0338y", "x<y"},
	} {
		if got := foldText(c.in); got != c.want {
			t.Errorf("foldText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzFoldText(f *testing.F) {
	for _, s := range []string{"Müller", "отчёт", "東京", "\xff", "a\u0301\u0301", "Dear Jürgen,\n\nsee the café-menu (résumé).\nBjörn",
		"<\u0338 =\u0338", "x\u0301y.\u0301", "ab東c", "1ø2 ß."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := foldText(s)
		// Folding word by word must equal folding the whole text.
		if whole := foldWhole(s); out != whole {
			t.Errorf("foldText(%q) = %q, folding the whole text gives %q", s, out, whole)
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Errorf("foldText(%q) = %q is not valid UTF-8", s, out)
		}
		if strings.ContainsFunc(out, func(r rune) bool { return unicode.Is(unicode.Mn, r) }) && utf8.ValidString(s) {
			t.Errorf("foldText(%q) = %q keeps a combining mark", s, out)
		}
	})
}
