package emulator

import (
	"cmp"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// users.history.list: the incremental-sync feed (Gmail API reference, users.history).

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
