package mail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"
)

func attachmentOf(name, ctype string, data []byte) OutgoingAttachment {
	return OutgoingAttachment{Filename: name, ContentType: ctype, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// partBytes returns the decoded bytes of every attachment part, by file
// name, read with the standard library (an independent MIME reader).
func partBytes(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.FileName() != "" {
			var r io.Reader = p // multipart decodes quoted-printable itself
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				r = base64.NewDecoder(base64.StdEncoding, p)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			out[p.FileName()] = b
		}
	}
}

func TestComposeWritesWhatGmailNeeds(t *testing.T) {
	bin := make([]byte, 300000)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	c := &Composition{
		From:    netmail.Address{Name: "Jörg Müller", Address: "jorg@tidings.test"},
		To:      []netmail.Address{{Name: "Ann", Address: "ann@example.org"}},
		Cc:      []netmail.Address{{Address: "cc@example.org"}},
		Bcc:     []netmail.Address{{Address: "hidden@example.net"}},
		Subject: "Angebot für Straße — " + strings.Repeat("long subject ", 12),
		Text:    "Hallo Ann,\n" + strings.Repeat("eine sehr lange Zeile ", 40) + "\n",
		HTML:    "<p>Hallo <b>Ann</b></p>",
		Date:    time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
		Attachments: []OutgoingAttachment{
			attachmentOf("Übersicht 2026.pdf", "application/pdf", bin),
			attachmentOf("plain.txt", "text/plain", []byte("just text\n")),
		},
	}
	var buf bytes.Buffer
	n, err := c.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if n != int64(len(raw)) {
		t.Errorf("WriteTo counted %d, wrote %d", n, len(raw))
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, want := range []string{
		"Bcc: <hidden@example.net>", "Cc: <cc@example.org>", "Message-Id: <" + c.MessageID + ">",
		"=?utf-8?", // RFC 2047 subject and From name
	} {
		if !bytes.Contains(head, []byte(want)) {
			t.Errorf("header lacks %q:\n%s", want, head)
		}
	}
	if !strings.HasSuffix(c.MessageID, "@tidings.test") {
		t.Errorf("Message-ID %q not on the sender's domain", c.MessageID)
	}
	if !bytes.Contains(raw, []byte(`filename*=utf-8''%C3%9Cbersicht%202026.pdf`)) {
		t.Errorf("non-ASCII file name not in RFC 2231 form")
	}
	// RFC 5322 section 2.1.1: header lines MUST stay within 998
	// characters (go-message folds at whitespace, encoded-words may make a
	// longer line than the recommended 78); body lines are QP or base64
	// and stay within 78.
	for i, l := range bytes.Split(raw, []byte("\r\n")) {
		limit := 78
		if i < bytes.Count(head, []byte("\r\n"))+1 {
			limit = 998
		}
		if len(l) > limit {
			t.Errorf("line %d is %d characters: %q", i, len(l), l)
		}
	}
	// Our own decoder reads it back: subject, people, body, attachments.
	m := Decode(raw, Options{})
	if m.Err != nil || m.Subject != strings.TrimSpace(c.Subject) || m.From[0].Name != "Jörg Müller" || len(m.Bcc) != 1 {
		t.Fatalf("decoded: err %v subject %q from %+v bcc %+v", m.Err, m.Subject, m.From, m.Bcc)
	}
	if !strings.Contains(m.Text, "eine sehr lange Zeile eine sehr lange Zeile") {
		t.Errorf("text body lost: %q", m.Text)
	}
	sizes := map[string]int64{}
	for _, a := range m.Attachments {
		sizes[a.Filename] = a.Size
	}
	if sizes["Übersicht 2026.pdf"] != int64(len(bin)) || sizes["plain.txt"] != 10 {
		t.Errorf("attachments decoded as %v", sizes)
	}
	parts := partBytes(t, raw)
	if !bytes.Equal(parts["Übersicht 2026.pdf"], bin) || string(parts["plain.txt"]) != "just text\n" {
		t.Errorf("attachment bytes differ: %d bytes, %q", len(parts["Übersicht 2026.pdf"]), parts["plain.txt"])
	}
}

func TestComposeNeedsRecipients(t *testing.T) {
	c := &Composition{From: netmail.Address{Address: "a@b.c"}, Subject: "x"}
	if _, err := c.WriteTo(io.Discard); err != ErrNoRecipients {
		t.Fatalf("err = %v, want ErrNoRecipients", err)
	}
}

func TestReplyRules(t *testing.T) {
	self := []string{"me@tidings.test"}
	orig := Original{
		MessageID: "m3@x", References: []string{"<m1@x>", "m2@x", "m1@x"}, Subject: "Re: Offer",
		From: netmail.Address{Name: "Ann", Address: "ann@example.org"},
		To:   []netmail.Address{{Address: "ME@tidings.test"}, {Address: "bob@example.org"}},
		Cc:   []netmail.Address{{Address: "carl@example.org"}, {Address: "ann@example.org"}},
		Text: "line one\n> older\n", Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
	}
	cases := []struct {
		name      string
		o         Original
		all       bool
		to, cc    string
		subject   string
		refs      string
		inReplyTo string
	}{
		{"reply", orig, false, "ann@example.org", "", "Re: Offer", "m1@x m2@x m3@x", "m3@x"},
		{"reply-all leaves out self and duplicates", orig, true, "ann@example.org", "bob@example.org carl@example.org", "Re: Offer", "m1@x m2@x m3@x", "m3@x"},
		{"reply-to wins", func() Original {
			o := orig
			o.ReplyTo = []netmail.Address{{Address: "sales@example.org"}}
			o.Subject = "Offer"
			o.References = nil
			o.InReplyTo = "m0@x"
			return o
		}(), false, "sales@example.org", "", "Re: Offer", "m0@x m3@x", "m3@x"},
		{"reply to own message goes to its recipients", func() Original {
			o := orig
			o.From = netmail.Address{Address: "me@tidings.test"}
			return o
		}(), false, "bob@example.org", "", "Re: Offer", "m1@x m2@x m3@x", "m3@x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Composition{Text: "Thanks!"}
			c.Reply(tc.o, self, tc.all)
			if got := addrList(c.To); got != tc.to {
				t.Errorf("To = %q, want %q", got, tc.to)
			}
			if got := addrList(c.Cc); got != tc.cc {
				t.Errorf("Cc = %q, want %q", got, tc.cc)
			}
			if c.Subject != tc.subject || strings.Join(c.References, " ") != tc.refs || c.InReplyTo != tc.inReplyTo {
				t.Errorf("subject %q refs %q in-reply-to %q", c.Subject, c.References, c.InReplyTo)
			}
			if !strings.Contains(c.Text, "> line one\n>> older") || !strings.HasPrefix(c.Text, "Thanks!") {
				t.Errorf("quoted text: %q", c.Text)
			}
		})
	}
}

func addrList(as []netmail.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.Address
	}
	return strings.Join(s, " ")
}

func TestReferencesBoundedKeepRoot(t *testing.T) {
	var refs []string
	for i := range 50 {
		refs = append(refs, fmt.Sprintf("<r%d@x>", i))
	}
	got := ThreadReferences(Original{MessageID: "last@x", References: refs})
	if len(got) != MaxReferences || got[0] != "r0@x" || got[len(got)-1] != "last@x" || got[len(got)-2] != "r49@x" {
		t.Fatalf("references %v", got)
	}
}

func TestSubjects(t *testing.T) {
	for _, c := range []struct{ in, re, fwd string }{
		{"Offer", "Re: Offer", "Fwd: Offer"},
		{"RE: Offer", "RE: Offer", "Fwd: RE: Offer"},
		{"Fwd: x", "Re: Fwd: x", "Fwd: x"},
		{"FW: x", "Re: FW: x", "FW: x"},
	} {
		if ReplySubject(c.in) != c.re || ForwardSubject(c.in) != c.fwd {
			t.Errorf("%q: %q %q", c.in, ReplySubject(c.in), ForwardSubject(c.in))
		}
	}
}

func TestForwardKeepsOriginal(t *testing.T) {
	c := &Composition{Text: "FYI"}
	c.Forward(Original{MessageID: "o@x", Subject: "Specs", From: netmail.Address{Name: "Ann", Address: "ann@x.org"},
		To: []netmail.Address{{Address: "me@y.org"}}, Text: "the specs"})
	if c.Subject != "Fwd: Specs" || !strings.Contains(c.Text, "Forwarded message") || !strings.HasSuffix(c.Text, "the specs") || c.References[0] != "o@x" {
		t.Errorf("forward: %q %q %v", c.Subject, c.Text, c.References)
	}
}
