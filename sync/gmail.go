package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	stdsync "sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"tidings/internal/retry"
	"tidings/models"
)

// Gmail quota costs in units per call, from the Gmail API usage limits
// page (https://developers.google.com/gmail/api/reference/quota).
const (
	costGetProfile   = 1
	costLabelsList   = 1
	costHistoryList  = 2
	costMessagesList = 5
	costMessagesGet  = 5
	costWatch        = 100
)

// Sentinel errors.
var (
	// ErrNeedsReauth: the OAuth grant was revoked or expired
	// (invalid_grant); the mailbox waits for the user to connect again.
	// It is models.ErrNeedsReauth so that callers outside sync (web) can
	// recognise it without importing sync.
	ErrNeedsReauth = models.ErrNeedsReauth
	// ErrBusy: another worker holds the mailbox's sync lease.
	ErrBusy = errors.New("sync: mailbox is being synced by another worker")
	// ErrHistoryExpired: history.list answered 404 for the stored cursor.
	ErrHistoryExpired = errors.New("sync: history id expired")
	// errGone: a message 404s (deleted between listing and fetching).
	errGone = errors.New("sync: message no longer exists")
)

// gmailClient is one mailbox's view of the Gmail API: the official client
// behind a persisting token source, a quota limiter, retries with backoff
// and an adaptive concurrency limit.
type gmailClient struct {
	svc       *gmail.Service
	baseURL   string // Gmail API root, for the resumable upload protocol
	tokens    *tokenSource
	limiter   *rate.Limiter // nil: no client-side quota
	hc        *http.Client  // the authenticated client svc uses
	stream    *http.Client  // hc without its whole-request timeout, for streamed bodies
	stall     time.Duration // how long a streamed body may give no bytes
	admit     *inflight
	conc      *adaptiveLimit
	quotaUser string
	retry     Retry
	log       *slog.Logger
	metrics   *Metrics
}

// newGmailClient builds the client for a mailbox from its sealed token.
func (s *Syncer) newGmailClient(ctx context.Context, mb *models.Mailbox) (*gmailClient, error) {
	var tok oauth2.Token
	if err := s.store.LoadToken(ctx, mb.TenantID, mb.ID, &tok); err != nil {
		if errors.Is(err, models.ErrNoToken) {
			return nil, fmt.Errorf("%w: %v", ErrNeedsReauth, err)
		}
		return nil, fmt.Errorf("sync: load token: %w", err)
	}
	tenantID, mailboxID := mb.TenantID, mb.ID
	ts := newTokenSource(s.oauthContext(), s.oauth, &tok, func(t *oauth2.Token) error {
		// The refresh may happen while the caller's context is being
		// cancelled; the new token must still be kept (sealed).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.store.SaveToken(ctx, tenantID, mailboxID, t)
	})
	base := s.transport
	hc := &http.Client{
		Transport: &oauth2.Transport{Source: ts, Base: base},
		Timeout:   s.http.Timeout,
	}
	svc, err := s.service(ctx, hc)
	if err != nil {
		return nil, err
	}
	lim := s.limiters.get(mb.ID, s.quota)
	baseURL := "https://gmail.googleapis.com"
	if s.endpoint != "" {
		baseURL = s.endpoint
	}
	return &gmailClient{
		svc: svc, hc: hc, stream: &http.Client{Transport: hc.Transport}, stall: s.http.Timeout, baseURL: baseURL, tokens: ts, limiter: lim.rate, conc: lim.conc, admit: s.admit,
		quotaUser: fmt.Sprintf("tidings-%d-%d", mb.TenantID, mb.ID),
		retry:     s.retry, log: s.log.With(slog.Int64("mailbox", mb.ID)),
		metrics: s.metrics,
	}, nil
}

func (s *Syncer) service(ctx context.Context, hc *http.Client) (*gmail.Service, error) {
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if s.endpoint != "" {
		opts = append(opts, option.WithEndpoint(s.endpoint+"/"))
	}
	svc, err := gmail.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sync: gmail client: %w", err)
	}
	return svc, nil
}

// oauthContext carries the HTTP client golang.org/x/oauth2 uses for token
// requests. It is not the caller's context: a refresh that completes must
// be saved even when the sync that triggered it is being cancelled.
func (s *Syncer) oauthContext() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, s.http)
}

// call runs one Gmail API call costing cost quota units, waiting for the
// limiter first and retrying what is worth retrying: 429 and 403
// rate-limit errors (honouring Retry-After), 5xx, and transport errors
// (resets, truncated bodies). A 401 forces one token refresh; a refresh
// answered invalid_grant becomes ErrNeedsReauth; a 404 becomes errGone.
func (c *gmailClient) call(ctx context.Context, cost int, fn func(opts ...gmailCallOption) error) error {
	refreshed := false
	for attempt := 0; ; attempt++ {
		if c.limiter != nil {
			if err := c.limiter.WaitN(ctx, cost); err != nil {
				return fmt.Errorf("sync: quota wait: %w", err)
			}
		}
		err := fn(googleapi.QuotaUser(c.quotaUser))
		if err == nil {
			c.metrics.spent(cost)
			c.conc.success()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		kind, wait := classify(err)
		switch kind {
		case errPermanent:
			return err
		case errNotFound:
			return fmt.Errorf("%w: %v", errGone, err)
		case errReauth:
			return fmt.Errorf("%w: %v", ErrNeedsReauth, err)
		case errUnauthorized:
			if refreshed {
				return err
			}
			refreshed = true
			c.tokens.invalidate()
			continue
		case errRateLimited:
			c.conc.failure()
			c.metrics.limited()
		}
		if attempt+1 >= c.retry.Attempts {
			return fmt.Errorf("sync: giving up after %d attempts: %w", attempt+1, err)
		}
		d := c.retry.backoff(attempt)
		if wait > 0 {
			d = max(d, min(wait, c.retry.MaxRetryAfter))
		}
		c.log.Debug("gmail call failed; retrying", slog.Int("attempt", attempt+1), slog.Duration("after", d), slog.Any("err", err))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

type errKind int

const (
	errTransient errKind = iota
	errPermanent
	errNotFound
	errRateLimited
	errUnauthorized
	errReauth
)

// classify sorts an error from the client into what to do about it, and
// returns the server's Retry-After if any.
func classify(err error) (errKind, time.Duration) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		// RFC 6749 §5.2: invalid_grant means the refresh token is
		// invalid, expired or revoked; only the user can fix that.
		if re.ErrorCode == "invalid_grant" {
			return errReauth, 0
		}
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return errTransient, 0
		}
		return errPermanent, 0
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errPermanent, 0
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		wait := retryAfter(ge.Header)
		switch {
		case ge.Code == http.StatusTooManyRequests:
			return errRateLimited, wait
		case ge.Code == http.StatusForbidden && isRateReason(ge):
			return errRateLimited, wait
		case ge.Code == http.StatusUnauthorized:
			return errUnauthorized, 0
		case ge.Code == http.StatusNotFound:
			return errNotFound, 0
		case ge.Code >= 500:
			return errTransient, wait
		}
		return errPermanent, 0
	}
	// Connection resets, unexpected EOF on a truncated body, timeouts.
	return errTransient, 0
}

func isRateReason(ge *googleapi.Error) bool {
	for _, e := range ge.Errors {
		switch e.Reason {
		case "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded":
			return true
		}
	}
	return false
}

// retryAfter parses an HTTP Retry-After header (RFC 9110 §10.2.3): delay
// seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Retry configures backoff of failed Gmail calls.
type Retry struct {
	// Attempts is the number of tries per call (default 8).
	Attempts int
	// Base and Max shape the exponential backoff: the first retry waits
	// about Base, later ones up to Max, each ±50 % (defaults 500 ms and
	// 32 s).
	Base, Max time.Duration
	// MaxRetryAfter caps how long a server's Retry-After is honoured
	// (default 2 min; tests shorten it).
	MaxRetryAfter time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 8
	}
	if r.Base <= 0 {
		r.Base = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 32 * time.Second
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = 2 * time.Minute
	}
	return r
}

// backoff is exponential backoff with jitter (the project's policy,
// package retry), as Google's guides recommend for 429 and 5xx.
func (r Retry) backoff(attempt int) time.Duration {
	return retry.Delay(r.Base, r.Max, attempt)
}

// Quota configures the client-side per-mailbox limiter.
type Quota struct {
	// UnitsPerMinute is Gmail's per-user limit (default 15,000); negative
	// disables the limiter (tests, benchmarks of ingest speed).
	UnitsPerMinute int
	// MaxConcurrency bounds message fetches in flight per mailbox
	// (default 16); the limit adapts between 1 and this.
	MaxConcurrency int
}

func (q Quota) withDefaults() Quota {
	if q.UnitsPerMinute == 0 {
		q.UnitsPerMinute = 15000
	}
	if q.MaxConcurrency <= 0 {
		q.MaxConcurrency = 16
	}
	return q
}

type mailboxLimits struct {
	rate *rate.Limiter
	conc *adaptiveLimit
}

// limiterSet keeps one limiter per mailbox for the life of the process, so
// consecutive syncs of a mailbox share its quota.
type limiterSet struct {
	mu stdsync.Mutex
	m  map[int64]*mailboxLimits
}

func (l *limiterSet) get(mailboxID int64, q Quota) *mailboxLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[int64]*mailboxLimits{}
	}
	if ml, ok := l.m[mailboxID]; ok {
		return ml
	}
	ml := &mailboxLimits{conc: newAdaptiveLimit(q.MaxConcurrency)}
	if q.UnitsPerMinute > 0 {
		// Gmail enforces the limit over a moving minute. A token bucket
		// of rate r and burst b lets through b + 60r units in any minute,
		// so r = (limit - b)/60 keeps every window under the limit while
		// running at (limit-b)/limit of it (98% with b = limit/60).
		burst := max(q.UnitsPerMinute/60, costWatch)
		r := rate.Limit(float64(q.UnitsPerMinute-burst) / 60)
		ml.rate = rate.NewLimiter(r, burst)
	}
	l.m[mailboxID] = ml
	return ml
}

// adaptiveLimit is a concurrency limit that halves on rate-limit errors
// and grows by one after a run of successes, as lieer adapts its request
// rate.
type adaptiveLimit struct {
	mu       stdsync.Mutex
	cond     *stdsync.Cond
	limit    int
	max      int
	inflight int
	streak   int
}

func newAdaptiveLimit(maxN int) *adaptiveLimit {
	a := &adaptiveLimit{limit: maxN, max: maxN}
	a.cond = stdsync.NewCond(&a.mu)
	return a
}

// acquire waits for a slot; it gives up when ctx is done.
func (a *adaptiveLimit) acquire(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		a.mu.Lock()
		a.cond.Broadcast()
		a.mu.Unlock()
	})
	defer stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.inflight >= a.limit {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.cond.Wait()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	a.inflight++
	return nil
}

func (a *adaptiveLimit) release() {
	a.mu.Lock()
	a.inflight--
	a.cond.Broadcast()
	a.mu.Unlock()
}

func (a *adaptiveLimit) success() {
	a.mu.Lock()
	a.streak++
	if a.streak >= 2*a.limit && a.limit < a.max {
		a.limit++
		a.streak = 0
		a.cond.Broadcast()
	}
	a.mu.Unlock()
}

func (a *adaptiveLimit) failure() {
	a.mu.Lock()
	a.streak = 0
	a.limit = max(1, a.limit/2)
	a.mu.Unlock()
}

// tokenSource hands out access tokens, refreshing through the OAuth
// config, and seals every token that changed into the store before using
// it (Twenty wrote refreshed tokens back in plaintext; here the database
// never sees one).
type tokenSource struct {
	mu   stdsync.Mutex
	ctx  context.Context
	cfg  *oauth2.Config
	src  oauth2.TokenSource
	last oauth2.Token
	save func(*oauth2.Token) error
}

func newTokenSource(ctx context.Context, cfg *oauth2.Config, tok *oauth2.Token, save func(*oauth2.Token) error) *tokenSource {
	return &tokenSource{ctx: ctx, cfg: cfg, src: cfg.TokenSource(ctx, tok), last: *tok, save: save}
}

// Token implements oauth2.TokenSource.
func (t *tokenSource) Token() (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, err := t.src.Token()
	if err != nil {
		return nil, err
	}
	if tok.AccessToken != t.last.AccessToken || (tok.RefreshToken != "" && tok.RefreshToken != t.last.RefreshToken) {
		cp := *tok
		if cp.RefreshToken == "" {
			// Google omits the refresh token from refresh responses;
			// keep the one we have.
			cp.RefreshToken = t.last.RefreshToken
		}
		if err := t.save(&cp); err != nil {
			return nil, fmt.Errorf("sync: save refreshed token: %w", err)
		}
		t.last = cp
	}
	return tok, nil
}

// invalidate forces the next Token call to refresh (after a 401: the access
// token was revoked before its expiry).
func (t *tokenSource) invalidate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	expired := t.last
	expired.AccessToken = ""
	expired.Expiry = time.Unix(1, 0)
	t.src = t.cfg.TokenSource(t.ctx, &expired)
}

// gmailCallOption is a per-call option of the generated client (quotaUser).
type gmailCallOption = googleapi.CallOption
