package sync

import (
	"context"
	"hash/fnv"
	stdsync "sync"
	"sync/atomic"

	"tidings/models"
)

// pageWriter runs a full sync's writes on goroutines of their own, so
// that fetching goes on while pages are stored. Before it, the fetchers
// stood idle at every page boundary while the page's last batch was
// stored, its checkpoint written, the next page listed and its stored
// state looked up; and with one writer, storing (tidings' statements
// plus the server's work for them, one after the other) capped the sync
// at about 2,500 messages a second on 2 cores while a core stood idle.
//
// New messages are stored on lanes chosen by their Gmail thread: the
// rows two lanes write never overlap (a message, its labels, addresses,
// raw bytes and search mark belong to it, a thread row to its thread),
// so concurrent transactions neither wait for nor deadlock with each
// other. Contacts are created one per transaction and tolerate a
// concurrent creator (models.ErrConflict). Everything else — a page's
// checkpoint, label changes of known messages — is a barrier: it runs
// once every write queued before it, on every lane, has committed, so a
// checkpoint never runs ahead of its messages.
//
// Each lane holds at most two queued writes besides the one it runs, so
// the fetched messages held stay bounded (three batches per lane on top
// of the fetcher's). Three lanes with room for two were measured against
// two lanes with room for one: 2,789 against 2,495 messages a second on
// average over six alternating runs each (BENCHMARKS.md).
type pageWriter struct {
	lanes  []chan writeJob
	wg     stdsync.WaitGroup
	cancel context.CancelCauseFunc

	mu  stdsync.Mutex
	err error // the first failed write's
}

// writeJob is one queued write; a barrier's job is queued on every lane
// and run by the last lane to reach it.
type writeJob struct {
	run     func() error
	barrier *atomic.Int32 // lanes yet to reach it; nil for a lane's own write
}

// newPageWriter starts a writer with the given number of lanes; a
// failed write cancels the run with cancel (its error as the cause), and
// the writes queued after it are skipped.
func newPageWriter(cancel context.CancelCauseFunc, lanes int) *pageWriter {
	w := &pageWriter{lanes: make([]chan writeJob, max(lanes, 1)), cancel: cancel}
	for i := range w.lanes {
		ch := make(chan writeJob, 2)
		w.lanes[i] = ch
		w.wg.Go(func() {
			for job := range ch {
				if w.failed() != nil {
					continue
				}
				if job.barrier != nil && job.barrier.Add(-1) != 0 {
					continue // another lane runs it once all have drained
				}
				if err := job.run(); err != nil {
					w.fail(err)
				}
			}
		})
	}
	return w
}

func (w *pageWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *pageWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cancel(err)
}

// queue puts job on lane, waiting while that lane's queue is full.
func (w *pageWriter) queue(ctx context.Context, lane int, job writeJob) error {
	if err := w.failed(); err != nil {
		return err
	}
	select {
	case w.lanes[lane] <- job:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// do queues job on lane (modulo the number of lanes).
func (w *pageWriter) do(ctx context.Context, lane int, job func() error) error {
	return w.queue(ctx, lane%len(w.lanes), writeJob{run: job})
}

// barrier queues job behind every write queued so far, on all lanes.
func (w *pageWriter) barrier(ctx context.Context, job func() error) error {
	left := new(atomic.Int32)
	left.Store(int32(len(w.lanes)))
	for i := range w.lanes {
		if err := w.queue(ctx, i, writeJob{run: job, barrier: left}); err != nil {
			return err
		}
	}
	return nil
}

// close waits for the queued writes and returns the first failure.
func (w *pageWriter) close() error {
	for _, ch := range w.lanes {
		close(ch)
	}
	w.wg.Wait()
	return w.failed()
}

// writeLanes is how many lanes a full sync stores on: three on Postgres;
// one on SQLite, whose single writer would only make lanes take turns.
func (r *run) writeLanes() int {
	if r.s.store.Engine() == models.Postgres {
		return 3
	}
	return 1
}

// lanes is the number of lanes of the running writer (1 without one).
func (r *run) lanes() int {
	if r.writer == nil {
		return 1
	}
	return len(r.writer.lanes)
}

// byLane splits writes by the lane of their thread.
func (r *run) byLane(writes []models.MessageWrite) [][]models.MessageWrite {
	n := r.lanes()
	if n == 1 {
		return [][]models.MessageWrite{writes}
	}
	out := make([][]models.MessageWrite, n)
	for _, w := range writes {
		h := fnv.New32a()
		_, _ = h.Write([]byte(w.Message.GmailThreadID))
		lane := int(h.Sum32() % uint32(n))
		out[lane] = append(out[lane], w)
	}
	return out
}

// write runs job behind every write queued so far during a full sync's
// listing, and at once otherwise.
func (r *run) write(ctx context.Context, job func() error) error {
	if r.writer == nil {
		return job()
	}
	return r.writer.barrier(ctx, job)
}

// writeOn runs job on a lane during a full sync's listing, and at once
// otherwise.
func (r *run) writeOn(ctx context.Context, lane int, job func() error) error {
	if r.writer == nil {
		return job()
	}
	return r.writer.do(ctx, lane, job)
}
