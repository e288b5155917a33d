package emulator

import (
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (e *Emulator) dateOf(raw []byte, source string, now time.Time) int64 {
	if source == "dateHeader" {
		if d := parseHeaderOnly(raw).header("Date"); d != "" {
			if t, err := mail.ParseDate(d); err == nil {
				return t.UnixMilli()
			}
		}
	}
	return now.UnixMilli()
}

func threadHint(mb *mailbox, s string) uint64 {
	if id, ok := parseID(s); ok {
		if _, exists := mb.threads[id]; exists {
			return id
		}
	}
	return 0
}

// store adds a message from an API request; mb.mu must not be held.
func (e *Emulator) store(c *call, raw []byte, labels []string, dateSource, thread string) (*apiMessage, *apiError) {
	if len(raw) == 0 {
		return nil, errBadRequest("'raw' RFC822 payload message string or uploading message via /upload/* URL required")
	}
	mb := c.mb
	mb.mu.Lock()
	ls, err := mb.canonAll(labels)
	if err != nil {
		mb.mu.Unlock()
		return nil, errBadRequest("Invalid label: " + strings.Join(labels, ","))
	}
	now := e.now()
	m := mb.addMessage(now, raw, ls, e.dateOf(raw, dateSource, now), threadHint(mb, thread))
	out := minimalOf(m)
	mb.mu.Unlock()
	e.push.changed(mb)
	return out, nil
}

// insertMessage is users.messages.insert: the message is stored as given,
// like IMAP APPEND; internalDateSource defaults to receivedTime and
// deleted=true stores it without labels.
func (e *Emulator) insertMessage(w http.ResponseWriter, r *http.Request, c *call, in *msgInput) {
	e.storeInput(w, c, in, "receivedTime", func(labels []string) []string {
		if in.query.Get("deleted") == "true" {
			return nil
		}
		return labels
	})
}

// importMessage is users.messages.import: like receiving mail, so without
// labels it lands in the inbox unread; internalDateSource defaults to
// dateHeader.
func (e *Emulator) importMessage(w http.ResponseWriter, r *http.Request, c *call, in *msgInput) {
	e.storeInput(w, c, in, "dateHeader", func(labels []string) []string {
		if len(labels) == 0 {
			return []string{"INBOX", "UNREAD"}
		}
		return labels
	})
}

// storeInput stores an uploaded message with the labels chosen from the
// request's by labelsOf.
func (e *Emulator) storeInput(w http.ResponseWriter, c *call, in *msgInput, defaultSource string, labelsOf func([]string) []string) {
	meta, raw, aerr := in.message()
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	src := in.query.Get("internalDateSource")
	if src == "" {
		src = defaultSource
	}
	out, aerr := e.store(c, raw, labelsOf(meta.LabelIDs), src, meta.ThreadID)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeJSON(w, 200, out)
}

func recipients(raw []byte) []string {
	h := parseHeaderOnly(raw)
	var out []string
	for _, f := range []string{"To", "Cc", "Bcc"} {
		if v := h.header(f); v != "" {
			out = append(out, addressesOf(v)...)
		}
	}
	return out
}

// answerSent hands a sent message to local recipients and answers with
// out, unless the call's fault fails the request after the store.
func (e *Emulator) answerSent(w http.ResponseWriter, c *call, raw []byte, out any) {
	e.deliverLocal(c.mb.email, raw)
	if !e.failAfterStore(w, c) {
		writeJSON(w, 200, out)
	}
}

// deliverLocal hands a sent message to recipients that are users of this
// emulator, so two local mailboxes can talk to each other.
func (e *Emulator) deliverLocal(from string, raw []byte) {
	for _, rcpt := range recipients(raw) {
		if strings.EqualFold(rcpt, from) {
			continue
		}
		if _, err := e.mailbox(rcpt); err == nil {
			if _, err := e.Deliver(rcpt, raw); err != nil {
				e.log.Warn("emulator: local delivery failed", "err", err)
			}
		}
	}
}

func (e *Emulator) sendMessage(w http.ResponseWriter, r *http.Request, c *call, in *msgInput) {
	meta, raw, aerr := in.message()
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if len(raw) > 0 && len(recipients(raw)) == 0 {
		writeAPIError(w, errBadRequest("Recipient address required"))
		return
	}
	labels := []string{"SENT"}
	if slices.ContainsFunc(recipients(raw), func(a string) bool { return strings.EqualFold(a, c.mb.email) }) {
		labels = append(labels, "INBOX", "UNREAD")
	}
	out, aerr := e.store(c, raw, labels, "receivedTime", sendThread(c.mb, meta.ThreadID, raw))
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	e.answerSent(w, c, raw, out)
}

// --- drafts ---

// lockDraft locks mb and finds the draft id; when there is none, or its
// message is gone, it unlocks and answers 404. The caller unlocks.
func (mb *mailbox) lockDraft(w http.ResponseWriter, id string) (*draft, bool) {
	mb.mu.Lock()
	d := mb.drafts[id]
	if d == nil || mb.msgs[d.msg] == nil {
		mb.mu.Unlock()
		writeAPIError(w, errNotFound())
		return nil, false
	}
	return d, true
}

func (e *Emulator) createDraft(w http.ResponseWriter, r *http.Request, c *call, in *msgInput) {
	_, meta, raw, aerr := in.draft()
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	msg, aerr := e.store(c, raw, []string{"DRAFT"}, "receivedTime", sendThread(c.mb, meta.ThreadID, raw))
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	mb := c.mb
	mb.mu.Lock()
	id := "r" + strconv.FormatUint(mb.nextDraft*7919+uint64(mb.rng.IntN(7919)), 10)
	mb.nextDraft++
	n, _ := parseID(msg.ID)
	mb.drafts[id] = &draft{id: id, msg: n}
	mb.mu.Unlock()
	writeJSON(w, 200, apiDraft{ID: id, Message: msg})
}

func (e *Emulator) updateDraft(w http.ResponseWriter, r *http.Request, c *call, in *msgInput) {
	_, meta, raw, aerr := in.draft()
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	mb := c.mb
	d, ok := mb.lockDraft(w, in.pathID)
	if !ok {
		return
	}
	if len(raw) == 0 {
		mb.mu.Unlock()
		writeAPIError(w, errBadRequest("Message raw required"))
		return
	}
	old := mb.msgs[d.msg]
	thread := meta.ThreadID
	if old != nil && thread == "" {
		thread = formatID(old.thread)
	}
	mb.mu.Unlock()
	thread = sendThread(mb, thread, raw)
	mb.mu.Lock()
	if mb.drafts[in.pathID] != d {
		mb.mu.Unlock()
		writeAPIError(w, errNotFound())
		return
	}
	now := e.now()
	if old != nil {
		mb.remove(now, old)
	}
	m := mb.addMessage(now, raw, []string{"DRAFT"}, now.UnixMilli(), threadHint(mb, thread))
	mb.drafts[in.pathID] = &draft{id: in.pathID, msg: m.id}
	out := apiDraft{ID: in.pathID, Message: minimalOf(m)}
	mb.mu.Unlock()
	e.push.changed(mb)
	writeJSON(w, 200, out)
}

func (e *Emulator) sendDraft(w http.ResponseWriter, r *http.Request, c *call, in *msgInput) {
	d, _, raw, aerr := in.draft()
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	mb := c.mb
	dr, ok := mb.lockDraft(w, d.ID)
	if !ok {
		return
	}
	m := mb.msgs[dr.msg]
	now := e.now()
	if len(raw) > 0 {
		// Sending with new content replaces the draft's message first.
		mb.remove(now, m)
		m = mb.addMessage(now, raw, []string{"DRAFT"}, now.UnixMilli(), m.thread)
	}
	sentRaw := mb.rawOf(m)
	if len(recipients(sentRaw)) == 0 {
		mb.mu.Unlock()
		writeAPIError(w, errBadRequest("Recipient address required"))
		return
	}
	delete(mb.drafts, d.ID)
	mb.modify(now, m, []string{"SENT"}, []string{"DRAFT"})
	out := minimalOf(m)
	mb.mu.Unlock()
	e.push.changed(mb)
	e.answerSent(w, c, sentRaw, out)
}

func (e *Emulator) getDraft(w http.ResponseWriter, r *http.Request, c *call) {
	v, aerr := viewOf(r.URL.Query())
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	mb := c.mb
	d, ok := mb.lockDraft(w, r.PathValue("id"))
	if !ok {
		return
	}
	defer mb.mu.Unlock()
	writeJSON(w, 200, apiDraft{ID: d.id, Message: e.messageJSON(mb, mb.msgs[d.msg], v, 0)})
}

func (e *Emulator) listDrafts(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	n, aerr := intParam(q, "maxResults", 100, 500)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	off := 0
	if t := q.Get("pageToken"); t != "" {
		v, err := strconv.Atoi(t)
		if err != nil || v < 0 {
			writeAPIError(w, errBadRequest("Invalid pageToken"))
			return
		}
		off = v
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	ds := make([]*draft, 0, len(mb.drafts))
	for _, d := range mb.drafts {
		if mb.msgs[d.msg] != nil {
			ds = append(ds, d)
		}
	}
	slices.SortFunc(ds, func(a, b *draft) int {
		if less(mb.msgs[a.msg], mb.msgs[b.msg]) {
			return 1
		}
		return -1
	})
	resp := apiListDrafts{ResultSizeEstimate: int64(len(ds))}
	for i := off; i < len(ds) && len(resp.Drafts) < n; i++ {
		m := mb.msgs[ds[i].msg]
		resp.Drafts = append(resp.Drafts, apiDraft{ID: ds[i].id, Message: &apiMessage{ID: formatID(m.id), ThreadID: formatID(m.thread)}})
	}
	if off+n < len(ds) {
		resp.NextPageToken = strconv.Itoa(off + n)
	}
	writeJSON(w, 200, resp)
}

func (e *Emulator) deleteDraft(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	d, ok := mb.lockDraft(w, r.PathValue("id"))
	if !ok {
		return
	}
	delete(mb.drafts, d.id)
	if m := mb.msgs[d.msg]; m != nil {
		mb.remove(e.now(), m)
	}
	mb.mu.Unlock()
	e.push.changed(mb)
	w.WriteHeader(http.StatusNoContent)
}

// --- threads ---

func (mb *mailbox) threadMsgs(id uint64) []*msgState {
	ts := mb.threads[id]
	if ts == nil {
		return nil
	}
	out := make([]*msgState, 0, len(ts.msgs))
	for _, mid := range ts.msgs {
		if m := mb.msgs[mid]; m != nil {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *msgState) int {
		if less(a, b) {
			return -1
		}
		return 1
	})
	return out
}

func (e *Emulator) listThreads(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	lr, start, ok := e.startList(w, r, mb)
	if !ok {
		return
	}
	// A thread is listed at its newest matching message, which keeps
	// position-based page tokens free of duplicates.
	newest := func(m *msgState) bool {
		for _, o := range mb.threadMsgs(m.thread) {
			if less(m, o) && lr.match(mb, o) {
				return false
			}
		}
		return true
	}
	resp := apiListThreads{}
	var last *msgState
	i := start
	for ; i >= 0 && len(resp.Threads) < lr.max; i-- {
		m := mb.order[i]
		if lr.match(mb, m) && newest(m) {
			p := parseMessage(mb.rawOf(m))
			resp.Threads = append(resp.Threads, apiThread{ID: formatID(m.thread), Snippet: snippet(p.text()), HistoryID: mb.threadHist(m.thread)})
			last = m
		}
	}
	if len(resp.Threads) == lr.max {
		for j := i; j >= 0; j-- {
			if m := mb.order[j]; lr.match(mb, m) && newest(m) {
				resp.NextPageToken = encodeCursor(last)
				break
			}
		}
	}
	resp.ResultSizeEstimate = int64(len(resp.Threads))
	if resp.NextPageToken != "" {
		resp.ResultSizeEstimate = int64(mb.threadsTotal())
	}
	writeJSON(w, 200, resp)
}

func (mb *mailbox) threadHist(id uint64) uint64 {
	var h uint64
	for _, m := range mb.threadMsgs(id) {
		h = max(h, m.hist)
	}
	return h
}

func (e *Emulator) getThread(w http.ResponseWriter, r *http.Request, c *call) {
	v, aerr := viewOf(r.URL.Query())
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	id, ok := parseID(r.PathValue("id"))
	msgs := mb.threadMsgs(id)
	if !ok || len(msgs) == 0 {
		writeAPIError(w, errNotFound())
		return
	}
	out := apiThread{ID: formatID(id), HistoryID: mb.threadHist(id)}
	for _, m := range msgs {
		out.Messages = append(out.Messages, e.messageJSON(mb, m, v, c.fault))
	}
	writeJSON(w, 200, out)
}

func (e *Emulator) mutateThread(w http.ResponseWriter, r *http.Request, c *call, f msgOp) {
	mb := c.mb
	mb.mu.Lock()
	id, ok := parseID(r.PathValue("id"))
	msgs := mb.threadMsgs(id)
	if !ok || len(msgs) == 0 {
		mb.mu.Unlock()
		writeAPIError(w, errNotFound())
		return
	}
	now := e.now()
	out := apiThread{ID: formatID(id)}
	for _, m := range msgs {
		if err := f(mb, m, now); err != nil {
			mb.mu.Unlock()
			writeAPIError(w, err)
			return
		}
		out.Messages = append(out.Messages, minimalOf(m))
	}
	out.HistoryID = mb.threadHist(id)
	mb.mu.Unlock()
	e.push.changed(mb)
	if r.Method == http.MethodDelete {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, 200, out)
}

func (e *Emulator) deleteThread(w http.ResponseWriter, r *http.Request, c *call) {
	e.mutateThread(w, r, c, func(mb *mailbox, m *msgState, now time.Time) *apiError {
		mb.remove(now, m)
		return nil
	})
}
