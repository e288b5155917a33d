package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"
	"google.golang.org/api/gmail/v1"

	"tidings/models"
)

// Deps are the Syncer's dependencies and settings.
type Deps struct {
	Store *models.Store
	// Indexer receives every stored, relabelled and deleted message; nil
	// disables indexing.
	Indexer Indexer
	// Queue enqueues sync tasks; nil makes Enqueue fail with ErrNoQueue
	// (the CLI syncs in the foreground instead).
	Queue *asynq.Client

	// ClientID, ClientSecret and RedirectURL configure the OAuth client.
	// Scopes defaults to Scopes.
	ClientID, ClientSecret, RedirectURL string
	OAuthScopes                         []string
	// GmailEndpoint is the base URL of a Gmail API emulator; "" means
	// Google. With an emulator, OAuth goes there too.
	GmailEndpoint string
	// HTTPClient is the base client for Gmail and token calls (default: a
	// client with a 2-minute timeout).
	HTTPClient *http.Client

	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// ContactPolicy chooses which participants become contacts (default
	// ContactsCorrespondents).
	ContactPolicy ContactPolicy
	Quota         Quota
	Retry         Retry
	// PageSize is messages.list and history.list maxResults (default
	// 500, Gmail's maximum).
	PageSize int64
	// InflightBytes bounds the bytes of ordinary messages being fetched
	// and decoded at once (default 32 MiB); beyond it, one big message at
	// a time is admitted on its own.
	InflightBytes int64
	// LeaseTTL is how long a silent worker keeps a mailbox's sync lease
	// (default DefaultLeaseTTL): a killed holder is taken over after at
	// most this long. The holder renews it every LeaseTTL/3.
	LeaseTTL time.Duration
	// LeaseOwner names this Syncer in leases (default: host, pid and a
	// random suffix, unique per Syncer).
	LeaseOwner string

	// PubSubTopic ("projects/P/topics/T") enables users.watch; empty means
	// polling only.
	PubSubTopic string
	// Metrics counts quota spent, rate limits and ingested messages; nil
	// counts nothing.
	Metrics *Metrics
	// OutboxLease is how long a worker holds an outbox item without
	// renewing it (default 2 min): a killed worker's item is taken over
	// after it.
	OutboxLease time.Duration
}

// Syncer synchronizes Gmail mailboxes into the store and the index.
type Syncer struct {
	store    *models.Store
	index    Indexer
	queue    *asynq.Client
	oauth    *oauth2.Config
	endpoint string
	http     *http.Client
	log      *slog.Logger
	now      func() time.Time
	policy   ContactPolicy
	quota    Quota
	retry    Retry
	pageSize int64
	leaseTTL time.Duration
	owner    string
	runs     atomic.Int64 // numbers the runs of this Syncer (lease owners)
	topic    string
	limiters limiterSet
	admit    *inflight
	// transport carries Gmail calls; it keeps as many idle connections
	// as fetches run at once.
	transport http.RoundTripper
	metrics   *Metrics

	outboxLeaseTTL time.Duration
}

// Scopes are the OAuth scopes tidings asks for. gmail.modify is the
// narrowest scope that allows format=raw reads (gmail.metadata does not)
// and the label changes, archiving and trashing the CRM offers on synced
// mail; it cannot delete permanently or change settings, unlike
// https://mail.google.com/. users.getProfile (the connected address) and
// users.watch work with it, so no profile or email scope is needed.
var Scopes = []string{gmail.GmailModifyScope}

// FullAccessScopes are asked for instead of Scopes when an operator wants
// permanent delete (TIDINGS_GMAIL_FULL_ACCESS): users.messages.delete
// accepts only https://mail.google.com/, which includes everything
// gmail.modify allows
// (https://developers.google.com/gmail/api/reference/rest/v1/users.messages/delete).
var FullAccessScopes = []string{gmail.MailGoogleComScope}

// New builds a Syncer.
func New(d Deps) (*Syncer, error) {
	if d.Store == nil {
		return nil, errors.New("sync: a store is required")
	}
	s := &Syncer{
		store: d.Store, index: d.Indexer, queue: d.Queue,
		endpoint: strings.TrimRight(d.GmailEndpoint, "/"),
		http:     d.HTTPClient, log: d.Logger, now: d.Now,
		policy: d.ContactPolicy, quota: d.Quota.withDefaults(), retry: d.Retry.withDefaults(),
		pageSize: d.PageSize, leaseTTL: d.LeaseTTL, owner: d.LeaseOwner, topic: d.PubSubTopic,
		admit: newInflight(d.InflightBytes), metrics: d.Metrics, outboxLeaseTTL: d.OutboxLease,
	}
	if d.InflightBytes <= 0 {
		s.admit = newInflight(32 << 20)
	}
	if s.http == nil {
		s.http = &http.Client{Timeout: 2 * time.Minute}
	}
	s.transport = pooledTransport(s.http.Transport, s.quota.MaxConcurrency)
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.policy == "" {
		s.policy = ContactsCorrespondents
	}
	if !s.policy.valid() {
		return nil, fmt.Errorf("sync: unknown contact policy %q", s.policy)
	}
	if s.pageSize <= 0 || s.pageSize > 500 {
		s.pageSize = 500
	}
	if s.leaseTTL <= 0 {
		s.leaseTTL = DefaultLeaseTTL
	}
	if s.owner == "" {
		s.owner = newLeaseOwner()
	}
	scopes := d.OAuthScopes
	if len(scopes) == 0 {
		scopes = Scopes
	}
	ep := endpoints.Google
	if s.endpoint != "" {
		ep = oauth2.Endpoint{AuthURL: s.endpoint + "/o/oauth2/auth", TokenURL: s.endpoint + "/token", AuthStyle: oauth2.AuthStyleInParams}
	}
	s.oauth = &oauth2.Config{ClientID: d.ClientID, ClientSecret: d.ClientSecret, RedirectURL: d.RedirectURL, Scopes: scopes, Endpoint: ep}
	return s, nil
}

// pooledTransport returns base (the default transport when nil) with room
// for conc idle connections per host: net/http keeps 2 by default, so
// with 16 fetches in flight most requests would dial (and, with Google,
// handshake TLS) anew — 6 % of a sync's CPU in the ingest profile.
func pooledTransport(base http.RoundTripper, conc int) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	t, ok := base.(*http.Transport)
	if !ok || t.MaxIdleConnsPerHost >= conc {
		return base
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = conc
	t.MaxIdleConns = max(t.MaxIdleConns, 4*conc)
	return t
}

// Progress reports a sync's progress: messages done of an estimated total
// (0 when unknown).
type Progress func(done, total int64)

// Run synchronizes one mailbox in the caller's goroutine and returns when
// the store is consistent with Gmail as of the new cursor (or on error).
// It performs a full sync when full is set, when the mailbox was never
// synced, or when a full sync was interrupted (it then resumes from its
// checkpoint); otherwise an incremental sync, falling back to one bounded
// reconcile-resync when the history id has expired. It returns ErrBusy
// when another worker holds the mailbox and ErrNeedsReauth when the grant
// is gone.
func (s *Syncer) Run(ctx context.Context, tenantID, mailboxID int64, full bool, progress Progress) (err error) {
	if progress == nil {
		progress = func(int64, int64) {}
	}
	mb, err := s.store.GetMailbox(ctx, tenantID, mailboxID)
	if err != nil {
		return fmt.Errorf("sync: mailbox %d: %w", mailboxID, err)
	}
	if mb.NeedsReauth {
		return ErrNeedsReauth
	}
	state := models.SyncIncremental
	if full || mb.HistoryID == 0 || mb.FullSyncHistoryID != 0 {
		state = models.SyncFull
	}
	// Each run is an owner of its own, so that a run can never mistake
	// another run's lease (even in the same process) for its own. The
	// lease is taken without the caller's cancellation: a run killed while
	// the UPDATE is in flight could otherwise hold a lease it never learnt
	// about (the database commits it, the driver reports the context's
	// error) and block every sync of the mailbox for leaseTTL.
	owner := fmt.Sprintf("%s/%d", s.owner, s.runs.Add(1))
	lease, err := s.store.AcquireSyncLease(context.WithoutCancel(ctx), tenantID, mailboxID, owner, state, s.leaseTTL)
	if errors.Is(err, models.ErrNotFound) {
		if mb, gerr := s.store.GetMailbox(ctx, tenantID, mailboxID); gerr == nil && mb.NeedsReauth {
			return ErrNeedsReauth
		}
		return err
	}
	if held := (*models.LeaseHeldError)(nil); errors.As(err, &held) {
		return &BusyError{RetryIn: s.busyRetryDelay(held.ExpiresAt)}
	}
	if err != nil {
		s.abandonLease(ctx, tenantID, mailboxID, owner)
		return err
	}
	if ctx.Err() != nil {
		// Killed while taking the lease: give it back at once.
		s.abandonLease(ctx, tenantID, mailboxID, owner)
		return ctx.Err()
	}
	log := s.log.With(slog.Int64("tenant", tenantID), slog.Int64("mailbox", mailboxID), slog.Int64("lease_generation", lease.Generation))
	runCtx, cancel := context.WithCancelCause(models.WithLease(ctx, lease))
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		s.heartbeat(runCtx, lease, cancel)
	}()
	defer func() {
		cancel(nil)
		<-hbDone
		if cause := context.Cause(runCtx); errors.Is(cause, models.ErrLeaseLost) && ctx.Err() == nil {
			// The run stopped because the lease went; report that rather
			// than whatever the cancelled call returned.
			err = cause
		}
		err = s.release(context.WithoutCancel(ctx), log, lease, err)
	}()

	r := &run{s: s, tenantID: tenantID, mb: mb, log: log, progress: progress}
	if r.api, err = s.newGmailClient(runCtx, mb); err != nil {
		return err
	}
	return r.sync(runCtx, full)
}

// errorText bounds an error for the mailbox's LastError column.
func errorText(err error) string {
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	return msg
}

// run is the state of one Run.
type run struct {
	s        *Syncer
	tenantID int64
	mb       *models.Mailbox
	api      *gmailClient
	log      *slog.Logger
	progress Progress

	labelNames map[string]string // Gmail label id → name, user labels
	tenant     *models.Tenant    // loaded on first use (loadTenant)
	tenantMu   stdsync.Mutex
	writer     *pageWriter // set while a full sync lists (see listAll)
}

func (r *run) sync(ctx context.Context, full bool) error {
	if err := r.syncLabels(ctx); err != nil {
		return err
	}
	if full || r.mb.HistoryID == 0 || r.mb.FullSyncHistoryID != 0 {
		if err := r.fullSync(ctx); err != nil {
			return err
		}
	}
	err := r.incremental(ctx)
	if err == nil {
		return r.healLabels(ctx)
	}
	if !errors.Is(err, ErrHistoryExpired) {
		return err
	}
	// The cursor is older than Gmail keeps history (lieer #301, #203):
	// one reconcile-resync, then one incremental pass. If that expires
	// again the run fails and is retried later; it never loops here.
	r.log.Warn("sync: history expired; reconciling", slog.Uint64("history_id", r.mb.HistoryID))
	if err := r.update(ctx, map[string]any{
		"resyncs": r.mb.Resyncs + 1, "full_sync_history_id": 0, "full_sync_page_token": "",
		"sync_state": models.SyncFull, "last_error": "history expired; reconcile-resync",
	}); err != nil {
		return err
	}
	r.mb.Resyncs++
	r.mb.FullSyncHistoryID, r.mb.FullSyncPageToken = 0, ""
	if err := r.fullSync(ctx); err != nil {
		return err
	}
	if err := r.incremental(ctx); err != nil {
		return fmt.Errorf("sync: after reconcile: %w", err)
	}
	return r.healLabels(ctx)
}

// update writes mailbox columns (and so renews the lease).
func (r *run) update(ctx context.Context, fields map[string]any) error {
	return r.s.store.UpdateMailbox(ctx, r.tenantID, r.mb.ID, fields)
}

// syncLabels mirrors labels.list (create, rename, delete).
func (r *run) syncLabels(ctx context.Context) error {
	var resp *gmail.ListLabelsResponse
	err := r.api.call(ctx, costLabelsList, func(o ...gmailCallOption) (err error) {
		resp, err = r.api.svc.Users.Labels.List("me").Context(ctx).Do(o...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sync: labels.list: %w", err)
	}
	labels := make([]models.Label, 0, len(resp.Labels))
	r.labelNames = map[string]string{}
	for _, l := range resp.Labels {
		if l.Id == "" {
			continue
		}
		typ := models.LabelUser
		if strings.EqualFold(l.Type, "system") {
			typ = models.LabelSystem
		}
		name := l.Name
		if name == "" {
			name = l.Id
		}
		lab := models.Label{GmailID: l.Id, Name: name, Type: typ}
		if l.Color != nil {
			lab.BackgroundColor, lab.TextColor = l.Color.BackgroundColor, l.Color.TextColor
		}
		labels = append(labels, lab)
		if typ == models.LabelUser {
			r.labelNames[l.Id] = name
		}
	}
	if err := r.s.store.UpsertLabels(ctx, r.tenantID, r.mb.ID, labels); err != nil {
		return fmt.Errorf("sync: store labels: %w", err)
	}
	return nil
}

// SyncLabels runs only the label list sync of a mailbox (the label task).
func (s *Syncer) SyncLabels(ctx context.Context, tenantID, mailboxID int64) error {
	mb, err := s.store.GetMailbox(ctx, tenantID, mailboxID)
	if err != nil {
		return fmt.Errorf("sync: mailbox %d: %w", mailboxID, err)
	}
	if mb.NeedsReauth {
		return ErrNeedsReauth
	}
	api, err := s.newGmailClient(ctx, mb)
	if err != nil {
		return err
	}
	r := &run{s: s, tenantID: tenantID, mb: mb, api: api, log: s.log}
	err = r.syncLabels(ctx)
	if errors.Is(err, ErrNeedsReauth) {
		s.markReauth(ctx, tenantID, mailboxID, err)
	}
	return err
}

func (s *Syncer) markReauth(ctx context.Context, tenantID, mailboxID int64, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = s.store.UpdateMailbox(ctx, tenantID, mailboxID, map[string]any{
		"needs_reauth": true, "sync_state": models.SyncNeedsReauth, "last_error": errorText(err),
	})
}
