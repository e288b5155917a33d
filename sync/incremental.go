package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/api/gmail/v1"

	"tidings/models"
)

// incremental applies users.history.list from the stored cursor
// (https://developers.google.com/gmail/api/guides/sync#partial). Every
// page is applied and committed before the cursor moves past it; empty
// pages that still carry a nextPageToken are followed (lieer #24, #120).
// A 404 means the cursor expired: ErrHistoryExpired.
func (r *run) incremental(ctx context.Context) error {
	start := r.mb.HistoryID
	token := ""
	var applied int64
	for {
		var resp *gmail.ListHistoryResponse
		err := r.api.call(ctx, costHistoryList, func(o ...gmailCallOption) (err error) {
			resp, err = r.api.svc.Users.History.List("me").StartHistoryId(start).MaxResults(r.s.pageSize).
				PageToken(token).Context(ctx).Do(o...)
			return err
		})
		if errors.Is(err, errGone) {
			return fmt.Errorf("%w: start %d: %v", ErrHistoryExpired, start, err)
		}
		if err != nil {
			return fmt.Errorf("sync: history.list: %w", err)
		}
		if err := r.applyHistory(ctx, resp.History); err != nil {
			return err
		}
		applied += int64(len(resp.History))
		// Everything up to the last record of this page is committed; at
		// the last page, everything up to the mailbox's current id.
		cursor := r.mb.HistoryID
		if resp.NextPageToken == "" {
			cursor = max(cursor, resp.HistoryId)
		} else if n := len(resp.History); n > 0 {
			cursor = max(cursor, resp.History[n-1].Id)
		}
		if cursor != r.mb.HistoryID {
			if err := r.update(ctx, map[string]any{"history_id": cursor}); err != nil {
				return err
			}
			r.mb.HistoryID = cursor
		}
		if len(resp.History) > 0 {
			r.progress(applied, 0)
		}
		if resp.NextPageToken == "" {
			return nil
		}
		token = resp.NextPageToken
	}
}

// applyHistory applies one page of history records. Messages added (or
// relabelled but not stored yet) are fetched in their current state; then
// the label changes are replayed in order on exactly the messages they
// name, and deletions applied. Replaying a label change onto a state that
// already contains it is harmless, so the result converges on Gmail's
// state whatever mix of old and new the fetched copies reflect.
func (r *run) applyHistory(ctx context.Context, records []*gmail.History) error {
	if len(records) == 0 {
		return nil
	}
	d := digestHistory(records)
	states, err := r.s.store.MessageStates(ctx, r.tenantID, r.mb.ID, d.ids)
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range d.ids {
		if _, ok := states[id]; !ok && !d.deleted[id] {
			missing = append(missing, id)
		}
	}
	// A message that 404s here was deleted after the record was written
	// (or never existed): fetch skips it and any later records about it
	// find nothing to change.
	err = r.fetch(ctx, missing, "raw", func(fs []fetched) error {
		for _, f := range fs {
			states[f.msg.Id] = models.MessageState{ThreadID: f.msg.ThreadId, LabelIDs: uniqueSorted(f.msg.LabelIds)}
		}
		return r.storeMessages(ctx, writesOf(fs))
	})
	if err != nil {
		return err
	}
	if err := r.applyLabelChanges(ctx, d.labelChanges(states)); err != nil {
		return err
	}
	var gone []string
	for _, id := range d.ids {
		if d.deleted[id] {
			gone = append(gone, id)
		}
	}
	return r.deleteMessages(ctx, gone)
}

// historyDigest is what one page of history records says, per message.
type historyDigest struct {
	// ids are the messages named, in order of first mention.
	ids     []string
	deleted map[string]bool
	// ops[message][label] = true (added) / false (removed), last wins.
	ops map[string]map[string]bool
}

// digestHistory collects the messages a page of history names, the label
// changes in order and the deletions.
func digestHistory(records []*gmail.History) historyDigest {
	d := historyDigest{deleted: map[string]bool{}, ops: map[string]map[string]bool{}}
	seen := map[string]bool{}
	note := func(m *gmail.Message) string {
		if m == nil || m.Id == "" {
			return ""
		}
		if !seen[m.Id] {
			seen[m.Id] = true
			d.ids = append(d.ids, m.Id)
		}
		return m.Id
	}
	setOp := func(id string, labels []string, add bool) {
		if id == "" {
			return
		}
		if d.ops[id] == nil {
			d.ops[id] = map[string]bool{}
		}
		for _, l := range labels {
			d.ops[id][l] = add
		}
	}
	for _, h := range records {
		for _, a := range h.MessagesAdded {
			note(a.Message)
		}
		for _, a := range h.LabelsAdded {
			setOp(note(a.Message), a.LabelIds, true)
		}
		for _, a := range h.LabelsRemoved {
			setOp(note(a.Message), a.LabelIds, false)
		}
		for _, del := range h.MessagesDeleted {
			if id := note(del.Message); id != "" {
				d.deleted[id] = true
			}
		}
	}
	return d
}

// labelChanges replays the digest's label operations on the stored (or
// just fetched) states and returns the messages whose label set changes.
func (d historyDigest) labelChanges(states map[string]models.MessageState) []labelChange {
	var changes []labelChange
	for _, id := range d.ids {
		st, ok := states[id]
		if !ok || d.deleted[id] || len(d.ops[id]) == 0 {
			continue
		}
		want := slices.Clone(st.LabelIDs)
		for l, add := range d.ops[id] {
			if add && !slices.Contains(want, l) {
				want = append(want, l)
			}
			if !add {
				want = slices.DeleteFunc(want, func(x string) bool { return x == l })
			}
		}
		want = uniqueSorted(want)
		if !slices.Equal(want, st.LabelIDs) {
			changes = append(changes, labelChange{gmailID: id, from: st.LabelIDs, to: want})
		}
	}
	return changes
}

// labelChange moves one stored message from one label set to another.
type labelChange struct {
	gmailID  string
	from, to []string
}

// applyLabelChanges sets the label sets of exactly the named messages
// (never "all messages with label X", HelloLily's bug) in one transaction
// per page, and follows in the index.
func (r *run) applyLabelChanges(ctx context.Context, changes []labelChange) error {
	if len(changes) == 0 {
		return nil
	}
	sets := make(map[string][]string, len(changes))
	for _, c := range changes {
		sets[c.gmailID] = c.to
	}
	ids, err := r.s.store.SetLabelSets(ctx, r.tenantID, r.mb.ID, sets)
	if err != nil {
		return fmt.Errorf("sync: change labels: %w", err)
	}
	if r.s.index == nil {
		return nil
	}
	var reindex []int64
	for _, c := range changes {
		id, ok := ids[c.gmailID]
		if !ok {
			continue // not stored (deleted meanwhile)
		}
		labels := uniqueSorted(c.to)
		err := r.s.index.UpdateLabels(context.WithoutCancel(ctx), r.tenantID, id, labels, r.userLabelNames(labels))
		if isIndexNotFound(err) {
			reindex = append(reindex, id)
		} else if err != nil {
			r.indexFailed(err)
		}
	}
	if len(reindex) > 0 {
		if err := r.s.indexStored(context.WithoutCancel(ctx), r.tenantID, reindex, r.labelNames); err != nil {
			r.indexFailed(err)
		}
	}
	return nil
}

// uniqueSorted returns the distinct non-empty strings of in, sorted.
func uniqueSorted(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
