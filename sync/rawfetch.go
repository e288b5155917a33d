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

	"tidings/mail"
)

// getRaw fetches one message with format=raw and streams its "raw" field
// (base64url, https://developers.google.com/gmail/api/reference/rest/v1/users.messages#Message)
// from the response body through a base64 decoder into one buffer, so a
// message's bytes are held at most once; a message larger than
// bigMessageBytes is not held at all but decoded by mail.DecodeReader as
// it streams in (decoded is then set and raw nil). The generated client's Do would buffer
// the whole JSON body, unquote the field into a string and leave the
// base64 decoding to us, three copies of a message that can be 35 MB.
// The request goes through the same authenticated client and endpoint as
// the official client's calls, and errors are the same *googleapi.Error
// values, so retries and classification do not change. The returned
// message has Raw empty; raw is its decoded bytes, and rawErr is set when
// the field was not valid base64url (raw then holds what was decoded,
// followed by the undecodable rest as it came; a streamed message keeps
// nothing of it). The caller releases the
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
	switch {
	case ticket.isBig():
		// Too large to hold: decoded while it streams in.
		sink.startStream()
	case res.ContentLength > 0:
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
	err = json.NewDecoder(d).Decode(m)
	if err == nil {
		err = d.err
	}
	if err == nil {
		err = sink.finish()
	}
	var dm *mail.Message
	if sink.stream != nil {
		var serr error
		dm, serr = sink.stream.end(err)
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sync: messages.get %s: read response: %w", id, err)
	}
	ok = true
	if dm != nil {
		sink.buf = nil // the stream's chunk buffer, not the message
	}
	return &fetchedRaw{msg: m, raw: sink.buf, rawErr: sink.badErr, decoded: dm, adm: ticket}, nil
}

// fetchedRaw is a message fetched with format=raw: its metadata, its
// decoded bytes (or, for a message too large to hold, what the MIME
// decoder made of them as they streamed in) and the admission that
// accounts for them.
type fetchedRaw struct {
	msg     *gmail.Message
	raw     []byte
	rawErr  error
	decoded *mail.Message // set, and raw nil, when the message was streamed
	adm     *admission
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
// chunks into buf, or, when w is set, through buf to w: an attachment's
// reader, or a message's stream into the MIME decoder.
type rawSink struct {
	ctx    context.Context
	ticket *admission // nil for an attachment
	w      io.Writer
	stream *rawStream // the message is streamed (w is its pipe)
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
		return s.keepBad(text)
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
		return s.keepBad(q)
	}
	n := base64.RawURLEncoding.DecodedLen(len(q))
	if err := s.grow(n); err != nil {
		return err
	}
	k, err := decodeRawURL(s.buf[len(s.buf):len(s.buf)+n], q)
	if err != nil {
		s.badErr = fmt.Errorf("sync: raw message is not base64url after %d bytes: %w", len(s.buf), err)
		return s.keepBad(q)
	}
	s.buf = s.buf[:len(s.buf)+k]
	return s.flush()
}

// streamChunk is how many decoded bytes a streaming sink gathers before
// handing them on: each hand-off through the pipe to the MIME decoder
// costs two goroutine switches, and per 24 KiB read from the socket they
// were a fifth of the CPU time of a 25 MB message.
const streamChunk = 64 << 10

// flush hands decoded bytes to w when streaming, a chunk at a time.
func (s *rawSink) flush() error {
	if len(s.buf) < streamChunk {
		return nil
	}
	return s.flushAll()
}

// flushAll hands every decoded byte held to w when streaming.
func (s *rawSink) flushAll() error {
	if s.w == nil || len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	return err
}

// keepBad handles text after the raw field turned out not to be
// base64url: a held message keeps it as it came; a streamed one is too
// large to keep and is read to its end for the rest of the response (its
// error is the message's, and Gmail keeps the bytes); an attachment fails.
func (s *rawSink) keepBad(text []byte) error {
	switch {
	case s.stream != nil:
		return nil
	case s.w != nil:
		return s.badErr
	}
	return s.append(text)
}

func (s *rawSink) append(b []byte) error {
	if err := s.grow(len(b)); err != nil {
		return err
	}
	s.buf = append(s.buf, b...)
	return nil
}

// grow makes room for n more bytes, asking the in-flight budget first
// when the buffer outgrows what the message was admitted with; a message
// that outgrows bigMessageBytes is streamed from there on.
func (s *rawSink) grow(n int) error {
	if len(s.buf)+n <= cap(s.buf) {
		return nil
	}
	held := s.ticket != nil && s.stream == nil
	if held {
		big, err := s.ticket.extend(s.ctx, int64(len(s.buf)+n))
		if err != nil {
			return err
		}
		if big {
			s.startStream()
			held = false
		}
	}
	need := len(s.buf) + n
	if need <= cap(s.buf) {
		return nil
	}
	size := max(need, 2*cap(s.buf), 32<<10)
	var next []byte
	if held {
		next = s.ticket.buffer(size)[:len(s.buf)]
	} else {
		next = make([]byte, len(s.buf), size)
	}
	copy(next, s.buf)
	s.buf = next
	return nil
}

// startStream switches the sink from holding the message to feeding the
// MIME decoder as the bytes arrive; what was decoded so far goes first.
func (s *rawSink) startStream() {
	s.stream = newRawStream(s.buf)
	s.w = s.stream.pw
	s.buf = nil
}

// rawStream runs the MIME decoder (mail.DecodeReader) over a message's
// bytes as the raw field's base64 decoder produces them, through a pipe,
// so that a message too large to hold is never held: its attachments are
// counted as they pass and only its bounded text is kept.
type rawStream struct {
	pw   *io.PipeWriter
	done chan streamResult
}

type streamResult struct {
	dm  *mail.Message
	err error
}

// errStreamStopped is what a write to a stream whose decoder has stopped
// returns; the decoder stops early only on a read error, which the
// writer caused.
var errStreamStopped = errors.New("sync: message decoder stopped")

func newRawStream(prefix []byte) *rawStream {
	pr, pw := io.Pipe()
	st := &rawStream{pw: pw, done: make(chan streamResult, 1)}
	go func() {
		var r io.Reader = pr
		if len(prefix) > 0 {
			r = io.MultiReader(bytes.NewReader(prefix), pr)
		}
		// Gmail's internalDate may follow the raw field: the caller
		// applies it afterwards (mail.Message.UseInternalDate).
		dm, err := mail.DecodeReader(r, mail.Options{})
		pr.CloseWithError(errStreamStopped)
		st.done <- streamResult{dm: dm, err: err}
	}()
	return st
}

// end ends the stream with the response's outcome (nil when it was read
// whole) and returns the decoded message once the decoder is done.
func (st *rawStream) end(err error) (*mail.Message, error) {
	st.pw.CloseWithError(err)
	r := <-st.done
	return r.dm, r.err
}

// finish decodes the last partial quantum and, when streaming, hands
// on what is left.
func (s *rawSink) finish() error {
	if s.nCarry > 0 {
		q := s.carry[:s.nCarry]
		s.nCarry = 0
		if len(q) == 1 && s.badErr == nil {
			s.badErr = errors.New("sync: raw message is not base64url (truncated quantum)")
		}
		if err := s.decode(q); err != nil {
			return err
		}
	}
	return s.flushAll()
}
