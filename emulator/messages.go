package emulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
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
	out := &apiMessage{ID: formatID(m.id), ThreadID: formatID(m.thread), LabelIDs: slices.Clone(m.labels), HistoryID: m.hist, InternalDate: m.date}
	if fault == FaultGhostLabel {
		out.LabelIDs = append(out.LabelIDs, fmt.Sprintf("Label_%d", 900000+mb.rng.IntN(1000)))
	}
	raw := mb.rawOf(m)
	out.SizeEstimate = int64(len(raw))
	if v.format == "minimal" {
		return out
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
		out.Payload = e.partJSON(m.id, p)
	}
	return out
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
	out := e.messageJSON(mb, m, v, c.fault)
	mb.mu.Unlock()
	writeJSON(w, 200, out)
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
