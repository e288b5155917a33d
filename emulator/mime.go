package emulator

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/quotedprintable"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"
	xhtml "golang.org/x/net/html"
)

// maxPartDepth bounds MIME nesting so hostile input cannot exhaust the stack.
const maxPartDepth = 32

// part is one node of a parsed message: Gmail's MessagePart before JSON.
type part struct {
	id       string
	headers  []apiHeader
	mimeType string
	filename string
	enc      []byte // body as in the message; leaves only
	cte      string
	decoded  []byte // enc transfer-decoded, on first use
	done     bool
	children []*part
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// splitHeader finds the end of a header block (RFC 5322 section 2.1: the
// header is separated from the body by an empty line). Messages without an
// empty line are all header.
func splitHeader(b []byte) (hdr, body []byte) {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		if j := bytes.Index(b, []byte("\n\n")); j >= 0 && j < i {
			return b[:j+1], b[j+2:]
		}
		return b[:i+2], b[i+4:]
	}
	if j := bytes.Index(b, []byte("\n\n")); j >= 0 {
		return b[:j+1], b[j+2:]
	}
	if len(b) > 0 && (b[0] == '\n' || bytes.HasPrefix(b, []byte("\r\n"))) {
		return nil, bytes.TrimLeft(b, "\r\n")
	}
	return b, nil
}

// readHeader parses a header block leniently: Gmail stores messages with
// malformed header lines anyway, so we keep every field parsed before the
// first bad line and skip the bad one.
func readHeader(block []byte) textproto.Header {
	var all textproto.Header
	var fields [][]byte
	rest := block
	for len(rest) > 0 {
		br := bufio.NewReader(bytes.NewReader(rest))
		h, err := textproto.ReadHeader(br)
		n := 0
		for f := h.Fields(); f.Next(); {
			if raw, err := f.Raw(); err == nil && bytes.IndexByte(raw, ':') > 0 {
				fields = append(fields, raw)
			}
			n++
		}
		if err == nil || err == io.EOF {
			break
		}
		// Skip the fields accepted in this round plus the offending line.
		rest = skipLines(rest, n)
	}
	for i := len(fields) - 1; i >= 0; i-- {
		all.AddRaw(fields[i])
	}
	return all
}

// skipLines drops n complete (possibly folded) header fields plus the next,
// malformed, line.
func skipLines(b []byte, n int) []byte {
	lines := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		line := b[:i+1]
		b = b[i+1:]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && lines > 0 {
			continue // folded continuation of the previous field
		}
		lines++
		if lines > n {
			// drop continuation lines of the malformed one too
			for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
				j := bytes.IndexByte(b, '\n')
				if j < 0 {
					return nil
				}
				b = b[j+1:]
			}
			return b
		}
	}
	return b
}

// headerList keeps the original field names as written (Gmail preserves
// case, e.g. "Message-ID") and unfolded values. textproto.Header.Add
// prepends, so readHeader adds in reverse and Fields yields file order.
func headerList(h textproto.Header) []apiHeader {
	out := make([]apiHeader, 0, h.Len())
	for f := h.Fields(); f.Next(); {
		name := f.Key()
		if raw, err := f.Raw(); err == nil {
			if i := bytes.IndexByte(raw, ':'); i > 0 {
				name = strings.TrimSpace(string(raw[:i]))
			}
		}
		out = append(out, apiHeader{Name: name, Value: toValidUTF8(f.Value())})
	}
	return out
}

func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// parseMessage builds the MessagePart tree of raw the way Gmail numbers it:
// the top part has partId "", the children of a multipart are "0","1",...
// and grandchildren "1.0","1.1",... It never fails: whatever cannot be
// parsed is served as an opaque text/plain leaf.
func parseMessage(raw []byte) *part {
	return parseEntity(raw, "", 0, false)
}

// messageText is parseMessage(raw).text() without copying the parts
// text() never reads: leaves that are neither text/* nor multipart/*
// (attachments) are skipped instead of being copied out of the body.
func messageText(raw []byte) string {
	return parseEntity(raw, "", 0, true).text()
}

// skipForText reports whether a multipart child with this Content-Type
// can be left out of a parse made only for text(): a part parseEntity
// would type as neither text/* nor multipart/*.
func skipForText(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || (err != nil && mt == "") {
		return false // parsed as text/plain
	}
	mt = strings.ToLower(mt)
	return !strings.HasPrefix(mt, "text/") && !strings.HasPrefix(mt, "multipart/")
}

func parseEntity(raw []byte, id string, depth int, textOnly bool) *part {
	hb, body := splitHeader(raw)
	h := readHeader(hb)
	p := &part{id: id, headers: headerList(h)}
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || (err != nil && mt == "") {
		mt, params = "text/plain", map[string]string{}
	}
	p.mimeType = strings.ToLower(mt)
	p.filename = partFilename(h, params)
	if strings.HasPrefix(p.mimeType, "multipart/") && params["boundary"] != "" && depth < maxPartDepth {
		mr := textproto.NewMultipartReader(bytes.NewReader(body), params["boundary"])
		for i := 0; ; i++ {
			child, err := mr.NextPart()
			if err != nil {
				break // end, or a truncated/malformed multipart: keep what we have
			}
			if textOnly && skipForText(child.Header.Get("Content-Type")) {
				continue // the next NextPart skips its body
			}
			var buf bytes.Buffer
			if err := textproto.WriteHeader(&buf, child.Header); err != nil {
				break
			}
			data, rerr := io.ReadAll(io.LimitReader(child, 64<<20))
			buf.Write(data)
			cid := strconv.Itoa(i)
			if id != "" {
				cid = id + "." + cid
			}
			p.children = append(p.children, parseEntity(buf.Bytes(), cid, depth+1, textOnly))
			if rerr != nil {
				break
			}
		}
		return p
	}
	if strings.HasPrefix(p.mimeType, "multipart/") {
		// A multipart without a usable boundary: Gmail serves the body as is.
		p.enc = body
		return p
	}
	p.enc, p.cte = body, h.Get("Content-Transfer-Encoding")
	return p
}

// body returns the transfer-decoded body. Decoding is deferred because
// snippets and format=raw only need the text part.
func (p *part) body() []byte {
	if !p.done {
		p.decoded = transferDecode(p.cte, p.enc)
		p.done = true
	}
	return p.decoded
}

func partFilename(h textproto.Header, ctParams map[string]string) string {
	name := ""
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		name = dp["filename"]
	}
	if name == "" {
		name = ctParams["name"]
	}
	if name == "" {
		return ""
	}
	if dec, err := wordDecoder.DecodeHeader(name); err == nil {
		name = dec
	}
	return toValidUTF8(name)
}

// transferDecode undoes Content-Transfer-Encoding (RFC 2045 section 6)
// leniently: invalid input yields as much as could be decoded.
func transferDecode(cte string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, trimB64(clean))
		return out[:n]
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if out == nil {
			return body
		}
		return out
	default:
		return body
	}
}

// trimB64 drops a trailing single character, which can never decode.
func trimB64(b []byte) []byte {
	if len(b)%4 == 1 {
		return b[:len(b)-1]
	}
	return b
}

// text returns the first text/plain leaf (else text/html) converted to
// UTF-8, for snippets and q= matching.
func (p *part) text() string {
	if t := p.findLeaf("text/plain"); t != nil {
		return t.text8()
	}
	if t := p.findLeaf("text/html"); t != nil {
		return htmlText(t.text8())
	}
	return ""
}

func (p *part) findLeaf(mt string) *part {
	if len(p.children) == 0 {
		if p.mimeType == mt && p.filename == "" {
			return p
		}
		return nil
	}
	for _, c := range p.children {
		if f := c.findLeaf(mt); f != nil {
			return f
		}
	}
	return nil
}

func (p *part) charset() string {
	for _, h := range p.headers {
		if strings.EqualFold(h.Name, "Content-Type") {
			if _, params, err := mime.ParseMediaType(h.Value); err == nil {
				return params["charset"]
			}
		}
	}
	return ""
}

func (p *part) text8() string {
	cs := strings.ToLower(p.charset())
	if cs == "" || cs == "utf-8" || cs == "us-ascii" {
		return toValidUTF8(string(p.body()))
	}
	r, err := charset.Reader(cs, bytes.NewReader(p.body()))
	if err != nil {
		return toValidUTF8(string(p.body()))
	}
	b, err := io.ReadAll(r)
	if err != nil && len(b) == 0 {
		return toValidUTF8(string(p.body()))
	}
	return toValidUTF8(string(b))
}

func htmlText(s string) string {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return b.String()
		case xhtml.StartTagToken:
			if n, _ := z.TagName(); string(n) == "style" || string(n) == "script" {
				skip++
			}
		case xhtml.EndTagToken:
			if n, _ := z.TagName(); (string(n) == "style" || string(n) == "script") && skip > 0 {
				skip--
			}
		case xhtml.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		}
	}
}

// snippet mimics Gmail's: whitespace-collapsed start of the text, HTML
// escaped (Gmail sends &#39; and &quot; in snippets), about 200 characters.
func snippet(text string) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range text {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
		if n >= 200 {
			break
		}
	}
	return html.EscapeString(b.String())
}

func (p *part) header(name string) string {
	for _, h := range p.headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// find returns the part with the given partId.
func (p *part) find(id string) *part {
	if p.id == id {
		return p
	}
	for _, c := range p.children {
		if f := c.find(id); f != nil {
			return f
		}
	}
	return nil
}
