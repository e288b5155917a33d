package emulator

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxJSONBody bounds JSON request bodies: a raw message of 35 MiB encoded
// in base64 plus envelope.
const maxJSONBody = MaxUploadBytes*4/3 + 1<<20

func decodeBody(r *http.Request, v any) *apiError {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return errBadRequest("could not read request body")
	}
	if len(b) > maxJSONBody {
		return errTooLarge()
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errBadRequest("Invalid JSON payload received. " + err.Error())
	}
	return nil
}

func intParam(q url.Values, name string, def, maxV int) (int, *apiError) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errBadRequest(fmt.Sprintf("Invalid value for %s: %q", name, s))
	}
	if n == 0 {
		return def, nil
	}
	return min(n, maxV), nil
}

// decodeRaw accepts the base64url the API documents, padded or not, and
// standard base64, which clients also send.
func decodeRaw(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func b64(b []byte) string { return base64.URLEncoding.EncodeToString(b) }

// --- profile, watch ---

func (e *Emulator) getProfile(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	p := apiProfile{EmailAddress: mb.email, MessagesTotal: int64(len(mb.msgs)), ThreadsTotal: int64(mb.threadsTotal()), HistoryID: mb.historyID}
	mb.mu.Unlock()
	writeJSON(w, 200, p)
}

func (e *Emulator) watch(w http.ResponseWriter, r *http.Request, c *call) {
	var in apiWatchIn
	if err := decodeBody(r, &in); err != nil {
		writeAPIError(w, err)
		return
	}
	if !strings.HasPrefix(in.TopicName, "projects/") || !strings.Contains(in.TopicName, "/topics/") {
		writeAPIError(w, errBadRequest("Invalid topicName does not match projects/*/topics/*"))
		return
	}
	mb := c.mb
	mb.mu.Lock()
	exp := e.now().Add(7 * 24 * time.Hour)
	mb.watch = &watchState{topic: in.TopicName, labelIDs: in.LabelIDs, include: !strings.EqualFold(in.LabelFilterBehavior, "exclude") && !strings.EqualFold(in.LabelFilterAction, "exclude"), expiration: exp}
	mb.pushScan = mb.historyID
	resp := apiWatchResponse{HistoryID: mb.historyID, Expiration: exp.UnixMilli()}
	mb.mu.Unlock()
	writeJSON(w, 200, resp)
}

func (e *Emulator) stop(w http.ResponseWriter, r *http.Request, c *call) {
	c.mb.mu.Lock()
	c.mb.watch = nil
	c.mb.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// --- labels ---

func labelJSON(l *label) apiLabel {
	return apiLabel{ID: l.id, Name: l.name, Type: l.typ, MessageListVisibility: l.mlv, LabelListVisibility: l.llv, Color: l.color}
}

func (mb *mailbox) sortedLabelList() []*label {
	out := make([]*label, 0, len(mb.labels))
	for _, l := range mb.labels {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *label) int {
		if a.typ != b.typ {
			return cmp.Compare(b.typ, a.typ) // system first
		}
		if len(a.id) != len(b.id) {
			return cmp.Compare(len(a.id), len(b.id))
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}

func (e *Emulator) listLabels(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	resp := apiListLabels{Labels: []apiLabel{}}
	for _, l := range mb.sortedLabelList() {
		resp.Labels = append(resp.Labels, labelJSON(l))
	}
	mb.mu.Unlock()
	if c.fault == FaultGhostLabel {
		// A label that messages reference but that has vanished from
		// labels.list in between (lieer #48): drop the newest user label.
		for i := len(resp.Labels) - 1; i >= 0; i-- {
			if resp.Labels[i].Type == "user" {
				resp.Labels = slices.Delete(resp.Labels, i, i+1)
				break
			}
		}
	}
	writeJSON(w, 200, resp)
}

func (e *Emulator) getLabel(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	l, ok := mb.labels[r.PathValue("id")]
	if !ok {
		writeAPIError(w, errNotFound())
		return
	}
	out := labelJSON(l)
	var mt, mu, tt, tu int64
	threads := map[uint64]bool{}
	unreadThreads := map[uint64]bool{}
	for _, m := range mb.msgs {
		if !slices.Contains(m.labels, l.id) {
			continue
		}
		mt++
		threads[m.thread] = true
		if slices.Contains(m.labels, "UNREAD") {
			mu++
			unreadThreads[m.thread] = true
		}
	}
	tt, tu = int64(len(threads)), int64(len(unreadThreads))
	out.MessagesTotal, out.MessagesUnread, out.ThreadsTotal, out.ThreadsUnread = &mt, &mu, &tt, &tu
	writeJSON(w, 200, out)
}

func (e *Emulator) createLabel(w http.ResponseWriter, r *http.Request, c *call) {
	var in apiLabel
	if err := decodeBody(r, &in); err != nil {
		writeAPIError(w, err)
		return
	}
	mb := c.mb
	mb.mu.Lock()
	l, err := mb.createLabel(in)
	var out apiLabel
	if err == nil {
		out = labelJSON(l)
	}
	mb.mu.Unlock()
	if err != nil {
		if strings.Contains(err.Error(), "exists") {
			writeAPIError(w, errConflict("Label name exists or conflicts"))
		} else {
			writeAPIError(w, errBadRequest("Invalid label name"))
		}
		return
	}
	writeJSON(w, 200, out)
}

func (e *Emulator) updateLabel(w http.ResponseWriter, r *http.Request, c *call) {
	var in apiLabel
	if err := decodeBody(r, &in); err != nil {
		writeAPIError(w, err)
		return
	}
	patch := r.Method == http.MethodPatch
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	l, ok := mb.labels[r.PathValue("id")]
	if !ok {
		writeAPIError(w, errNotFound())
		return
	}
	if l.typ == "system" {
		writeAPIError(w, errBadRequest("Invalid label: system labels cannot be modified"))
		return
	}
	name := strings.TrimSpace(in.Name)
	if name == "" && !patch {
		writeAPIError(w, errBadRequest("Invalid label name"))
		return
	}
	if name != "" {
		if o := mb.labelByName(name); o != nil && o != l {
			writeAPIError(w, errConflict("Label name exists or conflicts"))
			return
		}
		l.name = name
	}
	if in.MessageListVisibility != "" || !patch {
		l.mlv = in.MessageListVisibility
	}
	if in.LabelListVisibility != "" || !patch {
		l.llv = in.LabelListVisibility
	}
	if in.Color != nil || !patch {
		l.color = in.Color
	}
	writeJSON(w, 200, labelJSON(l))
}

func (e *Emulator) deleteLabel(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	err := mb.deleteLabel(e.now(), r.PathValue("id"))
	mb.mu.Unlock()
	switch {
	case err == nil:
		e.push.changed(mb)
		w.WriteHeader(http.StatusNoContent)
	case err == ErrNotFound:
		writeAPIError(w, errNotFound())
	default:
		writeAPIError(w, errBadRequest("Invalid delete request: system labels cannot be deleted"))
	}
}

// --- messages ---

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

func (e *Emulator) getMessage(w http.ResponseWriter, r *http.Request, c *call) {
	v, aerr := viewOf(r.URL.Query())
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	mb := c.mb
	mb.mu.Lock()
	m := mb.lookup(r.PathValue("id"))
	if m == nil {
		mb.mu.Unlock()
		writeAPIError(w, errNotFound())
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

func refOf(m *msgState) apiMessageRef {
	return apiMessageRef{ID: formatID(m.id), ThreadID: formatID(m.thread), LabelIDs: slices.Clone(m.labels)}
}

// modifyOp, trashOp and untrashOp are the label mutations that
// messages.modify/trash/untrash apply to one message and threads.* apply
// to every message of a thread.
func modifyOp(in apiModifyIn) func(mb *mailbox, m *msgState, now time.Time) *apiError {
	return func(mb *mailbox, m *msgState, now time.Time) *apiError {
		add, err := mb.canonAll(in.AddLabelIDs)
		if err != nil {
			return errBadRequest("Invalid label: " + strings.TrimPrefix(err.Error(), ErrInvalidInput.Error()+": invalid label: "))
		}
		rem, err := mb.canonAll(in.RemoveLabelIDs)
		if err != nil {
			return errBadRequest("Invalid label: " + strings.TrimPrefix(err.Error(), ErrInvalidInput.Error()+": invalid label: "))
		}
		mb.modify(now, m, add, rem)
		return nil
	}
}

func trashOp(mb *mailbox, m *msgState, now time.Time) *apiError {
	mb.modify(now, m, []string{"TRASH"}, nil)
	return nil
}

func untrashOp(mb *mailbox, m *msgState, now time.Time) *apiError {
	mb.modify(now, m, nil, []string{"TRASH"})
	return nil
}

func (e *Emulator) modifyMessage(w http.ResponseWriter, r *http.Request, c *call) {
	var in apiModifyIn
	if err := decodeBody(r, &in); err != nil {
		writeAPIError(w, err)
		return
	}
	e.mutateOne(w, r, c, modifyOp(in))
}

func (e *Emulator) trashMessage(w http.ResponseWriter, r *http.Request, c *call) {
	e.mutateOne(w, r, c, trashOp)
}

func (e *Emulator) untrashMessage(w http.ResponseWriter, r *http.Request, c *call) {
	e.mutateOne(w, r, c, untrashOp)
}

func (e *Emulator) mutateOne(w http.ResponseWriter, r *http.Request, c *call, f func(*mailbox, *msgState, time.Time) *apiError) {
	mb := c.mb
	mb.mu.Lock()
	m := mb.lookup(r.PathValue("id"))
	if m == nil {
		mb.mu.Unlock()
		writeAPIError(w, errNotFound())
		return
	}
	if err := f(mb, m, e.now()); err != nil {
		mb.mu.Unlock()
		writeAPIError(w, err)
		return
	}
	out := apiMessage{ID: formatID(m.id), ThreadID: formatID(m.thread), LabelIDs: slices.Clone(m.labels)}
	mb.mu.Unlock()
	e.push.changed(mb)
	writeJSON(w, 200, out)
}

func (e *Emulator) deleteMessage(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	m := mb.lookup(r.PathValue("id"))
	if m == nil {
		mb.mu.Unlock()
		writeAPIError(w, errNotFound())
		return
	}
	mb.remove(e.now(), m)
	mb.mu.Unlock()
	e.push.changed(mb)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) batchModify(w http.ResponseWriter, r *http.Request, c *call) {
	var in apiModifyIn
	if err := decodeBody(r, &in); err != nil {
		writeAPIError(w, err)
		return
	}
	if len(in.IDs) > 1000 {
		writeAPIError(w, errBadRequest("Too many ids: at most 1000"))
		return
	}
	mb := c.mb
	mb.mu.Lock()
	add, err1 := mb.canonAll(in.AddLabelIDs)
	rem, err2 := mb.canonAll(in.RemoveLabelIDs)
	if err1 != nil || err2 != nil {
		mb.mu.Unlock()
		writeAPIError(w, errBadRequest("Invalid label"))
		return
	}
	now := e.now()
	for _, id := range in.IDs {
		if m := mb.lookup(id); m != nil {
			mb.modify(now, m, add, rem)
		}
	}
	mb.mu.Unlock()
	e.push.changed(mb)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) batchDelete(w http.ResponseWriter, r *http.Request, c *call) {
	var in apiModifyIn
	if err := decodeBody(r, &in); err != nil {
		writeAPIError(w, err)
		return
	}
	if len(in.IDs) > 1000 {
		writeAPIError(w, errBadRequest("Too many ids: at most 1000"))
		return
	}
	mb := c.mb
	mb.mu.Lock()
	now := e.now()
	for _, id := range in.IDs {
		if m := mb.lookup(id); m != nil {
			mb.remove(now, m)
		}
	}
	mb.mu.Unlock()
	e.push.changed(mb)
	w.WriteHeader(http.StatusNoContent)
}

// --- listing ---

type listCursor struct {
	date int64
	id   uint64
}

func encodeCursor(m *msgState) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(m.date, 10) + ":" + formatID(m.id)))
}

func decodeCursor(s string) (listCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return listCursor{}, false
	}
	d, idHex, ok := strings.Cut(string(b), ":")
	if !ok {
		return listCursor{}, false
	}
	date, err := strconv.ParseInt(d, 10, 64)
	if err != nil {
		return listCursor{}, false
	}
	id, ok := parseID(idHex)
	return listCursor{date: date, id: id}, ok
}

// startIndex returns the index of the newest message to visit.
func (mb *mailbox) startIndex(token string) (int, *apiError) {
	if token == "" {
		return len(mb.order) - 1, nil
	}
	cur, ok := decodeCursor(token)
	if !ok {
		return 0, errBadRequest("Invalid pageToken")
	}
	key := &msgState{date: cur.date, id: cur.id}
	i, _ := slices.BinarySearchFunc(mb.order, key, func(a, b *msgState) int {
		if less(a, b) {
			return -1
		}
		if less(b, a) {
			return 1
		}
		return 0
	})
	return i - 1, nil
}

type listReq struct {
	max   int
	token string
	match func(*mailbox, *msgState) bool
}

func (e *Emulator) parseListReq(r *http.Request, mb *mailbox) (listReq, *apiError) {
	q := r.URL.Query()
	n, aerr := intParam(q, "maxResults", 100, 500)
	if aerr != nil {
		return listReq{}, aerr
	}
	labelIDs := q["labelIds"]
	if len(labelIDs) == 1 && strings.Contains(labelIDs[0], ",") {
		labelIDs = strings.Split(labelIDs[0], ",")
	}
	qry, err := parseQuery(q.Get("q"), e.now())
	if err != nil {
		return listReq{}, errBadRequest(err.Error())
	}
	mb.resolveQueryLabels(qry)
	spamTrash := q.Get("includeSpamTrash") == "true" || qry.anywhere
	for _, l := range labelIDs {
		if l == "SPAM" || l == "TRASH" {
			spamTrash = true
		}
	}
	for _, l := range qry.labels {
		if l == "SPAM" || l == "TRASH" {
			spamTrash = true
		}
	}
	match := func(mb *mailbox, m *msgState) bool {
		if m.deleted {
			return false
		}
		if !spamTrash && (slices.Contains(m.labels, "SPAM") || slices.Contains(m.labels, "TRASH")) {
			return false
		}
		for _, l := range labelIDs {
			if !slices.Contains(m.labels, l) {
				return false
			}
		}
		return qry.match(mb, m)
	}
	return listReq{max: n, token: q.Get("pageToken"), match: match}, nil
}

func (e *Emulator) listMessages(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	lr, aerr := e.parseListReq(r, mb)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	start, aerr := mb.startIndex(lr.token)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	resp := apiListMessages{}
	i := start
	for ; i >= 0 && len(resp.Messages) < lr.max; i-- {
		m := mb.order[i]
		if lr.match(mb, m) {
			resp.Messages = append(resp.Messages, apiMessageRef{ID: formatID(m.id), ThreadID: formatID(m.thread)})
		}
	}
	if len(resp.Messages) == lr.max {
		for j := i; j >= 0; j-- {
			if lr.match(mb, mb.order[j]) {
				last := resp.Messages[len(resp.Messages)-1]
				id, _ := parseID(last.ID)
				resp.NextPageToken = encodeCursor(mb.msgs[id])
				break
			}
		}
	}
	resp.ResultSizeEstimate = int64(len(resp.Messages))
	if resp.NextPageToken != "" {
		resp.ResultSizeEstimate = int64(len(mb.msgs))
	}
	writeJSON(w, 200, resp)
}

// --- history ---

var historyTypeNames = map[string]histKind{"messageAdded": histAdded, "messageDeleted": histDeleted, "labelAdded": histLabelAdded, "labelRemoved": histLabelRemoved}

func (e *Emulator) listHistory(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	start, err := strconv.ParseUint(q.Get("startHistoryId"), 10, 64)
	if err != nil {
		writeAPIError(w, errBadRequest("Invalid startHistoryId"))
		return
	}
	n, aerr := intParam(q, "maxResults", 100, 500)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	types := map[histKind]bool{}
	for _, t := range q["historyTypes"] {
		for _, tt := range strings.Split(t, ",") {
			k, ok := historyTypeNames[tt]
			if !ok {
				writeAPIError(w, errBadRequest("Invalid value at 'history_types': "+tt))
				return
			}
			types[k] = true
		}
	}
	labelID := q.Get("labelId")
	after := start
	if tok := q.Get("pageToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		v, err2 := strconv.ParseUint(string(b), 10, 64)
		if err != nil || err2 != nil || v < start {
			writeAPIError(w, errBadRequest("Invalid pageToken"))
			return
		}
		after = v
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.prune(e.now(), e.cfg.historyRetention)
	if start < mb.minHist {
		writeAPIError(w, errNotFound())
		return
	}
	resp := apiListHistory{HistoryID: mb.historyID}
	i, _ := slices.BinarySearchFunc(mb.history, after+1, func(r histRec, v uint64) int { return cmp.Compare(r.id, v) })
	if c.fault == FaultEmptyHistoryPage && i < len(mb.history) {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(after, 10)))
		writeJSON(w, 200, resp)
		return
	}
	for ; i < len(mb.history) && len(resp.History) < n; i++ {
		rec := &mb.history[i]
		if len(types) > 0 && !types[rec.kind] {
			continue
		}
		if labelID != "" && !slices.Contains(rec.labels, labelID) && !slices.Contains(rec.changed, labelID) {
			continue
		}
		resp.History = append(resp.History, historyJSON(rec))
	}
	if i < len(mb.history) {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(mb.history[i-1].id, 10)))
	}
	if c.fault == FaultPhantomHistoryMessage && len(resp.History) > 0 {
		// A message added and deleted again before the client fetches it:
		// listed here, 404 on messages.get.
		h := &resp.History[0]
		ref := apiMessageRef{ID: formatID(mb.newMsgID()), ThreadID: formatID(mb.nextMsgID), LabelIDs: []string{"INBOX", "UNREAD"}}
		h.Messages = append(h.Messages, apiMessageRef{ID: ref.ID, ThreadID: ref.ThreadID})
		h.MessagesAdded = append(h.MessagesAdded, apiHistoryMessage{Message: ref})
	}
	writeJSON(w, 200, resp)
}

func historyJSON(rec *histRec) apiHistory {
	ref := apiMessageRef{ID: formatID(rec.msg), ThreadID: formatID(rec.thread)}
	h := apiHistory{ID: rec.id, Messages: []apiMessageRef{ref}}
	full := ref
	full.LabelIDs = slices.Clone(rec.labels)
	switch rec.kind {
	case histAdded:
		h.MessagesAdded = []apiHistoryMessage{{Message: full}}
	case histDeleted:
		h.MessagesDeleted = []apiHistoryMessage{{Message: ref}}
	case histLabelAdded:
		h.LabelsAdded = []apiHistoryLabel{{Message: full, LabelIDs: slices.Clone(rec.changed)}}
	case histLabelRemoved:
		h.LabelsRemoved = []apiHistoryLabel{{Message: full, LabelIDs: slices.Clone(rec.changed)}}
	}
	return h
}
