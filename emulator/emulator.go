package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Emulator is the Gmail API emulator as an http.Handler. It serves the
// Gmail REST API under /gmail/v1/, media uploads under /upload/gmail/v1/,
// the batch endpoint /batch/gmail/v1 and OAuth 2.0 at /o/oauth2/auth and
// /token. Create it with New; it is safe for concurrent use.
type Emulator struct {
	cfg config
	mux *http.ServeMux
	log *slog.Logger

	mu        sync.Mutex // guards the maps below
	users     map[string]*mailbox
	userOrder []string
	access    map[string]accessGrant
	refresh   map[string]string // refresh token -> email
	codes     map[string]authCode
	uploads   map[string]*uploadSession

	faultMu sync.Mutex
	faults  Faults
	frng    *mrand.Rand

	push *pusher

	// rawWriters are the 32 KiB response buffers of format=raw gets,
	// reused: a fresh one per call was a tenth of the emulator's CPU
	// (allocating and zeroing it) in the ingest benchmark.
	rawWriters sync.Pool
}

type accessGrant struct {
	email   string
	expires time.Time
}

type authCode struct {
	email       string
	redirectURI string
	expires     time.Time
}

// New returns an Emulator with no users.
func New(opts ...Option) *Emulator {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	e := &Emulator{
		cfg:     cfg,
		log:     cfg.logger,
		users:   map[string]*mailbox{},
		access:  map[string]accessGrant{},
		refresh: map[string]string{},
		codes:   map[string]authCode{},
		uploads: map[string]*uploadSession{},
		faults:  cfg.faults,
		frng:    mrand.New(mrand.NewPCG(cfg.seed, 0x9e3779b97f4a7c15)),
	}
	e.push = newPusher(e)
	e.routes()
	return e
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.mux.ServeHTTP(w, r) }

// Close stops background push delivery and removes the spill files of
// rendered mailboxes (WithRenderDir). The Emulator keeps serving, but
// format=raw gets of rendered messages then fail with 503.
func (e *Emulator) Close() {
	e.push.close()
	e.mu.Lock()
	mbs := make([]*mailbox, 0, len(e.users))
	for _, mb := range e.users {
		mbs = append(mbs, mb)
	}
	e.mu.Unlock()
	for _, mb := range mbs {
		mb.mu.Lock()
		rendered := mb.rendered
		mb.mu.Unlock()
		rendered.close()
	}
}

func (e *Emulator) hasGenerated(mb *mailbox) bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.gen != nil
}

// Server is an Emulator listening on a loopback port, like
// httptest.Server.
type Server struct {
	*Emulator
	// URL is the base URL, e.g. http://127.0.0.1:41234 (no trailing slash).
	// Pass URL+"/" to option.WithEndpoint.
	URL string

	srv *http.Server
	ln  net.Listener
}

// NewServer starts an Emulator on 127.0.0.1 on a free port. It panics only
// if no loopback port can be bound, as httptest.NewServer does.
func NewServer(opts ...Option) *Server {
	s, err := Listen("127.0.0.1:0", opts...)
	if err != nil {
		panic(fmt.Sprintf("emulator: failed to listen on a port: %v", err))
	}
	return s
}

// Listen starts an Emulator on addr.
func Listen(addr string, opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen %s: %w", addr, err)
	}
	e := New(opts...)
	s := &Server{Emulator: e, URL: "http://" + ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelDebug)}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("emulator: serve", slog.Any("err", err))
		}
	}()
	return s, nil
}

// Close shuts the server down, closing open connections.
func (s *Server) Close() {
	_ = s.srv.Close()
	s.Emulator.Close()
}

// Shutdown gracefully stops the server: the answers in flight are
// finished, rendered ones (WithRenderDir) too, before the emulator is
// closed.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.Emulator.Close()
	return err
}

func (e *Emulator) now() time.Time { return e.cfg.clock.Now() }

func randomToken(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// User is a mailbox owner known to the emulator.
type User struct {
	Email string
	// AccessToken is valid for the configured access-token TTL from
	// creation; RefreshToken until revoked.
	AccessToken  string
	RefreshToken string
}

// AddUser creates an empty mailbox for email and issues it tokens.
func (e *Emulator) AddUser(email string) (*User, error) {
	return e.AddUserAt(email, e.now())
}

// AddUserAt is AddUser for a mailbox created at created: message and
// history ids derive from the seed, the address and this time only, so
// re-creating a mailbox with the same three (and the same mutations, e.g.
// AddGenerated) yields the same ids. The demo mailbox uses it to keep its
// Gmail ids across restarts.
func (e *Emulator) AddUserAt(email string, created time.Time) (*User, error) {
	email = strings.TrimSpace(email)
	if !strings.Contains(email, "@") {
		return nil, fmt.Errorf("%w: not an email address: %q", ErrInvalidInput, email)
	}
	key := strings.ToLower(email)
	e.mu.Lock()
	if _, ok := e.users[key]; ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrUserExists, email)
	}
	e.users[key] = newMailbox(email, e.cfg.seed, created, e.cfg.historyRetention)
	e.userOrder = append(e.userOrder, key)
	e.mu.Unlock()
	tok, err := e.Token(email)
	if err != nil {
		return nil, err
	}
	return &User{Email: email, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}, nil
}

// Users lists the users' addresses in creation order.
func (e *Emulator) Users() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.userOrder))
	for _, k := range e.userOrder {
		out = append(out, e.users[k].email)
	}
	return out
}

func (e *Emulator) mailbox(email string) (*mailbox, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	mb, ok := e.users[strings.ToLower(strings.TrimSpace(email))]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownUser, email)
	}
	return mb, nil
}

// IssueAccessToken returns a new bearer token for email valid for ttl
// (e.g. a long-lived token for curl).
func (e *Emulator) IssueAccessToken(email string, ttl time.Duration) (string, error) {
	mb, err := e.mailbox(email)
	if err != nil {
		return "", err
	}
	tok := randomToken("ya29.emu-")
	e.mu.Lock()
	e.access[tok] = accessGrant{email: mb.email, expires: e.now().Add(ttl)}
	e.mu.Unlock()
	return tok, nil
}

// IssueRefreshToken returns a new refresh token for email.
func (e *Emulator) IssueRefreshToken(email string) (string, error) {
	mb, err := e.mailbox(email)
	if err != nil {
		return "", err
	}
	tok := randomToken("1//emu-")
	e.mu.Lock()
	e.refresh[tok] = mb.email
	e.mu.Unlock()
	return tok, nil
}

// RevokeRefreshToken revokes every refresh and access token of email, as
// when the user removes the app's access: the token endpoint then answers
// invalid_grant and API calls 401.
func (e *Emulator) RevokeRefreshToken(email string) error {
	mb, err := e.mailbox(email)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for t, u := range e.refresh {
		if u == mb.email {
			delete(e.refresh, t)
		}
	}
	for t, g := range e.access {
		if g.email == mb.email {
			delete(e.access, t)
		}
	}
	return nil
}

func (e *Emulator) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "bearer ")
	}
	if !ok {
		return "", false
	}
	e.mu.Lock()
	g, found := e.access[strings.TrimSpace(tok)]
	e.mu.Unlock()
	if !found || !e.now().Before(g.expires) {
		return "", false
	}
	return g.email, true
}

// SetFaults changes fault injection at runtime.
func (e *Emulator) SetFaults(f Faults) {
	e.faultMu.Lock()
	e.faults = f
	e.faultMu.Unlock()
}

func (e *Emulator) drawFault() FaultKind {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	if e.faults.Rate <= 0 || e.frng.Float64() >= e.faults.Rate {
		return 0
	}
	ks := e.faults.kinds()
	return ks[e.frng.IntN(len(ks))]
}

func (e *Emulator) slowDelay() time.Duration {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	if e.faults.SlowDelay > 0 {
		return e.faults.SlowDelay
	}
	return 2 * time.Second
}

// Go API for tests and seeding. Each mutation records history and triggers
// push exactly like the REST call would.

// Deliver stores raw as a received message (labels INBOX and UNREAD unless
// labelIDs are given) and returns its Gmail id.
func (e *Emulator) Deliver(email string, raw []byte, labelIDs ...string) (string, error) {
	return e.add(email, raw, "receivedTime", labelIDs)
}

// add stores raw for the Go API with its internalDate taken from
// dateSource (see dateOf), in INBOX and UNREAD unless labelIDs are given.
func (e *Emulator) add(email string, raw []byte, dateSource string, labelIDs []string) (string, error) {
	mb, err := e.mailbox(email)
	if err != nil {
		return "", err
	}
	if len(labelIDs) == 0 {
		labelIDs = []string{"INBOX", "UNREAD"}
	}
	mb.mu.Lock()
	ls, err := mb.canonAll(labelIDs)
	if err != nil {
		mb.mu.Unlock()
		return "", err
	}
	now := e.now()
	m := mb.addMessage(now, slices.Clone(raw), ls, e.dateOf(raw, dateSource, now), 0)
	id := formatID(m.id)
	mb.mu.Unlock()
	e.push.changed(mb)
	return id, nil
}

func (e *Emulator) withMessage(email, id string, f func(mb *mailbox, m *msgState, now time.Time) error) error {
	return e.onMessage(email, id, true, f)
}

func (e *Emulator) onMessage(email, id string, mutates bool, f func(mb *mailbox, m *msgState, now time.Time) error) error {
	mb, err := e.mailbox(email)
	if err != nil {
		return err
	}
	mb.mu.Lock()
	n, ok := parseID(id)
	m := mb.msgs[n]
	if !ok || m == nil {
		mb.mu.Unlock()
		return fmt.Errorf("%w: message %s", ErrNotFound, id)
	}
	err = f(mb, m, e.now())
	mb.mu.Unlock()
	if err == nil && mutates {
		e.push.changed(mb)
	}
	return err
}

// ModifyLabels adds and removes labels on a message.
func (e *Emulator) ModifyLabels(email, id string, add, remove []string) error {
	return e.withMessage(email, id, func(mb *mailbox, m *msgState, now time.Time) error {
		a, err := mb.canonAll(add)
		if err != nil {
			return err
		}
		r, err := mb.canonAll(remove)
		if err != nil {
			return err
		}
		mb.modify(now, m, a, r)
		return nil
	})
}

// Trash moves a message to the trash.
func (e *Emulator) Trash(email, id string) error {
	return e.withMessage(email, id, func(mb *mailbox, m *msgState, now time.Time) error {
		mb.modify(now, m, []string{"TRASH"}, nil)
		return nil
	})
}

// Untrash takes a message out of the trash.
func (e *Emulator) Untrash(email, id string) error {
	return e.withMessage(email, id, func(mb *mailbox, m *msgState, now time.Time) error {
		mb.modify(now, m, nil, []string{"TRASH"})
		return nil
	})
}

// Delete removes a message permanently.
func (e *Emulator) Delete(email, id string) error {
	return e.withMessage(email, id, func(mb *mailbox, m *msgState, now time.Time) error {
		mb.remove(now, m)
		return nil
	})
}

// CreateLabel creates a user label and returns its id.
func (e *Emulator) CreateLabel(email, name string) (string, error) {
	mb, err := e.mailbox(email)
	if err != nil {
		return "", err
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	l, err := mb.createLabel(apiLabel{Name: name})
	if err != nil {
		return "", err
	}
	return l.id, nil
}

// DeleteLabel deletes a user label, removing it from all messages.
func (e *Emulator) DeleteLabel(email, id string) error {
	mb, err := e.mailbox(email)
	if err != nil {
		return err
	}
	mb.mu.Lock()
	err = mb.deleteLabel(e.now(), id)
	mb.mu.Unlock()
	if err == nil {
		e.push.changed(mb)
	}
	return err
}

// MessageState is a message's sync-relevant state.
type MessageState struct {
	ThreadID string
	LabelIDs []string // sorted
}

// Snapshot returns every message's thread and labels, keyed by message
// id; sync tests compare their store against it. It is empty for an
// unknown user.
func (e *Emulator) Snapshot(email string) map[string]MessageState {
	out := map[string]MessageState{}
	mb, err := e.mailbox(email)
	if err != nil {
		return out
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	for _, m := range mb.msgs {
		out[formatID(m.id)] = MessageState{ThreadID: formatID(m.thread), LabelIDs: slices.Clone(m.labels)}
	}
	return out
}

// ExpireHistory discards all history of email so that history.list from
// any id older than the current one answers 404.
func (e *Emulator) ExpireHistory(email string) error {
	mb, err := e.mailbox(email)
	if err != nil {
		return err
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.minHist = mb.historyID
	mb.history = nil
	return nil
}

// HistoryID returns the mailbox's current history id (0 for unknown users).
func (e *Emulator) HistoryID(email string) uint64 {
	mb, err := e.mailbox(email)
	if err != nil {
		return 0
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.historyID
}

// MessageCount returns the number of messages in the mailbox.
func (e *Emulator) MessageCount(email string) int {
	mb, err := e.mailbox(email)
	if err != nil {
		return 0
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.msgs)
}

// Raw returns a message's RFC 822 bytes.
func (e *Emulator) Raw(email, id string) ([]byte, error) {
	var out []byte
	err := e.onMessage(email, id, false, func(mb *mailbox, m *msgState, _ time.Time) error {
		out = slices.Clone(mb.rawOf(m))
		return nil
	})
	return out, err
}

// AddGenerated fills email's mailbox with messages 0..n-1 of g. Messages
// are not copied: each is rebuilt from g on demand, except format=raw
// answers with WithRenderDir, which are rendered once into a spill file. Like a mailbox import
// it does not write per-message history; the history id advances once, so
// history.list from an earlier id answers 404 (clients must full-sync).
// A mailbox holds at most one generator.
func (e *Emulator) AddGenerated(email string, g *Generator, n int) error {
	if g == nil || n < 0 || n > 1<<31-1 {
		return fmt.Errorf("%w: generator and 0 <= n < 2^31 required", ErrInvalidInput)
	}
	mb, err := e.mailbox(email)
	if err != nil {
		return err
	}
	if e.hasGenerated(mb) {
		return fmt.Errorf("%w: mailbox %s already has generated messages", ErrInvalidInput, email)
	}
	var rendered *renderedMailbox
	if e.cfg.renderDir != "" && n > 0 {
		// Rendered before taking the lock: it takes seconds per
		// 10,000 messages, and reads nothing of the mailbox.
		if rendered, err = renderMailbox(e.cfg.renderDir, g, n); err != nil {
			return err
		}
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.gen != nil {
		rendered.close()
		return fmt.Errorf("%w: mailbox %s already has generated messages", ErrInvalidInput, email)
	}
	mb.gen, mb.rendered = g, rendered
	userLabels := map[string]string{}
	names := g.Options().UserLabels
	if ml := g.Options().MalformedLabel; ml != "" {
		names = append(slices.Clip(names), ml)
	}
	for i, name := range names {
		l := mb.labelByName(name)
		if l == nil {
			c := genLabelColors[i%len(genLabelColors)]
			if l, err = mb.createLabel(apiLabel{Name: name, Color: &c}); err != nil {
				return err
			}
		}
		userLabels[name] = l.id
	}
	hist := mb.nextHistory()
	mb.minHist = hist
	mb.genIDs = make([]uint64, n)
	mb.order = slices.Grow(mb.order, n)
	for i := 0; i < n; i++ {
		d, _ := g.draws(i) // Meta without walking the reply chain again
		labels := make([]string, 0, len(d.labels)+len(d.userLabels))
		for _, l := range d.labels {
			labels = append(labels, mb.canon(l))
		}
		for _, l := range d.userLabels {
			labels = append(labels, userLabels[l])
		}
		m := &msgState{id: mb.newMsgID(), date: d.date.UnixMilli(), hist: hist, labels: sortedLabels(labels), gen: int32(i)}
		mb.genIDs[i] = m.id
		if d.parent < 0 {
			m.thread = m.id
			mb.threads[m.id] = &threadState{subject: normSubject(genSubjects[d.subject])}
		} else {
			m.thread = mb.msgs[mb.genIDs[d.parent]].thread
		}
		ts := mb.threads[m.thread]
		ts.msgs = append(ts.msgs, m.id)
		mb.msgs[m.id] = m
		mb.insertOrdered(m)
	}
	return nil
}
