package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"google.golang.org/api/gmail/v1"

	"tidings/models"
)

// Task types.
const (
	TypeIncrementalSync = "mailbox:sync"
	TypeFullSync        = "mailbox:full_sync"
	TypeLabelSync       = "mailbox:labels"
	// TypeScheduleSyncs is the periodic task that enqueues a sync of
	// every mailbox; TypeRenewWatches renews Gmail push watches daily.
	TypeScheduleSyncs = "mailbox:schedule"
	TypeRenewWatches  = "mailbox:watch"
)

// Queue names: syncs the user waits for beat background work.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Queues are the queue names with the weights a worker should serve them
// with (asynq.Config.Queues).
func Queues() map[string]int {
	return map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}
}

// Kind selects what Enqueue asks for.
type Kind int

// Sync kinds.
const (
	// KindIncremental syncs from the cursor; the worker turns it into a
	// full sync when the mailbox has none or a full sync was interrupted.
	KindIncremental Kind = iota
	// KindFull forces a full (reconciling) sync.
	KindFull
	// KindLabels syncs only the label list.
	KindLabels
)

func (k Kind) taskType() string {
	switch k {
	case KindFull:
		return TypeFullSync
	case KindLabels:
		return TypeLabelSync
	}
	return TypeIncrementalSync
}

// ErrNoQueue is returned by Enqueue when the Syncer has no asynq client.
var ErrNoQueue = errors.New("sync: no task queue configured")

type payload struct {
	TenantID  int64 `json:"tenant_id"`
	MailboxID int64 `json:"mailbox_id"`
}

// The uniqueness lock asynq keeps per (type, mailbox) lasts one lease TTL
// (see enqueue): asynq releases it when a task succeeds, and the TTL frees
// it when the worker running the task was killed, so that the scheduler
// can ask again as soon as the database lease may be taken over instead of
// waiting for asynq to recover the dead worker's task. Two tasks for one
// mailbox may then both start; the database lease lets one run and the
// other retries (BusyError).

// Enqueue asks the workers to sync a mailbox. A sync of the same kind that
// is already queued makes this a no-op, so pushes and the scheduler can
// enqueue freely.
func (s *Syncer) Enqueue(ctx context.Context, tenantID, mailboxID int64, kind Kind) error {
	return s.enqueue(ctx, tenantID, mailboxID, kind, QueueDefault)
}

func (s *Syncer) enqueue(ctx context.Context, tenantID, mailboxID int64, kind Kind, queue string) error {
	if s.queue == nil {
		return ErrNoQueue
	}
	body, err := json.Marshal(payload{TenantID: tenantID, MailboxID: mailboxID})
	if err != nil {
		return fmt.Errorf("sync: encode task: %w", err)
	}
	if kind == KindLabels {
		queue = QueueLow
	}
	task := asynq.NewTask(kind.taskType(), body,
		asynq.Queue(queue), asynq.Unique(max(s.leaseTTL, time.Second)), asynq.MaxRetry(12),
		// A full sync of a large mailbox under quota takes hours; it
		// checkpoints, so a timeout only costs the current page.
		asynq.Timeout(6*time.Hour))
	_, err = s.queue.EnqueueContext(ctx, task)
	if errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sync: enqueue %s for mailbox %d: %w", kind.taskType(), mailboxID, err)
	}
	return nil
}

// Register installs the task handlers on a worker's mux.
func (s *Syncer) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeIncrementalSync, s.handleSync(false))
	mux.HandleFunc(TypeFullSync, s.handleSync(true))
	mux.HandleFunc(TypeLabelSync, s.handleLabels)
	mux.HandleFunc(TypeScheduleSyncs, s.handleSchedule)
	mux.HandleFunc(TypeRenewWatches, s.handleRenewWatches)
	mux.HandleFunc(TypeOutbox, s.handleOutbox)
	mux.HandleFunc(TypeOutboxSweep, s.handleOutboxSweep)
}

// Schedule registers the periodic tasks: a sync of every mailbox each
// interval (default 60 s) and, when push is configured, a daily watch
// renewal (Gmail push guide: re-call watch at least every 7 days).
func (s *Syncer) Schedule(sched *asynq.Scheduler, interval time.Duration) error {
	if interval <= 0 {
		interval = 60 * time.Second
	}
	_, err := sched.Register(fmt.Sprintf("@every %s", interval), asynq.NewTask(TypeScheduleSyncs, nil),
		asynq.Queue(QueueCritical), asynq.Unique(max(interval, time.Second)), asynq.MaxRetry(0))
	if err != nil {
		return fmt.Errorf("sync: schedule syncs: %w", err)
	}
	// The outbox sweep re-enqueues items whose task was lost or whose
	// worker died; the database, not the queue, is the source of truth.
	_, err = sched.Register("@every 30s", asynq.NewTask(TypeOutboxSweep, nil),
		asynq.Queue(QueueCritical), asynq.Unique(30*time.Second), asynq.MaxRetry(0))
	if err != nil {
		return fmt.Errorf("sync: schedule outbox sweep: %w", err)
	}
	if s.topic != "" {
		_, err = sched.Register("@every 24h", asynq.NewTask(TypeRenewWatches, nil), asynq.Queue(QueueLow), asynq.MaxRetry(3))
		if err != nil {
			return fmt.Errorf("sync: schedule watch renewal: %w", err)
		}
	}
	return nil
}

func decodePayload(t *asynq.Task) (payload, error) {
	var p payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == 0 || p.MailboxID == 0 {
		return p, fmt.Errorf("sync: bad %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return p, nil
}

func (s *Syncer) handleSync(full bool) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		p, err := decodePayload(t)
		if err != nil {
			return err
		}
		err = s.Run(ctx, p.TenantID, p.MailboxID, full, nil)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrNeedsReauth), errors.Is(err, models.ErrNotFound):
			// Retrying cannot help: the user must connect again, or
			// the mailbox was disconnected.
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		case errors.Is(err, ErrBusy):
			// Another worker holds the mailbox, or took it over from
			// this run. The BusyError goes back to asynq, which retries
			// after the holder's lease (internal/app's IsFailure and
			// RetryDelayFunc): a dead holder is replaced as soon as its
			// lease expires; a live one may have missed what this task
			// was enqueued for.
			return err
		}
		return err
	}
}

func (s *Syncer) handleLabels(ctx context.Context, t *asynq.Task) error {
	p, err := decodePayload(t)
	if err != nil {
		return err
	}
	err = s.SyncLabels(ctx, p.TenantID, p.MailboxID)
	if errors.Is(err, ErrNeedsReauth) || errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// handleSchedule enqueues a sync of every mailbox that can sync. The
// database is the source of truth: a task lost with the queue (embedded
// Redis restarted) is simply enqueued again here.
func (s *Syncer) handleSchedule(ctx context.Context, _ *asynq.Task) error {
	refs, err := s.store.MailboxesToSync(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range refs {
		if err := s.enqueue(ctx, r.TenantID, r.MailboxID, KindIncremental, QueueDefault); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// handleRenewWatches calls users.watch for mailboxes whose watch expires
// within two days.
func (s *Syncer) handleRenewWatches(ctx context.Context, _ *asynq.Task) error {
	if s.topic == "" {
		return nil
	}
	refs, err := s.store.MailboxesToSync(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range refs {
		if err := s.RenewWatch(ctx, r.TenantID, r.MailboxID); err != nil && !errors.Is(err, ErrNeedsReauth) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RenewWatch calls users.watch for a mailbox unless its watch is valid
// for more than two more days.
func (s *Syncer) RenewWatch(ctx context.Context, tenantID, mailboxID int64) error {
	if s.topic == "" {
		return nil
	}
	mb, err := s.store.GetMailbox(ctx, tenantID, mailboxID)
	if err != nil {
		return err
	}
	if mb.NeedsReauth {
		return ErrNeedsReauth
	}
	if mb.WatchExpiration != nil && mb.WatchExpiration.After(s.now().Add(48*time.Hour)) {
		return nil
	}
	api, err := s.newGmailClient(ctx, mb)
	if err != nil {
		return err
	}
	var resp *gmail.WatchResponse
	err = api.call(ctx, costWatch, func(o ...gmailCallOption) (err error) {
		resp, err = api.svc.Users.Watch("me", &gmail.WatchRequest{TopicName: s.topic}).Context(ctx).Do(o...)
		return err
	})
	if errors.Is(err, ErrNeedsReauth) {
		s.markReauth(ctx, tenantID, mailboxID, err)
		return err
	}
	if err != nil {
		return fmt.Errorf("sync: watch mailbox %d: %w", mailboxID, err)
	}
	exp := time.UnixMilli(resp.Expiration).UTC()
	return s.store.UpdateMailbox(ctx, tenantID, mailboxID, map[string]any{"watch_expiration": &exp})
}

// ErrBadNotification is returned by HandlePush for a notification that
// names no mailbox address.
var ErrBadNotification = errors.New("sync: notification has no email address")

// HandlePush acts on a Gmail push notification
// (https://developers.google.com/gmail/api/guides/push#receiving_notifications):
// it enqueues an immediate incremental sync of every mailbox with that
// address on the critical queue. An unknown address is not an error (the
// notification is acknowledged and dropped). The HTTP endpoint that
// authenticates and decodes Pub/Sub's request lives in the web package.
func (s *Syncer) HandlePush(ctx context.Context, emailAddress string) error {
	if !strings.Contains(emailAddress, "@") {
		return ErrBadNotification
	}
	refs, err := s.store.MailboxesByEmail(ctx, emailAddress)
	if err != nil {
		return fmt.Errorf("sync: push lookup: %w", err)
	}
	for _, ref := range refs {
		if err := s.enqueue(ctx, ref.TenantID, ref.MailboxID, KindIncremental, QueueCritical); err != nil {
			return fmt.Errorf("sync: push enqueue mailbox %d: %w", ref.MailboxID, err)
		}
	}
	return nil
}
