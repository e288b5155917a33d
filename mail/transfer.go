package mail

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"mime/quotedprintable"
	"strings"
	stdsync "sync"
)

// transferEncoding is how a part's content is read, from its
// Content-Transfer-Encoding (RFC 2045 §6).
type transferEncoding int

const (
	encIdentity transferEncoding = iota // 7bit, 8bit, binary, or unknown
	encBase64
	encQuotedPrintable
)

// parseTransferEncoding reads a Content-Transfer-Encoding leniently; note
// says how a value that is not one of RFC 2045's was understood.
func parseTransferEncoding(cte string) (transferEncoding, string) {
	enc := strings.ToLower(strings.Trim(strings.TrimSpace(cte), "\"'"))
	switch enc {
	case "", "7bit", "8bit", "binary":
		return encIdentity, ""
	case "base64":
		return encBase64, ""
	case "quoted-printable":
		return encQuotedPrintable, ""
	}
	switch {
	case strings.Contains(enc, "base64") || strings.Contains(enc, "base-64"):
		return encBase64, fmt.Sprintf("Content-Transfer-Encoding %q read as base64", cte)
	case strings.Contains(enc, "quoted"):
		return encQuotedPrintable, fmt.Sprintf("Content-Transfer-Encoding %q read as quoted-printable", cte)
	}
	return encIdentity, fmt.Sprintf("unknown Content-Transfer-Encoding %q; content kept as is", cte)
}

// transferDecoder undoes the transfer encoding enc of r leniently. warn
// reports repairs found while reading (junk lines inside base64).
// When buffers is not nil, the caller gives them back with release once it
// has stopped reading dec: they are recycled, having been a fifth of the
// bytes a decode of the generated corpus allocated.
func transferDecoder(enc transferEncoding, r io.Reader, warn func(string)) (dec io.Reader, buffers releaser) {
	switch enc {
	case encBase64:
		f := newBase64Filter(r, warn)
		return base64.NewDecoder(base64.RawStdEncoding, f), f
	case encQuotedPrintable:
		q := newQPSource(r)
		return quotedprintable.NewReader(q.br), q
	}
	return r, nil
}

// releaser is what holds recycled buffers until its user is done.
type releaser interface{ release() }

// filterBufferSize is the read buffer of base64Filter and of
// mime/quotedprintable (bufio's default size). Recycled buffers have this
// size too, so that lines are split exactly where new ones split them.
const filterBufferSize = 4096

// qpSource is the read buffer mime/quotedprintable.NewReader would
// allocate for each part (bufio.NewReader of what it is given), over
// qpFilter. quotedprintable.NewReader uses a *bufio.Reader of at least the
// default size as it is instead of wrapping it, which lets the buffer be
// recycled.
type qpSource struct {
	br *bufio.Reader
	f  qpFilter
}

var qpSources = stdsync.Pool{New: func() any {
	q := &qpSource{}
	q.br = bufio.NewReaderSize(&q.f, filterBufferSize)
	return q
}}

func newQPSource(r io.Reader) *qpSource {
	q := qpSources.Get().(*qpSource)
	q.f.r = r
	q.br.Reset(&q.f)
	return q
}

func (q *qpSource) release() {
	q.f.r = nil
	q.br.Reset(nil)
	qpSources.Put(q)
}

// base64Filter passes only base64 alphabet bytes, so line breaks, spaces,
// stray characters and (possibly missing or extra) padding do not stop the
// decoder; it is wrapped in a RawStdEncoding decoder. A whole line that is
// not base64 (a mailer's junk line such as "@@not*base64@@": bytes outside
// the alphabet and an alphabet count that is not a multiple of 4, which
// would shift every following quantum) is skipped with a warning, so the
// valid base64 after it still decodes.
type base64Filter struct {
	r       *bufio.Reader
	own     *bufio.Reader // recycled with the filter; r unless the source is read as it is
	warn    func(string)
	skipped int
	pending []byte
	err     error
}

var base64Alphabet = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = true
	}
	return t
}()

// countBase64 returns how many bytes of b are base64 alphabet characters
// (RFC 4648 §4: A-Z, a-z, 0-9, '+', '/'; the same set as base64Alphabet).
// Attachment bodies are only counted, never decoded, and the count was the
// largest single cost of decoding the generated corpus. In portable Go it
// tests eight bytes at a time in a uint64 (nonBase64Mask) and counts the
// bytes outside the alphabet; the marks of eight words sit in different
// bits of each byte, so one population count covers 64 bytes.
func countBase64(b []byte) int64 {
	if haveCountAVX2 && len(b) >= 32 {
		// 32 bytes per instruction where the CPU can (count_amd64.s).
		k := len(b) &^ 31
		return int64(countBase64AVX2(b[:k])) + countBase64SWAR(b[k:])
	}
	return countBase64SWAR(b)
}

// countBase64SWAR is countBase64 in portable Go.
func countBase64SWAR(b []byte) int64 {
	n := len(b)
	for len(b) >= 64 {
		m := nonBase64Mask(binary.LittleEndian.Uint64(b)) |
			nonBase64Mask(binary.LittleEndian.Uint64(b[8:]))>>1 |
			nonBase64Mask(binary.LittleEndian.Uint64(b[16:]))>>2 |
			nonBase64Mask(binary.LittleEndian.Uint64(b[24:]))>>3 |
			nonBase64Mask(binary.LittleEndian.Uint64(b[32:]))>>4 |
			nonBase64Mask(binary.LittleEndian.Uint64(b[40:]))>>5 |
			nonBase64Mask(binary.LittleEndian.Uint64(b[48:]))>>6 |
			nonBase64Mask(binary.LittleEndian.Uint64(b[56:]))>>7
		n -= bits.OnesCount64(m)
		b = b[64:]
	}
	for len(b) >= 8 {
		n -= bits.OnesCount64(nonBase64Mask(binary.LittleEndian.Uint64(b)))
		b = b[8:]
	}
	for _, c := range b {
		if !base64Alphabet[c] {
			n--
		}
	}
	return int64(n)
}

// SWAR ("SIMD within a register") constants: one byte value repeated in
// every byte of a uint64.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
	swarLow7 = 0x7f7f7f7f7f7f7f7f
)

// nonBase64Mask returns x with bit 7 of each byte set exactly when that
// byte is not a base64 alphabet character, and every other bit clear.
//
// Each byte is tested with bit 7 cleared first, so that adding a constant
// below 0x80 can never carry into the next byte; a byte that had bit 7 set
// is never in the alphabet and is marked at the end. For such a 7-bit
// value v, v+(0x80-a) has bit 7 set exactly when v >= a, and v+(0x7f-b)
// exactly when v > b; for a <= b, bit 7 of their XOR is therefore set
// exactly when a <= v <= b. The alphabet is three disjoint sets:
//   - letters: v with bit 5 (0x20) also cleared is in 'A'..'Z' (this folds
//     'a'..'z' onto 'A'..'Z', and no other value lands there);
//   - '/' and digits: v is in 0x2f..0x39, which is '/' followed by '0'..'9';
//   - '+': (v^'+')+0x7f has bit 7 set exactly when v is not '+'.
//
// As the first two sets and '+' are disjoint, bit 7 of
// (letter|digit) ^ notPlus is set exactly when v is in none of them.
func nonBase64Mask(x uint64) uint64 {
	v := x & swarLow7
	u := x & (0x5f * swarOnes) // bits 7 and 5 cleared
	letter := (u + (0x80-'A')*swarOnes) ^ (u + (0x7f-'Z')*swarOnes)
	digit := (v + (0x80-'/')*swarOnes) ^ (v + (0x7f-'9')*swarOnes)
	notPlus := (v ^ '+'*swarOnes) + swarLow7
	return ((letter | digit) ^ notPlus | x) & swarHigh
}

var base64Filters = stdsync.Pool{New: func() any {
	return &base64Filter{own: bufio.NewReaderSize(nil, filterBufferSize), pending: make([]byte, 0, 128)}
}}

func newBase64Filter(r io.Reader, warn func(string)) *base64Filter {
	f := base64Filters.Get().(*base64Filter)
	f.warn, f.skipped, f.pending, f.err = warn, 0, f.pending[:0], nil
	// bufio.NewReaderSize would read a large enough *bufio.Reader (the
	// message's own, for a single-part message) as it is, not wrap it;
	// doing the same keeps long lines split where they always were.
	if br, ok := r.(*bufio.Reader); ok && br.Size() >= filterBufferSize {
		f.r = br
	} else {
		f.own.Reset(r)
		f.r = f.own
	}
	return f
}

func (f *base64Filter) release() {
	f.own.Reset(nil)
	f.r, f.warn, f.err = nil, nil, nil
	if cap(f.pending) > 64<<10 {
		f.pending = nil // a very long line: do not keep its buffer
	}
	base64Filters.Put(f)
}

// junkLine reports whether a complete line is not base64 at all.
func junkLine(line []byte) bool {
	alpha, other := 0, 0
	for _, c := range line {
		switch {
		case base64Alphabet[c]:
			alpha++
		case c == '=' || c == '\r' || c == '\n' || c == ' ' || c == '\t':
		default:
			other++
		}
	}
	return other > 0 && alpha%4 != 0
}

func (f *base64Filter) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		line, err := f.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			err = nil // a very long line: filter it byte by byte
		} else if err == nil && junkLine(line) {
			f.skipped++
			if f.skipped == 1 && f.warn != nil {
				f.warn(fmt.Sprintf("skipped a line that is not base64 (%q)", oneLine(string(line[:min(len(line), 40)]))))
			}
			continue
		}
		f.err = err
		f.pending = f.pending[:0]
		for _, c := range line {
			if base64Alphabet[c] {
				f.pending = append(f.pending, c)
			}
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// qpFilter removes control bytes that mime/quotedprintable rejects
// ("invalid unescaped byte"): they are garbage in a text body anyway, and an
// error would lose the rest of the part.
type qpFilter struct{ r io.Reader }

func (f *qpFilter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c >= ' ' && c != 0x7f || c == '\t' || c == '\r' || c == '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// readCapped reads up to max bytes into buf and counts (discarding) the
// rest.
func readCapped(buf *bytes.Buffer, r io.Reader, max int) ([]byte, int64, error) {
	buf.Reset()
	n, err := io.Copy(buf, io.LimitReader(r, int64(max)))
	if err != nil {
		return buf.Bytes(), n, err
	}
	rest, err := io.Copy(io.Discard, r)
	return buf.Bytes(), n + rest, err
}

// textBuffers recycles the buffers readCapped fills for text parts, which
// are converted to strings and not kept. Buffers that grew past
// maxPooledText are left to the collector rather than held.
var textBuffers = stdsync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledText = 256 << 10

func getTextBuffer() *bytes.Buffer { return textBuffers.Get().(*bytes.Buffer) }

func putTextBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledText {
		b.Reset()
		textBuffers.Put(b)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// prefixRecorder keeps the first max bytes read through it, until stopped:
// it lets a multipart whose boundary never appears be read as text.
type prefixRecorder struct {
	r       io.Reader
	max     int
	prefix  []byte
	stopped bool
}

func (p *prefixRecorder) stop() {
	p.stopped = true
	p.prefix = nil
}

func (p *prefixRecorder) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if room := p.max - len(p.prefix); !p.stopped && room > 0 && n > 0 {
		p.prefix = append(p.prefix, b[:min(n, room)]...)
	}
	return n, err
}
