package mail

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	stdsync "sync"

	"github.com/emersion/go-message/textproto"
	"golang.org/x/net/html/charset"
)

// maxMultipartErrors bounds how many malformed lines or part headers one
// multipart body may skip; each one consumes at least a line, so the bound
// only matters for pathological input.
const maxMultipartErrors = 100000

// walker walks the MIME tree of one message (RFC 2045, RFC 2046) as a
// stream, collecting bodies and part metadata.
type walker struct {
	d     *decoder
	msg   *Message
	hd    headerDecoder
	texts []string
	htmls []string
	// partsCapped is set once MaxParts is exceeded, to warn only once.
	partsCapped bool
	// headerType is the message header's Content-Type as decodeHeaders
	// parsed it, with the default of a top entity (text/plain); the
	// first entity, which is that header's, takes it when headerTypeSet.
	headerType    mediaType
	headerTypeSet bool
}

func newWalker(d *decoder, msg *Message, hint string) *walker {
	return &walker{d: d, msg: msg, hd: headerDecoder{conv: d.conv, hint: hint}}
}

func partLabel(partID string) string {
	if partID == "" {
		return "body"
	}
	return "body part " + partID
}

func childID(parent string, i int) string {
	if parent == "" {
		return strconv.Itoa(i)
	}
	return parent + "." + strconv.Itoa(i)
}

// entity handles one MIME entity whose header has been read; body is its
// raw (still transfer-encoded) content.
func (w *walker) entity(h header, body io.Reader, partID string, depth int, parentType string) {
	where := partLabel(partID)
	ct, haveCT := w.headerType, w.headerTypeSet
	w.headerTypeSet = false
	w.d.parts++
	if w.d.parts > w.d.maxParts {
		if !w.partsCapped {
			w.partsCapped = true
			w.msg.warnf("%s: more than %d MIME parts; the rest are skipped", where, w.d.maxParts)
		}
		_, _ = io.Copy(io.Discard, body)
		return
	}

	// RFC 2045 §5.2: no Content-Type means text/plain; us-ascii, except in
	// multipart/digest where it means message/rfc822 (RFC 2046 §5.1.5).
	def := "text/plain"
	if parentType == "multipart/digest" {
		def = "message/rfc822"
	}
	if !haveCT || def != "text/plain" {
		ct = parseContentType(h, def)
	}
	mt, params, note := ct.mt, ct.params, ct.note
	if note != "" {
		w.msg.warnf("%s: Content-Type: %s", where, note)
	}

	if strings.HasPrefix(mt, "multipart/") {
		boundary := params["boundary"]
		switch {
		case strings.TrimSpace(boundary) == "":
			w.msg.warnf("%s: %s without boundary; read as text/plain", where, mt)
			mt = "text/plain"
		case depth >= w.d.maxDepth:
			w.msg.warnf("%s: nesting deeper than %d; %s kept as an attachment", where, w.d.maxDepth, mt)
			w.attachment(h, body, partID, mt, params, "")
			return
		default:
			// RFC 2045 §6.4: multiparts have no transfer encoding (go-message
			// ignores a bogus one for the same reason).
			w.multipart(body, boundary, mt, partID, depth)
			return
		}
	}
	w.leaf(h, body, partID, where, depth, mt, params)
}

// leaf handles an entity that is not a multipart: a body, a calendar, an
// embedded message or an attachment. where is partLabel(partID).
func (w *walker) leaf(h header, body io.Reader, partID, where string, depth int, mt string, params map[string]string) {
	enc, note := parseTransferEncoding(h.get("Content-Transfer-Encoding"))
	if note != "" {
		w.msg.warnf("%s: %s", where, note)
	}
	disp, dparams, dnote := parseDisposition(h.get("Content-Disposition"))
	if dnote != "" {
		w.msg.warnf("%s: Content-Disposition: %s", where, dnote)
	}
	filename := w.filename(h, params, dparams, where)

	isMessage := mt == "message/rfc822" || mt == "message/global"
	if isMessage && depth >= w.d.maxDepth {
		w.msg.warnf("%s: nesting deeper than %d; %s kept as an attachment", where, w.d.maxDepth, mt)
	}
	kind := leafAttachment
	switch {
	case isMessage && depth < w.d.maxDepth:
		kind = leafEmbedded
	case (mt == "text/plain" || mt == "text/html") && disp != "attachment" && filename == "":
		kind = leafBody
	case mt == "text/calendar":
		kind = leafCalendar
	case enc == encBase64:
		// The decoded size of base64 follows from the number of alphabet
		// characters (RFC 4648 §4): no need to decode bytes that are
		// thrown away.
		w.base64Attachment(h, body, partID, mt, filename)
		return
	}
	dec, buffers := transferDecoder(enc, body, func(msg string) { w.msg.warnf("%s: %s", where, msg) })
	if buffers != nil {
		// Every case below has read dec to its end when it returns.
		defer buffers.release()
	}
	switch kind {
	case leafEmbedded:
		w.embedded(h, dec, partID, depth, mt, filename, disp)
	case leafBody:
		w.bodyText(dec, partID, mt, params["charset"])
	case leafCalendar:
		w.calendar(h, dec, partID, mt, params, filename, disp)
	default:
		w.attachment(h, dec, partID, mt, params, filename)
	}
}

// What leaf makes of a part.
const (
	leafAttachment = iota
	leafEmbedded
	leafBody
	leafCalendar
)

func (w *walker) multipart(body io.Reader, boundary, mt, partID string, depth int) {
	where := partLabel(partID)
	prefix := prefixBuffers.Get().(*[]byte)
	defer prefixBuffers.Put(prefix)
	rec := &prefixRecorder{r: body, max: w.d.maxText, prefix: (*prefix)[:0]}
	mr := textproto.NewMultipartReader(rec, boundary)
	n, errs := 0, 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "boundary is empty") {
				if n > 0 {
					w.msg.warnf("%s: %s ends without its closing boundary", where, mt)
				}
				break
			}
			errs++
			if errs > maxMultipartErrors {
				break
			}
			continue
		}
		h := header{fields: make([]field, 0, p.Header.Len())}
		fs := p.Header.Fields()
		for fs.Next() {
			h.fields = append(h.fields, field{key: fs.Key(), value: fs.Value()})
		}
		// A delimiter was found: the recorded prefix is not needed.
		rec.stop()
		w.entity(h, p, childID(partID, n), depth+1, mt)
		n++
	}
	if errs > 0 {
		w.msg.warnf("%s: skipped %d malformed line(s) or part header(s) in %s", where, errs, mt)
	}
	if n == 0 {
		// The boundary never appeared: the body is the content.
		_, _ = io.Copy(io.Discard, rec)
		w.msg.warnf("%s: %s has no part delimited by boundary %q; body read as text", where, mt, boundary)
		text, note := w.d.conv.convert(rec.prefix, "", w.hd.hint)
		if note != "" {
			w.msg.warnf("%s: %s", where, note)
		}
		w.texts = append(w.texts, text)
	}
}

func (w *walker) bodyText(r io.Reader, partID, mt, label string) {
	where := partLabel(partID)
	buf := getTextBuffer()
	defer putTextBuffer(buf)
	data, total, err := readCapped(buf, r, w.d.maxText)
	if err != nil {
		w.msg.warnf("%s: %s: %v (kept what could be read)", where, mt, err)
	}
	if total > int64(len(data)) {
		w.msg.warnf("%s: %s of %d bytes truncated to %d", where, mt, total, len(data))
	}
	if mt == "text/html" && strings.TrimSpace(label) == "" {
		// An HTML part may declare its charset in a <meta> element instead
		// (HTML §13.2.3.2 prescan, implemented by x/net/html/charset).
		head := data[:min(len(data), 1024)]
		if bytes.Contains(bytes.ToLower(head), []byte("charset")) {
			if _, name, _ := charset.DetermineEncoding(data, ""); name != "" {
				label = name
			}
		}
	}
	text, note := w.d.conv.convert(data, label, "")
	if note != "" {
		w.msg.warnf("%s: %s", where, note)
	}
	if mt == "text/html" {
		w.htmls = append(w.htmls, text)
	} else {
		w.texts = append(w.texts, text)
	}
}

func (w *walker) attachment(h header, r io.Reader, partID, mt string, params map[string]string, filename string) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		w.msg.warnf("%s: %s: %v (counted %d bytes)", partLabel(partID), mt, err, n)
	}
	w.addAttachment(h, partID, mt, filename, n)
}

// prefixBuffers recycles the buffers of multipart's prefixRecorder, which
// holds the first read of every multipart body (4 KiB, go-message's read
// size) until the first delimiter is found. A prefix that outgrows one
// (a body without delimiters) gets a buffer of its own from append.
var prefixBuffers = stdsync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// countBuffers recycles the read buffers base64Attachment counts through;
// one per message was 3 % of the bytes a sync allocated.
var countBuffers = stdsync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

func (w *walker) base64Attachment(h header, body io.Reader, partID, mt, filename string) {
	var chars int64
	bp := countBuffers.Get().(*[]byte)
	defer countBuffers.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		chars += countBase64(buf[:n])
		if err != nil {
			if err != io.EOF {
				w.msg.warnf("%s: %s: %v (counted %d bytes)", partLabel(partID), mt, err, chars*6/8)
			}
			break
		}
	}
	w.addAttachment(h, partID, mt, filename, chars*6/8)
}

func (w *walker) addAttachment(h header, partID, mt, filename string, size int64) {
	disp, _, _ := parseDisposition(h.get("Content-Disposition"))
	cid := strings.TrimSpace(w.hd.text(h.get("Content-Id"), "", nil))
	cid = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">"))
	w.msg.Attachments = append(w.msg.Attachments, Attachment{
		PartID:      partID,
		Filename:    filename,
		ContentType: mt,
		ContentID:   oneLine(cid),
		Size:        size,
		// RFC 2183 §2.1; a Content-ID without disposition is how
		// multipart/related references inline images (RFC 2387).
		Inline: disp == "inline" || (disp == "" && cid != ""),
	})
}

func (w *walker) calendar(h header, r io.Reader, partID, mt string, params map[string]string, filename, disp string) {
	where := partLabel(partID)
	buf := getTextBuffer()
	defer putTextBuffer(buf)
	data, total, err := readCapped(buf, r, w.d.maxText)
	if err != nil {
		w.msg.warnf("%s: %s: %v (kept what could be read)", where, mt, err)
	}
	label := params["charset"]
	if label == "" {
		label = "utf-8" // RFC 5545 §3.1.4 default
	}
	text, note := w.d.conv.convert(data, label, "")
	if note != "" {
		w.msg.warnf("%s: %s", where, note)
	}
	cal := parseCalendar(text)
	cal.PartID = partID
	if cal.Method == "" {
		cal.Method = strings.ToUpper(params["method"])
	}
	w.msg.Calendar = append(w.msg.Calendar, cal)
	if filename != "" || disp == "attachment" {
		w.addAttachment(h, partID, mt, filename, total)
	}
}

// embedded decodes a message/rfc822 part (RFC 2046 §5.2.1) as a message of
// its own, streaming: its attachments are counted, not kept.
func (w *walker) embedded(h header, r io.Reader, partID string, depth int, mt, filename, disp string) {
	cr := &countingReader{r: r}
	br := bufio.NewReader(cr)
	sub := &Message{}
	w.d.readMessage(sub, br, partID, depth+1)
	_, _ = io.Copy(io.Discard, br)
	sub.Size = int(cr.n)
	sub.finish()
	where := partLabel(partID)
	if sub.Err != nil {
		w.msg.warnf("%s: embedded %s: %v", where, mt, sub.Err)
	}
	for _, wn := range sub.Warnings {
		w.msg.warnf("%s: embedded message: %s", where, wn)
	}
	if filename == "" && sub.Subject != "" {
		filename = sub.Subject + ".eml"
	}
	w.addAttachment(h, partID, mt, filename, cr.n)
	w.msg.Attachments = append(w.msg.Attachments, sub.Attachments...)
	w.msg.Calendar = append(w.msg.Calendar, sub.Calendar...)
	w.msg.Embedded = append(w.msg.Embedded, sub)
	if sub.Err == nil {
		// Forwarded mail is part of what the user received: make it
		// searchable with the outer message.
		w.texts = append(w.texts, forwardedBlock(sub))
	}
}

func forwardedBlock(m *Message) string {
	var b strings.Builder
	b.WriteString("---------- Forwarded message ----------\n")
	writeAddrs := func(label string, list []Address) {
		if len(list) == 0 {
			return
		}
		parts := make([]string, len(list))
		for i, a := range list {
			parts[i] = a.String()
		}
		fmt.Fprintf(&b, "%s: %s\n", label, strings.Join(parts, ", "))
	}
	writeAddrs("From", m.From)
	if !m.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", m.Date.Format("Mon, 2 Jan 2006 15:04:05 -0700"))
	}
	if m.Subject != "" {
		fmt.Fprintf(&b, "Subject: %s\n", m.Subject)
	}
	writeAddrs("To", m.To)
	writeAddrs("Cc", m.Cc)
	b.WriteString("\n")
	b.WriteString(m.Text)
	return b.String()
}

// finishBodies joins the collected bodies into msg.Text/msg.HTML.
func (w *walker) finishBodies() {
	if len(w.htmls) > 0 {
		w.msg.HTML = sanitizeHTML(strings.Join(w.htmls, "\n<hr>\n"))
	}
	text := strings.Join(nonEmpty(w.texts), "\n\n")
	if strings.TrimSpace(text) == "" && w.msg.HTML != "" {
		text = htmlToText(w.msg.HTML)
	}
	if w.msg.Text != "" {
		text = joinNonEmpty(w.msg.Text, text)
	}
	w.msg.Text = normalizeNewlines(text)
}

func nonEmpty(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

func joinNonEmpty(a, b string) string {
	return strings.Join(nonEmpty([]string{a, b}), "\n\n")
}

// safeText makes raw header bytes printable in a warning.
func safeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// normalizeNewlines turns CRLF and lone CR into LF and trims trailing
// whitespace, so stored text and snippets do not depend on the sender's
// line endings.
func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return strings.TrimRight(s, " \t\n")
}
