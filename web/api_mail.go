package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tidings/models"
	"tidings/search"
)

func (s *Server) registerMailAPI() {
	s.handle("GET", "/api/mailboxes", s.api(s.listMailboxes))
	s.handle("POST", "/api/mailboxes", s.api(s.connectMailbox))
	s.handle("GET", "/api/mailboxes/{id}", s.api(s.getMailbox))
	s.handle("DELETE", "/api/mailboxes/{id}", s.api(s.disconnectMailbox))
	s.handle("GET", "/api/mailboxes/{id}/sync", s.api(s.getSyncState))
	s.handle("POST", "/api/mailboxes/{id}/sync", s.api(s.syncNow))
	s.handle("GET", "/api/mailboxes/{id}/labels", s.api(s.listLabels))
	s.handle("GET", "/api/mailboxes/{id}/threads", s.api(s.listThreads))
	s.handle("GET", "/api/mailboxes/{id}/messages", s.api(s.mailboxMessages))
	s.handle("GET", "/api/threads/{id}", s.api(s.getThread))
	s.handle("GET", "/api/messages/{id}", s.api(s.getMessageAPI))
	s.handle("POST", "/api/messages/{id}/labels", s.api(s.changeLabelsAPI))
	s.handle("GET", "/api/messages/{id}/attachments/{attachmentId}", s.api(s.attachmentAPI))
	s.handle("GET", "/api/search", s.api(s.searchAPI))
	s.handle("GET", "/api/tokens", s.api(s.listTokens))
	s.handle("POST", "/api/tokens", s.api(s.createToken))
	s.handle("DELETE", "/api/tokens/{id}", s.api(s.deleteToken))
	s.registerOutboxAPI()
}

// Mailbox representation: the sync state and progress are part of it so a
// client can poll one resource.

type syncOut struct {
	State         models.SyncState `json:"state"`
	ProgressDone  int64            `json:"progress_done"`
	ProgressTotal int64            `json:"progress_total"`
	Percent       int              `json:"percent"`
	LastError     string           `json:"last_error,omitempty"`
	NeedsReauth   bool             `json:"needs_reauth"`
	LastSyncAt    *time.Time       `json:"last_sync_at"`
}

type mailboxOut struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Provider  string    `json:"provider"`
	OwnerID   int64     `json:"owner_id"`
	Sync      syncOut   `json:"sync"`
	CreatedAt time.Time `json:"created_at"`
	Links     links     `json:"_links"`
}

func syncRep(m *models.Mailbox) syncOut {
	return syncOut{State: m.SyncState, ProgressDone: m.ProgressDone, ProgressTotal: m.ProgressTotal,
		Percent: percent(m), LastError: m.LastError, NeedsReauth: m.NeedsReauth, LastSyncAt: m.LastSyncAt}
}

// percent is the sync progress; an idle mailbox is complete.
func percent(m *models.Mailbox) int {
	if m.SyncState == models.SyncIdle {
		return 100
	}
	if m.ProgressTotal <= 0 {
		return 0
	}
	return int(min(100, m.ProgressDone*100/m.ProgressTotal))
}

func mailboxRep(m *models.Mailbox) mailboxOut {
	return mailboxOut{ID: m.ID, Email: m.Email, Provider: m.Provider, OwnerID: m.OwnerID, Sync: syncRep(m), CreatedAt: m.CreatedAt,
		Links: links{
			"self":     lnk("/api/mailboxes/%d", m.ID),
			"sync":     {Href: "/api/mailboxes/" + itoa(m.ID) + "/sync", Title: "GET the sync state, POST to sync now"},
			"labels":   lnk("/api/mailboxes/%d/labels", m.ID),
			"threads":  lnk("/api/mailboxes/%d/threads", m.ID),
			"messages": lnk("/api/mailboxes/%d/messages", m.ID),
			"search":   {Href: "/api/search?mailbox_id=" + itoa(m.ID) + "{&q}", Templated: true},
		}}
}

func (s *Server) listMailboxes(w http.ResponseWriter, r *http.Request, p *principal) {
	items, err := s.d.Store.ListMailboxes(r.Context(), p.TenantID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]mailboxOut, len(items))
	for i := range items {
		out[i] = mailboxRep(&items[i])
	}
	l := links{"self": lnk("/api/mailboxes")}
	if s.d.Gmail != nil || s.d.Demo != nil {
		l["connect"] = link{Href: "/api/mailboxes", Title: `POST {"provider":"gmail"} or {"provider":"demo"}`}
	}
	s.writeHAL(w, r, http.StatusOK, map[string]any{"count": len(out), "_links": l, "_embedded": map[string]any{"mailboxes": out}})
}

func (s *Server) mailboxOf(w http.ResponseWriter, r *http.Request, p *principal) (*models.Mailbox, bool) {
	id, ok := pathID(r, "id")
	if !ok {
		s.apiNotFound(w, r)
		return nil, false
	}
	m, err := s.d.Store.GetMailbox(r.Context(), p.TenantID, id)
	if err != nil {
		s.apiError(w, r, err)
		return nil, false
	}
	return m, true
}

func (s *Server) getMailbox(w http.ResponseWriter, r *http.Request, p *principal) {
	if m, ok := s.mailboxOf(w, r, p); ok {
		s.writeHAL(w, r, http.StatusOK, mailboxRep(m))
	}
}

func (s *Server) getSyncState(w http.ResponseWriter, r *http.Request, p *principal) {
	m, ok := s.mailboxOf(w, r, p)
	if !ok {
		return
	}
	out := struct {
		syncOut
		Links links `json:"_links"`
	}{syncRep(m), links{"self": lnk("/api/mailboxes/%d/sync", m.ID), "up": lnk("/api/mailboxes/%d", m.ID)}}
	s.writeHAL(w, r, http.StatusOK, out)
}

type connectIn struct {
	Provider string `json:"provider"`
}

// connectMailbox starts connecting a mailbox. For Gmail it answers 202 with
// the OAuth consent URL (rel "authorize") for the user to open in a browser
// where they are logged in; for the demo it connects at once (201).
func (s *Server) connectMailbox(w http.ResponseWriter, r *http.Request, p *principal) {
	var in connectIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	switch in.Provider {
	case "gmail":
		if s.d.Gmail == nil {
			s.notConfigured(w, r, "Google OAuth")
			return
		}
		state, err := s.oauthState(p)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		s.writeHAL(w, r, http.StatusAccepted, map[string]any{
			"status": "authorization_required",
			"_links": links{"authorize": {Href: s.d.Gmail.AuthCodeURL(state), Type: "text/html"}, "mailboxes": lnk("/api/mailboxes")},
		})
	case "demo":
		if s.d.Demo == nil {
			s.notConfigured(w, r, "The demo mailbox")
			return
		}
		m, err := s.d.Demo.ConnectDemo(r.Context(), p.TenantID, p.User.ID)
		if err != nil {
			s.internalError(w, r, fmt.Errorf("web: connect demo mailbox: %w", err))
			return
		}
		w.Header().Set("Location", "/api/mailboxes/"+itoa(m.ID))
		s.writeHAL(w, r, http.StatusCreated, mailboxRep(m))
	default:
		s.invalid(w, r, InvalidParam{Name: "provider", Reason: `must be "gmail" or "demo"`})
	}
}

// disconnect removes a mailbox and its mail; the sync side, when it
// implements MailboxDisconnector, first stops syncing and drops the index.
func (s *Server) disconnect(r *http.Request, p *principal, id int64) error {
	if _, err := s.d.Store.GetMailbox(r.Context(), p.TenantID, id); err != nil {
		return err
	}
	if dc, ok := s.d.Sync.(MailboxDisconnector); ok {
		return dc.Disconnect(r.Context(), p.TenantID, id)
	}
	_, err := s.d.Store.DeleteMailbox(r.Context(), p.TenantID, id)
	return err
}

func (s *Server) disconnectMailbox(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := pathID(r, "id")
	if !ok {
		s.apiNotFound(w, r)
		return
	}
	if err := s.disconnect(r, p, id); err != nil {
		s.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type syncIn struct {
	Full bool `json:"full"`
}

func (s *Server) syncNow(w http.ResponseWriter, r *http.Request, p *principal) {
	m, ok := s.mailboxOf(w, r, p)
	if !ok {
		return
	}
	var in syncIn
	if r.ContentLength != 0 && !s.decodeJSON(w, r, &in) {
		return
	}
	if s.d.Sync == nil {
		s.notConfigured(w, r, "Mailbox sync")
		return
	}
	if err := s.d.Sync.EnqueueSync(r.Context(), p.TenantID, m.ID, in.Full); err != nil {
		s.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/mailboxes/"+itoa(m.ID)+"/sync")
	s.writeHAL(w, r, http.StatusAccepted, map[string]any{"status": "enqueued", "full": in.Full,
		"_links": links{"sync": lnk("/api/mailboxes/%d/sync", m.ID), "up": lnk("/api/mailboxes/%d", m.ID)}})
}

type labelOut struct {
	ID      int64            `json:"id"`
	GmailID string           `json:"gmail_id"`
	Name    string           `json:"name"`
	Type    models.LabelType `json:"type"`
	Links   links            `json:"_links"`
}

func (s *Server) listLabels(w http.ResponseWriter, r *http.Request, p *principal) {
	m, ok := s.mailboxOf(w, r, p)
	if !ok {
		return
	}
	items, err := s.d.Store.ListLabels(r.Context(), p.TenantID, m.ID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]labelOut, len(items))
	for i, l := range items {
		out[i] = labelOut{ID: l.ID, GmailID: l.GmailID, Name: l.Name, Type: l.Type,
			Links: links{"messages": lnk("/api/mailboxes/%d/messages?label=%s", m.ID, url.QueryEscape(l.GmailID))}}
	}
	s.writeHAL(w, r, http.StatusOK, map[string]any{"count": len(out),
		"_links":    links{"self": lnk("/api/mailboxes/%d/labels", m.ID), "up": lnk("/api/mailboxes/%d", m.ID)},
		"_embedded": map[string]any{"labels": out}})
}

type threadOut struct {
	ID            int64     `json:"id"`
	MailboxID     int64     `json:"mailbox_id"`
	GmailThreadID string    `json:"gmail_thread_id"`
	Subject       string    `json:"subject"`
	LastMessageAt time.Time `json:"last_message_at"`
	MessageCount  int       `json:"message_count"`
	Links         links     `json:"_links"`
	Embedded      any       `json:"_embedded,omitempty"`
}

func threadRep(t *models.Thread) threadOut {
	return threadOut{ID: t.ID, MailboxID: t.MailboxID, GmailThreadID: t.GmailThreadID, Subject: t.Subject,
		LastMessageAt: t.LastMessageAt, MessageCount: t.MessageCount,
		Links: links{"self": lnk("/api/threads/%d", t.ID), "mailbox": lnk("/api/mailboxes/%d", t.MailboxID)}}
}

func (s *Server) listThreads(w http.ResponseWriter, r *http.Request, p *principal) {
	m, ok := s.mailboxOf(w, r, p)
	if !ok {
		return
	}
	pg, ok := s.pageParams(w, r)
	if !ok {
		return
	}
	items, total, err := s.d.Store.ListThreads(r.Context(), p.TenantID, m.ID, pg)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]threadOut, len(items))
	for i := range items {
		out[i] = threadRep(&items[i])
	}
	s.writeHAL(w, r, http.StatusOK, newCollection(r, "threads", out, len(out), total, pg))
}

func (s *Server) getThread(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := pathID(r, "id")
	if !ok {
		s.apiNotFound(w, r)
		return
	}
	t, err := s.d.Store.GetThread(r.Context(), p.TenantID, id)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	msgs, _, err := s.d.Store.ListMessages(r.Context(), p.TenantID, models.MessageFilter{
		MailboxID: t.MailboxID, GmailThreadID: t.GmailThreadID, Page: models.Page{Limit: 500}})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := threadRep(t)
	reps := make([]messageOut, len(msgs))
	for i := range msgs {
		reps[i] = messageRep(&msgs[i], nil, false)
	}
	out.Embedded = map[string]any{"messages": reps}
	s.writeHAL(w, r, http.StatusOK, out)
}

type attachmentOut struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline"`
	Links       links  `json:"_links"`
}

type messageOut struct {
	ID             int64     `json:"id"`
	MailboxID      int64     `json:"mailbox_id"`
	GmailID        string    `json:"gmail_id"`
	GmailThreadID  string    `json:"gmail_thread_id"`
	Subject        string    `json:"subject"`
	From           string    `json:"from"`
	To             []string  `json:"to"`
	Cc             []string  `json:"cc"`
	Date           time.Time `json:"date"`
	Snippet        string    `json:"snippet"`
	Labels         []string  `json:"labels"`
	HasAttachments bool      `json:"has_attachments"`
	Text           *string   `json:"text,omitempty"`
	// HTML is the body as sanitized at ingest. Render it only in a
	// sandboxed frame.
	HTML        *string `json:"html,omitempty"`
	DecodeError string  `json:"decode_error,omitempty"`
	CaseIDs     []int64 `json:"case_ids,omitempty"`
	Links       links   `json:"_links"`
	Embedded    any     `json:"_embedded,omitempty"`
}

func messageRep(m *models.Message, caseIDs []int64, full bool) messageOut {
	out := messageOut{ID: m.ID, MailboxID: m.MailboxID, GmailID: m.GmailID, GmailThreadID: m.GmailThreadID, Subject: m.Subject,
		From: m.From, To: nonNil(m.To), Cc: nonNil(m.Cc), Date: m.Date, Snippet: m.Snippet, Labels: nonNil(m.LabelIDs()),
		HasAttachments: m.HasAttachments, DecodeError: m.DecodeError, CaseIDs: caseIDs,
		Links: links{
			"self":    lnk("/api/messages/%d", m.ID),
			"mailbox": lnk("/api/mailboxes/%d", m.MailboxID),
			"labels":  {Href: "/api/messages/" + itoa(m.ID) + "/labels", Title: `POST {"add":[…],"remove":[…]}`},
		}}
	for _, c := range caseIDs {
		out.Links["case"] = lnk("/api/cases/%d", c) // HAL allows an array; the first is enough here
		break
	}
	if full {
		out.Text, out.HTML = &m.Text, &m.HTML
		atts := make([]attachmentOut, len(m.Attachments))
		for i, a := range m.Attachments {
			atts[i] = attachmentOut{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, Inline: a.Inline,
				Links: links{"download": {Href: fmt.Sprintf("/api/messages/%d/attachments/%d", m.ID, a.ID), Type: a.ContentType}}}
		}
		out.Embedded = map[string]any{"attachments": atts}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) getMessageAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := pathID(r, "id")
	if !ok {
		s.apiNotFound(w, r)
		return
	}
	m, err := s.d.Store.GetMessage(r.Context(), p.TenantID, id)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	cases, err := s.d.Store.CaseIDsOfMessages(r.Context(), p.TenantID, []int64{m.ID})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.writeHAL(w, r, http.StatusOK, messageRep(m, cases[m.ID], true))
}

type labelsIn struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

func (s *Server) changeLabelsAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := pathID(r, "id")
	if !ok {
		s.apiNotFound(w, r)
		return
	}
	if _, err := s.d.Store.GetMessage(r.Context(), p.TenantID, id); err != nil {
		s.apiError(w, r, err)
		return
	}
	var in labelsIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if len(in.Add)+len(in.Remove) == 0 {
		s.invalid(w, r, InvalidParam{Name: "add", Reason: "add or remove at least one label"})
		return
	}
	if bad := checkLabelIDs(in.Add, in.Remove); len(bad) > 0 {
		s.invalid(w, r, bad...)
		return
	}
	if s.d.Labels == nil {
		s.notConfigured(w, r, "Changing labels")
		return
	}
	if err := s.d.Labels.ChangeLabels(r.Context(), p.TenantID, id, in.Add, in.Remove); err != nil {
		s.apiError(w, r, err)
		return
	}
	s.getMessageAPI(w, r, p)
}

// maxLabelChange bounds the labels of one change (Gmail's modify takes a
// handful; nobody applies thousands at once).
const maxLabelChange = 100

// checkLabelIDs rejects label ids no Gmail label can have: empty, over
// 256 bytes, invalid UTF-8 or with control characters.
func checkLabelIDs(add, remove []string) []InvalidParam {
	var bad []InvalidParam
	if len(add)+len(remove) > maxLabelChange {
		return []InvalidParam{{Name: "add", Reason: fmt.Sprintf("change at most %d labels at once", maxLabelChange)}}
	}
	for name, ids := range map[string][]string{"add": add, "remove": remove} {
		for i, id := range ids {
			if id == "" || len(id) > 256 || !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				bad = append(bad, InvalidParam{Name: fmt.Sprintf("%s[%d]", name, i), Reason: "is not a label id"})
			}
		}
	}
	return bad
}

// attachment streams an attachment of a message, fetched lazily.
func (s *Server) attachment(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok1 := pathID(r, "id")
	aid, ok2 := pathID(r, "attachmentId")
	if !ok1 || !ok2 {
		return models.ErrNotFound
	}
	a, err := s.d.Store.GetAttachment(r.Context(), p.TenantID, aid)
	if err != nil {
		return err
	}
	if a.MessageID != id {
		return models.ErrNotFound
	}
	if s.d.Attachments == nil {
		return errNotConfigured
	}
	rc, err := s.d.Attachments.FetchAttachment(r.Context(), p.TenantID, a)
	if err != nil {
		return fmt.Errorf("web: fetch attachment %d: %w", a.ID, err)
	}
	defer rc.Close()
	// Always a download, never rendered by the browser in our origin.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": safeFilename(a.Filename)}))
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Warn("attachment download interrupted", "attachment_id", a.ID, "err", err)
	}
	return nil
}

var errNotConfigured = errors.New("web: not configured")

func safeFilename(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == '/' || r == '\\' || r == '"' {
			return '_'
		}
		return r
	}, n)
	if n == "" {
		return "attachment"
	}
	return n
}

func (s *Server) attachmentAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	err := s.attachment(w, r, p)
	switch {
	case err == nil:
	case errors.Is(err, errNotConfigured):
		s.notConfigured(w, r, "Attachment download")
	default:
		s.apiError(w, r, err)
	}
}

// relatedMessages lists the messages of an account, contact or case: the
// parent must exist in the caller's tenant.
func (s *Server) relatedMessages(param string, set func(*models.MessageFilter, int64)) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		id, ok := pathID(r, param)
		if !ok {
			s.apiNotFound(w, r)
			return
		}
		var err error
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/accounts/"):
			_, err = s.d.Store.GetAccount(r.Context(), p.TenantID, id)
		case strings.HasPrefix(r.URL.Path, "/api/contacts/"):
			_, err = s.d.Store.GetContact(r.Context(), p.TenantID, id)
		case strings.HasPrefix(r.URL.Path, "/api/cases/"):
			_, err = s.d.Store.GetCase(r.Context(), p.TenantID, id)
		}
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		pg, ok := s.pageParams(w, r)
		if !ok {
			return
		}
		f := models.MessageFilter{Page: pg}
		set(&f, id)
		s.writeMessages(w, r, p, f)
	}
}

func (s *Server) mailboxMessages(w http.ResponseWriter, r *http.Request, p *principal) {
	m, ok := s.mailboxOf(w, r, p)
	if !ok {
		return
	}
	pg, ok := s.pageParams(w, r)
	if !ok {
		return
	}
	s.writeMessages(w, r, p, models.MessageFilter{Page: pg, MailboxID: m.ID, LabelID: r.URL.Query().Get("label")})
}

func (s *Server) writeMessages(w http.ResponseWriter, r *http.Request, p *principal, f models.MessageFilter) {
	items, total, err := s.d.Store.ListMessages(r.Context(), p.TenantID, f)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]messageOut, len(items))
	for i := range items {
		out[i] = messageRep(&items[i], nil, false)
	}
	s.writeHAL(w, r, http.StatusOK, newCollection(r, "messages", out, len(out), total, f.Page))
}

// searchRequest parses the search parameters shared by the API and the UI.
func searchRequest(r *http.Request) (search.Request, []InvalidParam) {
	q := r.URL.Query()
	req := search.Request{Query: q.Get("q"), After: q.Get("after")}
	var bad []InvalidParam
	var err error
	if req.Sort, err = search.ParseSort(q.Get("sort")); err != nil {
		bad = append(bad, InvalidParam{Name: "sort", Reason: "must be relevance, date_desc or date_asc"})
	}
	if v := q.Get("size"); v != "" {
		if req.Size, err = strconv.Atoi(v); err != nil || req.Size < 1 || req.Size > search.MaxSize {
			bad = append(bad, InvalidParam{Name: "size", Reason: fmt.Sprintf("must be an integer from 1 to %d", search.MaxSize)})
		}
	}
	for name, dst := range map[string]*[]int64{"mailbox_id": &req.MailboxIDs, "contact_id": &req.ContactIDs, "account_id": &req.AccountIDs, "case_id": &req.CaseIDs} {
		for _, v := range q[name] {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				bad = append(bad, InvalidParam{Name: name, Reason: "must be a positive integer id"})
				continue
			}
			*dst = append(*dst, id)
		}
	}
	return req, bad
}

type hitOut struct {
	ID         int64               `json:"id"`
	MailboxID  int64               `json:"mailbox_id"`
	ThreadID   string              `json:"gmail_thread_id"`
	Subject    string              `json:"subject"`
	From       string              `json:"from"`
	Date       time.Time           `json:"date"`
	Score      float64             `json:"score"`
	Highlights map[string][]string `json:"highlights,omitempty"`
	Links      links               `json:"_links"`
}

func (s *Server) searchAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	if s.d.Search == nil {
		s.notConfigured(w, r, "Search")
		return
	}
	req, bad := searchRequest(r)
	if len(bad) > 0 {
		s.invalid(w, r, bad...)
		return
	}
	res, err := s.d.Search.Search(r.Context(), p.TenantID, req)
	var syn *search.SyntaxError
	switch {
	case errors.As(err, &syn):
		s.invalid(w, r, InvalidParam{Name: "q", Reason: syn.Error()})
		return
	case errors.Is(err, search.ErrBadCursor):
		s.invalid(w, r, InvalidParam{Name: "after", Reason: "is not a cursor from a previous page of this search"})
		return
	case err != nil:
		s.internalError(w, r, fmt.Errorf("web: search: %w", err))
		return
	}
	hits := make([]hitOut, len(res.Hits))
	for i, h := range res.Hits {
		hits[i] = hitOut{ID: h.ID, MailboxID: h.MailboxID, ThreadID: h.ThreadID, Subject: h.Subject, From: h.From, Date: h.Date,
			Score: h.Score, Highlights: h.Highlights, Links: links{"self": lnk("/api/messages/%d", h.ID)}}
	}
	l := links{"self": {Href: r.URL.RequestURI()}}
	if res.Next != "" {
		q := r.URL.Query()
		q.Set("after", res.Next)
		l["next"] = link{Href: r.URL.Path + "?" + q.Encode()}
	}
	s.writeHAL(w, r, http.StatusOK, map[string]any{"total": res.Total, "count": len(hits), "_links": l,
		"_embedded": map[string]any{"messages": hits}})
}

// API tokens of the calling user.

type tokenOut struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Links      links      `json:"_links"`
}

func tokenRep(t *models.APIToken) tokenOut {
	return tokenOut{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, Links: links{"self": lnk("/api/tokens/%d", t.ID)}}
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p *principal) {
	items, err := s.d.Store.ListAPITokens(r.Context(), p.TenantID, p.User.ID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]tokenOut, len(items))
	for i := range items {
		out[i] = tokenRep(&items[i])
	}
	s.writeHAL(w, r, http.StatusOK, map[string]any{"count": len(out), "_links": links{"self": lnk("/api/tokens")},
		"_embedded": map[string]any{"tokens": out}})
}

type tokenIn struct {
	Name string `json:"name"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *principal) {
	var in tokenIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if strings.TrimSpace(in.Name) == "" {
		s.invalid(w, r, InvalidParam{Name: "name", Reason: "is required"})
		return
	}
	plain, t, err := s.d.Store.CreateAPIToken(r.Context(), p.TenantID, p.User.ID, strings.TrimSpace(in.Name))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := tokenRep(t)
	out.Token = plain // shown once; only its hash is stored
	w.Header().Set("Location", "/api/tokens/"+itoa(t.ID))
	s.writeHAL(w, r, http.StatusCreated, out)
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := pathID(r, "id")
	if !ok {
		s.apiNotFound(w, r)
		return
	}
	if err := s.d.Store.DeleteAPIToken(r.Context(), p.TenantID, p.User.ID, id); err != nil {
		s.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
