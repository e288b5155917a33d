package emulator

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
)

// users.labels: list, get, create, update/patch and delete.

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
