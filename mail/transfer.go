package mail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
)

// transferDecoder undoes Content-Transfer-Encoding (RFC 2045 §6) leniently.
func transferDecoder(cte string, r io.Reader) (io.Reader, string) {
	enc := strings.ToLower(strings.Trim(strings.TrimSpace(cte), "\"'"))
	switch enc {
	case "", "7bit", "8bit", "binary":
		return r, ""
	case "base64":
		return base64.NewDecoder(base64.RawStdEncoding, &base64Filter{r: r}), ""
	case "quoted-printable":
		return quotedprintable.NewReader(&qpFilter{r: r}), ""
	}
	switch {
	case strings.Contains(enc, "base64") || strings.Contains(enc, "base-64"):
		return base64.NewDecoder(base64.RawStdEncoding, &base64Filter{r: r}),
			fmt.Sprintf("Content-Transfer-Encoding %q read as base64", cte)
	case strings.Contains(enc, "quoted"):
		return quotedprintable.NewReader(&qpFilter{r: r}),
			fmt.Sprintf("Content-Transfer-Encoding %q read as quoted-printable", cte)
	case strings.HasPrefix(enc, "7") || strings.HasPrefix(enc, "8") || strings.HasPrefix(enc, "x-") || strings.Contains(enc, "bit"):
		return r, fmt.Sprintf("unknown Content-Transfer-Encoding %q; content kept as is", cte)
	}
	return r, fmt.Sprintf("unknown Content-Transfer-Encoding %q; content kept as is", cte)
}

// base64Filter passes only base64 alphabet bytes, so line breaks, spaces,
// stray characters and (possibly missing or extra) padding do not stop the
// decoder; it is wrapped in a RawStdEncoding decoder.
type base64Filter struct{ r io.Reader }

var base64Alphabet = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = true
	}
	return t
}()

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if base64Alphabet[c] {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
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

// readCapped reads up to max bytes and counts (discarding) the rest.
func readCapped(r io.Reader, max int) ([]byte, int64, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, int64(max)))
	if err != nil {
		return buf.Bytes(), n, err
	}
	rest, err := io.Copy(io.Discard, r)
	return buf.Bytes(), n + rest, err
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
