package sync

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/api/gmail/v1"
)

// healBatch bounds how many messages one run re-reads for unknown labels,
// so that a label Gmail really keeps off labels.list costs a bounded
// number of messages.get calls per sync, not a re-read of the mailbox.
const healBatch = 500

// healLabels makes label ids the label list does not know heal: when
// stored messages carry one, the label list is read again (the label may
// be new), and the messages still carrying an unknown id are re-read
// (format=minimal), which replaces their label sets with Gmail's current
// answer. Without this a label id Gmail reported once would stay on those
// messages for ever, since no history record will ever remove it.
func (r *run) healLabels(ctx context.Context) error {
	ids, err := r.s.store.MessagesWithUnknownLabels(ctx, r.tenantID, r.mb.ID, healBatch)
	if err != nil || len(ids) == 0 {
		return err
	}
	if err := r.syncLabels(ctx); err != nil {
		return err
	}
	if ids, err = r.s.store.MessagesWithUnknownLabels(ctx, r.tenantID, r.mb.ID, healBatch); err != nil || len(ids) == 0 {
		return err
	}
	r.log.Info("sync: re-reading messages with labels missing from the label list", slog.Int("messages", len(ids)))
	refs := make([]*gmail.Message, len(ids))
	for i, id := range ids {
		refs[i] = &gmail.Message{Id: id}
	}
	if err := r.processListed(ctx, refs); err != nil {
		return fmt.Errorf("sync: re-read messages with unknown labels: %w", err)
	}
	return nil
}
