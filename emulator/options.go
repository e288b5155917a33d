package emulator

import (
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Clock supplies the current time; tests inject a fake one to move quota
// windows, token expiry and history retention without sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Published Gmail limits (https://developers.google.com/gmail/api/reference/quota).
const (
	// DefaultQuotaPerMinute is the per-user limit of quota units per minute.
	DefaultQuotaPerMinute = 15000
	// MaxUploadBytes is the media upload limit of messages.send/insert/import
	// and drafts.create/update (35 MiB).
	MaxUploadBytes = 36700160
	// MaxBatchParts is the maximum number of calls in one batch request.
	MaxBatchParts = 100
)

type config struct {
	logger              *slog.Logger
	clock               Clock
	historyRetention    time.Duration
	quota               bool
	quotaPerMinute      int
	concurrencyLimit    int
	faults              Faults
	pushURL             string
	pushClient          *http.Client
	pushInterval        time.Duration
	accessTTL           time.Duration
	attachmentThreshold int
	seed                uint64
	renderDir           string
}

func defaultConfig() config {
	return config{
		logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock:               systemClock{},
		historyRetention:    7 * 24 * time.Hour,
		quotaPerMinute:      DefaultQuotaPerMinute,
		concurrencyLimit:    25,
		pushInterval:        time.Second,
		accessTTL:           time.Hour,
		attachmentThreshold: 64 << 10,
		seed:                1,
	}
}

// Option configures an Emulator.
type Option func(*config)

// WithLogger sets the logger (default: discard). Tokens are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClock replaces the wall clock (quota windows, token expiry, history
// retention, internalDate of delivered messages).
func WithClock(clk Clock) Option {
	return func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// WithHistoryRetention sets how long history records stay listable; a
// startHistoryId older than that answers 404 (default 7 days, what Gmail
// documents as typical).
func WithHistoryRetention(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.historyRetention = d
		}
	}
}

// WithQuota turns per-user quota enforcement on or off (default off).
func WithQuota(on bool) Option { return func(c *config) { c.quota = on } }

// WithQuotaLimit sets the per-user units per moving minute (default 15,000).
func WithQuotaLimit(unitsPerMinute int) Option {
	return func(c *config) {
		if unitsPerMinute > 0 {
			c.quotaPerMinute = unitsPerMinute
		}
	}
}

// WithConcurrencyLimit sets the per-user number of requests served at once
// when quota is enforced (default 25); more answer 429.
func WithConcurrencyLimit(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.concurrencyLimit = n
		}
	}
}

// WithFaults sets the initial fault injection (see SetFaults).
func WithFaults(f Faults) Option { return func(c *config) { c.faults = f } }

// WithPushURL makes watch() deliver Pub/Sub-style push notifications by POST
// to url.
func WithPushURL(url string) Option { return func(c *config) { c.pushURL = url } }

// WithPushClient sets the HTTP client that posts push notifications
// (default: one with a 10 s timeout). Tests pass one whose transport calls
// their handler in memory.
func WithPushClient(c *http.Client) Option { return func(cfg *config) { cfg.pushClient = c } }

// WithPushInterval sets the minimum gap between two pushes for one user
// (default 1 s, Gmail's documented maximum rate).
func WithPushInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.pushInterval = d
		}
	}
}

// WithAccessTokenTTL sets the lifetime of access tokens issued by the token
// endpoint (default 1 h, as Google's).
func WithAccessTokenTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.accessTTL = d
		}
	}
}

// WithAttachmentThreshold sets the body size above which format=full serves
// body.attachmentId instead of inline data (parts with a filename always get
// an attachmentId). Default 64 KiB.
func WithAttachmentThreshold(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.attachmentThreshold = n
		}
	}
}

// WithSeed seeds id allocation and fault injection so runs are repeatable.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithRenderDir makes AddGenerated render a generated mailbox once, on all
// CPUs, into a spill file in dir (created if missing), and serve
// format=raw gets of its messages from that file, as Gmail serves stored
// messages, instead of rebuilding, parsing and encoding each message per
// request. The file takes about 1.4 times the mailbox's size on disk (the
// messages in base64url), memory 14 bytes a message; it is removed by
// Close. Other formats, and messages added later, are served as without
// it; the answers are the same bytes.
func WithRenderDir(dir string) Option { return func(c *config) { c.renderDir = dir } }
