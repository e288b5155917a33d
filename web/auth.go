package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"tidings/models"
)

// principal is the authenticated caller: a user acting in one tenant.
type principal struct {
	User     *models.User
	TenantID int64
	Role     models.Role
	// Session is set for browser sessions, nil for API tokens.
	Session *models.Session
}

func (p *principal) Admin() bool { return p.Role == models.RoleAdmin }

// sessionCodec seals short-lived browser state that needs no server row
// (the OAuth state cookie). Sessions themselves are rows in the store
// (models.Session): a cookie is only a random token, so logout and the
// other events that end sessions take effect at once.
type sessionCodec struct{ cipher *models.Cipher }

func newSessionCodec(key []byte) (*sessionCodec, error) {
	c, err := models.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("web: session key: %w", err)
	}
	return &sessionCodec{cipher: c}, nil
}

// cookieName uses the __Host- prefix when cookies are Secure: the browser
// then refuses the cookie unless it is Secure, host-only and Path=/, so a
// sibling subdomain cannot plant one (RFC 6265bis §4.1.3.2).
func (s *Server) cookieName() string {
	if s.secure {
		return "__Host-tidings"
	}
	return "tidings_session"
}

// startSession creates the server-side session and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID, tenantID int64) error {
	tok, _, err := s.d.Store.CreateSession(r.Context(), userID, tenantID, s.d.SessionTTL, r.UserAgent(), clientIP(r), s.d.Now())
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: tok, Path: "/", MaxAge: int(s.d.SessionTTL.Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (s *Server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionPrincipal resolves the session cookie; nil when there is no live
// session or the user is no longer a member of the session's tenant.
func (s *Server) sessionPrincipal(r *http.Request) *principal {
	c, err := r.Cookie(s.cookieName())
	if err != nil || c.Value == "" {
		return nil
	}
	sess, err := s.d.Store.SessionByToken(r.Context(), c.Value, s.d.Now())
	if err != nil {
		if !errors.Is(err, models.ErrNotFound) {
			s.log.Warn("session lookup failed", "err", err)
		}
		return nil
	}
	return s.loadPrincipal(r.Context(), sess.UserID, sess.TenantID, sess)
}

func (s *Server) loadPrincipal(ctx context.Context, userID, tenantID int64, sess *models.Session) *principal {
	m, err := s.d.Store.Membership(ctx, tenantID, userID)
	if err != nil {
		return nil
	}
	u, err := s.d.Store.GetUser(ctx, userID)
	if err != nil {
		return nil
	}
	return &principal{User: u, TenantID: tenantID, Role: m.Role, Session: sess}
}

// bearerPrincipal resolves "Authorization: Bearer tdg_…" (RFC 6750 §2.1).
func (s *Server) bearerPrincipal(r *http.Request) *principal {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	t, err := s.d.Store.APITokenByPlaintext(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		return nil
	}
	return s.loadPrincipal(r.Context(), t.UserID, t.TenantID, nil)
}

type principalKey struct{}

func principalFrom(r *http.Request) *principal {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	return p
}

func withPrincipal(r *http.Request, p *principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

// csrfOK checks the synchronizer token of a state-changing UI request: the
// form field csrf_token or the X-CSRF-Token header (htmx sends it, see
// layout.html) must equal the token sealed in the session cookie. This is
// on top of CrossOriginProtection, which only sees browser metadata.
func csrfOK(r *http.Request, p *principal) bool {
	if p == nil || p.Session == nil || p.Session.CSRF == "" {
		return false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf_token")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(p.Session.CSRF)) == 1
}

// LoginLimit configures how password checks (login, sign-up, accepting
// an invitation) are bounded. Each argon2id check costs 64 MiB and a
// noticeable slice of CPU, so three token buckets (per account, per
// client IP, overall) and a semaphore on concurrent hashes keep an
// attacker from exhausting memory; an attempt that finds no slot within
// HashWait gets 429 with Retry-After. Zero fields take DefaultLoginLimit's.
type LoginLimit struct {
	// Every and Burst: attempts per account (email address, known or not).
	Every time.Duration
	Burst int
	// IPEvery and IPBurst: attempts per client IP, over all addresses.
	IPEvery time.Duration
	IPBurst int
	// GlobalEvery and GlobalBurst: attempts over all clients.
	GlobalEvery time.Duration
	GlobalBurst int
	// HashConcurrency is how many password hashes may run at once.
	HashConcurrency int
	// HashWait is how long an attempt waits for a hashing slot.
	HashWait time.Duration
}

// DefaultLoginLimit: 5 attempts per account, then one every 20 s; 20 per
// IP, then one every 3 s; 100 overall, then 20 a second; one concurrent
// hash per two cores (argon2id runs two lanes in parallel); 3 s wait.
var DefaultLoginLimit = LoginLimit{
	Every: 20 * time.Second, Burst: 5,
	IPEvery: 3 * time.Second, IPBurst: 20,
	GlobalEvery: 50 * time.Millisecond, GlobalBurst: 100,
	HashConcurrency: max(1, runtime.GOMAXPROCS(0)/2),
	HashWait:        3 * time.Second,
}

func (l LoginLimit) withDefaults() LoginLimit {
	d := DefaultLoginLimit
	if l.Every <= 0 || l.Burst <= 0 {
		l.Every, l.Burst = d.Every, d.Burst
	}
	if l.IPEvery <= 0 || l.IPBurst <= 0 {
		l.IPEvery, l.IPBurst = d.IPEvery, d.IPBurst
	}
	if l.GlobalEvery <= 0 || l.GlobalBurst <= 0 {
		l.GlobalEvery, l.GlobalBurst = d.GlobalEvery, d.GlobalBurst
	}
	if l.HashConcurrency <= 0 {
		l.HashConcurrency = d.HashConcurrency
	}
	if l.HashWait <= 0 {
		l.HashWait = d.HashWait
	}
	return l
}

type loginLimiter struct {
	mu       sync.Mutex
	cfg      LoginLimit
	now      func() time.Time
	accounts *bucketMap
	ips      *bucketMap
	global   *rate.Limiter
	// slots bounds concurrent password hashing.
	slots chan struct{}
	// onHash, when set (tests), observes hashes starting (+1) and ending (-1).
	onHash func(delta int)
}

func newLoginLimiter(cfg LoginLimit, now func() time.Time) *loginLimiter {
	cfg = cfg.withDefaults()
	return &loginLimiter{
		cfg: cfg, now: now,
		accounts: &bucketMap{every: cfg.Every, burst: cfg.Burst, m: map[string]*limiterEntry{}},
		ips:      &bucketMap{every: cfg.IPEvery, burst: cfg.IPBurst, m: map[string]*limiterEntry{}},
		global:   rate.NewLimiter(rate.Every(cfg.GlobalEvery), cfg.GlobalBurst),
		slots:    make(chan struct{}, cfg.HashConcurrency),
	}
}

// allow spends one attempt of the client IP, the account and the overall
// budget; when any is exhausted it returns how long to wait.
func (l *loginLimiter) allow(ip, account string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.global.AllowN(now, 1) {
		return false, l.cfg.GlobalEvery
	}
	if !l.ips.allow(ip, now) {
		return false, l.cfg.IPEvery
	}
	if !l.accounts.allow(models.NormalizeAddress(account), now) {
		return false, l.cfg.Every
	}
	return true, 0
}

// acquire waits up to HashWait for a hashing slot; release must follow a
// true result.
func (l *loginLimiter) acquire(ctx context.Context) bool {
	t := time.NewTimer(l.cfg.HashWait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (l *loginLimiter) release() { <-l.slots }

// bucketMap is a token bucket per key. Idle buckets are forgotten now and
// then so the map cannot grow without bound under a spray of keys; an idle
// bucket is full anyway.
type bucketMap struct {
	every time.Duration
	burst int
	m     map[string]*limiterEntry
	swept time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func (b *bucketMap) allow(key string, now time.Time) bool {
	idle := b.every * time.Duration(b.burst+1)
	if now.Sub(b.swept) > idle {
		for k, e := range b.m {
			if now.Sub(e.seen) > idle {
				delete(b.m, k)
			}
		}
		b.swept = now
	}
	e, ok := b.m[key]
	if !ok {
		e = &limiterEntry{lim: rate.NewLimiter(rate.Every(b.every), b.burst)}
		b.m[key] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

// tooMany answers a refused password attempt with 429 and Retry-After
// (RFC 6585 §4, RFC 9110 §10.2.3).
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, page string, v view, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Round(time.Second).Seconds()))))
	v.Error = "Too many attempts. Wait a little and try again."
	s.render(w, r, http.StatusTooManyRequests, page, v)
}

// guardPassword runs fn, which checks or hashes a password, under the
// limits: it spends the client's and the account's budget, waits for a
// hashing slot and answers 429 itself when either is refused.
func (s *Server) guardPassword(w http.ResponseWriter, r *http.Request, account, page string, v view, fn func()) {
	if ok, wait := s.limiter.allow(clientIP(r), account); !ok {
		s.tooMany(w, r, page, v, wait)
		return
	}
	if !s.limiter.acquire(r.Context()) {
		s.tooMany(w, r, page, v, s.limiter.cfg.HashWait)
		return
	}
	defer s.limiter.release()
	if h := s.limiter.onHash; h != nil {
		h(1)
		defer h(-1)
	}
	fn()
}

// clientIP is the connection's peer address. X-Forwarded-For is not
// trusted: a client could rotate it to escape the limit.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
