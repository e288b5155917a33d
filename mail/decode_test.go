package mail

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testInternalDate = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func decodeFixture(t *testing.T, name string) *Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	m := Decode(raw, Options{InternalDate: testInternalDate})
	if m == nil {
		t.Fatal("Decode returned nil")
	}
	if m.Err != nil && isInternalError(m.Err) {
		t.Fatalf("decoder panicked: %v", m.Err)
	}
	if bad := invalidStrings(m); len(bad) > 0 {
		t.Fatalf("invalid strings: %v", bad)
	}
	return m
}

func hasWarning(m *Message, substr string) bool {
	for _, w := range m.Warnings {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}

// TestDecodeFixtures covers each repair with the decoded text asserted.
func TestDecodeFixtures(t *testing.T) {
	tests := []struct {
		file        string
		subject     string
		text        string   // exact Text when non-empty
		warnings    []string // substrings that must appear in Warnings
		noWarnings  bool     // Warnings must be empty (modulo a missing Date)
		check       func(t *testing.T, m *Message)
		wantErrNone bool
	}{
		// Charsets: never trust the declared label (issue 4).
		{
			file:     "charset-cp1252-declared-utf8.eml",
			subject:  "cp1252 as utf8",
			text:     "Le café coûte 3 € et le thé est “très” bon; à bientôt, été déjà passé.",
			warnings: []string{`body: declared charset "utf-8" is not valid for the bytes; detected "windows-1252"`},
		},
		{
			// ISO-8859-15, Latin-1 and windows-1252 differ in a few bytes
			// only; the reading whose characters make sense wins (issue 16).
			file:     "charset-iso-8859-15-x-unknown-8bit.eml",
			text:     "Le prix est de 20 € pour l'œuvre complète. Œuvres : Šimon, Žofie, Ÿvonne.",
			warnings: []string{`detected "iso-8859-15"`},
		},
		{
			file:     "charset-windows-1252-x-unknown-8bit.eml",
			text:     "Grüße aus München – “quoted” and 3 € please.",
			warnings: []string{`detected "windows-1252"`},
		},
		{
			file: "charset-latin1-x-unknown-8bit.eml",
			text: "Ça coûte ½ prix: garçon, élève, naïve.",
		},
		{
			// A junk line before valid base64 is skipped, not decoded into
			// every following byte.
			file:     "base64-junk-line.eml",
			text:     "Hello, the junk line above this text must not garble it. Grüße!",
			warnings: []string{"skipped a line that is not base64"},
		},
		{
			file:     "charset-utf8-declared-latin1.eml",
			text:     "Grüße aus Köln – schöne Straße.",
			warnings: []string{`declared charset "latin1" but the bytes are valid UTF-8; read as UTF-8`},
		},
		{
			file:     "charset-sjis-x-unknown.eml",
			text:     "こんにちは、世界。これは日本語のテストメールです。会議は明日の午後三時からです。よろしくお願いします。",
			warnings: []string{`unknown charset "x-unknown"; detected "shift_jis"`},
		},
		{
			// gb2312 is read as GBK (WHATWG), base64 transfer encoding.
			file:       "charset-gb2312.eml",
			text:       "你好，这是一封测试邮件。我们明天下午三点开会，请准时参加。谢谢！",
			noWarnings: true,
		},
		{
			file:       "charset-iso-8859-2.eml",
			text:       "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
			noWarnings: true,
		},
		{
			file:     "charset-koi8r-missing.eml",
			text:     "Привет! Это тестовое письмо. Встреча состоится завтра в три часа дня. Пожалуйста, не опаздывайте.",
			warnings: []string{`no charset declared; detected "koi8-r"`},
		},
		{
			// Microsoft's label for EUC-KR (WHATWG alias).
			file:       "charset-ks_c_5601-1987.eml",
			text:       "안녕하세요. 회의는 내일 오후 세 시에 시작합니다. 감사합니다.",
			noWarnings: true,
		},
		{
			file:     "charset-mostly-utf8.eml",
			text:     "Grüße, café, naïve \uFFFD end",
			warnings: []string{"1 invalid sequence(s) replaced with U+FFFD"},
		},
		{
			file:       "charset-misspelled-utf8.eml",
			text:       "Ünïcödé wörks",
			noWarnings: true,
		},
		{
			// Stateful 7-bit charset (RFC 1468) in a header word and the body.
			file:    "charset-iso-2022-jp.eml",
			subject: "日本語",
			text:    "日本語のメール",
		},
		{
			// UTF-16 with BOM: NUL bytes are part of the encoding here and
			// must be decoded, not stripped.
			file: "charset-utf16.eml",
			text: "héllo wörld",
		},
		{
			file: "html-meta-charset.eml",
			text: "Привет мир",
			check: func(t *testing.T, m *Message) {
				if m.HTML != "<p>Привет мир</p>" {
					t.Errorf("HTML = %q", m.HTML)
				}
			},
		},
		// Headers.
		{
			file:    "header-broken-encoded-words.eml",
			subject: "Café con leche€ Re:étéok Grüße",
			warnings: []string{
				`header Subject: encoded word: unknown charset "x-unknown"`,
				`header From: encoded word: declared charset "iso-8859-1" but the bytes are valid UTF-8`,
			},
			check: func(t *testing.T, m *Message) {
				wantAddrs(t, "From", m.From, Address{"Jürgen Müller", "juergen@example.com"})
				wantAddrs(t, "To", m.To, Address{"Élodie", "elodie@example.com"})
			},
		},
		{
			file:     "header-raw-8bit.eml",
			subject:  "Straße und Grüße aus München",
			text:     "Grüße",
			warnings: []string{`header Subject: raw 8-bit bytes`},
			check: func(t *testing.T, m *Message) {
				wantAddrs(t, "From", m.From, Address{"Müller, Jürgen", "jm@example.com"})
			},
		},
		{
			// RFC 6532 UTF-8 headers are valid as they are.
			file:       "header-raw-utf8.eml",
			subject:    "Déjà vu ☃",
			noWarnings: true,
			check: func(t *testing.T, m *Message) {
				wantAddrs(t, "From", m.From, Address{"Zoë Ørsted", "zoe@example.com"})
			},
		},
		{
			file:     "nul-bytes.eml",
			subject:  "ab",
			text:     "Hello World",
			warnings: []string{"header Subject: encoded word: removed 1 NUL byte(s)", "body: removed 2 NUL byte(s)"},
		},
		{
			file:     "addresses-unparsable.eml",
			warnings: []string{"header To: could not parse address list; raw value kept"},
			check: func(t *testing.T, m *Message) {
				wantAddrs(t, "To", m.To, Address{"John", "john@example.com"}, Address{"", "jane@example.com"})
				if got, want := m.RawHeaders["To"], "Doe, John <john@example.com>, broken@@, <jane@example.com"; got != want {
					t.Errorf("RawHeaders[To] = %q, want %q", got, want)
				}
				wantAddrs(t, "From", m.From, Address{"Broken", "sender@example.com"})
				if m.RawHeaders["From"] != `"Broken <sender@example.com>` {
					t.Errorf("RawHeaders[From] = %q", m.RawHeaders["From"])
				}
				if len(m.Cc) != 0 || m.RawHeaders["Cc"] != "" {
					t.Errorf("empty group parsed as %v / %q", m.Cc, m.RawHeaders["Cc"])
				}
			},
		},
		{
			file:     "date-bad.eml",
			warnings: []string{`header Date: cannot parse "Tue, 32 Foo 2002 25:61:00 +0000"`},
			check: func(t *testing.T, m *Message) {
				if !m.Date.Equal(testInternalDate) || m.DateSource != DateSourceInternal {
					t.Errorf("Date = %v (%s), want internal date", m.Date, m.DateSource)
				}
			},
		},
		{
			file: "date-missing-seconds.eml",
			check: func(t *testing.T, m *Message) {
				want := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
				if !m.Date.Equal(want) || m.DateSource != DateSourceHeader {
					t.Errorf("Date = %v (%s), want %v from header", m.Date, m.DateSource, want)
				}
			},
		},
		{
			file:     "mbox-from-line.eml",
			subject:  "mbox style",
			text:     "Body after an mbox From line.",
			warnings: []string{"header: skipped 1 malformed header line(s)"},
			check: func(t *testing.T, m *Message) {
				if !m.Bulk {
					t.Error("List-Unsubscribe did not mark the message as bulk")
				}
			},
		},
		{
			file:    "no-trailing-newline.eml",
			subject: "headers only, no newline",
		},
		// Structure and attachments.
		{
			file: "filenames-rfc2231.eml",
			text: "see attachments",
			check: func(t *testing.T, m *Message) {
				want := []Attachment{
					{PartID: "1", Filename: "€ rates.pdf", ContentType: "application/pdf", Size: 1040},
					{PartID: "2", Filename: "été_report.pdf", ContentType: "application/pdf", Size: 1040},
					{PartID: "3", Filename: "übersicht.pdf", ContentType: "application/pdf", Size: 1040},
					{PartID: "4", Filename: "logo.png", ContentType: "image/png", ContentID: "logo@x", Size: 8, Inline: true},
				}
				wantAttachments(t, m.Attachments, want)
			},
		},
		{
			file: "nested-rfc822.eml",
			text: "See the forwarded mail.\n\n---------- Forwarded message ----------\nFrom: Carol <carol@example.com>\nDate: Mon, 2 Nov 2026 09:00:00 +0000\nSubject: Inner subject\nTo: Alice <alice@example.com>\n\nInner body text",
			check: func(t *testing.T, m *Message) {
				wantAttachments(t, m.Attachments, []Attachment{
					{PartID: "1", Filename: "Inner subject.eml", ContentType: "message/rfc822", Size: 374, Inline: true},
					{PartID: "1.1", Filename: "data.bin", ContentType: "application/octet-stream", Size: 10},
				})
				if len(m.Embedded) != 1 || m.Embedded[0].Subject != "Inner subject" || m.Embedded[0].Text != "Inner body text" {
					t.Fatalf("Embedded = %+v", m.Embedded)
				}
				wantAddrs(t, "Embedded From", m.Embedded[0].From, Address{"Carol", "carol@example.com"})
			},
		},
		{
			file: "calendar.eml",
			text: "You are invited.",
			check: func(t *testing.T, m *Message) {
				if len(m.Calendar) != 1 {
					t.Fatalf("Calendar = %+v", m.Calendar)
				}
				c := m.Calendar[0]
				paris, _ := time.LoadLocation("Europe/Paris")
				if c.PartID != "1" || c.Method != "REQUEST" || c.UID != "event-123@example.com" || c.Summary != "Quarterly review, Q4" ||
					!c.Start.Equal(time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC)) ||
					!c.End.Equal(time.Date(2026, 11, 10, 16, 0, 0, 0, paris)) ||
					!strings.Contains(c.Raw, "BEGIN:VCALENDAR") {
					t.Errorf("Calendar[0] = %+v", c)
				}
			},
		},
		{
			file: "html-only.eml",
			text: "Hello world & friends\n\nSecond para",
			check: func(t *testing.T, m *Message) {
				if m.HTML != "<p>Hello <b>world</b> &amp; friends</p><p>Second para</p>" {
					t.Errorf("HTML = %q", m.HTML)
				}
				if m.Snippet != "Hello world & friends Second para" {
					t.Errorf("Snippet = %q", m.Snippet)
				}
			},
		},
		{
			file:  "html-malicious.eml",
			check: checkMaliciousHTML,
		},
		{
			file:     "multipart-no-boundary-found.eml",
			text:     "Just plain text, the boundary never appears.",
			warnings: []string{`multipart/mixed has no part delimited by boundary "nothere"`},
		},
		{
			file:     "multipart-missing-boundary-param.eml",
			text:     "Text of a multipart without boundary.",
			warnings: []string{"multipart/alternative without boundary; read as text/plain"},
		},
		{
			// base64 without padding, QP with a control byte, a made-up CTE,
			// base64 with garbage characters in an attachment.
			file:     "transfer-encodings-broken.eml",
			text:     "Grüße aus Köln\n\nline été with control and = sign soft\n\nodd cte",
			warnings: []string{`body part 2: unknown Content-Transfer-Encoding "8-bit"`},
			check: func(t *testing.T, m *Message) {
				wantAttachments(t, m.Attachments, []Attachment{{PartID: "3", Filename: "a.bin", ContentType: "application/octet-stream", Size: 8}})
			},
		},
		{
			// Not a message at all: stored with an error and its readable text.
			file:     "garbage.eml",
			text:     "\x01\x02 this is not a mail message at all ÿþ\n‰PNG garbage  and some words to search",
			warnings: []string{"removed 2 NUL byte(s)"},
			check: func(t *testing.T, m *Message) {
				if !errors.Is(m.Err, ErrNotMIME) {
					t.Errorf("Err = %v, want ErrNotMIME", m.Err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(strings.TrimSuffix(tc.file, ".eml"), func(t *testing.T) {
			m := decodeFixture(t, tc.file)
			if tc.file != "garbage.eml" && m.Err != nil {
				t.Errorf("Err = %v", m.Err)
			}
			if tc.subject != "" && m.Subject != tc.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, tc.subject)
			}
			if tc.text != "" && m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			for _, w := range tc.warnings {
				if !hasWarning(m, w) {
					t.Errorf("missing warning %q in %q", w, m.Warnings)
				}
			}
			if tc.noWarnings && len(m.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", m.Warnings)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func checkMaliciousHTML(t *testing.T, m *Message) {
	t.Helper()
	h := strings.ToLower(m.HTML)
	for _, bad := range []string{
		"<script", "alert(", "onclick", "onerror", "onload", "javascript:", "<svg", "<style", "url(",
		"position", "<form", "<input", "<iframe", "<object", "<link", "evil.example", "background=",
		` src="http`, `src="x"`, "steal()",
	} {
		if strings.Contains(h, bad) {
			t.Errorf("sanitized HTML still contains %q: %s", bad, m.HTML)
		}
	}
	for _, good := range []string{
		`<a href="https://example.com/x" rel="nofollow noreferrer noopener" target="_blank">there</a>`,
		`data-remote-src="https://tracker.example/pixel.gif?u=1"`,
		`<img alt="logo" data-cid="logo@x"/>`,
		`<p style="color: red">styled</p>`,
		`<td>cell</td>`,
	} {
		if !strings.Contains(m.HTML, good) {
			t.Errorf("sanitized HTML lacks %q: %s", good, m.HTML)
		}
	}
	if !strings.Contains(m.Text, "Click here or there") || strings.Contains(m.Text, "alert") {
		t.Errorf("Text = %q", m.Text)
	}
}

func wantAddrs(t *testing.T, field string, got []Address, want ...Address) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %+v, want %+v", field, got, want)
		return
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s[%d] = %+v, want %+v", field, i, got[i], want[i])
		}
	}
}

func wantAttachments(t *testing.T, got, want []Attachment) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Attachments = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Attachments[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestParseDateLenient covers RFC 5322 §3.3 dates and the broken forms seen
// in real mail.
func TestParseDateLenient(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time // zero: must fail
	}{
		{"Tue, 3 Nov 2026 10:00:00 +0100", utc(2026, 11, 3, 9, 0, 0)},
		{"3 Nov 2026 10:00:00 -0000", utc(2026, 11, 3, 10, 0, 0)},           // RFC 5322 §3.3, no day name
		{"Tue, 3 Nov 2026 10:00:00 +0100 (CET)", utc(2026, 11, 3, 9, 0, 0)}, // comment
		{"Tue, 3 Nov 2026 10:00 +0100", utc(2026, 11, 3, 9, 0, 0)},          // no seconds
		{"Tue, 3 Nov 26 10:00:00 GMT", utc(2026, 11, 3, 10, 0, 0)},          // §4.3 two-digit year
		{"Tue, 3 Nov 2026 10:00:00 GMT+0100", utc(2026, 11, 3, 9, 0, 0)},    // zone name + offset
		{"Tue, 3 Nov 2026 10:00:00 +01:00", utc(2026, 11, 3, 9, 0, 0)},      // colon in offset
		{"Tue, 3 Nov 2026 10:00:00 +0100 CET", utc(2026, 11, 3, 9, 0, 0)},   // trailing zone name
		{"Tue Nov  3 10:00:00 2026", utc(2026, 11, 3, 10, 0, 0)},            // asctime
		{"2026-11-03T10:00:00Z", utc(2026, 11, 3, 10, 0, 0)},                // ISO 8601
		{"Tuesday, 03-Nov-2026 10:00:00 +0000", utc(2026, 11, 3, 10, 0, 0)}, // RFC 850
		{"Tue, 32 Foo 2002 25:61:00 +0000", time.Time{}},
		{"", time.Time{}},
		{"yesterday", time.Time{}},
		{"Tue, 3 Nov 0000 10:00:00 +0000", time.Time{}}, // implausible year
	}
	for _, tc := range tests {
		got, ok := parseDateLenient(tc.in)
		if tc.want.IsZero() {
			if ok {
				t.Errorf("parseDateLenient(%q) = %v, want failure", tc.in, got)
			}
			continue
		}
		if !ok || !got.Equal(tc.want) {
			t.Errorf("parseDateLenient(%q) = %v, %v; want %v", tc.in, got, ok, tc.want)
		}
	}
}

// TestDecodeHeaderWords covers RFC 2047 decoding, including broken words.
func TestDecodeHeaderWords(t *testing.T) {
	hd := headerDecoder{conv: newTextConverter()}
	tests := []struct{ in, want string }{
		{"=?utf-8?q?hello_world?=", "hello world"},
		{"=?UTF-8?B?w6l0w6k=?=", "été"},
		{"=?utf-8?b?w6l0w6k?=", "été"},             // missing padding
		{"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"},      // §6.2 whitespace between words dropped
		{"=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c"}, // but not around text
		{"=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "€"}, // character split across words
		{"=?iso-8859-1?q?caf=E9?=", "café"},        // charset honoured
		{"=?utf-8?q?no end", "=?utf-8?q?no end"},   // unterminated: kept
		{"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},     // unknown encoding: kept
		{"price=?utf-8?q?=E2=82=AC?=5", "price€5"}, // glued to text
		{"=?utf-8*en?q?lang_tag?=", "lang tag"},    // RFC 2231 §5 language
		{"=?shift_jis?B?k/qWe4zq?=", "日本語"},        // legacy multi-byte
		{"=?utf-8?q?=FF=FE?=", "ÿþ"},               // invalid UTF-8 in a utf-8 word → detected
		{"plain ascii", "plain ascii"},
	}
	for _, tc := range tests {
		if got := hd.decode(tc.in, "", nil); got != tc.want {
			t.Errorf("decode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestLookupCharset checks label repair (WHATWG labels, misspellings) and
// that unknown labels stay unknown so detection runs.
func TestLookupCharset(t *testing.T) {
	tests := []struct{ label, want string }{
		{"utf-8", "utf-8"},
		{"UTF8", "utf-8"},
		{`"utf-8"`, "utf-8"},
		{"utf_8", "utf-8"},
		{"latin1", "windows-1252"},
		{"iso8859-1", "windows-1252"},
		{"ks_c_5601-1987", "euc-kr"},
		{"gb2312", "gbk"},
		{"cp-1251", "windows-1251"},
		{"x-unknown", ""},
		{"iso-2022-kr", ""}, // WHATWG "replacement": treated as unknown
		{"", ""},
	}
	for _, tc := range tests {
		if got := lookupCharset(tc.label).name; got != tc.want {
			t.Errorf("lookupCharset(%q) = %q, want %q", tc.label, got, tc.want)
		}
	}
}
