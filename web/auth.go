package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
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
	Session *session
}

func (p *principal) Admin() bool { return p.Role == models.RoleAdmin }

// session is what the sealed session cookie carries. The cookie is
// encrypted and authenticated (AES-256-GCM via models.Cipher), so the
// client can neither read nor forge it; the membership is re-checked on
// every request, so removing a user from a tenant ends their sessions.
type session struct {
	UserID   int64  `json:"u"`
	TenantID int64  `json:"t"`
	Expires  int64  `json:"e"`
	CSRF     string `json:"c"`
}

type sessionCodec struct{ cipher *models.Cipher }

var sessionAD = []byte("tidings:web-session:v1")

func newSessionCodec(key []byte) (*sessionCodec, error) {
	c, err := models.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("web: session key: %w", err)
	}
	return &sessionCodec{cipher: c}, nil
}

func (c *sessionCodec) encode(s *session) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("web: encode session: %w", err)
	}
	sealed, err := c.cipher.Seal(b, sessionAD)
	if err != nil {
		return "", fmt.Errorf("web: seal session: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (c *sessionCodec) decode(v string, now time.Time) (*session, error) {
	// Strict: a cookie differing only in unused trailing bits is not the same cookie.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("web: session cookie: %w", err)
	}
	b, err := c.cipher.Open(raw, sessionAD)
	if err != nil {
		return nil, fmt.Errorf("web: session cookie: %w", err)
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("web: session cookie: %w", err)
	}
	if now.Unix() >= s.Expires {
		return nil, errors.New("web: session expired")
	}
	return &s, nil
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

func (s *Server) setSession(w http.ResponseWriter, userID, tenantID int64) error {
	sess := &session{UserID: userID, TenantID: tenantID, Expires: s.d.Now().Add(s.d.SessionTTL).Unix(), CSRF: randomToken()}
	v, err := s.sessions.encode(sess)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: v, Path: "/", MaxAge: int(s.d.SessionTTL.Seconds()),
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

// sessionPrincipal resolves the session cookie; nil when there is no valid
// session.
func (s *Server) sessionPrincipal(r *http.Request) *principal {
	c, err := r.Cookie(s.cookieName())
	if err != nil || c.Value == "" {
		return nil
	}
	sess, err := s.sessions.decode(c.Value, s.d.Now())
	if err != nil {
		return nil
	}
	return s.loadPrincipal(r.Context(), sess.UserID, sess.TenantID, sess)
}

func (s *Server) loadPrincipal(ctx context.Context, userID, tenantID int64, sess *session) *principal {
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

// LoginLimit configures login rate limiting: each (client IP, email) pair
// gets a token bucket of Burst attempts refilled every Every.
type LoginLimit struct {
	Every time.Duration
	Burst int
}

// DefaultLoginLimit allows 5 attempts, then one every 20 seconds.
var DefaultLoginLimit = LoginLimit{Every: 20 * time.Second, Burst: 5}

type loginLimiter struct {
	mu      sync.Mutex
	cfg     LoginLimit
	now     func() time.Time
	buckets map[string]*limiterEntry
	swept   time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLoginLimiter(cfg LoginLimit, now func() time.Time) *loginLimiter {
	return &loginLimiter{cfg: cfg, now: now, buckets: map[string]*limiterEntry{}}
}

// allow spends one attempt for ip+email and reports whether it may proceed.
func (l *loginLimiter) allow(ip, email string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	// Forget idle buckets now and then so the map cannot grow without
	// bound under a spray of addresses; an idle bucket is full anyway.
	idle := l.cfg.Every * time.Duration(l.cfg.Burst+1)
	if now.Sub(l.swept) > idle {
		for k, e := range l.buckets {
			if now.Sub(e.seen) > idle {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	key := ip + "\x00" + models.NormalizeAddress(email)
	e, ok := l.buckets[key]
	if !ok {
		e = &limiterEntry{lim: rate.NewLimiter(rate.Every(l.cfg.Every), l.cfg.Burst)}
		l.buckets[key] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
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
