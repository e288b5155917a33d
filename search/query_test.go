package search

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseQuery(t *testing.T) {
	for _, c := range []struct {
		in, want    string // want: canonical String() of the tree
		trash, spam bool
	}{
		{in: "", want: ""},
		{in: "invoice", want: "invoice"},
		{in: "  invoice   jansen ", want: "invoice jansen"},
		{in: `"quarterly   review"`, want: `"quarterly review"`},
		{in: "from:jans to:anna", want: "from:jans to:anna"},
		{in: `FROM:"Peter Jansen"`, want: `from:"Peter Jansen"`},
		{in: "subject:(dinner movie)", want: "subject:dinner subject:movie"},
		{in: "subject:(dinner OR movie)", want: "subject:dinner OR subject:movie"},
		{in: "a OR b c", want: "a OR (b c)"},
		{in: "(a OR b) c", want: "(a OR b) c"},
		{in: "a AND b", want: "a b"},
		{in: "-from:bob invoice", want: "-from:bob invoice"},
		{in: "-(a OR b)", want: "-(a OR b)"},
		{in: "in:inbox is:unread is:starred", want: "label:inbox label:unread label:starred"},
		{in: "is:read", want: "-label:unread"},
		{in: "in:trash", want: "label:trash", trash: true},
		{in: "in:spam", want: "label:spam", spam: true},
		{in: "label:My-Project", want: "label:my-project"},
		{in: `label:"Work / Clients"`, want: "label:work-clients"},
		{in: "category:primary", want: "label:category_personal"},
		{in: "has:attachment filename:pdf", want: "has:attachment filename:pdf"},
		{in: "after:2024/1/5 before:2024-02-01", want: "after:2024/01/05 before:2024/02/01"},
		{in: "newer_than:7d older_than:2Y", want: "newer_than:7d older_than:2y"},
		{in: "after:1388534400 before:1388552400", want: "after:2014/01/01 before:1388552400"},
		{in: "10:30 meeting", want: "10:30 meeting"}, // not an operator: a word
		{in: "re: invoice", want: "re: invoice"},     // unknown operator stays text
		{in: "or and", want: "or and"},               // lower-case or/and are words
		{in: "invoice !!!", want: "invoice"},         // punctuation-only words are ignored
		{in: "e-mail", want: "e-mail"},               // a hyphen inside a word is not negation
		{in: "from:to:x", want: "from:to:x"},
		{in: "in:anywhere invoice", want: "in:anywhere invoice", trash: true, spam: true},
	} {
		q, err := ParseQuery(c.in)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", c.in, err)
			continue
		}
		if got := q.String(); got != c.want {
			t.Errorf("ParseQuery(%q) = %s, want %s", c.in, got, c.want)
		}
		if q.IncludeTrash != c.trash || q.IncludeSpam != c.spam {
			t.Errorf("ParseQuery(%q) trash/spam = %v/%v, want %v/%v", c.in, q.IncludeTrash, q.IncludeSpam, c.trash, c.spam)
		}
	}
}

func TestParseQuerySyntaxErrors(t *testing.T) {
	for _, c := range []struct {
		in      string
		pos     int
		msgPart string
	}{
		{`invoice "unclosed`, 8, "unclosed quote"},
		{`from:"unclosed`, 5, "unclosed quote"},
		{"(a OR b", 0, "unclosed '('"},
		{"a)", 1, "unbalanced ')'"},
		{"()", 0, "empty parentheses"},
		{"OR a", 0, "OR needs a search term on its left"},
		{"a OR", 2, "OR needs a search term on its right"},
		{"a OR )", 2, "OR needs a search term on its right"},
		{"AND a", 0, "AND needs a search term on both sides"},
		{"a -", 2, "'-' must be followed"},
		{"--a", 1, "double negation"},
		{"from:", 0, "from: needs a value"},
		{"from: bob", 0, "from: needs a value"},
		{"in:nowhere", 3, `unknown in: value "nowhere"`},
		{"is:snoozed", 3, `unknown is: value`},
		{"has:pdf", 4, `unknown has: value`},
		{"category:junk", 9, "unknown category"},
		{"before:2024/13/01", 7, "bad date"},
		{"after:yesterday", 6, "bad date"},
		{"newer_than:7w", 11, "bad age"},
		{"older_than:d", 11, "bad age"},
		{"label:", 0, "label: needs a value"},
		{"!!!", 3, "missing search term"},
		{strings.Repeat("(", 40) + "a" + strings.Repeat(")", 40), 32, "nested deeper"},
		{"a\xffb", 1, "not valid UTF-8"},
		{strings.Repeat("a ", 300), 512, "more than 256 search terms"},
	} {
		_, err := ParseQuery(c.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseQuery(%q) = %v, want *SyntaxError", c.in, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Msg, c.msgPart) {
			t.Errorf("ParseQuery(%q) = pos %d %q, want pos %d containing %q", c.in, se.Pos, se.Msg, c.pos, c.msgPart)
		}
		if !strings.HasPrefix(err.Error(), "search: syntax error at position ") {
			t.Errorf("error text %q lacks the package prefix and position", err)
		}
	}
}

// FuzzParseQuery: parsing never panics; errors are *SyntaxError with a
// position inside the input; a parsed query prints to text that parses
// to the same tree (String is a fixed point).
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "invoice", `"a b" OR -c`, "from:(a OR b) -to:c", "in:trash after:2024/1/1",
		"newer_than:3m label:\"X Y\"", "(a (b (c)))", "a\xff", "subject:", "-(-a)", "10:30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, err := ParseQuery(in)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseQuery(%q) error %T %v is not a *SyntaxError", in, err, err)
			}
			if se.Pos < 0 || se.Pos > len(in) {
				t.Fatalf("ParseQuery(%q) error position %d outside the input", in, se.Pos)
			}
			return
		}
		if q == nil || q.Root == nil {
			t.Fatalf("ParseQuery(%q) returned no tree and no error", in)
		}
		s1 := q.String()
		if !utf8.ValidString(s1) {
			t.Fatalf("String of %q is not UTF-8", in)
		}
		q2, err := ParseQuery(s1)
		if err != nil {
			t.Fatalf("ParseQuery(%q) -> %q does not re-parse: %v", in, s1, err)
		}
		if s2 := q2.String(); s2 != s1 {
			t.Fatalf("not a fixed point: %q -> %q -> %q", in, s1, s2)
		}
	})
}

// TestParseQueryInZone: before:/after: dates are midnights in the user's
// zone, as Gmail reads them; epoch seconds and relative ages are absolute.
func TestParseQueryInZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	for _, c := range []struct {
		q    string
		loc  *time.Location
		want time.Time
	}{
		{"after:2026/11/20", nil, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"after:2026/11/20", time.UTC, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"after:2026/11/20", berlin, time.Date(2026, 11, 19, 23, 0, 0, 0, time.UTC)},
		{"before:2026-07-01", berlin, time.Date(2026, 6, 30, 22, 0, 0, 0, time.UTC)}, // summer time
		{"before:2026/11/20", tokyo, time.Date(2026, 11, 19, 15, 0, 0, 0, time.UTC)},
		{"after:1763596800", tokyo, time.Unix(1763596800, 0)},
	} {
		q, err := ParseQueryIn(c.q, c.loc)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		d, ok := q.Root.(*DateNode)
		if !ok {
			t.Fatalf("%s: root is %T", c.q, q.Root)
		}
		if !d.At.Equal(c.want) {
			t.Errorf("%s in %v = %v, want %v", c.q, c.loc, d.At.UTC(), c.want)
		}
		// The canonical form reparses to the same instant in any zone.
		again, err := ParseQueryIn(q.String(), time.UTC)
		if err != nil || !again.Root.(*DateNode).At.Equal(c.want) {
			t.Errorf("%s: String() %q does not round-trip: %v", c.q, q.String(), err)
		}
	}
}
