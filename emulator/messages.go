package emulator

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// users.messages.get and users.messages.attachments.get: the message formats (minimal, metadata, full, raw).

type msgView struct {
	format  string
	headers []string
}

func viewOf(q url.Values) (msgView, *apiError) {
	f := strings.ToLower(q.Get("format"))
	if f == "" {
		f = "full"
	}
	switch f {
	case "minimal", "metadata", "full", "raw":
	default:
		return msgView{}, errBadRequest(fmt.Sprintf("Invalid value at 'format' (%s)", q.Get("format")))
	}
	return msgView{format: f, headers: q["metadataHeaders"]}, nil
}

// messageJSON renders m; mb.mu must be held.
func (e *Emulator) messageJSON(mb *mailbox, m *msgState, v msgView, fault FaultKind) *apiMessage {
	out := e.messageHead(mb, m, fault)
	e.fillMessage(out, m.id, mb.sourceOf(m).bytes(), v)
	return out
}

// messageHead is the part of m's rendering that reads mutable mailbox
// state (ids, labels, history id); mb.mu must be held.
func (e *Emulator) messageHead(mb *mailbox, m *msgState, fault FaultKind) *apiMessage {
	out := &apiMessage{ID: formatID(m.id), ThreadID: formatID(m.thread), LabelIDs: slices.Clone(m.labels), HistoryID: m.hist, InternalDate: m.date}
	if fault == FaultGhostLabel {
		out.LabelIDs = append(out.LabelIDs, fmt.Sprintf("Label_%d", 900000+mb.rng.IntN(1000)))
	}
	return out
}

// fillMessage adds what follows from the message's bytes to out for the
// view; it reads no mailbox state, so it runs without the lock.
func (e *Emulator) fillMessage(out *apiMessage, msgID uint64, raw []byte, v msgView) {
	out.SizeEstimate = int64(len(raw))
	if v.format == "minimal" {
		return
	}
	p := parseMessage(raw)
	out.Snippet = snippet(p.text())
	switch v.format {
	case "raw":
		out.Raw = b64(raw)
	case "metadata":
		hs := p.headers
		if len(v.headers) > 0 {
			hs = nil
			for _, h := range p.headers {
				for _, want := range v.headers {
					if strings.EqualFold(h.Name, want) {
						hs = append(hs, h)
						break
					}
				}
			}
		}
		out.Payload = &apiPart{PartID: "", MimeType: p.mimeType, Headers: hs}
	case "full":
		out.Payload = e.partJSON(msgID, p)
	}
}

func (e *Emulator) partJSON(msgID uint64, p *part) *apiPart {
	out := &apiPart{PartID: p.id, MimeType: p.mimeType, Filename: p.filename, Headers: p.headers, Body: &apiPartBody{}}
	if len(p.children) > 0 {
		for _, c := range p.children {
			out.Parts = append(out.Parts, e.partJSON(msgID, c))
		}
		return out
	}
	body := p.body()
	out.Body.Size = int64(len(body))
	if len(body) == 0 {
		return out
	}
	if p.filename != "" || len(body) > e.cfg.attachmentThreshold {
		out.Body.AttachmentID = attachmentID(msgID, p.id)
	} else {
		out.Body.Data = b64(body)
	}
	return out
}

// attachmentID is opaque to clients, as Gmail's is.
func attachmentID(msgID uint64, partID string) string {
	return "ANGjdJ" + base64.RawURLEncoding.EncodeToString([]byte(formatID(msgID)+":"+partID))
}

func parseAttachmentID(s string) (uint64, string, bool) {
	rest, ok := strings.CutPrefix(s, "ANGjdJ")
	if !ok {
		return 0, "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return 0, "", false
	}
	idHex, partID, ok := strings.Cut(string(b), ":")
	if !ok {
		return 0, "", false
	}
	id, ok := parseID(idHex)
	return id, partID, ok
}

func (mb *mailbox) lookup(id string) *msgState {
	n, ok := parseID(id)
	if !ok {
		return nil
	}
	return mb.msgs[n]
}

// lockPathMessage locks mb and finds the message of the path's {id};
// when there is none it unlocks and answers 404. The caller unlocks.
func (mb *mailbox) lockPathMessage(w http.ResponseWriter, r *http.Request) (*msgState, bool) {
	mb.mu.Lock()
	m := mb.lookup(r.PathValue("id"))
	if m == nil {
		mb.mu.Unlock()
		writeAPIError(w, errNotFound())
		return nil, false
	}
	return m, true
}

func (e *Emulator) getMessage(w http.ResponseWriter, r *http.Request, c *call) {
	v, aerr := viewOf(r.URL.Query())
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	mb := c.mb
	m, ok := mb.lockPathMessage(w, r)
	if !ok {
		return
	}
	out, src, id := e.messageHead(mb, m, c.fault), mb.sourceOf(m), m.id
	mb.mu.Unlock()
	if v.format == "raw" && src.rendered != nil {
		src.rendered.serve(w, out, src.i)
		return
	}
	// The message's bytes are (re)generated, parsed and encoded outside
	// the mailbox lock: under it, concurrent gets of one mailbox were
	// served one at a time.
	raw := src.bytes()
	if v.format != "raw" {
		e.fillMessage(out, id, raw, v)
		writeJSON(w, 200, out)
		return
	}
	out.SizeEstimate, out.Snippet = int64(len(raw)), snippet(messageText(raw))
	e.writeRawMessage(w, out, raw)
}

// writeRawMessage writes a format=raw message: the JSON of out (whose Raw
// is empty) with the "raw" member appended and base64url-encoded straight
// into the response, instead of building the encoded string and having
// encoding/json copy and scan it.
func (e *Emulator) writeRawMessage(w http.ResponseWriter, out *apiMessage, raw []byte) {
	head, err := json.Marshal(out)
	if err != nil || len(head) < 2 {
		writeAPIError(w, errBackend(500))
		return
	}
	const member = `,"raw":"`
	head = head[:len(head)-1] // reopen the object
	if len(head) == 1 {
		head = append(head, member[1:]...) // "{" has no member before raw
	} else {
		head = append(head, member...)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+base64.URLEncoding.EncodedLen(len(raw))+2))
	w.WriteHeader(200)
	bw, _ := e.rawWriters.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(w, 32<<10)
	} else {
		bw.Reset(w)
	}
	defer func() {
		bw.Reset(nil) // let go of the response
		e.rawWriters.Put(bw)
	}()
	_, _ = bw.Write(head)
	enc := base64.NewEncoder(base64.URLEncoding, bw)
	_, _ = enc.Write(raw)
	_ = enc.Close()
	_, _ = bw.WriteString(`"}`)
	_ = bw.Flush()
}

func (e *Emulator) getAttachment(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	m := mb.lookup(r.PathValue("messageId"))
	var raw []byte
	if m != nil {
		raw = mb.rawOf(m)
	}
	mb.mu.Unlock()
	aid, partID, ok := parseAttachmentID(r.PathValue("id"))
	if m == nil || !ok || aid != m.id {
		writeAPIError(w, errNotFound())
		return
	}
	p := parseMessage(raw).find(partID)
	if p == nil || len(p.children) > 0 {
		writeAPIError(w, errNotFound())
		return
	}
	body := p.body()
	writeJSON(w, 200, apiPartBody{AttachmentID: r.PathValue("id"), Size: int64(len(body)), Data: b64(body)})
}
