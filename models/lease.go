package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// This file holds the per-mailbox sync lease. At most one worker syncs a
// mailbox at a time; the lease says which one. It lives on the mailbox row:
// an owner id (one per process), a generation bumped at every acquisition
// and an expiry the holder keeps pushing forward with heartbeats. A holder
// that dies (kill -9, lost machine) stops heartbeating and any other worker
// may take the lease once it has expired.
//
// Expiry alone cannot stop a holder that was merely paused (a long GC, a
// frozen VM, a network partition) from writing after another worker took
// over. So every sync write is fenced: the context of a run carries its
// Lease (WithLease), and each write entry point of the Store checks, in
// the write's own transaction, that owner and generation still match
// (on Postgres with FOR SHARE, so a takeover waits for the write to commit
// and the write after it fails). A stale holder's write returns
// ErrLeaseLost and changes nothing.

// ErrLeaseLost is returned by a fenced write, a renewal or a release when
// the caller's lease was taken over (or its mailbox disconnected).
var ErrLeaseLost = errors.New("models: sync lease lost")

// ErrLeaseHeld is returned (as a *LeaseHeldError) when another worker holds
// an unexpired lease.
var ErrLeaseHeld = errors.New("models: sync lease held by another worker")

// LeaseHeldError says who holds a lease and until when.
type LeaseHeldError struct {
	Owner     string
	ExpiresAt time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("models: sync lease held by %s until %s", e.Owner, e.ExpiresAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLeaseHeld) true.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// Lease is a held sync lease.
type Lease struct {
	TenantID   int64
	MailboxID  int64
	Owner      string
	Generation int64
	ExpiresAt  time.Time
}

type leaseKey struct{}

// WithLease returns a context whose Store writes are fenced by l: each
// write to l's mailbox fails with ErrLeaseLost once l is no longer held.
func WithLease(ctx context.Context, l *Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, l)
}

func leaseFrom(ctx context.Context) *Lease {
	l, _ := ctx.Value(leaseKey{}).(*Lease)
	return l
}

// leased restricts a mailboxes query to the row held by l.
func leased(q *gorm.DB, l *Lease) *gorm.DB {
	return q.Where("tenant_id = ? AND id = ? AND lease_owner = ? AND lease_generation = ?", l.TenantID, l.MailboxID, l.Owner, l.Generation)
}

// AcquireSyncLease takes the mailbox's lease for owner, for ttl, and sets
// its sync state (SyncFull or SyncIncremental), unless another owner holds
// an unexpired lease (then a *LeaseHeldError) or the mailbox needs
// re-authorization (ErrNotFound, like a missing mailbox). The check and
// the write are one UPDATE, so two workers never both acquire it.
func (s *Store) AcquireSyncLease(ctx context.Context, tenantID, mailboxID int64, owner string, state SyncState, ttl time.Duration) (*Lease, error) {
	if owner == "" {
		return nil, errors.New("models: a lease needs an owner")
	}
	now := time.Now().UTC()
	l := &Lease{TenantID: tenantID, MailboxID: mailboxID, Owner: owner, ExpiresAt: now.Add(ttl)}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Mailbox{}).
			Where("tenant_id = ? AND id = ? AND needs_reauth = ?", tenantID, mailboxID, false).
			Where("(lease_owner = '' OR lease_expires_at < ?)", now.UnixMilli()).
			Updates(map[string]any{
				"lease_owner": owner, "lease_generation": gorm.Expr("lease_generation + 1"),
				"lease_expires_at": l.ExpiresAt.UnixMilli(), "sync_state": state, "updated_at": now,
			})
		if res.Error != nil {
			return res.Error
		}
		var mb Mailbox
		if err := tx.Select("lease_owner", "lease_generation", "lease_expires_at", "needs_reauth").
			Where("tenant_id = ? AND id = ?", tenantID, mailboxID).First(&mb).Error; err != nil {
			return notFound(err)
		}
		switch {
		case res.RowsAffected == 1:
			l.Generation = mb.LeaseGeneration
			return nil
		case mb.NeedsReauth:
			return ErrNotFound
		}
		return &LeaseHeldError{Owner: mb.LeaseOwner, ExpiresAt: time.UnixMilli(mb.LeaseExpiresAt)}
	})
	if err != nil {
		return nil, fmt.Errorf("models: acquire sync lease of mailbox %d: %w", mailboxID, err)
	}
	return l, nil
}

// RenewSyncLease is the holder's heartbeat: it pushes the expiry to now +
// ttl, or returns ErrLeaseLost when l is no longer held.
func (s *Store) RenewSyncLease(ctx context.Context, l *Lease, ttl time.Duration) error {
	exp := time.Now().UTC().Add(ttl)
	res := leased(s.db.WithContext(ctx).Model(&Mailbox{}), l).Update("lease_expires_at", exp.UnixMilli())
	if res.Error != nil {
		return fmt.Errorf("models: renew sync lease of mailbox %d: %w", l.MailboxID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("models: renew sync lease of mailbox %d: %w", l.MailboxID, ErrLeaseLost)
	}
	l.ExpiresAt = exp
	return nil
}

// ReleaseSyncLease ends l, writing the run's outcome (sync state, last
// error …) in the same statement; ErrLeaseLost when l was taken over, in
// which case the new holder's state is left alone.
func (s *Store) ReleaseSyncLease(ctx context.Context, l *Lease, fields map[string]any) error {
	fields["lease_owner"], fields["lease_expires_at"], fields["updated_at"] = "", 0, time.Now().UTC()
	res := leased(s.db.WithContext(ctx).Model(&Mailbox{}), l).Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("models: release sync lease of mailbox %d: %w", l.MailboxID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("models: release sync lease of mailbox %d: %w", l.MailboxID, ErrLeaseLost)
	}
	return nil
}

// AbandonSyncLease gives up a lease whose acquisition returned an error:
// when the error hid a commit (a cancelled context racing the COMMIT), the
// lease is held by owner without the caller knowing its generation. Owners
// are unique per sync run, so clearing the lease where owner matches
// touches nothing but that run's own lease, if it exists at all.
func (s *Store) AbandonSyncLease(ctx context.Context, tenantID, mailboxID int64, owner string) error {
	err := s.db.WithContext(ctx).Model(&Mailbox{}).
		Where("tenant_id = ? AND id = ? AND lease_owner = ?", tenantID, mailboxID, owner).
		Updates(map[string]any{"lease_owner": "", "lease_expires_at": 0, "sync_state": SyncError,
			"last_error": "sync interrupted while taking its lease", "updated_at": time.Now().UTC()}).Error
	if err != nil {
		return fmt.Errorf("models: abandon sync lease of mailbox %d: %w", mailboxID, err)
	}
	return nil
}

// write runs fn in a transaction fenced by the context's lease (see
// WithLease): when the context carries one for mailboxID and it is no
// longer held, nothing is written and ErrLeaseLost is returned. Every
// Store method that writes synced mail goes through here.
func (s *Store) write(ctx context.Context, mailboxID int64, fn func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.checkLease(ctx, tx, mailboxID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// checkLease verifies the context's lease inside tx. On Postgres the
// mailbox row is locked FOR SHARE until tx ends, so a concurrent takeover
// (an UPDATE of that row) waits for this write to commit; SQLite
// transactions here begin IMMEDIATE and so are serialized anyway.
func (s *Store) checkLease(ctx context.Context, tx *gorm.DB, mailboxID int64) error {
	l := leaseFrom(ctx)
	if l == nil || l.MailboxID != mailboxID {
		return nil
	}
	q := leased(tx.Model(&Mailbox{}), l).Select("id")
	if s.engine == Postgres {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthShare})
	}
	var ids []int64
	if err := q.Find(&ids).Error; err != nil {
		return fmt.Errorf("models: check sync lease of mailbox %d: %w", mailboxID, err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("models: write to mailbox %d: %w", mailboxID, ErrLeaseLost)
	}
	return nil
}
