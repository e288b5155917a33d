package sync

import (
	"context"
	"log/slog"
)

// Indexer is what the sync needs of search indexing (search.Indexer
// implements it). The sync never writes the index itself: every stored,
// relabelled or deleted message is marked in the search outbox by the
// database, in the same transaction (migration 0007), and Drain applies
// those marks. A sync killed after a commit therefore leaves the marks
// behind for the next Drain, in this or any other process.
type Indexer interface {
	Drain(ctx context.Context) (int, error)
}

// drainIndex brings the index up to date with what was just committed. A
// failure is logged only: the marks stay in the outbox and the indexer's
// background loop or the next drain applies them.
func (s *Syncer) drainIndex(ctx context.Context, log *slog.Logger) {
	if s.index == nil {
		return
	}
	if _, err := s.index.Drain(context.WithoutCancel(ctx)); err != nil {
		log.Error("sync: search index update failed; it stays queued", slog.Any("err", err))
	}
}
