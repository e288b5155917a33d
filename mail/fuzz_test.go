package mail

import (
	netmail "net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

// FuzzDecode checks Decode's contract on arbitrary input: it returns a
// non-nil message, does not panic (Decode recovers, so a recovered panic is
// detected through its Err text), and every string is valid UTF-8 without
// NUL. Seeds: the .eml fixtures plus testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	eachFixture(f, func(_ string, raw []byte) { f.Add(raw) })
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Decode(raw, Options{InternalDate: time.Unix(1700000000, 0)})
		if m == nil {
			t.Fatal("Decode returned nil")
		}
		if m.Err != nil && isInternalError(m.Err) {
			t.Fatalf("decoder panicked: %v", m.Err)
		}
		if bad := invalidStrings(m); len(bad) > 0 {
			t.Fatalf("invalid strings in result: %v", bad)
		}
		if m.Size != len(raw) {
			t.Fatalf("Size = %d, want %d", m.Size, len(raw))
		}
		if !m.Date.IsZero() && m.DateSource == "" {
			t.Fatalf("Date %v set without DateSource", m.Date)
		}
	})
}

// FuzzParseDateFastPath holds parseDateLenient's fast path to
// net/mail.ParseDate: whatever the RFC 5322 layout reads, ParseDate reads
// as the same instant in the same zone.
func FuzzParseDateFastPath(f *testing.F) {
	for _, s := range []string{
		"Tue, 3 Nov 2026 10:00:00 +0100", "Mon, 02 Jan 2006 15:04:05 -0700", "Sun,  1 Mar 2026 01:02:03 +0000",
		"Xyz, 1 Jan 2020 00:00:00 +0000", "Mon, 31 Feb 2020 00:00:00 +0000", "Mon, 1 Jan 2020 24:00:00 +0000",
		"Mon, 1 Jan 2020 00:00:00 +2400", "Mon, 1 Jan 2020 00:00:00 -0000", "Mon, 1 Jan 20 00:00:00 +0000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		fast, err := time.Parse(rfc5322Date, v)
		if err != nil {
			return
		}
		slow, err := netmail.ParseDate(v)
		if err != nil {
			t.Fatalf("time.Parse(%q) = %v, but net/mail.ParseDate fails: %v", v, fast, err)
		}
		_, fo := fast.Zone()
		_, so := slow.Zone()
		if !fast.Equal(slow) || fo != so {
			t.Fatalf("%q: fast path %v, net/mail.ParseDate %v", v, fast, slow)
		}
	})
}

// FuzzBracketed holds bracketed to the regular expression it replaces.
func FuzzBracketed(f *testing.F) {
	for _, s := range []string{"<a@b> <c@d>", "<<a@b>", "<a<b>c>", "x <> y", "<a@b", "a@b>", "<ü@ß>\xff<\xfe>", "< a@b >,<c@d>"} {
		f.Add(s)
	}
	re := regexp.MustCompile(`<([^<>]*)>`)
	f.Fuzz(func(t *testing.T, v string) {
		for _, max := range []int{200, 2} {
			var want []string
			for _, m := range re.FindAllStringSubmatch(v, max) {
				want = append(want, m[1])
			}
			if got := bracketed(v, max); !slices.Equal(got, want) {
				t.Fatalf("bracketed(%q, %d) = %q, regexp finds %q", v, max, got, want)
			}
		}
	})
}

// FuzzPlainText holds the fast path of headerDecoder.decode and
// normalizeWords to their general paths: a value plainText accepts comes
// back from them unchanged and without warnings.
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{
		"Alice <alice@example.com>", "=?utf-8?q?caf=C3=A9?=", "a =? b", "caf\xe9", "nul\x00byte", "\"quoted, name\" <a@b>", "",
	} {
		f.Add(s)
	}
	hd := headerDecoder{conv: newTextConverter(), hint: "iso-8859-1"}
	f.Fuzz(func(t *testing.T, v string) {
		if !plainText(v) {
			return
		}
		for name, general := range map[string]func(string, string, *Message) string{
			"decodeWords": hd.decodeWords, "normalizeEncodedWords": hd.normalizeEncodedWords,
		} {
			msg := &Message{}
			if got := general(v, "header X", msg); got != v || len(msg.Warnings) > 0 {
				t.Fatalf("%s(%q) = %q, warnings %q; the fast path returns it unchanged", name, v, got, msg.Warnings)
			}
		}
	})
}

// FuzzContainsImgTag holds containsImgTag to the lower-cased search it
// replaces.
func FuzzContainsImgTag(f *testing.F) {
	for _, s := range []string{
		"<p>x</p>", "<IMG src=x>", "<\u0130mg>", "<\u0130MG", "< img", "<i mg", "<iM", "<<img", "\xff<img",
		"<\u212amg", "<im\xffg", "<\u0131mg",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := containsImgTag(s), strings.Contains(strings.ToLower(s), "<img"); got != want {
			t.Fatalf("containsImgTag(%q) = %v, lower-cased search says %v", s, got, want)
		}
	})
}

// TestContainsImgTagRunes checks the claim containsImgTag rests on: of
// all runes outside ASCII, only U+0130 lower-cases to '<', 'i', 'm' or 'g'.
func TestContainsImgTagRunes(t *testing.T) {
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		switch l := unicode.ToLower(r); {
		case r == '\u0130':
			if l != 'i' {
				t.Errorf("unicode.ToLower(U+0130) = %U, want 'i'", l)
			}
		case l == '<' || l == 'i' || l == 'm' || l == 'g':
			t.Errorf("unicode.ToLower(%U) = %q: containsImgTag must accept it", r, l)
		}
	}
}
