package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/htmlindex"
	gmail "google.golang.org/api/gmail/v1"
)

func TestGeneratorDeterministicAndVaried(t *testing.T) {
	g1 := NewGenerator(42, GeneratorOptions{})
	g2 := NewGenerator(42, GeneratorOptions{})
	g3 := NewGenerator(43, GeneratorOptions{})
	charsets := map[string]bool{}
	var attachments, malformed, replies, encodedWords, multipart int
	const n = 1000
	for i := range n {
		m := g1.Message(i)
		if !bytes.Equal(m, g2.Message(i)) {
			t.Fatalf("message %d differs between generators with the same seed", i)
		}
		if i < 50 && bytes.Equal(m, g3.Message(i)) {
			t.Errorf("message %d identical for seeds 42 and 43", i)
		}
		p := parseMessage(m)
		var walk func(*part)
		walk = func(p *part) {
			if cs := p.charset(); cs != "" {
				charsets[strings.ToLower(cs)] = true
			}
			if p.filename != "" {
				attachments++
			}
			for _, c := range p.children {
				walk(c)
			}
		}
		walk(p)
		if len(p.children) > 0 {
			multipart++
		}
		if strings.Contains(p.header("Subject"), "=?") {
			encodedWords++
		}
		meta := g1.Meta(i)
		if meta.Parent >= 0 {
			replies++
			if !strings.Contains(p.header("In-Reply-To"), g1.messageID(meta.Parent)) {
				t.Fatalf("message %d: In-Reply-To %q, parent %d", i, p.header("In-Reply-To"), meta.Parent)
			}
			if meta.Parent >= i || meta.Root > meta.Parent {
				t.Fatalf("message %d: parent %d root %d", i, meta.Parent, meta.Root)
			}
		}
		if d := p.header("Date"); d == "" {
			t.Fatalf("message %d without Date", i)
		}
		if bytes.Contains(m, []byte("x-unknown-8bit")) || bytes.Contains(m, []byte("@@not*base64@@")) || bytes.Contains(m, []byte("no colon")) {
			malformed++
		}
	}
	for _, cs := range []string{"utf-8", "iso-8859-1", "iso-8859-2", "iso-8859-15", "windows-1252", "windows-1251", "shift_jis", "gb2312"} {
		if !charsets[cs] {
			t.Errorf("charset %s never generated (got %v)", cs, charsets)
		}
	}
	if attachments == 0 || malformed == 0 || replies < n/4 || encodedWords < n/2 || multipart < n/4 {
		t.Errorf("attachments=%d malformed=%d replies=%d encodedWords=%d multipart=%d", attachments, malformed, replies, encodedWords, multipart)
	}
	// The mislabelled variant: UTF-8 bytes declared as ISO-8859-1.
	found := false
	for i := 0; i < n && !found; i++ {
		m := g1.Message(i)
		found = bytes.Contains(m, []byte(`charset="iso-8859-1"`)) && bytes.Contains(m, []byte("quarter — let me know"))
	}
	if !found {
		t.Error("no UTF-8 body declared as ISO-8859-1")
	}
	// RFC 2047 subjects in legacy charsets decode.
	dec := &mime.WordDecoder{CharsetReader: wordDecoder.CharsetReader}
	for i := range 200 {
		s := parseMessage(g1.Message(i)).header("Subject")
		if strings.Contains(s, "=?shift_jis?") {
			if out, err := dec.DecodeHeader(s); err != nil || !strings.ContainsAny(out, "会議の議事録項目進度") && out == s {
				t.Errorf("subject %q decoded to %q (%v)", s, out, err)
			}
		}
	}
}

func TestGeneratedMailboxThroughClient(t *testing.T) {
	srv, svc := setup(t)
	g := NewGenerator(1, GeneratorOptions{Owner: testUser})
	const n = 1000
	if err := srv.AddGenerated(testUser, g, n); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Users.GetProfile("me").Do()
	if err != nil {
		t.Fatal(err)
	}
	if p.MessagesTotal != n {
		t.Fatalf("messagesTotal %d", p.MessagesTotal)
	}
	seen := 0
	threads := map[string]string{}
	err = svc.Users.Messages.List("me").IncludeSpamTrash(true).MaxResults(500).Pages(t.Context(), func(r *gmail.ListMessagesResponse) error {
		for _, m := range r.Messages {
			seen++
			threads[m.Id] = m.ThreadId
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Fatalf("listed %d messages", seen)
	}
	snap := srv.Snapshot(testUser)
	// Message i is served byte-for-byte as the generator builds it, and
	// threads follow the generator's reply chains.
	srv.mu.Lock()
	mb := srv.users[testUser]
	srv.mu.Unlock()
	for _, i := range []int{0, 1, 2, 17, 500, 999} {
		id := formatID(mb.genIDs[i])
		m, err := svc.Users.Messages.Get("me", id).Format("raw").Do()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.URLEncoding.DecodeString(m.Raw)
		if !bytes.Equal(raw, g.Message(i)) {
			t.Errorf("message %d bytes differ", i)
		}
		if want := formatID(mb.genIDs[g.Meta(i).Root]); threads[id] != want || snap[id].ThreadID != want {
			t.Errorf("message %d thread %s, want %s", i, threads[id], want)
		}
		if _, err := svc.Users.Messages.Get("me", id).Format("full").Do(); err != nil {
			t.Errorf("message %d full: %v", i, err)
		}
	}
	// User labels from the generator exist.
	ls, _ := svc.Users.Labels.List("me").Do()
	names := map[string]bool{}
	for _, l := range ls.Labels {
		names[l.Name] = true
	}
	if !names["Work"] || !names["Travel/2024"] {
		t.Errorf("labels %v", names)
	}
	if err := srv.AddGenerated(testUser, g, 10); err == nil {
		t.Error("second generator accepted")
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, name := range []string{"simple.eml", "multipart.eml", "reply.eml", "malformed.eml"} {
		b, err := readFixture(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	g := NewGenerator(7, GeneratorOptions{MalformedRate: 0.5})
	for i := range 20 {
		f.Add(g.Message(i))
	}
	e := New()
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := parseMessage(raw)
		out := e.partJSON(1, p)
		if out.PartID != "" {
			t.Fatalf("top partId %q", out.PartID)
		}
		_ = snippet(p.text())
		_ = parseHeaderOnly(raw)
	})
}

func TestReplyToGeneratedMessageJoinsItsThread(t *testing.T) {
	srv, _ := setup(t)
	g := NewGenerator(3, GeneratorOptions{Owner: testUser})
	if err := srv.AddGenerated(testUser, g, 50); err != nil {
		t.Fatal(err)
	}
	reply := "From: x@example.org\r\nSubject: Re: " + g.Subject(10) + "\r\nIn-Reply-To: " + g.messageID(10) + "\r\n\r\nreply\r\n"
	id := deliver(t, srv, []byte(reply))
	srv.mu.Lock()
	mb := srv.users[testUser]
	srv.mu.Unlock()
	snap := srv.Snapshot(testUser)
	if want := formatID(mb.genIDs[g.Meta(10).Root]); snap[id].ThreadID != want {
		t.Errorf("reply thread %s, want %s", snap[id].ThreadID, want)
	}
}

// TestMillionMessages checks that a 1,000,000-message mailbox is indexed
// without holding messages; run with GMAILTEST_MILLION=1.
func TestMillionMessages(t *testing.T) {
	if os.Getenv("GMAILTEST_MILLION") == "" {
		t.Skip("set GMAILTEST_MILLION=1")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e := New()
	if _, err := e.AddUser(testUser); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.AddGenerated(testUser, NewGenerator(1, GeneratorOptions{}), 1_000_000); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := e.MessageCount(testUser); n != 1_000_000 {
		t.Fatalf("%d messages", n)
	}
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("1,000,000 messages indexed in %v, live heap +%d MiB (%d bytes/message)", took, heap>>20, heap/1_000_000)
	if heap > 600<<20 {
		t.Errorf("heap grew by %d MiB", heap>>20)
	}
}

// TestGeneratorSubjectsAndNamesReadWell: every subject and name decodes
// to text without U+001A substitutes (a charset that cannot write a
// language falls back to UTF-8), several languages and charsets appear,
// and a thread's subject is in the language of its correspondent's mail.
func TestGeneratorSubjectsAndNamesReadWell(t *testing.T) {
	g := NewGenerator(5, GeneratorOptions{MalformedRate: -1})
	dec := &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(cs)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(r), nil
	}}
	langs := map[int]bool{}
	for i := range 1500 {
		p := parseMessage(g.Message(i))
		for _, h := range []string{"Subject", "From", "To", "Cc"} {
			v, err := dec.DecodeHeader(p.header(h))
			if err != nil {
				t.Fatalf("message %d %s %q: %v", i, h, p.header(h), err)
			}
			if strings.ContainsAny(v, "\x1a\uFFFD") {
				t.Fatalf("message %d %s decodes to %q", i, h, v)
			}
		}
		d, _ := g.draws(g.Meta(i).Root)
		langs[genSubjectLocale[d.subject]] = true
	}
	if len(langs) < 6 {
		t.Errorf("only %d languages among 1,500 messages", len(langs))
	}
}

// TestMessageTextMatchesFullParse pins the shortcut format=raw gets take
// for the snippet: skipping attachments must give the text a full parse
// gives, on generated messages (every structure and malformation, with
// attachments) and on the hand-written fixtures.
func TestMessageTextMatchesFullParse(t *testing.T) {
	g := NewGenerator(7, GeneratorOptions{Owner: testUser, AttachmentRate: 0.5, AttachmentSizes: []int{0, 57, 456, 3000}})
	cases := map[string][]byte{}
	for i := range 400 {
		cases[fmt.Sprintf("generated %d", i)] = g.Message(i)
	}
	for _, name := range []string{"simple.eml", "multipart.eml", "reply.eml", "malformed.eml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		cases[name] = b
	}
	for name, raw := range cases {
		if got, want := messageText(raw), parseMessage(raw).text(); got != want {
			t.Errorf("%s: messageText = %q, full parse = %q", name, got, want)
		}
	}
}

// TestAttachmentBytesAreTheStream pins what writeAttachment serves: the
// random stream of (seed, message, attachment) drawn 8 bytes at a time,
// the PDF magic over its start, zeros after the last whole draw, in
// base64 lines of 76 characters, whatever the size's alignment with the
// chunks it is written in.
func TestAttachmentBytesAreTheStream(t *testing.T) {
	g := NewGenerator(3, GeneratorOptions{Owner: testUser})
	for _, size := range []int{0, 5, 9, 56, 57, 58, 455, 456, 457, 912, 1000, 3 << 10} {
		var buf bytes.Buffer
		g.writeAttachment(&buf, 11, 0, size)
		_, body, ok := bytes.Cut(buf.Bytes(), []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("size %d: no header end", size)
		}
		want := make([]byte, size)
		ar := rand.New(rand.NewPCG(g.seed^11, 0))
		for k := 0; k+8 <= size; k += 8 {
			binary.LittleEndian.PutUint64(want[k:], ar.Uint64())
		}
		copy(want, "%PDF-1.4\n")
		if !bytes.Equal(body, wrap76(want)) {
			t.Errorf("size %d: attachment body differs from the wrapped stream", size)
		}
	}
}
