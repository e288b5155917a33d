package emulator

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// users.messages.list: query filtering and stable page tokens over a mailbox that changes between pages.

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

// startList reads a list request (messages.list, threads.list) and where
// its page starts; false when it answered the error. mb.mu must be held.
func (e *Emulator) startList(w http.ResponseWriter, r *http.Request, mb *mailbox) (listReq, int, bool) {
	lr, aerr := e.parseListReq(r, mb)
	if aerr != nil {
		writeAPIError(w, aerr)
		return lr, 0, false
	}
	start, aerr := mb.startIndex(lr.token)
	if aerr != nil {
		writeAPIError(w, aerr)
		return lr, 0, false
	}
	return lr, start, true
}

func (e *Emulator) listMessages(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	lr, start, ok := e.startList(w, r, mb)
	if !ok {
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
