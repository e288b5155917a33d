package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"tidings/models"
)

// The outbox (models.OutboxItem) carries out every outgoing action — send,
// drafts, label changes, trash, delete — in a worker task, exactly once:
//
//   - one worker at a time holds an item (ClaimOutbox: a compare-and-set
//     with a lease a dead worker's successor waits out);
//   - before a request that may deliver goes out, the item is marked
//     InFlight; a worker that finds it set resolves the outcome first
//     (the resumable session's status, else a rfc822msgid: search for our
//     Message-ID) and sends again only when Gmail proves it has no such
//     message. A failed lookup sends nothing (peer-lessons 11);
//   - a large message goes up in a resumable upload whose session URI and
//     offset are stored, so a restarted worker resumes where Gmail says it
//     stopped (peer-lessons 15).

// Task types of the outbox.
const (
	TypeOutbox      = "outbox:run"
	TypeOutboxSweep = "outbox:sweep"
)

// Outbox defaults.
const (
	// DefaultUndoWindow is how long a sent message waits so the user can
	// undo it.
	DefaultUndoWindow = 10 * time.Second
	// outboxMaxAttempts bounds the attempts at an item before it fails
	// with its last error as the reason.
	outboxMaxAttempts = 12
	// simpleUploadMax is the largest message sent in one multipart
	// request; above it a resumable upload is used.
	simpleUploadMax = 5 << 20
	// resumableChunk is the size of one resumable PUT (a multiple of
	// 256 KiB, as the protocol requires).
	resumableChunk = 8 << 20
)

type outboxPayload struct {
	TenantID int64 `json:"tenant_id"`
	ItemID   int64 `json:"item_id"`
}

// outboxLease is how long a claimed item is held without renewal.
func (s *Syncer) outboxLease() time.Duration {
	if s.outboxLeaseTTL > 0 {
		return s.outboxLeaseTTL
	}
	return 2 * time.Minute
}

// EnqueueOutbox asks the workers to carry out an item at its SendAt. The
// database is the source of truth: a lost task is re-enqueued by the
// sweep, and a duplicate task finds the item claimed or done.
func (s *Syncer) EnqueueOutbox(ctx context.Context, it *models.OutboxItem) error {
	if s.queue == nil {
		return ErrNoQueue
	}
	body, err := json.Marshal(outboxPayload{TenantID: it.TenantID, ItemID: it.ID})
	if err != nil {
		return fmt.Errorf("sync: encode outbox task: %w", err)
	}
	opts := []asynq.Option{asynq.Queue(QueueCritical), asynq.MaxRetry(outboxMaxAttempts), asynq.Timeout(30 * time.Minute)}
	if it.SendAt.After(s.now()) {
		opts = append(opts, asynq.ProcessAt(it.SendAt))
	}
	if _, err := s.queue.EnqueueContext(ctx, asynq.NewTask(TypeOutbox, body, opts...)); err != nil {
		return fmt.Errorf("sync: enqueue outbox item %d: %w", it.ID, err)
	}
	return nil
}

func (s *Syncer) handleOutbox(ctx context.Context, t *asynq.Task) error {
	var p outboxPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == 0 || p.ItemID == 0 {
		return fmt.Errorf("sync: bad outbox payload: %v: %w", err, asynq.SkipRetry)
	}
	err := s.ProcessOutbox(ctx, p.TenantID, p.ItemID)
	if errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// handleOutboxSweep re-enqueues due items and items whose worker died.
func (s *Syncer) handleOutboxSweep(ctx context.Context, _ *asynq.Task) error {
	due, err := s.store.DueOutboxItems(ctx, s.now(), s.outboxLease(), 500)
	if err != nil {
		return err
	}
	var errs []error
	for i := range due {
		if err := s.EnqueueOutbox(ctx, &due[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ProcessDue carries out every item that is due now, in this goroutine:
// what the sweep and the tasks do, for a process without a queue worker
// (tests, the CLI). It returns how many items it looked at.
func (s *Syncer) ProcessDue(ctx context.Context) (int, error) {
	due, err := s.store.DueOutboxItems(ctx, s.now(), s.outboxLease(), 100)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, it := range due {
		if err := s.ProcessOutbox(ctx, it.TenantID, it.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return len(due), errors.Join(errs...)
}

// permanentError marks a failure after which Gmail certainly has not
// delivered anything (a 4xx on the request): the item fails with this
// reason, it is not retried.
type permanentError struct{ reason string }

func (e *permanentError) Error() string { return e.reason }

func permanent(format string, a ...any) error {
	return &permanentError{reason: fmt.Sprintf(format, a...)}
}

// outcome is what carrying out an item produced.
type outcome struct {
	fields map[string]any
}

// ProcessOutbox carries out one item if it is due and nobody else holds
// it. A nil error means the item is done (or not this worker's to do); an
// error means "try again later" (the asynq task is retried, the item
// stays sending with its lease released).
func (s *Syncer) ProcessOutbox(ctx context.Context, tenantID, itemID int64) error {
	it, err := s.store.ClaimOutbox(ctx, tenantID, itemID, s.now(), s.outboxLease())
	if errors.Is(err, models.ErrOutboxState) {
		if !it.State.Done() && it.State != models.OutboxSending && it.SendAt.After(s.now()) {
			// Early (clock skew between processes): come back at SendAt
			// (without a queue, the caller or the sweep comes back).
			if err := s.EnqueueOutbox(ctx, it); err != nil && !errors.Is(err, ErrNoQueue) {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	log := s.log.With(slog.Int64("tenant", tenantID), slog.Int64("outbox", itemID), slog.String("kind", string(it.Kind)))
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go s.renewOutboxLease(hbCtx, it)

	out, err := s.carryOut(ctx, it)
	if ctx.Err() != nil {
		// The worker is going away (or was killed): leave the lease to
		// run out, as a dead process would.
		return ctx.Err()
	}
	stopHB()
	bg := context.WithoutCancel(ctx)
	var perm *permanentError
	switch {
	case err == nil:
		now := s.now().UTC()
		fields := map[string]any{"in_flight": false, "last_error": "", "sent_at": &now, "lease_until": nil, "upload_uri": ""}
		for k, v := range out.fields {
			fields[k] = v
		}
		if err := s.store.TransitionOutbox(bg, tenantID, itemID, []models.OutboxState{models.OutboxSending}, models.OutboxSent, fields); err != nil {
			return err
		}
		if err := s.store.DeleteOutboxStreams(bg, tenantID, itemID); err != nil {
			log.Warn("sync: outbox: free stored bytes", slog.Any("err", err))
		}
		log.Info("sync: outbox item done", slog.String("gmail_id", it.GmailMessageID))
		return nil
	case errors.As(err, &perm) || it.Attempts+1 >= outboxMaxAttempts:
		reason := err.Error()
		if perm == nil {
			reason = fmt.Sprintf("gave up after %d attempts: %v", it.Attempts+1, err)
		}
		log.Warn("sync: outbox item failed", slog.String("reason", reason))
		return s.store.TransitionOutbox(bg, tenantID, itemID, []models.OutboxState{models.OutboxSending}, models.OutboxFailed,
			map[string]any{"last_error": errorText(errors.New(reason)), "lease_until": nil, "attempts": it.Attempts + 1})
	default:
		log.Info("sync: outbox item will be retried", slog.Any("err", err))
		if uerr := s.store.UpdateOutboxItem(bg, tenantID, itemID, map[string]any{
			"last_error": errorText(err), "lease_until": nil, "attempts": it.Attempts + 1,
		}); uerr != nil {
			return errors.Join(err, uerr)
		}
		return err
	}
}

func (s *Syncer) renewOutboxLease(ctx context.Context, it *models.OutboxItem) {
	t := time.NewTicker(s.outboxLease() / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			until := s.now().Add(s.outboxLease()).UTC()
			if err := s.store.UpdateOutboxItem(ctx, it.TenantID, it.ID, map[string]any{"lease_until": until}); err != nil && ctx.Err() == nil {
				s.log.Warn("sync: renew outbox lease", slog.Int64("outbox", it.ID), slog.Any("err", err))
			}
		}
	}
}

// carryOut does what the item says, against its mailbox's Gmail.
func (s *Syncer) carryOut(ctx context.Context, it *models.OutboxItem) (outcome, error) {
	mb, err := s.store.GetMailbox(ctx, it.TenantID, it.MailboxID)
	if errors.Is(err, models.ErrNotFound) {
		return outcome{}, permanent("the mailbox was disconnected")
	}
	if err != nil {
		return outcome{}, err
	}
	if mb.NeedsReauth {
		return outcome{}, permanent("the mailbox needs to be connected again (Gmail access was revoked)")
	}
	api, err := s.newGmailClient(ctx, mb)
	if err != nil {
		return outcome{}, err
	}
	o := &outboxRun{s: s, it: it, mb: mb, api: api}
	switch it.Kind {
	case models.OutboxSend:
		return o.send(ctx)
	case models.OutboxDraftSave:
		return o.saveDraft(ctx)
	case models.OutboxDraftSend:
		return o.sendDraft(ctx)
	case models.OutboxDraftDelete:
		return o.deleteDraft(ctx)
	case models.OutboxAction:
		return o.action(ctx)
	}
	return outcome{}, permanent("unknown outbox kind %q", it.Kind)
}

// outboxRun is one attempt at one item.
type outboxRun struct {
	s   *Syncer
	it  *models.OutboxItem
	mb  *models.Mailbox
	api *gmailClient
}

// save writes columns of the item now (progress that must survive a
// crash: InFlight, the upload session, the composed size).
func (o *outboxRun) save(ctx context.Context, fields map[string]any) error {
	return o.s.store.UpdateOutboxItem(context.WithoutCancel(ctx), o.it.TenantID, o.it.ID, fields)
}
