package mail_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/jhillyerd/enmime/v2"

	"tidings/emulator"
	"tidings/mail"
)

// generatorCorpus is a realistic mailbox from the Gmail emulator's
// generator: replies, attachments (3 KiB-300 KiB), several charsets and
// transfer encodings, 2% malformed messages.
func generatorCorpus(n int) [][]byte {
	g := emulator.NewGenerator(1, emulator.GeneratorOptions{})
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Message(i)
	}
	return out
}

// bareGoMessage is go-message's own parse of a message, for comparison:
// read the header, walk every part and read its (transfer-decoded) body.
func bareGoMessage(raw []byte) {
	e, err := gomessage.Read(bytes.NewReader(raw))
	if e == nil {
		_ = err
		return
	}
	_ = e.Walk(func(_ []int, part *gomessage.Entity, err error) error {
		if part != nil && part.MultipartReader() == nil {
			_, _ = io.Copy(io.Discard, part.Body)
		}
		return nil
	})
}

func bareEnmime(raw []byte) {
	_, _ = enmime.ReadEnvelope(bytes.NewReader(raw))
}

func benchCorpus(b *testing.B, corpus [][]byte, decode func([]byte)) {
	total := 0
	for _, raw := range corpus {
		total += len(raw)
	}
	b.SetBytes(int64(total)) // one op = the whole corpus
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for _, raw := range corpus {
			decode(raw)
		}
	}
	b.ReportMetric(float64(b.N*len(corpus))/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkDecode measures tidings' Decode against the bare parse of the
// MIME library it streams through (go-message) and of enmime, on the same
// corpus in the same run.
func BenchmarkDecode(b *testing.B) {
	corpus := generatorCorpus(500)
	decoders := []struct {
		name string
		fn   func([]byte)
	}{
		{"tidings", func(raw []byte) { mail.Decode(raw, mail.Options{}) }},
		{"go-message-bare", bareGoMessage},
		{"enmime-bare", bareEnmime},
	}
	for _, d := range decoders {
		b.Run("generator/"+d.name, func(b *testing.B) { benchCorpus(b, corpus, d.fn) })
	}
	// Real 2002 mail (SpamAssassin public corpus, 6,046 messages); skipped
	// when it cannot be fetched.
	// The corpus keeps each message's mbox "From " separator line (RFC 4155);
	// it is not part of the message and go-message/enmime stop at it, so
	// it is removed for all three to parse the same bytes.
	var spam [][]byte
	mail.ForEachSpamAssassin(b, func(_ string, raw []byte) {
		if bytes.HasPrefix(raw, []byte("From ")) {
			if i := bytes.IndexByte(raw, '\n'); i >= 0 {
				raw = raw[i+1:]
			}
		}
		spam = append(spam, raw)
	})
	for _, d := range decoders {
		b.Run("spamassassin/"+d.name, func(b *testing.B) { benchCorpus(b, spam, d.fn) })
	}
}

// BenchmarkDecodeGenerated decodes the first 2,000 messages of the
// mailbox `tidings sync` is measured on (the emulator's generator with its
// defaults, seed 1) one message per op, so ns/op, B/op and allocs/op are
// per message: the figures the ingest CPU budget is counted in. Run it
// with -benchtime a multiple of 2000x so that every message counts the
// same. cpu-ns/op is the process's CPU time (garbage collection
// included) per message: on a machine shared with other work it moves
// less than the wall-clock ns/op.
func BenchmarkDecodeGenerated(b *testing.B) {
	corpus := generatorCorpus(2000)
	total := 0
	for _, raw := range corpus {
		total += len(raw)
	}
	b.SetBytes(int64(total / len(corpus))) // MB/s over the raw bytes
	b.ReportAllocs()
	i, n := 0, 0
	cpu := cpuTime()
	for b.Loop() {
		mail.Decode(corpus[i], mail.Options{})
		if i++; i == len(corpus) {
			i = 0
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "cpu-ns/op")
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// largeAttachmentMessage builds a message with a text part and a
// base64-encoded attachment of size bytes.
func largeAttachmentMessage(size int) []byte {
	payload := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	var b bytes.Buffer
	b.WriteString("From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: big\r\n" +
		"Date: Tue, 3 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=BOUNDARY\r\n\r\n" +
		"--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached video.\r\n" +
		"--BOUNDARY\r\nContent-Type: video/mp4\r\nContent-Disposition: attachment; filename=\"big.mp4\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := make([]byte, 0, 80)
	for off := 0; off < len(payload); off += 57 { // 76-character lines, RFC 2045 §6.8
		chunk := payload[off:min(off+57, len(payload))]
		enc = enc[:0]
		enc = fmt.Appendf(enc, "%s\r\n", encodeBase64(chunk))
		b.Write(enc)
	}
	b.WriteString("--BOUNDARY--\r\n")
	return b.Bytes()
}

// BenchmarkDecodeLargeAttachment shows that a 25 MB attachment is streamed:
// allocated bytes per decode stay a small fraction of the raw size (the
// "alloc/raw" metric), unlike a parser that keeps part contents.
func BenchmarkDecodeLargeAttachment(b *testing.B) {
	raw := largeAttachmentMessage(25 << 20)
	for _, d := range []struct {
		name string
		fn   func([]byte)
	}{
		{"tidings", func(raw []byte) { mail.Decode(raw, mail.Options{}) }},
		{"go-message-bare", bareGoMessage},
		{"enmime-bare", bareEnmime},
	} {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				d.fn(raw)
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(raw)), "alloc/raw")
		})
	}
}

// TestLargeAttachmentMemory is the regression test behind the benchmark:
// decoding a 25 MB attachment must allocate well under one copy of the raw
// message (attachment bytes are counted and discarded, not kept).
func TestLargeAttachmentMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 34 MB message")
	}
	raw := largeAttachmentMessage(25 << 20)
	mail.Decode(raw, mail.Options{}) // warm up lazily built state (HTML policy)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := mail.Decode(raw, mail.Options{})
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if len(m.Attachments) != 1 || m.Attachments[0].Size != 25<<20 || m.Attachments[0].Filename != "big.mp4" {
		t.Fatalf("Attachments = %+v", m.Attachments)
	}
	if m.Text != "See the attached video." {
		t.Errorf("Text = %q", m.Text)
	}
	if limit := uint64(len(raw)) / 10; alloc > limit {
		t.Errorf("Decode allocated %d bytes for a %d-byte message, want < %d", alloc, len(raw), limit)
	}
	t.Logf("raw %d bytes, allocated %d bytes (%.4f of raw)", len(raw), alloc, float64(alloc)/float64(len(raw)))
}

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
