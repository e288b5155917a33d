package emulator

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// users.messages modify, trash, untrash, delete, batchModify and batchDelete.

func refOf(m *msgState) apiMessageRef {
	return apiMessageRef{ID: formatID(m.id), ThreadID: formatID(m.thread), LabelIDs: slices.Clone(m.labels)}
}

// minimalOf is the message resource as a change answers it: ids and
// labels (format=minimal without sizes and dates).
func minimalOf(m *msgState) *apiMessage {
	return &apiMessage{ID: formatID(m.id), ThreadID: formatID(m.thread), LabelIDs: slices.Clone(m.labels)}
}

// modifyOp, trashOp and untrashOp are the label mutations that
// messages.modify/trash/untrash apply to one message and threads.* apply
// to every message of a thread.
func modifyOp(in apiModifyIn) msgOp {
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

// msgOp changes one message of a mailbox, under its lock.
type msgOp func(mb *mailbox, m *msgState, now time.Time) *apiError

// mutator applies an op to what the path's {id} names: one message
// (mutateOne) or every message of a thread (mutateThread).
type mutator func(w http.ResponseWriter, r *http.Request, c *call, op msgOp)

// modifyWith serves messages.modify and threads.modify: the body's label
// changes, applied through mutate.
func modifyWith(mutate mutator) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		var in apiModifyIn
		if err := decodeBody(r, &in); err != nil {
			writeAPIError(w, err)
			return
		}
		mutate(w, r, c, modifyOp(in))
	}
}

// applyWith serves a change that takes no body (trash, untrash) through
// mutate.
func applyWith(mutate mutator, op msgOp) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, c *call) { mutate(w, r, c, op) }
}

func (e *Emulator) mutateOne(w http.ResponseWriter, r *http.Request, c *call, f msgOp) {
	mb := c.mb
	m, ok := mb.lockPathMessage(w, r)
	if !ok {
		return
	}
	if err := f(mb, m, e.now()); err != nil {
		mb.mu.Unlock()
		writeAPIError(w, err)
		return
	}
	out := minimalOf(m)
	mb.mu.Unlock()
	e.push.changed(mb)
	writeJSON(w, 200, out)
}

func (e *Emulator) deleteMessage(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	m, ok := mb.lockPathMessage(w, r)
	if !ok {
		return
	}
	mb.remove(e.now(), m)
	mb.mu.Unlock()
	e.push.changed(mb)
	w.WriteHeader(http.StatusNoContent)
}

// batchIn decodes the body of batchModify and batchDelete; false when it
// answered the error.
func batchIn(w http.ResponseWriter, r *http.Request) (apiModifyIn, bool) {
	var in apiModifyIn
	if err := decodeBody(r, &in); err != nil {
		writeAPIError(w, err)
		return in, false
	}
	if len(in.IDs) > 1000 {
		writeAPIError(w, errBadRequest("Too many ids: at most 1000"))
		return in, false
	}
	return in, true
}

func (e *Emulator) batchModify(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := batchIn(w, r)
	if !ok {
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
	in, ok := batchIn(w, r)
	if !ok {
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
