package web

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"tidings/models"
	"tidings/search"
)

// Consumer-side interfaces: web declares what it needs from the sync and
// search packages, and internal/app wires the real implementations. Every
// optional dependency may be nil; the feature is then hidden in the UI and
// answers 501 in the API.

// Searcher runs Gmail-style queries over a tenant's mail (search.Index does).
type Searcher interface {
	Search(ctx context.Context, tenantID int64, req search.Request) (*search.Result, error)
}

// MailboxSyncer enqueues a sync of one mailbox.
type MailboxSyncer interface {
	EnqueueSync(ctx context.Context, tenantID, mailboxID int64, full bool) error
}

// GmailConnector runs the OAuth 2.0 authorization-code flow for Gmail. It is
// nil when no Google OAuth client is configured.
type GmailConnector interface {
	AuthCodeURL(state string) string
	Connect(ctx context.Context, tenantID, ownerID int64, code string) (*models.Mailbox, error)
}

// DemoConnector starts an in-process Gmail emulator mailbox and syncs it.
type DemoConnector interface {
	ConnectDemo(ctx context.Context, tenantID, ownerID int64) (*models.Mailbox, error)
}

// AttachmentFetcher fetches an attachment's bytes lazily from Gmail.
type AttachmentFetcher interface {
	FetchAttachment(ctx context.Context, tenantID int64, att *models.Attachment) (io.ReadCloser, error)
}

// LabelChanger changes a message's labels in Gmail and in the store.
type LabelChanger interface {
	ChangeLabels(ctx context.Context, tenantID, messageID int64, add, remove []string) error
}

// MailboxDisconnector is optionally implemented by the MailboxSyncer: it
// stops syncing a mailbox, revokes its grant and removes its index entries.
// Without it, disconnecting only deletes the stored mailbox and mail.
type MailboxDisconnector interface {
	Disconnect(ctx context.Context, tenantID, mailboxID int64) error
}

// Deps are the server's dependencies. Store is required; the rest may be nil.
type Deps struct {
	Store       *models.Store
	Search      Searcher
	Sync        MailboxSyncer
	Gmail       GmailConnector
	Demo        DemoConnector
	Attachments AttachmentFetcher
	Labels      LabelChanger
	// Outbox sends mail and carries out mailbox actions (api_outbox.go).
	Outbox Outbox
	// UndoWindow is how long a sent message waits so it can be undone;
	// zero means 10 s.
	UndoWindow time.Duration
	// Push receives Gmail push notifications on POST /gmail/push, which
	// exists only when PushAuth is configured too.
	Push     PushReceiver
	PushAuth PushAuth
	// Metrics, when set, records every request of this server by route
	// pattern. Leave it nil when the caller already wraps its root handler
	// with Metrics.Instrument.
	Metrics *Metrics
	Logger  *slog.Logger
	// BaseURL is the externally visible origin (e.g. https://crm.example.com).
	// Cookies are marked Secure when it is https; its origin is trusted for
	// cross-origin protection behind proxies.
	BaseURL string
	// Secure forces Secure cookies even when BaseURL is not https.
	Secure bool
	// SessionKey seals session cookies (32 bytes, AES-256-GCM). When empty
	// a random key is generated: sessions then end when the process exits
	// and do not work across several web processes.
	SessionKey []byte
	// OpenSignup lets anyone create an organization on /signup. Off (the
	// default), sign-up exists only while the instance has no
	// organization: the first user bootstraps it and everyone else joins
	// by invitation. Open sign-up tells whether an address is registered
	// (a taken address is refused), which tidings cannot avoid without a
	// mail channel of its own for verification emails.
	OpenSignup bool
	// LoginLimit bounds login attempts per client IP and email; zero means
	// DefaultLoginLimit.
	LoginLimit LoginLimit
	// SessionTTL is how long a login lasts; zero means 7 days.
	SessionTTL time.Duration
	// MaxBodyBytes caps JSON and form bodies; zero means 1 MiB.
	MaxBodyBytes int64
	// BodyTimeout bounds reading a request body: a client trickling bytes
	// cannot hold a request open. Zero means 30 seconds.
	BodyTimeout time.Duration
	// Now returns the current time (tests); nil means time.Now.
	Now func() time.Time
}

//go:embed static templates openapi.json
var assets embed.FS

// Server is tidings' HTTP surface: the CRM UI and the REST API. Mount it at
// "/" next to /healthz and /metrics.
type Server struct {
	d        Deps
	log      *slog.Logger
	mux      *http.ServeMux
	pages    *pageSet
	sessions *sessionCodec
	limiter  *loginLimiter
	cop      *http.CrossOriginProtection
	static   http.Handler
	routes   []route
	secure   bool
	handler  http.Handler
}

// route is one registered pattern.
type route struct {
	Method, Path string
}

// New builds the server. It fails only on programming errors (templates
// that do not parse) or a malformed session key.
func New(d Deps) (*Server, error) {
	if d.Store == nil {
		return nil, errors.New("web: Deps.Store is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.BodyTimeout <= 0 {
		d.BodyTimeout = 30 * time.Second
	}
	if d.SessionTTL <= 0 {
		d.SessionTTL = 7 * 24 * time.Hour
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.LoginLimit == (LoginLimit{}) {
		d.LoginLimit = DefaultLoginLimit
	}
	key := d.SessionKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("web: session key: %w", err)
		}
		d.Logger.Warn("no session key configured: sessions end when this process exits")
	}
	codec, err := newSessionCodec(key)
	if err != nil {
		return nil, err
	}
	s := &Server{
		d:        d,
		log:      d.Logger,
		mux:      http.NewServeMux(),
		sessions: codec,
		limiter:  newLoginLimiter(d.LoginLimit, d.Now),
		cop:      http.NewCrossOriginProtection(),
		secure:   d.Secure,
	}
	if d.BaseURL != "" {
		u, err := url.Parse(d.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("web: BaseURL %q is not an absolute URL", d.BaseURL)
		}
		if u.Scheme == "https" {
			s.secure = true
		}
		if err := s.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("web: trusted origin: %w", err)
		}
	}
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.forbidden(w, r, "cross-origin request rejected")
	}))
	if s.pages, err = newPageSet(); err != nil {
		return nil, err
	}
	staticFS, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static assets: %w", err)
	}
	s.static = http.StripPrefix("/static/", http.FileServerFS(staticFS))
	s.registerAPI()
	s.registerUI()
	if err := s.registerPush(); err != nil {
		return nil, err
	}
	s.handler = http.HandlerFunc(s.serve)
	if d.Metrics != nil {
		s.handler = d.Metrics.Instrument(s.handler, d.Logger)
	}
	return s, nil
}

// Routes lists the registered patterns as "METHOD /path".
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, r := range s.routes {
		out = append(out, r.Method+" "+r.Path)
	}
	slices.Sort(out)
	return out
}

// handle registers a handler for "METHOD /path".
func (s *Server) handle(method, path string, h http.Handler) {
	s.routes = append(s.routes, route{Method: method, Path: path})
	s.mux.Handle(method+" "+path, h)
}

// ServeHTTP serves the UI and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// serve sets the security headers every response carries and dispatches.
// It never copies the request before the mux, so the mux's r.Pattern
// reaches Metrics.Instrument for per-route metrics.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		// The connection's read deadline covers the body (the server's
		// ReadHeaderTimeout covered the headers); it is lifted again for
		// the next request on a kept-alive connection. Recorders in tests
		// do not support deadlines, hence the ignored errors.
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(s.d.BodyTimeout)) == nil {
			body := r.Body
			defer func() {
				// Lift the deadline only once the body is read to its end
				// (the server would otherwise read a trickling rest without
				// one); a connection whose body timed out is closed.
				if _, err := io.Copy(io.Discard, io.LimitReader(body, 256<<10)); err == nil {
					_ = rc.SetReadDeadline(time.Time{})
				}
			}()
		}
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	// App pages: scripts and styles only from our own origin, no inline
	// script at all; the only frame is our own sandboxed message body.
	h.Set("Content-Security-Policy", appCSP)
	h.Set("X-Frame-Options", "DENY")
	if s.secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if strings.HasPrefix(r.URL.Path, "/api") || r.URL.Path == "/gmail/push" {
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if s.apiUnrouted(w, r) {
			return
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	// Pages no route takes get the styled 404 page, not the mux's text.
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.notFoundPage(w, r, s.sessionPrincipal(r))
		return
	}
	// Browser-facing routes: reject cross-origin state changes by
	// Sec-Fetch-Site / Origin (Go's CrossOriginProtection); session forms
	// additionally carry a synchronizer token (csrfOK in auth.go).
	s.cop.Handler(s.mux).ServeHTTP(w, r)
}

// apiUnrouted answers API requests no route takes as problem+json: 404
// for an unknown path, 405 with Allow (RFC 9110 §15.5.6) for a known path
// with another method. The mux's own answers are text/plain.
func (s *Server) apiUnrouted(w http.ResponseWriter, r *http.Request) bool {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		return false
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		s.apiNotFound(w, r)
		return true
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	s.problem(w, r, Problem{Status: http.StatusMethodNotAllowed, Detail: "this resource allows " + strings.Join(allow, ", ")})
	return true
}

const appCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// messageFrameCSP governs the sanitized email HTML: nothing may load or
// run; inline styles stay so mail keeps its layout. The sandbox directive
// applies even if the frame URL is opened directly.
const messageFrameCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " +
	"frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
