package sync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	stdsync "sync"

	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
)

// getRaw fetches one message with format=raw and streams its "raw" field
// (base64url, https://developers.google.com/gmail/api/reference/rest/v1/users.messages#Message)
// from the response body through a base64 decoder into one buffer, so a
// message's bytes are held once: the generated client's Do would buffer
// the whole JSON body, unquote the field into a string and leave the
// base64 decoding to us, three copies of a message that can be 35 MB.
// The request goes through the same authenticated client and endpoint as
// the official client's calls, and errors are the same *googleapi.Error
// values, so retries and classification do not change. The returned
// message has Raw empty; raw is its decoded bytes, and rawErr is set when
// the field was not valid base64url (raw then holds what was decoded,
// followed by the undecodable rest as it came). The caller releases the
// returned admission once it no longer holds raw.
func (c *gmailClient) getRaw(ctx context.Context, id string, admit *inflight, opts ...gmailCallOption) (*fetchedRaw, error) {
	q := url.Values{"format": {"raw"}, "alt": {"json"}, "prettyPrint": {"false"}}
	for _, o := range opts {
		k, v := o.Get()
		q.Set(k, v)
	}
	u := googleapi.ResolveRelative(c.svc.BasePath, "gmail/v1/users/me/messages/") + url.PathEscape(id) + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("sync: messages.get request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	watch := watchStalls(ctx, c.stall)
	defer watch.stop()
	res, err := watch.do(c.stream, req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if err := googleapi.CheckResponse(res); err != nil {
		return nil, err
	}
	// Admission by size: the body waits in the socket (TCP flow control)
	// until the in-flight budget has room for it.
	ticket, err := admit.admit(ctx, res.ContentLength)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			ticket.release()
		}
	}()
	sink := &rawSink{ticket: ticket, ctx: ctx}
	if res.ContentLength > 0 {
		// base64 carries 3 bytes in 4 characters; the JSON around it is
		// small.
		sink.buf = ticket.buffer(int(res.ContentLength/4*3 + 16))
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(watch.body(res.Body))
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	d := &rawDiverter{src: br, sink: sink, field: "raw"}
	m := new(gmail.Message)
	if err := json.NewDecoder(d).Decode(m); err != nil {
		return nil, fmt.Errorf("sync: messages.get %s: read response: %w", id, err)
	}
	if d.err != nil {
		return nil, fmt.Errorf("sync: messages.get %s: read response: %w", id, d.err)
	}
	if err := sink.finish(); err != nil {
		return nil, err
	}
	ok = true
	return &fetchedRaw{msg: m, raw: sink.buf, rawErr: sink.badErr, adm: ticket}, nil
}

// fetchedRaw is a message fetched with format=raw: its metadata, its
// decoded bytes and the admission that accounts for them.
type fetchedRaw struct {
	msg    *gmail.Message
	raw    []byte
	rawErr error
	adm    *admission
}

// getAttachment streams an attachment (users.messages.attachments.get,
// whose body is a MessagePartBody with the bytes base64url-encoded in
// "data") to the returned reader as it arrives, decoded, instead of
// buffering the response, the string and the decoded bytes. An error
// after the response started (a cut connection, bad base64) is the
// reader's error.
func (c *gmailClient) getAttachment(ctx context.Context, messageID, attachmentID string, opts ...gmailCallOption) (io.ReadCloser, error) {
	q := url.Values{"alt": {"json"}, "prettyPrint": {"false"}}
	for _, o := range opts {
		k, v := o.Get()
		q.Set(k, v)
	}
	u := googleapi.ResolveRelative(c.svc.BasePath, "gmail/v1/users/me/messages/") + url.PathEscape(messageID) +
		"/attachments/" + url.PathEscape(attachmentID) + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("sync: attachments.get request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	watch := watchStalls(ctx, c.stall)
	res, err := watch.do(c.stream, req)
	if err != nil {
		watch.stop()
		return nil, err
	}
	if err := googleapi.CheckResponse(res); err != nil {
		res.Body.Close()
		watch.stop()
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer watch.stop()
		defer res.Body.Close()
		sink := &rawSink{ctx: ctx, w: pw}
		d := &rawDiverter{src: bufio.NewReaderSize(watch.body(res.Body), 64<<10), sink: sink, field: "data"}
		var body gmail.MessagePartBody
		err := json.NewDecoder(d).Decode(&body)
		if err == nil {
			err = d.err
		}
		if err == nil {
			err = sink.finish()
		}
		if err == nil {
			err = sink.badErr
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// readers recycles the read buffers of raw fetches: one per message was a
// third of the bytes a sync allocated.
var readers = stdsync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// rawDiverter passes a Gmail Message (or MessagePartBody) JSON object
// through to a json.Decoder, except the value of its top-level member
// named field ("raw", "data"): those characters go to sink and the
// decoder sees an empty string. It tracks
// just enough of the JSON grammar (RFC 8259: nesting depth, strings and
// their escapes) to find that member; the decoder still validates
// everything it receives.
type rawDiverter struct {
	src   *bufio.Reader
	sink  *rawSink
	field string
	err   error

	depth    int
	inString bool
	escaped  bool
	key      []byte // the current top-level string, while it may be field
	keyOK    bool   // key may still be field
	state    divertState
}

type divertState int

const (
	scanning   divertState = iota
	afterRaw               // read the string field at depth 1; expect ':'
	beforeRaw              // read ':'; expect the opening quote
	divertRaw              // inside the raw value: bytes go to the sink
	closeQuote             // raw value ended; hand the decoder its closing quote
)

func (d *rawDiverter) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n := 0
	for n < len(p) {
		if d.state == divertRaw {
			if err := d.divert(); err != nil {
				d.err = err
				if n > 0 {
					return n, nil
				}
				return 0, err
			}
			continue
		}
		if d.state == closeQuote {
			p[n] = '"'
			n++
			d.state = scanning
			continue
		}
		if n > 0 && d.src.Buffered() == 0 {
			return n, nil // do not block with data in hand
		}
		c, err := d.src.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = c
		n++
		d.step(c)
	}
	return n, nil
}

// step advances the scanner over one byte passed to the decoder.
func (d *rawDiverter) step(c byte) {
	if d.inString {
		switch {
		case d.escaped:
			d.escaped = false
			d.keyOK = false
		case c == '\\':
			d.escaped = true
			d.keyOK = false
		case c == '"':
			d.inString = false
			if d.depth == 1 && d.keyOK && string(d.key) == d.field {
				d.state = afterRaw
			}
		default:
			if d.keyOK {
				d.key = append(d.key, c)
				d.keyOK = len(d.key) <= len(d.field)
			}
		}
		return
	}
	switch c {
	case ' ', '\t', '\r', '\n':
		return
	case '"':
		if d.state == beforeRaw {
			d.state = divertRaw
			return
		}
		d.inString, d.key, d.keyOK = true, d.key[:0], d.depth == 1 && d.state == scanning
		d.state = scanning
		return
	case ':':
		if d.state == afterRaw {
			d.state = beforeRaw
			return
		}
	case '{', '[':
		d.depth++
	case '}', ']':
		d.depth--
	}
	d.state = scanning
}

// divert moves the raw value's characters to the sink up to its closing
// quote, in the reader's buffered chunks.
func (d *rawDiverter) divert() error {
	chunk, err := d.src.ReadSlice('"')
	switch {
	case err == nil:
		if err := d.sink.write(chunk[:len(chunk)-1]); err != nil {
			return err
		}
		d.state = closeQuote
		return nil
	case errors.Is(err, bufio.ErrBufferFull):
		return d.sink.write(chunk)
	case errors.Is(err, io.EOF):
		return io.ErrUnexpectedEOF
	default:
		return err
	}
}

// rawSink decodes base64url text (padded or not) written in arbitrary
// chunks into buf, or, when w is set, through buf to w.
type rawSink struct {
	ctx    context.Context
	ticket *admission // nil when streaming to w
	w      io.Writer
	buf    []byte
	carry  [4]byte
	nCarry int
	badErr error // the text is not base64url: the rest is kept as it came
}

func (s *rawSink) write(text []byte) error {
	if bytes.IndexByte(text, '\\') >= 0 && s.badErr == nil {
		// base64url never needs JSON escapes; keep the text as it came.
		s.badErr = errors.New("sync: raw message is not base64url (JSON escape in the raw field)")
	}
	if s.badErr != nil {
		if s.w != nil {
			return s.badErr
		}
		return s.append(text)
	}
	for len(text) > 0 {
		// Top up the carry to a 4-character quantum, then decode whole
		// quanta straight from the chunk.
		for s.nCarry > 0 && s.nCarry < 4 && len(text) > 0 {
			if c := text[0]; c != '=' {
				s.carry[s.nCarry] = c
				s.nCarry++
			}
			text = text[1:]
		}
		if s.nCarry == 4 {
			if err := s.decode(s.carry[:]); err != nil {
				return err
			}
			s.nCarry = 0
		}
		if s.nCarry > 0 || len(text) == 0 {
			continue
		}
		end := bytes.IndexByte(text, '=')
		if end < 0 {
			end = len(text)
		}
		whole := end / 4 * 4
		if whole > 0 {
			if err := s.decode(text[:whole]); err != nil {
				return err
			}
		}
		for _, c := range text[whole:end] {
			s.carry[s.nCarry] = c
			s.nCarry++
		}
		text = text[end:]
		for len(text) > 0 && text[0] == '=' {
			text = text[1:]
		}
	}
	return nil
}

// decode decodes whole 4-character quanta (or, at the end, the last 2 or
// 3 characters) into buf.
func (s *rawSink) decode(q []byte) error {
	if s.badErr != nil {
		if s.w != nil {
			return s.badErr
		}
		return s.append(q)
	}
	n := base64.RawURLEncoding.DecodedLen(len(q))
	if err := s.grow(n); err != nil {
		return err
	}
	k, err := base64.RawURLEncoding.Decode(s.buf[len(s.buf):len(s.buf)+n], q)
	if err != nil {
		s.badErr = fmt.Errorf("sync: raw message is not base64url after %d bytes: %w", len(s.buf), err)
		if s.w != nil {
			return s.badErr
		}
		return s.append(q)
	}
	s.buf = s.buf[:len(s.buf)+k]
	return s.flush()
}

// flush hands decoded bytes to w when streaming.
func (s *rawSink) flush() error {
	if s.w == nil || len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	return err
}

func (s *rawSink) append(b []byte) error {
	if err := s.grow(len(b)); err != nil {
		return err
	}
	s.buf = append(s.buf, b...)
	return nil
}

// grow makes room for n more bytes, asking the in-flight budget first
// when the buffer outgrows what the message was admitted with.
func (s *rawSink) grow(n int) error {
	need := len(s.buf) + n
	if need <= cap(s.buf) {
		return nil
	}
	if s.ticket != nil {
		if err := s.ticket.extend(s.ctx, int64(need)); err != nil {
			return err
		}
	}
	size := max(need, 2*cap(s.buf), 32<<10)
	var next []byte
	if s.ticket != nil {
		next = s.ticket.buffer(size)[:len(s.buf)]
	} else {
		next = make([]byte, len(s.buf), size)
	}
	copy(next, s.buf)
	s.buf = next
	return nil
}

// finish decodes the last partial quantum.
func (s *rawSink) finish() error {
	if s.nCarry == 0 {
		return nil
	}
	q := s.carry[:s.nCarry]
	s.nCarry = 0
	if len(q) == 1 && s.badErr == nil {
		s.badErr = errors.New("sync: raw message is not base64url (truncated quantum)")
	}
	return s.decode(q)
}
