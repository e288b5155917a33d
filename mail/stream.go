package mail

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// DecodeReader decodes a message read from r as it arrives, so that a
// message carrying a 25 MB attachment never needs its bytes in memory:
// attachments are only counted, text parts are kept up to MaxTextBytes,
// and the only other thing held is the decoder's read buffer. It gives the
// same Message as Decode of the same bytes, except where reading r fails:
// then ReadErr is that error and the Message must not be stored (it is a
// fetch that failed, not a bad message). DecodeReader reads r to its end
// before returning, unless reading fails.
func DecodeReader(r io.Reader, opts Options) (msg *Message, readErr error) {
	d := newDecoder(opts)
	msg = &Message{}
	src := &streamSource{r: r}
	// The first MaxTextBytes are recorded while the header is read: a
	// message without a header is made searchable by its raw text, as in
	// Decode.
	rec := &prefixRecorder{r: src, max: d.maxText}
	// A larger read buffer than Decode's: each read from a pipe is a
	// hand-off between goroutines.
	br := bufio.NewReaderSize(rec, 64<<10)
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("mail: decoder panic", slog.Any("panic", r))
			msg.Err = fmt.Errorf("%w: %v", errInternal, r)
			if msg.Text == "" {
				msg.Text, _ = d.conv.convert(rec.prefix, "", "")
			}
			msg.sanitizeStrings()
		}
		if src.err == nil {
			// What the decoder left unread (after a part limit, say)
			// still has to be read: the caller's stream goes on after it.
			_, _ = io.Copy(io.Discard, src)
		}
		msg.Size = int(src.n)
		readErr = src.err
	}()
	h, skipped := readHeaderLenient(br)
	if h.len() == 0 {
		msg.Err = fmt.Errorf("%w: no header field could be read", ErrNotMIME)
		// Not a message: make it searchable by its first bytes.
		_, _ = io.Copy(io.Discard, io.LimitReader(br, int64(d.maxText)))
		text, note := d.conv.convert(capBytes(rec.prefix, min(d.maxText, int(src.n))), "", "")
		msg.Text = normalizeNewlines(text)
		if note != "" {
			msg.warnf("raw text: %s", note)
		}
		msg.finish()
		return msg, nil
	}
	rec.stop()
	if skipped > 0 {
		msg.warnf("header: skipped %d malformed header line(s)", skipped)
	}
	hint, ct := d.decodeHeaders(msg, h, true)
	w := newWalker(d, msg, hint)
	w.headerType, w.headerTypeSet = ct, true
	w.entity(h, br, "", 0, "")
	w.finishBodies()
	msg.finish()
	return msg, nil
}

// streamSource counts the bytes read from a stream, remembers a read
// error other than EOF, and, like Decode, ends a header-only message
// that lacks a final line ending with one (textproto drops a last header
// line without it).
type streamSource struct {
	r     io.Reader
	n     int64
	err   error
	last  [2]byte // the last two bytes read, to find a blank line
	blank bool    // a blank line (end of header) was seen
	eof   bool
	added bool
}

func (s *streamSource) Read(p []byte) (int, error) {
	if s.eof {
		if !s.added && !s.blank && s.n > 0 && s.last[1] != '\n' {
			s.added = true
			return copy(p, "\r\n"), nil
		}
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if !s.blank {
		s.scan(p[:n])
	} else if n > 0 {
		s.last[1] = p[n-1]
	}
	switch {
	case err == io.EOF:
		s.eof = true
		if n > 0 {
			return n, nil
		}
		return s.Read(p)
	case err != nil:
		s.err = err
	}
	return n, err
}

// scan looks for the blank line that ends the header; once it is found,
// only the last byte matters, so a large body is not scanned.
func (s *streamSource) scan(b []byte) {
	for i, c := range b {
		if c == '\n' && (s.last[1] == '\n' || (s.last[1] == '\r' && s.last[0] == '\n')) {
			s.blank = true
			s.last[1] = b[len(b)-1]
			return
		}
		s.last[0], s.last[1] = s.last[1], b[i]
	}
}

// UseInternalDate gives a message decoded without Options.InternalDate
// (a streamed one: Gmail's internalDate can follow the raw bytes in the
// response) the date Decode would have given it with t.
func (m *Message) UseInternalDate(t time.Time) {
	if m.DateSource != "" || t.IsZero() || m.Err != nil {
		return
	}
	m.Date, m.DateSource = t, DateSourceInternal
	for i, w := range m.Warnings {
		if w == warnNoDate {
			m.Warnings[i] = warnDateMissing
			return
		}
		if len(w) > len(warnBadDatePrefix) && w[:len(warnBadDatePrefix)] == warnBadDatePrefix {
			m.Warnings = append(m.Warnings[:i+1:i+1], append([]string{warnDateInstead}, m.Warnings[i+1:]...)...)
			return
		}
	}
}
