package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	stdsync "sync"
	"sync/atomic"

	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"

	"tidings/internal/sorted"
	"tidings/models"
)

// listingDone marks in FullSyncPageToken that every list page of the
// current full sync is committed (a Gmail page token is never "-").
const listingDone = "-"

// fullSync lists the whole mailbox newest first and stores every message,
// checkpointing after each committed page. It also serves as the
// reconcile-resync: messages already stored get their labels refreshed
// (format=minimal) instead of being fetched again, and stored messages
// Gmail no longer lists are deleted at the end. On success the cursor is
// the profile historyId recorded before the first page, so the
// incremental pass that follows replays every change made meanwhile.
func (r *run) fullSync(ctx context.Context) error {
	if r.mb.FullSyncHistoryID == 0 {
		var prof *gmail.Profile
		err := r.api.call(ctx, costGetProfile, func(o ...gmailCallOption) (err error) {
			prof, err = r.api.svc.Users.GetProfile("me").Context(ctx).Do(o...)
			return err
		})
		if err != nil {
			return fmt.Errorf("sync: getProfile: %w", err)
		}
		// Recorded before listing (Gmail sync guide): changes made while
		// we list are in the history after this id.
		r.mb.FullSyncHistoryID, r.mb.FullSyncPageToken = prof.HistoryId, ""
		r.mb.ProgressDone, r.mb.ProgressTotal = 0, prof.MessagesTotal
		if err := r.update(ctx, map[string]any{
			"full_sync_history_id": prof.HistoryId, "full_sync_page_token": "",
			"progress_done": 0, "progress_total": prof.MessagesTotal, "sync_state": models.SyncFull,
		}); err != nil {
			return err
		}
	}
	if err := r.listAll(ctx); err != nil {
		return err
	}
	if err := r.deleteVanished(ctx); err != nil {
		return err
	}
	if err := r.checkIndex(ctx); err != nil {
		return err
	}
	done := r.mb.ProgressDone
	hist := r.mb.FullSyncHistoryID
	if err := r.update(ctx, map[string]any{
		"history_id": hist, "full_sync_history_id": 0, "full_sync_page_token": "", "progress_total": done,
	}); err != nil {
		return err
	}
	r.mb.HistoryID, r.mb.FullSyncHistoryID, r.mb.FullSyncPageToken, r.mb.ProgressTotal = hist, 0, "", done
	return nil
}

// listAll walks the listing from the checkpointed page token to its end,
// storing every page. Writes run on a pageWriter, so fetching a page's
// messages overlaps storing the previous page's last ones; each page's
// checkpoint is queued behind its messages.
func (r *run) listAll(parent context.Context) (err error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	report := r.progress
	var mu stdsync.Mutex
	r.progress = func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		report(done, total)
	}
	r.writer = newPageWriter(cancel, r.writeLanes())
	defer func() {
		// Every queued write ends before the run does (it holds the
		// mailbox's lease). A failed write is the cause of what failed,
		// unless the run was stopped from outside: then the writes fail
		// because of that, and the stop is what the caller must see.
		if werr := r.writer.close(); werr != nil {
			switch {
			case parent.Err() != nil:
				if err == nil {
					err = context.Cause(parent)
				}
			case err == nil || errors.Is(context.Cause(ctx), werr):
				err = werr
			}
		}
		r.writer, r.progress = nil, report
	}()
	done, total := r.mb.ProgressDone, r.mb.ProgressTotal
	r.progress(done, total)
	token := r.mb.FullSyncPageToken
	restarted := false
	for token != listingDone {
		var resp *gmail.ListMessagesResponse
		err := r.api.call(ctx, costMessagesList, func(o ...gmailCallOption) (err error) {
			// includeSpamTrash: the store mirrors the whole mailbox, so
			// labels like SPAM and TRASH are just labels.
			resp, err = r.api.svc.Users.Messages.List("me").IncludeSpamTrash(true).MaxResults(r.s.pageSize).
				PageToken(token).Fields("messages(id,threadId)", "nextPageToken", "resultSizeEstimate").Context(ctx).Do(o...)
			return err
		})
		if err != nil && token != "" && !restarted && isStatus(err, http.StatusBadRequest) {
			// A checkpointed page token Gmail no longer accepts: list
			// again from the top; stored messages only cost a label check.
			r.log.Warn("sync: page token rejected; restarting the listing", slog.Any("err", err))
			token, restarted = "", true
			continue
		}
		if err != nil {
			return fmt.Errorf("sync: messages.list: %w", err)
		}
		if err := r.processListed(ctx, resp.Messages); err != nil {
			return err
		}
		done += int64(len(resp.Messages))
		total = max(total, done)
		next := resp.NextPageToken
		if next == "" {
			next = listingDone
		}
		d, t := done, total
		err = r.write(ctx, func() error {
			if err := r.update(ctx, map[string]any{"full_sync_page_token": next, "progress_done": d, "progress_total": t}); err != nil {
				return err
			}
			r.progress(d, t)
			return nil
		})
		if err != nil {
			return err
		}
		r.mb.FullSyncPageToken, r.mb.ProgressDone, r.mb.ProgressTotal = next, done, total
		token = next
	}
	return nil
}

func isStatus(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}

// processListed stores one list page: new messages are fetched in full,
// known ones get their label set refreshed.
func (r *run) processListed(ctx context.Context, refs []*gmail.Message) error {
	ids := make([]string, 0, len(refs))
	for _, m := range refs {
		if m != nil && m.Id != "" {
			ids = append(ids, m.Id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// The page's progress counts from where the listing was when it was
	// read (the writer may report while the next page is fetched).
	base, total := r.mb.ProgressDone, r.mb.ProgressTotal
	states, err := r.s.store.MessageStates(ctx, r.tenantID, r.mb.ID, ids)
	if err != nil {
		return err
	}
	var fresh, known []string
	for _, id := range ids {
		if _, ok := states[id]; ok {
			known = append(known, id)
		} else {
			fresh = append(fresh, id)
		}
	}
	if len(known) > 0 {
		var refetch []string
		err := r.fetch(ctx, known, "minimal", func(fs []fetched) error {
			var changes []labelChange
			for _, f := range fs {
				m := f.msg
				st := states[m.Id]
				if m.ThreadId != st.ThreadID {
					refetch = append(refetch, m.Id)
					continue
				}
				if want := sorted.Unique(m.LabelIds); !slices.Equal(want, st.LabelIDs) {
					changes = append(changes, labelChange{gmailID: m.Id, from: st.LabelIDs, to: want})
				}
			}
			return r.write(ctx, func() error { return r.applyLabelChanges(ctx, changes) })
		})
		if err != nil {
			return err
		}
		fresh = append(fresh, refetch...)
	}
	// Report progress within the page (its commit point is the page).
	partial := int64(len(known))
	r.progress(base+partial, total)
	var stored atomic.Int64
	stored.Store(partial)
	return r.fetch(ctx, fresh, "raw", func(fs []fetched) error {
		for lane, writes := range r.byLane(writesOf(fs)) {
			if len(writes) == 0 {
				continue
			}
			err := r.writeOn(ctx, lane, func() error {
				if err := r.storeMessages(ctx, writes); err != nil {
					return err
				}
				n := stored.Add(int64(len(writes)))
				r.progress(base+n, max(total, base+n))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteVanished deletes stored messages that Gmail no longer lists. The
// stored side is walked in keyset pages of the list page size; Gmail's side (listed newest
// first, not by id) is held as one sorted slice of ids, about 32 bytes a
// message, rather than a map of them next to every stored id.
func (r *run) deleteVanished(ctx context.Context) error {
	live, err := r.liveIDs(ctx)
	if err != nil {
		return err
	}
	after, size := "", int(r.s.pageSize)
	for {
		page, err := r.s.store.GmailIDsAfter(ctx, r.tenantID, r.mb.ID, after, size)
		if err != nil {
			return err
		}
		var gone []string
		for _, id := range page {
			if _, found := slices.BinarySearch(live, id); !found {
				gone = append(gone, id)
			}
		}
		// Deleting ids up to after leaves the next keyset page as it was.
		if err := r.deleteMessages(ctx, gone); err != nil {
			return err
		}
		if len(page) < size {
			return nil
		}
		after = page[len(page)-1]
	}
}

// liveIDs lists the ids of every message Gmail has, sorted.
func (r *run) liveIDs(ctx context.Context) ([]string, error) {
	var live []string
	token := ""
	for {
		var resp *gmail.ListMessagesResponse
		err := r.api.call(ctx, costMessagesList, func(o ...gmailCallOption) (err error) {
			resp, err = r.api.svc.Users.Messages.List("me").IncludeSpamTrash(true).MaxResults(500).
				PageToken(token).Fields("messages(id)", "nextPageToken").Context(ctx).Do(o...)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("sync: messages.list (deletion check): %w", err)
		}
		for _, m := range resp.Messages {
			live = append(live, m.Id)
		}
		if resp.NextPageToken == "" {
			break
		}
		token = resp.NextPageToken
	}
	slices.Sort(live)
	return slices.Compact(live), nil
}

func (r *run) deleteMessages(ctx context.Context, gmailIDs []string) error {
	if len(gmailIDs) == 0 {
		return nil
	}
	ids, err := r.s.store.DeleteMessages(ctx, r.tenantID, r.mb.ID, gmailIDs)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		r.s.drainIndex(ctx, r.log)
	}
	return nil
}

// fetched is one fetched message; for format=raw it is already decoded
// into write, and size is what the write still holds in memory.
type fetched struct {
	msg   *gmail.Message
	write models.MessageWrite
	size  int
}

// fetchOne gets one message; a raw one is streamed, decoded and converted
// while it holds its in-flight admission, so only the decoded result
// (bodies, kept raw bytes) outlives this call.
func (r *run) fetchOne(ctx context.Context, id, format string) (fetched, error) {
	if format != "raw" {
		var m *gmail.Message
		err := r.api.call(ctx, costMessagesGet, func(o ...gmailCallOption) (err error) {
			m, err = r.api.svc.Users.Messages.Get("me", id).Format(format).Context(ctx).Do(o...)
			return err
		})
		if err != nil {
			return fetched{}, err
		}
		return fetched{msg: m}, nil
	}
	var rm *fetchedRaw
	err := r.api.call(ctx, costMessagesGet, func(o ...gmailCallOption) (err error) {
		rm, err = r.api.getRaw(ctx, id, r.api.admit, o...)
		return err
	})
	if err != nil {
		return fetched{}, err
	}
	return r.s.decodeRaw(rm), nil
}

// decodeRaw converts a fetched raw message (or finishes one decoded as
// it streamed in) into its write and gives back its admission; the
// buffer is recycled unless the write keeps it.
func (s *Syncer) decodeRaw(rm *fetchedRaw) fetched {
	defer rm.adm.release()
	w := s.buildWrite(rm.msg, rm.raw, rm.rawErr, rm.decoded)
	if w.Raw == nil && rm.raw != nil {
		// The decoded message holds copies (strings) only.
		rm.adm.recycle(rm.raw)
	}
	return fetched{msg: rm.msg, write: w, size: writeSize(&w)}
}

// writeSize is the memory a decoded write keeps until it is stored.
func writeSize(w *models.MessageWrite) int {
	return len(w.Message.Text) + len(w.Message.HTML) + len(w.Raw) + len(w.Message.Snippet) + 1024
}

func writesOf(fs []fetched) []models.MessageWrite {
	ws := make([]models.MessageWrite, len(fs))
	for i := range fs {
		ws[i] = fs[i].write
	}
	return ws
}

// fetch gets messages in the given format with bounded, adaptive
// concurrency, decodes raw ones in the fetching goroutines, and hands them
// to handle in batches (bounded in count and bytes, so large messages do
// not pile up in memory) while the next ones are being fetched. Messages
// that 404 were deleted meanwhile and are skipped. The first other error
// stops the fetch and is returned; batches handled before it stay
// committed, which is safe because every write is an upsert.
func (r *run) fetch(ctx context.Context, ids []string, format string, handle func([]fetched) error) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	const maxBytes = 32 << 20
	// A flush is split among the write lanes, so each lane's
	// transaction still stores about 250 messages.
	maxBatch := 250 * r.lanes()
	out := make(chan fetched, 250)
	go func() {
		defer close(out)
		r.fetchAll(ctx, cancel, ids, format, out)
	}()
	var (
		batch []fetched
		size  int
	)
	flush := func() {
		if len(batch) == 0 || ctx.Err() != nil {
			return
		}
		if err := handle(batch); err != nil {
			cancel(err)
		}
		batch, size = nil, 0
	}
	for f := range out {
		if ctx.Err() != nil {
			continue // drain until the producers stop
		}
		batch = append(batch, f)
		size += f.size
		if len(batch) >= maxBatch || size >= maxBytes {
			flush()
		}
	}
	flush()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// fetchAll fetches ids into out, each after acquiring a slot of the
// adaptive concurrency limit, and returns once every fetch has ended. The
// fetches run on goroutines that take the next id when they finish one,
// instead of one new goroutine per message: each message's fetch and
// decode grows a fresh goroutine's stack several times over, and copying
// those stacks was 4 % of a sync's CPU (BENCHMARKS.md, 2026-11-30). A new
// goroutine starts only when no idle one is waiting, so there are about
// as many as the limit allows at once.
func (r *run) fetchAll(ctx context.Context, cancel context.CancelCauseFunc, ids []string, format string, out chan<- fetched) {
	var wg stdsync.WaitGroup
	work := make(chan string)
	worker := func(id string) {
		defer wg.Done()
		for ok := true; ok; id, ok = <-work {
			r.fetchTo(ctx, cancel, id, format, out)
		}
	}
	for _, id := range ids {
		if err := r.api.conc.acquire(ctx); err != nil {
			break
		}
		select {
		case work <- id:
		default:
			wg.Add(1)
			go worker(id)
		}
	}
	close(work)
	wg.Wait()
}

// fetchTo fetches one message, holding a concurrency slot the caller
// acquired, and sends it to out; a message deleted meanwhile is skipped,
// any other error cancels the fetch.
func (r *run) fetchTo(ctx context.Context, cancel context.CancelCauseFunc, id, format string, out chan<- fetched) {
	defer r.api.conc.release()
	f, err := r.fetchOne(ctx, id, format)
	switch {
	case errors.Is(err, errGone):
		return
	case err != nil:
		cancel(fmt.Errorf("sync: messages.get %s: %w", id, err))
		return
	}
	select {
	case out <- f:
	case <-ctx.Done():
	}
}

// checkIndex applies what is still queued for the index at the end of a
// full sync (marks left by a worker that died after a commit).
func (r *run) checkIndex(ctx context.Context) error {
	r.s.drainIndex(ctx, r.log)
	return nil
}
