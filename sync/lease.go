package sync

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"tidings/models"
)

// DefaultLeaseTTL is how long a mailbox stays locked to a worker that
// stopped heartbeating (killed, frozen, partitioned) before another worker
// may take it over.
const DefaultLeaseTTL = 30 * time.Second

// BusyError is returned by Run when another worker holds the mailbox's
// lease. The task handler hands it back to asynq, which retries the task
// after RetryIn without counting a failure: if the holder died, the retry
// takes the mailbox over as soon as the lease expires; if it is alive, the
// retry syncs whatever changed while it ran.
type BusyError struct {
	RetryIn time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("sync: mailbox is being synced by another worker; retry in %s", e.RetryIn.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// RetryDelay is the delay a BusyError asks for, and false for any other
// error (the asynq server's RetryDelayFunc uses it).
func RetryDelay(err error) (time.Duration, bool) {
	var b *BusyError
	if errors.As(err, &b) {
		return b.RetryIn, true
	}
	return 0, false
}

// busyRetryDelay is how long a sync that found the mailbox leased waits:
// until just after the lease would expire, plus jitter so that several
// waiting tasks do not all race for it at once, never less than a second.
func (s *Syncer) busyRetryDelay(expires time.Time) time.Duration {
	d := max(time.Until(expires), 0) + time.Second
	return d + time.Duration(rand.Int64N(int64(s.leaseTTL/10)+1))
}

// newLeaseOwner names this process in leases: readable in the mailbox row
// (host and pid), unique even when a pid is reused (random suffix).
func newLeaseOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = crand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// abandonLease clears a lease the failed acquisition may have taken after all
// (see models.Store.AbandonSyncLease), so that the mailbox is not locked
// for a TTL by a run that never started.
func (s *Syncer) abandonLease(ctx context.Context, tenantID, mailboxID int64, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.AbandonSyncLease(ctx, tenantID, mailboxID, owner); err != nil {
		s.log.Warn("sync: abandon lease", slog.Int64("mailbox", mailboxID), slog.Any("err", err))
	}
}

// heartbeat renews the lease every leaseTTL/3 until ctx ends. When the
// lease is lost, or renewals keep failing (database unreachable) until it
// may have expired, it cancels the run with ErrLeaseLost: another worker
// may own the mailbox now, and the fenced writes would fail anyway.
func (s *Syncer) heartbeat(ctx context.Context, l *models.Lease, cancel context.CancelCauseFunc) {
	t := time.NewTicker(s.leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.store.RenewSyncLease(ctx, l, s.leaseTTL)
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, models.ErrLeaseLost):
			cancel(err)
			return
		case time.Until(l.ExpiresAt) < s.leaseTTL/3:
			// The next tick would come after expiry: give up now.
			cancel(fmt.Errorf("%w: renewals failing: %w", models.ErrLeaseLost, err))
			return
		default:
			s.log.Warn("sync: renew lease", slog.Int64("mailbox", l.MailboxID), slog.Any("err", err))
		}
	}
}

// release ends the lease, recording the outcome on the mailbox. A run that
// lost its lease leaves the mailbox to the new holder and returns a
// BusyError, so the task is retried (not failed) after the holder's lease.
func (s *Syncer) release(ctx context.Context, log *slog.Logger, l *models.Lease, err error) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if errors.Is(err, models.ErrLeaseLost) {
		log.Info("sync: lease lost; another worker continues", slog.Any("err", err))
		return &BusyError{RetryIn: s.busyRetryDelay(time.Now().Add(s.leaseTTL))}
	}
	fields := map[string]any{}
	switch {
	case err == nil:
		now := s.now().UTC()
		fields["sync_state"] = models.SyncIdle
		fields["last_error"] = ""
		fields["last_sync_at"] = &now
		// The mailbox now equals Gmail: progress is what is stored (the
		// listing's estimate undercounts mail that arrived meanwhile).
		if n, cerr := s.store.CountMessages(ctx, l.TenantID, l.MailboxID); cerr == nil {
			fields["progress_done"], fields["progress_total"] = n, n
		}
	case errors.Is(err, ErrNeedsReauth):
		fields["sync_state"] = models.SyncNeedsReauth
		fields["needs_reauth"] = true
		fields["last_error"] = errorText(err)
		log.Warn("sync: mailbox needs re-authorization", slog.Any("err", err))
	default:
		fields["sync_state"] = models.SyncError
		fields["last_error"] = errorText(err)
		log.Warn("sync: failed", slog.Any("err", err))
	}
	uerr := s.store.ReleaseSyncLease(ctx, l, fields)
	switch {
	case uerr == nil:
	case errors.Is(uerr, models.ErrLeaseLost):
		log.Info("sync: lease lost before release; another worker continues")
		if err == nil {
			// The work was committed under the lease; a retry confirms
			// nothing changed since.
			return &BusyError{RetryIn: s.busyRetryDelay(time.Now().Add(s.leaseTTL))}
		}
	default:
		log.Error("sync: record outcome", slog.Any("err", uerr))
	}
	return err
}
