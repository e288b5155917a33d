package mail

import (
	"fmt"
	"mime"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var paramRe = regexp.MustCompile(`(?i)([a-z0-9*_.-]+)\s*=\s*(?:"([^"]*)"?|([^;\s]*))`)

// parseMediaTypeLenient parses a Content-Type value (RFC 2045 §5.1, with
// RFC 2231 parameters via mime.ParseMediaType) and falls back to a
// best-effort reading of the type and parameters when it is malformed.
// mediaType is a parsed Content-Type: the lower-case media type, its
// parameters and a note on what was repaired ("" when nothing was).
type mediaType struct {
	mt     string
	params map[string]string
	note   string
}

// parseContentType parses h's Content-Type with parseMediaTypeLenient.
func parseContentType(h header, def string) mediaType {
	mt, params, note := parseMediaTypeLenient(h.get("Content-Type"), def)
	return mediaType{mt: mt, params: params, note: note}
}

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
