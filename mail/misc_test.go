package mail

import (
	"slices"
	"strings"
	"testing"
)

// TestInvalidStrings makes sure the helper behind the corpus and fuzz
// assertions really finds bad strings, however deep they are.
func TestInvalidStrings(t *testing.T) {
	m := &Message{
		Subject:    "fine",
		RawHeaders: map[string]string{"To": "bad \xff"},
		Embedded:   []*Message{{Attachments: []Attachment{{Filename: "a\x00b"}}}},
	}
	bad := invalidStrings(m)
	if len(bad) != 2 || !strings.Contains(bad[0]+bad[1], "RawHeaders") || !strings.Contains(bad[0]+bad[1], "Filename") {
		t.Fatalf("invalidStrings = %q, want the RawHeaders value and the embedded filename", bad)
	}
	if bad := invalidStrings(Decode([]byte("Subject: \xff\x00\r\n\r\nbody \xfe\x00"), Options{})); len(bad) != 0 {
		t.Fatalf("Decode left invalid strings: %q", bad)
	}
}

// TestBulk follows RFC 2369/2919 list headers, Precedence and RFC 3834.
func TestBulk(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"List-Unsubscribe: <mailto:u@example.com>", true},
		{"List-Id: Announcements <news.example.com>", true},
		{"Precedence: bulk", true},
		{"Precedence: Junk", true},
		{"Precedence: first-class", false},
		{"Auto-Submitted: auto-replied", true},
		{"Auto-Submitted: no", false},
		{"X-Mailer: something", false},
	}
	for _, tc := range tests {
		m := Decode([]byte("From: a@example.com\r\n"+tc.header+"\r\n\r\nhi\r\n"), Options{})
		if m.Bulk != tc.want {
			t.Errorf("%q: Bulk = %v, want %v", tc.header, m.Bulk, tc.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("word ", 100)
	tests := []struct{ in, want string }{
		{"  Hello\n\n\tworld  ", "Hello world"},
		{"", ""},
		// Cut at the first word boundary after snippetRunes-20 runes.
		{long, strings.TrimSpace(strings.Repeat("word ", 37))},
	}
	for _, tc := range tests {
		if got := makeSnippet(tc.in); got != tc.want {
			t.Errorf("makeSnippet(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := len([]rune(makeSnippet(strings.Repeat("x", 1000)))); n != snippetRunes {
		t.Errorf("snippet of one long word has %d runes, want %d", n, snippetRunes)
	}
}

// TestMessageIDs covers RFC 5322 §3.6.4 fields with and without brackets.
func TestMessageIDs(t *testing.T) {
	m := Decode([]byte("Message-ID: <abc@example.com>\r\nIn-Reply-To: parent@example.com\r\n"+
		"References: <r1@example.com>\r\n <r2@example.com> <r3@example.com>\r\n\r\n"), Options{})
	if m.MessageID != "abc@example.com" || m.InReplyTo != "parent@example.com" {
		t.Errorf("MessageID = %q, InReplyTo = %q", m.MessageID, m.InReplyTo)
	}
	if strings.Join(m.References, " ") != "r1@example.com r2@example.com r3@example.com" {
		t.Errorf("References = %q", m.References)
	}
}

// TestLimits checks that MaxParts, MaxDepth and MaxTextBytes bound work and
// say so.
func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 20 {
		b.WriteString("--b\r\nContent-Type: application/octet-stream\r\n\r\nxx\r\n")
	}
	b.WriteString("--b--\r\n")
	m := Decode([]byte(b.String()), Options{MaxParts: 5})
	if len(m.Attachments) != 4 || !hasWarning(m, "more than 5 MIME parts") {
		t.Errorf("MaxParts: %d attachments, warnings %q", len(m.Attachments), m.Warnings)
	}

	nested := "Subject: deep\r\nContent-Type: message/rfc822\r\n\r\n"
	for range 50 {
		nested += "Subject: deep\r\nContent-Type: message/rfc822\r\n\r\n"
	}
	nested += "Subject: bottom\r\n\r\nbottom text\r\n"
	m = Decode([]byte(nested), Options{MaxDepth: 10})
	if !hasWarning(m, "deeper than 10") {
		t.Errorf("MaxDepth: warnings %q", m.Warnings)
	}

	m = Decode([]byte("Content-Type: text/plain\r\n\r\n"+strings.Repeat("a", 100)), Options{MaxTextBytes: 10})
	if m.Text != strings.Repeat("a", 10) || !hasWarning(m, "truncated to 10") {
		t.Errorf("MaxTextBytes: Text %q, warnings %q", m.Text, m.Warnings)
	}
}

// TestAddresses covers RFC 5322 §3.4 lists, RFC 2047 §5 words in display
// names (including a comma that must not split the list) and lenient
// recovery.
func TestAddresses(t *testing.T) {
	hd := headerDecoder{conv: newTextConverter()}
	tests := []struct {
		in     string
		want   []Address
		strict bool
	}{
		{"=?utf-8?q?Doe=2C_John?= <john@example.com>, jane@example.com",
			[]Address{{"Doe, John", "john@example.com"}, {"", "jane@example.com"}}, true},
		{`"Smith, Anna" <anna@example.com>`, []Address{{"Smith, Anna", "anna@example.com"}}, true},
		{"Team: a@example.com, b@example.com;", []Address{{"", "a@example.com"}, {"", "b@example.com"}}, true},
		{"=?windows-1252?q?Ren=E9?= <rene@example.com>", []Address{{"René", "rene@example.com"}}, true},
		{"José <jose@example.com>", []Address{{"José", "jose@example.com"}}, true}, // RFC 6532
		{"John Doe john@example.com", []Address{{"John Doe", "john@example.com"}}, false},
		{"<a@example.com>; <b@example.com>", []Address{{"", "a@example.com"}, {"", "b@example.com"}}, false},
		{"nobody", nil, false},
	}
	for _, tc := range tests {
		got, ok := hd.addresses(tc.in, "", nil)
		if ok != tc.strict {
			t.Errorf("addresses(%q) strict = %v, want %v", tc.in, ok, tc.strict)
		}
		if len(got) != len(tc.want) {
			t.Errorf("addresses(%q) = %+v, want %+v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("addresses(%q)[%d] = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

// TestDetectionIsDeterministic: 8-bit text with no charset for which
// chardet's candidates tie (Shift_JIS and GB18030, or ISO-8859-1 and
// ISO-8859-2, at the same confidence) decodes the same way every time, so a message synced again
// is stored as it was. chardet orders tied candidates at random.
func TestDetectionIsDeterministic(t *testing.T) {
	for _, body := range []string{"K\xf6ln", "\xb1\xb6", "caf\xe9 K\xf6ln \xc5se se\xf1or"} {
		raw := []byte("From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\n" + body + "\r\n")
		first := Decode(raw, Options{})
		for i := range 200 {
			if m := Decode(raw, Options{}); m.Text != first.Text || !slices.Equal(m.Warnings, first.Warnings) {
				t.Fatalf("%q: decode %d gave %q %q, the first %q %q", body, i, m.Text, m.Warnings, first.Text, first.Warnings)
			}
		}
	}
}
