package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
	"tidings/search"
	mailsync "tidings/sync"
)

// Test doubles for the consumer-side interfaces. They do real work on the
// real store, so the web layer is exercised end to end; the production
// implementations (sync/, search/) have their own tests.

// storeSearcher answers searches from the store: subject substring match,
// enough for partial-word, as-you-type searching in UI tests. An
// unbalanced quote is a syntax error, like the real parser's.
type storeSearcher struct{ store *models.Store }

func (s storeSearcher) Search(ctx context.Context, tenantID int64, req search.Request) (*search.Result, error) {
	if strings.Count(req.Query, `"`)%2 == 1 {
		return nil, &search.SyntaxError{Pos: strings.LastIndex(req.Query, `"`), Query: req.Query, Msg: "unterminated phrase"}
	}
	// The real query parser decides the rest of what is a syntax error.
	if _, err := search.ParseQuery(req.Query); err != nil {
		return nil, err
	}
	if req.After != "" {
		return nil, search.ErrBadCursor // this double serves one page only
	}
	f := models.MessageFilter{Page: models.Page{Limit: max(req.Size, 20), Query: strings.Trim(req.Query, `"`)}}
	if len(req.MailboxIDs) > 0 {
		f.MailboxID = req.MailboxIDs[0]
	}
	msgs, total, err := s.store.ListMessages(ctx, tenantID, f)
	if err != nil {
		return nil, err
	}
	res := &search.Result{Total: total, TotalRelation: search.TotalExact}
	for _, m := range msgs {
		hl := html.EscapeString(m.Subject)
		if q := html.EscapeString(f.Query); q != "" {
			if i := strings.Index(strings.ToLower(hl), strings.ToLower(q)); i >= 0 {
				hl = hl[:i] + "<mark>" + hl[i:i+len(q)] + "</mark>" + hl[i+len(q):]
			}
		}
		res.Hits = append(res.Hits, search.Hit{ID: m.ID, MailboxID: m.MailboxID, GmailID: m.GmailID, ThreadID: m.GmailThreadID,
			Subject: m.Subject, From: m.From, Date: m.Date, Highlights: map[string][]string{"subject": {hl}}})
	}
	return res, nil
}

// recordingSyncer records enqueued syncs.
type recordingSyncer struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingSyncer) EnqueueSync(_ context.Context, tenantID, mailboxID int64, full bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%d/%d/%v", tenantID, mailboxID, full))
	return nil
}

// demoConnector creates a mailbox and fills it in the background in
// batches, advancing the progress like a full sync does.
type demoConnector struct {
	store    *models.Store
	messages []models.MessageWrite
	step     time.Duration
	wg       sync.WaitGroup
}

func (d *demoConnector) ConnectDemo(ctx context.Context, tenantID, ownerID int64) (*models.Mailbox, error) {
	m := &models.Mailbox{Email: fmt.Sprintf("demo-%d@demo.tidings.test", tenantID), OwnerID: ownerID, Provider: "demo"}
	if err := d.store.CreateMailbox(ctx, tenantID, m); err != nil {
		return nil, err
	}
	total := int64(len(d.messages))
	if err := d.store.UpdateMailbox(ctx, tenantID, m.ID, map[string]any{"sync_state": models.SyncFull, "progress_total": total, "progress_done": 0}); err != nil {
		return nil, err
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		bg := context.Background()
		for i, w := range d.messages {
			time.Sleep(d.step)
			if _, err := d.store.UpsertMessages(bg, tenantID, m.ID, []models.MessageWrite{w}); err != nil {
				_ = d.store.UpdateMailbox(bg, tenantID, m.ID, map[string]any{"sync_state": models.SyncError, "last_error": err.Error()})
				return
			}
			_ = d.store.UpdateMailbox(bg, tenantID, m.ID, map[string]any{"progress_done": int64(i + 1)})
		}
		now := time.Now().UTC()
		_ = d.store.UpdateMailbox(bg, tenantID, m.ID, map[string]any{"sync_state": models.SyncIdle, "last_sync_at": now})
	}()
	return m, nil
}

type fakeAttachments struct{}

func (fakeAttachments) FetchAttachment(_ context.Context, _ int64, a *models.Attachment) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("bytes of " + a.Filename)), nil
}

// storeLabels changes labels in the store only (no Gmail here).
type storeLabels struct{ store *models.Store }

func (l storeLabels) ChangeLabels(ctx context.Context, tenantID, messageID int64, add, remove []string) error {
	m, err := l.store.GetMessage(ctx, tenantID, messageID)
	if err != nil {
		return err
	}
	_, _, err = l.store.ChangeLabels(ctx, tenantID, m.MailboxID, m.GmailID, add, remove)
	return err
}

// tlog sends the server's warnings and errors to the test log.
type tlog struct{ t testing.TB }

func (l tlog) Write(p []byte) (int, error) { l.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

// env is a running server on a real store.
type env struct {
	t      testing.TB
	store  *models.Store
	srv    *Server
	ts     *httptest.Server
	syncer *recordingSyncer
	demo   *demoConnector
}

func newEnv(t testing.TB, store *models.Store, opts ...func(*Deps)) *env {
	t.Helper()
	e := &env{t: t, store: store, syncer: &recordingSyncer{}, demo: &demoConnector{store: store, step: 20 * time.Millisecond}}
	d := Deps{
		Store: store, Search: storeSearcher{store}, Sync: e.syncer, Demo: e.demo,
		Attachments: fakeAttachments{}, Labels: storeLabels{store}, SessionKey: make([]byte, 32),
		LoginLimit: LoginLimit{Every: time.Minute, Burst: 100},
		Logger:     slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	// The outbox is the real one without a queue or Gmail: items are
	// stored and never carried out unless a test does it.
	ob, err := mailsync.New(mailsync.Deps{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	d.Outbox = ob
	for _, o := range opts {
		o(&d)
	}
	srv, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(checkedAgainstOpenAPI(t, srv))
	t.Cleanup(func() { e.ts.Close(); e.demo.wg.Wait() })
	return e
}

// forEachEngine runs fn on SQLite and, when configured, Postgres.
func forEachEngine(t *testing.T, fn func(t *testing.T, store *models.Store)) {
	for _, eng := range testenv.Engines(t) {
		t.Run(eng.String(), func(t *testing.T) { fn(t, eng.Open(t)) })
	}
}

// tenantFix is one seeded tenant with one row of every kind.
type tenantFix struct {
	TenantID, UserID                                  int64
	Email, Password, Token                            string
	AccountID, ContactID, CaseID, MailboxID           int64
	ThreadID, MessageID, AttachmentID, APITokenID     int64
	OtherMessageID, InvitationID, SessionID, OutboxID int64
	MessageSubject, AccountName                       string
}

const testPassword = "correct horse battery"

func seedTenant(t testing.TB, s *models.Store, name string) tenantFix {
	t.Helper()
	ctx := context.Background()
	f := tenantFix{Email: "admin@" + name + ".example", Password: testPassword, AccountName: "Acct of " + name}
	tn, u, err := s.SignUp(ctx, "Org "+name, f.Email, "Admin "+name, f.Password)
	if err != nil {
		t.Fatal(err)
	}
	f.TenantID, f.UserID = tn.ID, u.ID
	a := &models.Account{Name: f.AccountName, Domains: []models.AccountDomain{{Domain: name + "-customer.example"}}}
	must(t, s.CreateAccount(ctx, f.TenantID, a))
	f.AccountID = a.ID
	c := &models.Contact{FirstName: "Carol", LastName: name, AccountID: &a.ID, Emails: []models.ContactEmail{{Address: "carol@" + name + "-customer.example"}}}
	must(t, s.CreateContact(ctx, f.TenantID, c))
	f.ContactID = c.ID
	cs := &models.Case{Subject: "Case of " + name, AccountID: &a.ID, ContactID: &c.ID}
	must(t, s.CreateCase(ctx, f.TenantID, cs))
	f.CaseID = cs.ID
	mb := &models.Mailbox{Email: "inbox@" + name + ".example", OwnerID: u.ID}
	must(t, s.CreateMailbox(ctx, f.TenantID, mb))
	f.MailboxID = mb.ID
	must(t, s.UpsertLabels(ctx, f.TenantID, mb.ID, []models.Label{{GmailID: "INBOX", Name: "INBOX", Type: models.LabelSystem}}))
	f.MessageSubject = "Invoice for " + name
	msgs, err := s.UpsertMessages(ctx, f.TenantID, mb.ID, []models.MessageWrite{
		messageWrite("m1-"+name, "t1-"+name, f.MessageSubject, "carol@"+name+"-customer.example", "<p>Hello from <b>"+name+"</b></p>", time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
			models.Attachment{PartID: "2", Filename: "invoice.pdf", ContentType: "application/pdf", Size: 12}),
		messageWrite("m2-"+name, "t2-"+name, "Lunch plans "+name, "friend@elsewhere.example", "", time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.MessageID, f.OtherMessageID = msgs[0].ID, msgs[1].ID
	full, err := s.GetMessage(ctx, f.TenantID, f.MessageID)
	if err != nil || len(full.Attachments) != 1 {
		t.Fatalf("seeded message: %v %+v", err, full)
	}
	f.AttachmentID = full.Attachments[0].ID
	threads, _, err := s.ListThreads(ctx, f.TenantID, mb.ID, models.Page{})
	if err != nil || len(threads) == 0 {
		t.Fatalf("threads: %v", err)
	}
	f.ThreadID = threads[0].ID
	must(t, s.LinkMessage(ctx, f.TenantID, cs.ID, f.MessageID))
	ob := &models.OutboxItem{MailboxID: mb.ID, UserID: u.ID, Kind: models.OutboxSend, State: models.OutboxFailed, Subject: "Sent by " + name, LastError: "test"}
	if _, err := s.CreateOutboxItem(ctx, f.TenantID, ob); err != nil {
		t.Fatal(err)
	}
	f.OutboxID = ob.ID
	plain, tok, err := s.CreateAPIToken(ctx, f.TenantID, u.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	f.Token, f.APITokenID = plain, tok.ID
	_, inv, err := s.CreateInvitation(ctx, f.TenantID, u.ID, "invitee@"+name+".example", models.RoleMember, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, sess, err := s.CreateSession(ctx, u.ID, f.TenantID, time.Hour, "seed", "127.0.0.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.InvitationID, f.SessionID = inv.ID, sess.ID
	return f
}

func messageWrite(gmailID, threadID, subject, from, htmlBody string, date time.Time, atts ...models.Attachment) models.MessageWrite {
	dom := from[strings.LastIndex(from, "@")+1:]
	return models.MessageWrite{
		Message: models.Message{GmailID: gmailID, GmailThreadID: threadID, Subject: subject, From: from, FromAddress: from,
			To: models.StringList{"me@example.com"}, Date: date, InternalDate: date, Snippet: "snippet of " + subject,
			Text: "Body of " + subject, HTML: htmlBody},
		LabelIDs:    []string{"INBOX"},
		Addresses:   []models.MessageAddress{{Role: "from", Address: from, Domain: dom}},
		Attachments: atts,
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// call makes a REST request with a bearer token.
func (e *env) call(method, path, token, body string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, b)
	}
	return m
}

// browser is a cookie-keeping HTTP client logged in to the UI.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (e *env) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{e: e, c: c}
}

func (e *env) loginAs(f tenantFix) *browser {
	e.t.Helper()
	b := e.newBrowser()
	resp, _ := b.post("/login", url.Values{"email": {f.Email}, "password": {f.Password}})
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login as %s: %d", f.Email, resp.StatusCode)
	}
	_, body := b.get("/settings")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatal("no CSRF token on /settings")
	}
	b.csrf = m[1]
	return b
}

func (b *browser) get(path string) (*http.Response, string) {
	b.e.t.Helper()
	resp, err := b.c.Get(b.e.ts.URL + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// post submits a form; the session's CSRF token is added when known and
// the form has none.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if b.csrf != "" && !form.Has("csrf_token") {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}
