package search

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"tidings/models"
)

// Indexer keeps an Index equal to the database by draining the search
// outbox (models.SearchOutbox): database triggers mark every message whose
// document changed, in the transaction of the change, and the indexer
// rebuilds those documents from the stored rows or deletes them when the
// message is gone. Marks are removed only after the index write succeeded
// and only if no newer change arrived meanwhile, so a process killed
// between the database commit and the index write loses nothing: the next
// drain, in any process, repeats the work. Into the Postgres index the
// document writes and the removal of their marks are one transaction
// (drainClaimed); other indexes are drained under a database-wide lock.
type Indexer struct {
	store *models.Store
	index Index
	log   *slog.Logger
	batch int
	mu    sync.Mutex // one drain at a time in this process (embedded and Elasticsearch indexes)
	// claims bounds the claimed drains (Postgres index) running at once in
	// this process: each holds a connection for its transaction and needs
	// another to build documents, so unbounded claims (every sync task,
	// the background loop and searches at once) could take the whole pool
	// and wait for each other forever.
	claims chan struct{}
	// failInClaim, set by tests, fails a claimed drain after its index
	// writes and before its commit: a crash at the worst moment.
	failInClaim func() error
}

// NewIndexer returns an indexer that applies store's outbox to index.
func NewIndexer(store *models.Store, index Index, logger *slog.Logger) *Indexer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Indexer{store: store, index: index, log: logger, batch: 500, claims: make(chan struct{}, maxClaims)}
}

// Index is the index the indexer writes.
func (x *Indexer) Index() Index { return x.index }

// Drain applies pending index work until the outbox is empty and returns
// how many marks it applied.
func (x *Indexer) Drain(ctx context.Context) (int, error) { return x.drain(ctx, 0) }

// drain applies at most maxPasses batches (0 = until empty).
func (x *Indexer) drain(ctx context.Context, maxPasses int) (int, error) {
	if pg, ok := x.index.(*PGIndex); ok && x.store.Engine() == models.Postgres {
		return x.drainClaimed(ctx, maxPasses, pg)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	done := 0
	err := x.store.WithIndexLock(ctx, func() error {
		for pass := 0; maxPasses == 0 || pass < maxPasses; pass++ {
			work, err := x.store.PendingIndexWork(ctx, x.batch)
			if err != nil {
				return err
			}
			if len(work) == 0 {
				return nil
			}
			if err := x.apply(ctx, work, x.index); err != nil {
				return err
			}
			if err := x.store.CompleteIndexWork(context.WithoutCancel(ctx), work); err != nil {
				return err
			}
			done += len(work)
			if len(work) < x.batch {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return done, fmt.Errorf("search: drain index work: %w", err)
	}
	return done, nil
}

// drainClaimed drains into the Postgres index, which lives in the store's
// database: each batch of marks is claimed with FOR UPDATE SKIP LOCKED and
// its documents are written in the same transaction that deletes the
// marks (models.Store.ClaimIndexWork). Any number of processes drain at
// once without waiting for each other or doing a batch twice, a search's
// short drain never queues behind a worker's long one, and a process
// killed mid-batch leaves the marks for the next claim, by anyone.
func (x *Indexer) drainClaimed(ctx context.Context, maxPasses int, pg *PGIndex) (int, error) {
	done := 0
	for pass := 0; maxPasses == 0 || pass < maxPasses; pass++ {
		select {
		case x.claims <- struct{}{}:
		case <-ctx.Done():
			return done, fmt.Errorf("search: drain index work: %w", ctx.Err())
		}
		n, err := x.store.ClaimIndexWork(ctx, x.batch, func(tx *sql.Tx, work []models.IndexWork) error {
			if err := x.apply(ctx, work, pgTxWriter{pg: pg, tx: tx}); err != nil {
				return err
			}
			if x.failInClaim != nil {
				return x.failInClaim()
			}
			return nil
		})
		<-x.claims
		done += n
		if err != nil {
			return done, fmt.Errorf("search: drain index work: %w", err)
		}
		if n < x.batch {
			return done, nil
		}
	}
	return done, nil
}

// maxClaims is how many claimed drains one process runs at once, well
// below the store's pool of 20 Postgres connections.
const maxClaims = 3

// indexWriter is what applying outbox marks writes to.
type indexWriter interface {
	Index(ctx context.Context, docs []Document) error
	Delete(ctx context.Context, tenantID int64, ids []int64) error
}

// pgTxWriter writes the Postgres index inside a claim's transaction.
type pgTxWriter struct {
	pg *PGIndex
	tx *sql.Tx
}

func (w pgTxWriter) Index(ctx context.Context, docs []Document) error {
	return w.pg.indexIn(ctx, w.tx, docs)
}

func (w pgTxWriter) Delete(ctx context.Context, tenantID int64, ids []int64) error {
	return w.pg.deleteIn(ctx, w.tx, tenantID, ids)
}

// apply rebuilds or deletes the documents of one batch of marks.
func (x *Indexer) apply(ctx context.Context, work []models.IndexWork, index indexWriter) error {
	byTenant := map[int64][]int64{}
	for _, w := range work {
		byTenant[w.TenantID] = append(byTenant[w.TenantID], w.MessageID)
	}
	for tenantID, ids := range byTenant {
		msgs, err := x.store.MessagesByIDs(ctx, tenantID, ids)
		if err != nil {
			return err
		}
		docs, err := BuildDocuments(ctx, x.store, tenantID, msgs)
		if err != nil {
			return err
		}
		stored := make(map[int64]bool, len(msgs))
		for _, m := range msgs {
			stored[m.ID] = true
		}
		gone := slices.DeleteFunc(ids, func(id int64) bool { return stored[id] })
		if len(docs) > 0 {
			if err := index.Index(ctx, docs); err != nil {
				return err
			}
		}
		if len(gone) > 0 {
			if err := index.Delete(ctx, tenantID, gone); err != nil {
				return err
			}
		}
	}
	return nil
}

// Fill queues every message of a tenant whose index holds none of its
// messages (a new or replaced index, another engine chosen), so a process
// never answers from an empty index while the database has mail: searches
// fill in as the indexer drains. It returns how many messages it queued.
func (x *Indexer) Fill(ctx context.Context) (int, error) {
	tenants, err := x.store.Tenants(ctx)
	if err != nil {
		return 0, err
	}
	queued := 0
	for _, t := range tenants {
		n, err := x.index.Count(ctx, t, 0)
		if err != nil {
			return queued, fmt.Errorf("search: fill tenant %d: %w", t, err)
		}
		if n > 0 {
			continue
		}
		ids, err := x.store.MessageIDs(ctx, t, 0)
		if err != nil {
			return queued, err
		}
		if len(ids) == 0 {
			continue
		}
		if err := x.store.MarkForIndex(ctx, t, ids); err != nil {
			return queued, err
		}
		x.log.Info("search: index empty for a tenant with mail; indexing it from the database",
			slog.Int64("tenant", t), slog.Int("messages", len(ids)))
		queued += len(ids)
	}
	return queued, nil
}

// Run drains the outbox every interval until ctx ends; it picks up work
// that no caller drained (a killed worker, a change made by the web
// process or another tool).
func (x *Indexer) Run(ctx context.Context, interval time.Duration) {
	if _, err := x.Fill(ctx); err != nil && ctx.Err() == nil {
		x.log.Error("search: fill empty index", slog.Any("err", err))
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := x.Drain(ctx); err != nil && ctx.Err() == nil {
			x.log.Error("search: indexer", slog.Any("err", err))
		} else if err == nil {
			if n > 0 {
				x.log.Debug("search: indexed pending changes", slog.Int("messages", n))
			}
			x.settle(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// settler is an index whose storage is worth tidying when the writer is
// idle (FTSIndex.Settle merges its shards' segments).
type settler interface {
	Settle(ctx context.Context) (int, error)
}

// settle runs when a drain has emptied the outbox: the index is settled
// shard by shard, and stops between shards as soon as the outbox has work
// again, so indexing waits at most for one shard's merge.
func (x *Indexer) settle(ctx context.Context) {
	s, ok := x.index.(settler)
	if !ok {
		return
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		// Work that arrives while settling ends the settle at the next shard.
		t := time.NewTicker(settlePoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-sctx.Done():
				return
			case <-t.C:
				if work, err := x.store.PendingIndexWork(sctx, 1); err == nil && len(work) > 0 {
					stop()
					return
				}
			}
		}
	}()
	n, err := s.Settle(sctx)
	switch {
	case err != nil && sctx.Err() == nil:
		x.log.Warn("search: settle index", slog.Any("err", err))
	case n > 0:
		x.log.Debug("search: settled index shards", slog.Int("shards", n))
	}
}

// settlePoll is how often a settle looks for new outbox work.
const settlePoll = 250 * time.Millisecond

// searchDrainPasses bounds the work a search does before it runs, so a
// large backlog (a mailbox being synced) does not hold up an answer.
const searchDrainPasses = 2

// Search applies pending index work first, so a change the user just made
// (a case link, a disconnected mailbox) shows in the answer, then searches.
// A failed drain is logged and the search runs on the index as it is.
func (x *Indexer) Search(ctx context.Context, tenantID int64, req Request) (*Result, error) {
	if _, err := x.drain(ctx, searchDrainPasses); err != nil {
		x.log.Warn("search: index not up to date", slog.Any("err", err))
	}
	return x.index.Search(ctx, tenantID, req)
}
