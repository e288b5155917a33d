package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	gosync "sync"
	"time"

	"tidings/emulator"
	"tidings/models"
	mailsync "tidings/sync"
)

// DemoDomain is the domain of demo mailboxes. It is a reserved name
// (RFC 2606), so a demo address can never be a real one.
const DemoDomain = "demo.tidings.example"

// DemoMessages is the default size of a generated demo mailbox.
const DemoMessages = 1500

// DemoInterval is the mean gap between demo messages: 1,500 messages span
// about 19 months.
const DemoInterval = 9 * time.Hour

// demoOptions are the generator options of a demo mailbox whose newest
// message is from just before end. Malformed messages stay (they show the
// decoder at work) and are labelled so.
func demoOptions(owner string, end time.Time, size int) emulator.GeneratorOptions {
	return emulator.GeneratorOptions{
		Owner:          owner,
		Interval:       DemoInterval,
		Start:          end.UTC().Truncate(time.Minute).Add(-time.Duration(size+1) * DemoInterval),
		UserLabels:     []string{"Customers", "Receipts", "Travel/2026"},
		MalformedLabel: "Malformed samples",
	}
}

// Demo is the "connect demo mailbox" feature of the embedded default: with
// no Google OAuth client configured, an in-process Gmail emulator serves a
// generated mailbox per tenant, and the ordinary sync engine syncs it
// through the official Gmail client, so a fresh install shows the whole
// product working end to end.
//
// The emulator lives in memory. After a restart Demo.Restore re-creates each
// demo mailbox from the same seed and re-issues its token; the sync then
// reconciles against it like any mailbox whose history expired.
type Demo struct {
	emu    *emulator.Server
	store  *models.Store
	logger *slog.Logger
	size   int

	mu     gosync.Mutex
	syncer *mailsync.Syncer
}

// NewDemo starts the in-process emulator; each demo mailbox gets size
// generated messages.
func NewDemo(store *models.Store, logger *slog.Logger, size int) *Demo {
	emu := emulator.NewServer(emulator.WithLogger(logger.With(slog.String("component", "demo-gmail"))))
	return &Demo{emu: emu, store: store, logger: logger, size: size}
}

// URL is the emulator's base URL (the Syncer's Gmail endpoint).
func (d *Demo) URL() string { return d.emu.URL }

// SetSyncer gives the demo the syncer that enqueues its syncs (built after
// the demo because the syncer needs the demo's URL).
func (d *Demo) SetSyncer(s *mailsync.Syncer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.syncer = s
}

// Close stops the emulator.
func (d *Demo) Close() error {
	d.emu.Close()
	return nil
}

func demoAddress(tenantID int64) string {
	return fmt.Sprintf("demo-%d@%s", tenantID, DemoDomain)
}

// ConnectDemo gives the tenant a demo mailbox and starts its full sync. It
// is idempotent: connecting again returns the existing mailbox.
func (d *Demo) ConnectDemo(ctx context.Context, tenantID, ownerID int64) (*models.Mailbox, error) {
	email := demoAddress(tenantID)
	if mb, err := d.store.MailboxByEmail(ctx, tenantID, email); err == nil && !mb.NeedsReauth {
		// Connected already: pressing the button again must not restart
		// the full sync.
		return mb, nil
	}
	if err := d.ensureMailbox(email, tenantID, time.Now()); err != nil {
		return nil, err
	}
	mb := &models.Mailbox{Email: email, OwnerID: ownerID, Provider: "gmail"}
	if err := d.store.CreateMailbox(ctx, tenantID, mb); err != nil {
		return nil, err
	}
	if err := d.authorize(ctx, tenantID, mb); err != nil {
		return nil, err
	}
	return mb, nil
}

// ensureMailbox creates the emulator user with its generated mail, seeded
// by tenant so that every restart rebuilds the same mailbox.
//
// The mail ends at end (the mailbox's creation) and spans DemoInterval per
// message before it, so a fresh demo has mail from today and relative
// searches (newer_than:) find it; a restart rebuilds the same dates.
func (d *Demo) ensureMailbox(email string, tenantID int64, end time.Time) error {
	if _, err := d.emu.AddUser(email); errors.Is(err, emulator.ErrUserExists) {
		return nil
	} else if err != nil {
		return fmt.Errorf("demo mailbox: %w", err)
	}
	gen := emulator.NewGenerator(tenantID, demoOptions(email, end, d.size))
	if err := d.emu.AddGenerated(email, gen, d.size); err != nil {
		return fmt.Errorf("demo mailbox: %w", err)
	}
	return nil
}

// authorize stores a fresh (sealed) token for the mailbox, clears a
// needs-reauth state left by a previous process, and enqueues a full sync.
func (d *Demo) authorize(ctx context.Context, tenantID int64, mb *models.Mailbox) error {
	tok, err := d.emu.Token(mb.Email)
	if err != nil {
		return fmt.Errorf("demo mailbox token: %w", err)
	}
	if err := d.store.SaveToken(ctx, tenantID, mb.ID, tok); err != nil {
		return err
	}
	if err := d.store.UpdateMailbox(ctx, tenantID, mb.ID, map[string]any{"needs_reauth": false, "sync_state": models.SyncPending, "last_error": ""}); err != nil {
		return err
	}
	d.mu.Lock()
	s := d.syncer
	d.mu.Unlock()
	if s == nil {
		return errors.New("demo mailbox: no syncer")
	}
	return s.Enqueue(ctx, tenantID, mb.ID, mailsync.KindFull)
}

// Restore re-creates every demo mailbox in the emulator after a restart
// and re-authorizes it, so demo mailboxes keep syncing across restarts.
func (d *Demo) Restore(ctx context.Context) error {
	tenants, err := d.store.Tenants(ctx)
	if err != nil {
		return err
	}
	for _, tid := range tenants {
		mailboxes, err := d.store.ListMailboxes(ctx, tid)
		if err != nil {
			return err
		}
		for i := range mailboxes {
			mb := &mailboxes[i]
			if !strings.HasSuffix(mb.Email, "@"+DemoDomain) || mb.Email != demoAddress(tid) {
				continue
			}
			if err := d.ensureMailbox(mb.Email, tid, mb.CreatedAt); err != nil {
				return err
			}
			if err := d.authorize(ctx, tid, mb); err != nil {
				return err
			}
			d.logger.Info("demo mailbox restored", slog.Int64("tenant_id", tid), slog.Int64("mailbox_id", mb.ID))
		}
	}
	return nil
}
