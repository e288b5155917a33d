package sync

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"tidings/emulator"
	"tidings/internal/testenv"
	"tidings/models"
	"tidings/search"
)

// countingTransport counts Gmail API requests by method, as seen on the
// wire (the test's own instrumentation, not the Syncer's).
type countingTransport struct {
	base    http.RoundTripper
	rawGets atomic.Int64
	minGets atomic.Int64
	total   atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.total.Add(1)
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/messages/") {
		switch r.URL.Query().Get("format") {
		case "raw":
			c.rawGets.Add(1)
		case "minimal":
			c.minGets.Add(1)
		}
	}
	return c.base.RoundTrip(r)
}

// memIndex is an in-memory Indexer recording what the sync sent.
type memIndex struct {
	mu   stdsync.Mutex
	docs map[int64]search.Document
}

func newMemIndex() *memIndex { return &memIndex{docs: map[int64]search.Document{}} }

func (m *memIndex) Index(_ context.Context, docs []search.Document) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range docs {
		m.docs[d.ID] = d
	}
	return nil
}

func (m *memIndex) Delete(_ context.Context, tenantID int64, ids []int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if d, ok := m.docs[id]; ok && d.TenantID == tenantID {
			delete(m.docs, id)
		}
	}
	return nil
}

func (m *memIndex) UpdateLabels(_ context.Context, tenantID, id int64, labelIDs, labelNames []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[id]
	if !ok || d.TenantID != tenantID {
		return search.ErrNotFound
	}
	d.LabelIDs, d.LabelNames = labelIDs, labelNames
	m.docs[id] = d
	return nil
}

func (m *memIndex) ids() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.docs))
}

// env is one end-to-end setup: emulator, store, tenant, connected mailbox.
type env struct {
	t         testing.TB
	emu       *emulator.Server
	store     *models.Store
	tenantID  int64
	mailboxID int64
	email     string
	counter   *countingTransport
	index     *memIndex
	deps      Deps
}

const testEmail = "owner@tidings.example"

func newEnv(t testing.TB, store *models.Store, emuOpts ...emulator.Option) *env {
	t.Helper()
	ctx := context.Background()
	emu := emulator.NewServer(emuOpts...)
	t.Cleanup(emu.Close)
	if _, err := emu.AddUser(testEmail); err != nil {
		t.Fatal(err)
	}
	tenant, _, err := store.SignUp(ctx, "Tidings Test", "admin@tidings.example", "Admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	mb := &models.Mailbox{Email: testEmail}
	if err := store.CreateMailbox(ctx, tenant.ID, mb); err != nil {
		t.Fatal(err)
	}
	tok, err := emu.Token(testEmail)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveToken(ctx, tenant.ID, mb.ID, tok); err != nil {
		t.Fatal(err)
	}
	ct := &countingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	e := &env{t: t, emu: emu, store: store, tenantID: tenant.ID, mailboxID: mb.ID, email: testEmail, counter: ct, index: newMemIndex()}
	e.deps = Deps{
		Store: store, Indexer: e.index, ClientID: "test-client", ClientSecret: "test-secret",
		GmailEndpoint: emu.URL, HTTPClient: &http.Client{Transport: ct, Timeout: 30 * time.Second},
		Quota: Quota{UnitsPerMinute: -1, MaxConcurrency: 8},
		Retry: Retry{Attempts: 10, Base: time.Millisecond, Max: 20 * time.Millisecond, MaxRetryAfter: 20 * time.Millisecond},
	}
	return e
}

func (e *env) syncer(mod ...func(*Deps)) *Syncer {
	e.t.Helper()
	d := e.deps
	for _, m := range mod {
		m(&d)
	}
	s, err := New(d)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) run(s *Syncer, full bool) error {
	return s.Run(context.Background(), e.tenantID, e.mailboxID, full, nil)
}

func (e *env) mailbox() *models.Mailbox {
	e.t.Helper()
	mb, err := e.store.GetMailbox(context.Background(), e.tenantID, e.mailboxID)
	if err != nil {
		e.t.Fatal(err)
	}
	return mb
}

// assertExact compares the store with the emulator: ids, label sets and
// thread ids, exactly; and the index holds exactly the stored messages.
func (e *env) assertExact() {
	e.t.Helper()
	ctx := context.Background()
	want := e.emu.Snapshot(e.email)
	got, err := mailboxState(ctx, e.store, e.tenantID, e.mailboxID)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(got) != len(want) {
		e.t.Errorf("store has %d messages, Gmail %d", len(got), len(want))
	}
	diffs := 0
	for id, w := range want {
		g, ok := got[id]
		wl := w.LabelIDs
		if wl == nil {
			wl = []string{}
		}
		switch {
		case !ok:
			e.t.Errorf("message %s missing from the store", id)
		case g.ThreadID != w.ThreadID:
			e.t.Errorf("message %s: thread %s, want %s", id, g.ThreadID, w.ThreadID)
		case !slices.Equal(g.LabelIDs, wl):
			e.t.Errorf("message %s: labels %v, want %v", id, g.LabelIDs, wl)
		default:
			continue
		}
		if diffs++; diffs > 10 {
			e.t.Fatal("too many differences")
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			e.t.Errorf("message %s stored but not in Gmail", id)
		}
	}
	stored := map[int64]bool{}
	ids, err := e.store.MessageIDsByGmailID(ctx, e.tenantID, e.mailboxID, slices.Collect(maps.Keys(got)))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, id := range ids {
		stored[id] = true
	}
	indexed := e.index.ids()
	if len(indexed) != len(stored) {
		e.t.Errorf("index holds %d documents, store %d messages", len(indexed), len(stored))
	}
	for _, id := range indexed {
		if !stored[id] {
			e.t.Errorf("index holds deleted message %d", id)
		}
	}
}

// forEachEngine runs f on SQLite and (when configured) Postgres.
func forEachEngine(t *testing.T, f func(t *testing.T, store *models.Store)) {
	for _, eng := range testenv.Engines(t) {
		t.Run(eng.String(), func(t *testing.T) {
			f(t, eng.Open(t))
		})
	}
}

func rawMessage(i int, subject string, extraHeaders string) []byte {
	return fmt.Appendf(nil, "From: Peer %d <peer%d@customer.example>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <m%d@customer.example>\r\nDate: Mon, 2 Mar 2026 10:%02d:00 +0000\r\n%sContent-Type: text/plain; charset=utf-8\r\n\r\nBody of message %d.\r\n",
		i, i, testEmail, subject, i, i%60, extraHeaders, i)
}

var _ oauth2.TokenSource = (*tokenSource)(nil)

const leaseTTLForTest = time.Minute

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (e *env) mustStates(ids ...string) map[string]models.MessageState {
	e.t.Helper()
	st, err := e.store.MessageStates(context.Background(), e.tenantID, e.mailboxID, ids)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// IDs lets the sync's index check (indexLister) see this index.
func (m *memIndex) IDs(_ context.Context, tenantID, mailboxID int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int64
	for id, d := range m.docs {
		if d.TenantID == tenantID && (mailboxID == 0 || d.MailboxID == mailboxID) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// mailboxState is every stored message of a mailbox with its thread and
// sorted label set, keyed by Gmail id.
func mailboxState(ctx context.Context, s *models.Store, tenantID, mailboxID int64) (map[string]models.MessageState, error) {
	ids, err := s.GmailIDs(ctx, tenantID, mailboxID)
	if err != nil {
		return nil, err
	}
	return s.MessageStates(ctx, tenantID, mailboxID, ids)
}
