package mail

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"sort"
	"strconv"
	"strings"

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
	mt, params, note := parseMediaTypeLenient(h.get("Content-Type"), def)
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

	cte := h.get("Content-Transfer-Encoding")
	dec, note := transferDecoder(cte, body, func(msg string) { w.msg.warnf("%s: %s", where, msg) })
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
	switch {
	case isMessage && depth < w.d.maxDepth:
		w.embedded(h, dec, partID, depth, mt, filename, disp)
	case (mt == "text/plain" || mt == "text/html") && disp != "attachment" && filename == "":
		w.bodyText(dec, partID, mt, params["charset"])
	case mt == "text/calendar":
		w.calendar(h, dec, partID, mt, params, filename, disp)
	default:
		if isBase64(cte) {
			// The decoded size of base64 follows from the number of
			// alphabet characters (RFC 4648 §4): no need to decode bytes
			// that are thrown away.
			w.base64Attachment(h, body, partID, mt, filename)
			return
		}
		w.attachment(h, dec, partID, mt, params, filename)
	}
}

func (w *walker) multipart(body io.Reader, boundary, mt, partID string, depth int) {
	where := partLabel(partID)
	rec := &prefixRecorder{r: body, max: w.d.maxText}
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
		var h header
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
	data, total, err := readCapped(r, w.d.maxText)
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

func isBase64(cte string) bool {
	enc := strings.ToLower(cte)
	return strings.Contains(enc, "base64") || strings.Contains(enc, "base-64")
}

func (w *walker) base64Attachment(h header, body io.Reader, partID, mt, filename string) {
	var chars int64
	if w.d.scratch == nil {
		w.d.scratch = make([]byte, 16<<10)
	}
	buf := w.d.scratch
	for {
		n, err := body.Read(buf)
		for _, c := range buf[:n] {
			if base64Alphabet[c] {
				chars++
			}
		}
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
	data, total, err := readCapped(r, w.d.maxText)
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

// transferDecoder undoes Content-Transfer-Encoding (RFC 2045 §6) leniently.
// warn reports repairs found while reading (junk lines inside base64).
func transferDecoder(cte string, r io.Reader, warn func(string)) (io.Reader, string) {
	enc := strings.ToLower(strings.Trim(strings.TrimSpace(cte), "\"'"))
	switch enc {
	case "", "7bit", "8bit", "binary":
		return r, ""
	case "base64":
		return base64.NewDecoder(base64.RawStdEncoding, newBase64Filter(r, warn)), ""
	case "quoted-printable":
		return quotedprintable.NewReader(&qpFilter{r: r}), ""
	}
	switch {
	case strings.Contains(enc, "base64") || strings.Contains(enc, "base-64"):
		return base64.NewDecoder(base64.RawStdEncoding, newBase64Filter(r, warn)),
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
// decoder; it is wrapped in a RawStdEncoding decoder. A whole line that is
// not base64 (a mailer's junk line such as "@@not*base64@@": bytes outside
// the alphabet and an alphabet count that is not a multiple of 4, which
// would shift every following quantum) is skipped with a warning, so the
// valid base64 after it still decodes.
type base64Filter struct {
	r       *bufio.Reader
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

func newBase64Filter(r io.Reader, warn func(string)) *base64Filter {
	return &base64Filter{r: bufio.NewReaderSize(r, 4096), warn: warn}
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

var paramRe = regexp.MustCompile(`(?i)([a-z0-9*_.-]+)\s*=\s*(?:"([^"]*)"?|([^;\s]*))`)

// parseMediaTypeLenient parses a Content-Type value (RFC 2045 §5.1, with
// RFC 2231 parameters via mime.ParseMediaType) and falls back to a
// best-effort reading of the type and parameters when it is malformed.
func parseMediaTypeLenient(v, def string) (string, map[string]string, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, map[string]string{}, ""
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil {
		return strings.ToLower(mt), params, ""
	}
	typ, rest, _ := strings.Cut(v, ";")
	typ = strings.ToLower(strings.Trim(strings.TrimSpace(typ), "\"'"))
	note := ""
	if !validMediaType(typ) {
		// e.g. "text", "text/plain charset=utf-8", "html"
		if f := strings.Fields(typ); len(f) > 0 && validMediaType(f[0]) {
			typ = f[0]
		} else {
			note = fmt.Sprintf("invalid media type in %q; read as %s", oneLine(safeText(v)), def)
			typ = def
		}
	}
	params = lenientParams(rest)
	if note == "" {
		note = fmt.Sprintf("malformed parameters in %q (%v); read leniently", oneLine(safeText(v)), err)
	}
	return typ, params, note
}

func validMediaType(t string) bool {
	major, minor, ok := strings.Cut(t, "/")
	if !ok || major == "" || minor == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

func lenientParams(s string) map[string]string {
	params := map[string]string{}
	for _, m := range paramRe.FindAllStringSubmatch(s, 100) {
		k := strings.ToLower(m[1])
		if _, dup := params[k]; dup {
			continue // RFC 2045 forbids duplicates; keep the first
		}
		val := m[2]
		if val == "" {
			val = m[3]
		}
		params[k] = val
	}
	// RFC 2231 forms (which take precedence over a plain value, RFC 2231
	// §4.1 note) that mime.ParseMediaType rejected or only partly read.
	for _, name := range []string{"filename", "name"} {
		if v, ok := joinRFC2231(params, name); ok {
			params[name] = v
		}
	}
	return params
}

// joinRFC2231 assembles name*0*, name*1, ... / name* (RFC 2231 §3, §4) into
// a raw value; percent-decoding and the charset are handled by decode2231.
func joinRFC2231(params map[string]string, name string) (string, bool) {
	type sec struct {
		n   int
		enc bool
		v   string
	}
	var secs []sec
	for k, v := range params {
		rest, ok := strings.CutPrefix(k, name+"*")
		if !ok {
			continue
		}
		enc := strings.HasSuffix(rest, "*") || rest == ""
		num := strings.TrimSuffix(rest, "*")
		n := 0
		if num != "" {
			var err error
			if n, err = strconv.Atoi(num); err != nil || n > 1000 {
				continue
			}
		}
		secs = append(secs, sec{n, enc, v})
	}
	if len(secs) == 0 {
		return "", false
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i].n < secs[j].n })
	var b strings.Builder
	b.WriteString("\x01") // marker: RFC 2231 raw form follows
	for i, s := range secs {
		if s.enc {
			if i == 0 {
				b.WriteString(s.v) // charset'lang'%XX...
			} else {
				b.WriteString("''" + s.v)
			}
		} else {
			b.WriteString("''" + strings.ReplaceAll(s.v, "%", "%25"))
		}
		b.WriteString("\x02")
	}
	return b.String(), true
}

// decode2231 turns the marker form produced by joinRFC2231 into text,
// decoding the percent-escapes in the declared charset (any charset, unlike
// mime.ParseMediaType which only accepts us-ascii and utf-8).
func (w *walker) decode2231(v string) (string, string) {
	v = strings.TrimPrefix(v, "\x01")
	var raw []byte
	label := ""
	for i, sec := range strings.Split(strings.TrimSuffix(v, "\x02"), "\x02") {
		cs, rest, ok := strings.Cut(sec, "'")
		if !ok {
			raw = append(raw, sec...)
			continue
		}
		if i == 0 {
			label = cs
		}
		_, val, ok := strings.Cut(rest, "'")
		if !ok {
			val = rest
		}
		raw = append(raw, percentDecode(val)...)
	}
	return w.d.conv.convert(raw, label, w.hd.hint)
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// parseDisposition parses Content-Disposition (RFC 2183).
func parseDisposition(v string) (string, map[string]string, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", map[string]string{}, ""
	}
	disp, params, err := mime.ParseMediaType(v)
	if err == nil {
		return strings.ToLower(disp), params, ""
	}
	d, rest, _ := strings.Cut(v, ";")
	d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "\"'"))
	if d != "inline" && d != "attachment" {
		if strings.Contains(d, "attach") {
			d = "attachment"
		} else if strings.Contains(d, "inline") {
			d = "inline"
		}
	}
	return d, lenientParams(rest), fmt.Sprintf("malformed value %q (%v); read leniently", oneLine(safeText(v)), err)
}

// filename finds a part's file name: Content-Disposition filename (RFC 2183,
// RFC 2231 forms), else Content-Type name; RFC 2047 encoded words inside it
// (not allowed by RFC 2047 §5 but what Outlook and Gmail send) are decoded.
func (w *walker) filename(h header, params, dparams map[string]string, where string) string {
	fn := dparams["filename"]
	if fn == "" {
		fn = params["name"]
	}
	// mime.ParseMediaType drops RFC 2231 sections in charsets other than
	// us-ascii/utf-8 ("filename*0*=iso-8859-1''%E9t%E9; filename*1=.pdf"
	// becomes ".pdf"): re-read such values with every charset supported.
	for _, src := range []struct{ key, param string }{{"Content-Disposition", "filename"}, {"Content-Type", "name"}} {
		v := h.get(src.key)
		if !strings.Contains(strings.ToLower(v), src.param+"*") {
			continue
		}
		if _, rest, ok := strings.Cut(v, ";"); ok {
			if alt := lenientParams(rest)[src.param]; alt != "" {
				fn = alt
				break
			}
		}
	}
	if fn == "" {
		return ""
	}
	if strings.HasPrefix(fn, "\x01") {
		var note string
		if fn, note = w.decode2231(fn); note != "" {
			w.msg.warnf("%s: filename: %s", where, note)
		}
	} else {
		fn = w.hd.decode(fn, where+" filename", w.msg)
	}
	fn = oneLine(fn)
	// Keep the base name: some clients send full local paths.
	if i := strings.LastIndexAny(fn, `/\`); i >= 0 && i < len(fn)-1 {
		fn = fn[i+1:]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, fn)
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
