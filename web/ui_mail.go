package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"tidings/models"
	"tidings/search"
)

func (s *Server) registerMailUI() {
	s.handle("GET", "/mailboxes/{id}/progress", s.page(s.progressFragment))
	s.handle("POST", "/mailboxes/connect/demo", s.page(s.connectDemoUI))
	s.handle("POST", "/mailboxes/connect/gmail", s.page(s.connectGmailUI))
	s.handle("GET", "/oauth/google/callback", s.page(s.oauthCallback))
	s.handle("POST", "/mailboxes/{id}/sync", s.page(s.syncUI))
	s.handle("POST", "/mailboxes/{id}/disconnect", s.page(s.disconnectUI))
	s.handle("GET", "/messages/{id}", s.page(s.messagePage))
	s.handle("GET", "/messages/{id}/body", s.page(s.messageBody))
	s.handle("GET", "/messages/{id}/attachments/{attachmentId}", s.page(s.attachmentUI))
	s.handle("POST", "/messages/{id}/link", s.page(s.linkUI))
	s.handle("GET", "/search", s.page(s.searchPage))
	s.handle("GET", "/search/results", s.page(s.searchResults))
}

type dashboardData struct {
	Mailboxes []models.Mailbox
	// HasDemoMailbox hides "Connect demo mailbox" once one is connected.
	HasDemoMailbox bool
	Accounts       int64
	Contacts       int64
	OpenCases      int64
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, p *principal) error {
	var d dashboardData
	var err error
	if d.Mailboxes, err = s.d.Store.ListMailboxes(r.Context(), p.TenantID); err != nil {
		return err
	}
	for _, m := range d.Mailboxes {
		d.HasDemoMailbox = d.HasDemoMailbox || isDemoAddress(m.Email)
	}
	if _, d.Accounts, err = s.d.Store.ListAccounts(r.Context(), p.TenantID, models.Page{Limit: 1}); err != nil {
		return err
	}
	if _, d.Contacts, err = s.d.Store.ListContacts(r.Context(), p.TenantID, models.Page{Limit: 1}); err != nil {
		return err
	}
	if _, d.OpenCases, err = s.d.Store.ListCases(r.Context(), p.TenantID, models.CaseFilter{Active: true, Page: models.Page{Limit: 1}}); err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "dashboard", view{Title: "Dashboard", P: p, Data: d})
	return nil
}

// progressFragment is polled by htmx every second while a sync runs; once
// the mailbox is idle the fragment it returns no longer polls.
func (s *Server) progressFragment(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := loadFromPath(r, p, s.d.Store.GetMailbox)
	if err != nil {
		return err
	}
	s.renderFragment(w, r, "dashboard", "progress", view{P: p, Data: m})
	return nil
}

func (s *Server) connectDemoUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.d.Demo == nil {
		return errNotConfigured
	}
	m, err := s.d.Demo.ConnectDemo(r.Context(), p.TenantID, p.User.ID)
	if err != nil {
		return fmt.Errorf("web: connect demo mailbox: %w", err)
	}
	setFlash(w, "Demo mailbox "+m.Email+" connected; its first sync is running.")
	redirect(w, r, "/")
	return nil
}

// oauthStateClaims bind an OAuth round trip to the user and tenant that
// started it (RFC 6749 §10.12); the callback also requires that user's
// session, so a consent obtained by an attacker cannot land in another
// tenant. Browser-started flows are further bound to a cookie nonce.
type oauthStateClaims struct {
	UserID   int64  `json:"u"`
	TenantID int64  `json:"t"`
	Expires  int64  `json:"e"`
	Nonce    string `json:"n,omitempty"`
}

var oauthAD = []byte("tidings:oauth-state:v1")

const oauthCookie = "tidings_oauth"

func (s *Server) sealState(c oauthStateClaims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("web: oauth state: %w", err)
	}
	sealed, err := s.sessions.cipher.Seal(b, oauthAD)
	if err != nil {
		return "", fmt.Errorf("web: oauth state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *Server) oauthState(p *principal) (string, error) {
	return s.sealState(oauthStateClaims{UserID: p.User.ID, TenantID: p.TenantID, Expires: s.d.Now().Add(15 * time.Minute).Unix()})
}

func (s *Server) connectGmailUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.d.Gmail == nil {
		return errNotConfigured
	}
	nonce := randomToken()
	state, err := s.sealState(oauthStateClaims{UserID: p.User.ID, TenantID: p.TenantID, Nonce: nonce,
		Expires: s.d.Now().Add(15 * time.Minute).Unix()})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: nonce, Path: "/oauth/", MaxAge: 900,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	redirect(w, r, s.d.Gmail.AuthCodeURL(state))
	return nil
}

func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.d.Gmail == nil {
		return errNotConfigured
	}
	q := r.URL.Query()
	fail := func(msg string) error {
		s.render(w, r, http.StatusBadRequest, "error", view{P: p, Title: "Gmail was not connected", Data: msg})
		return nil
	}
	if e := q.Get("error"); e != "" {
		return fail("Google answered: " + e + ".")
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Get("state"))
	if err != nil {
		return fail("The authorization response is not valid.")
	}
	plain, err := s.sessions.cipher.Open(raw, oauthAD)
	var c oauthStateClaims
	if err != nil || json.Unmarshal(plain, &c) != nil {
		return fail("The authorization response is not valid.")
	}
	if c.UserID != p.User.ID || c.TenantID != p.TenantID || s.d.Now().Unix() >= c.Expires {
		return fail("The authorization expired or was started by another user. Start again.")
	}
	if c.Nonce != "" {
		ck, err := r.Cookie(oauthCookie)
		if err != nil || ck.Value != c.Nonce {
			return fail("The authorization was started in another browser. Start again.")
		}
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Path: "/oauth/", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	if _, err := s.d.Gmail.Connect(r.Context(), p.TenantID, p.User.ID, q.Get("code")); err != nil {
		s.log.Warn("gmail connect failed", "tenant_id", p.TenantID, "err", err)
		return fail("Google did not accept the authorization. Try again.")
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

func (s *Server) syncUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	mb, err := loadFromPath(r, p, s.d.Store.GetMailbox)
	if err != nil {
		return err
	}
	if s.d.Sync == nil {
		return errNotConfigured
	}
	if err := s.d.Sync.EnqueueSync(r.Context(), p.TenantID, mb.ID, r.PostFormValue("full") == "1"); err != nil {
		return err
	}
	redirect(w, r, "/")
	return nil
}

func (s *Server) disconnectUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	if err := s.disconnect(r, p, id); err != nil {
		return err
	}
	setFlash(w, "Mailbox disconnected; its synced mail was removed from tidings.")
	redirect(w, r, "/")
	return nil
}

type messageData struct {
	Message *models.Message
	Cases   []models.Case
	Linked  []models.Case
	Thread  *models.Thread
	From    []person
	Labels  []labelView
}

func (s *Server) messagePage(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := loadFromPath(r, p, s.d.Store.GetMessage)
	if err != nil {
		return err
	}
	d := messageData{Message: m}
	if err := s.messageContext(r, p, &d); err != nil {
		return err
	}
	if d.Cases, _, err = s.d.Store.ListCases(r.Context(), p.TenantID, models.CaseFilter{Page: models.Page{Limit: 200}}); err != nil {
		return err
	}
	links, err := s.d.Store.CaseIDsByMessage(r.Context(), p.TenantID, []int64{m.ID})
	if err != nil {
		return err
	}
	for _, cid := range links[m.ID] {
		if c, err := s.d.Store.GetCase(r.Context(), p.TenantID, cid); err == nil {
			d.Linked = append(d.Linked, *c)
		}
	}
	s.render(w, r, http.StatusOK, "message", view{Title: m.Subject, P: p, Data: d})
	return nil
}

// messageBody serves the email's HTML for the sandboxed iframe of the
// message page. The HTML was sanitized at ingest; this response adds the
// last two walls: a CSP that loads and runs nothing, and a sandbox without
// allow-scripts or allow-same-origin (so even a sanitizer miss cannot run
// script or touch the app's origin).
func (s *Server) messageBody(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := loadFromPath(r, p, s.d.Store.GetMessage)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", messageFrameCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><base target="_blank"></head><body>`)
	if m.HTML != "" {
		b.WriteString(m.HTML)
	} else {
		b.WriteString(`<pre style="white-space:pre-wrap;font:14px/1.4 sans-serif">`)
		b.WriteString(html.EscapeString(m.Text))
		b.WriteString(`</pre>`)
	}
	b.WriteString(`</body></html>`)
	_, _ = w.Write([]byte(b.String()))
	return nil
}

func (s *Server) attachmentUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.attachment(w, r, p)
}

func (s *Server) linkUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	cid, err := formID(r, "case_id")
	if err != nil || cid == nil {
		return models.ErrNotFound
	}
	if err := s.d.Store.LinkMessage(r.Context(), p.TenantID, *cid, id); err != nil {
		return err
	}
	redirect(w, r, "/messages/"+itoa(id))
	return nil
}

type searchData struct {
	Q      string
	Sort   string // "date_desc" (newest first) or "relevance"
	Result *search.Result
	Error  string
	// FirstURL (on pages after the first) leads back to the start,
	// NextURL to the following page.
	FirstURL, NextURL string
}

func (s *Server) runSearch(r *http.Request, p *principal) (searchData, error) {
	req, bad := searchRequest(r)
	req.Location = p.User.Location()
	d := searchData{Q: req.Query, Sort: req.Sort.String()}
	if req.After != "" {
		d.FirstURL = "/search?" + url.Values{"q": {req.Query}, "sort": {d.Sort}}.Encode()
	}
	if len(bad) > 0 {
		d.Error = bad[0].Name + " " + bad[0].Reason
		return d, nil
	}
	if strings.TrimSpace(req.Query) == "" {
		return d, nil
	}
	if req.Size == 0 {
		req.Size = 25
	}
	res, err := s.d.Search.Search(r.Context(), p.TenantID, req)
	var syn *search.SyntaxError
	switch {
	case errors.As(err, &syn):
		d.Error = syn.Error()
	case errors.Is(err, search.ErrBadCursor):
		d.Error = "The page link is not valid for this search; start the search again."
	case err != nil:
		return d, fmt.Errorf("web: search: %w", err)
	default:
		d.Result = res
		if res.Next != "" {
			q := url.Values{"q": {req.Query}, "sort": {d.Sort}, "after": {res.Next}}
			d.NextURL = "/search?" + q.Encode()
		}
	}
	return d, nil
}

func (s *Server) searchPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.d.Search == nil {
		return errNotConfigured
	}
	d, err := s.runSearch(r, p)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "search", view{Title: "Search", P: p, Data: d})
	return nil
}

// searchResults is the htmx fragment behind as-you-type search.
func (s *Server) searchResults(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.d.Search == nil {
		return errNotConfigured
	}
	d, err := s.runSearch(r, p)
	if err != nil {
		return err
	}
	s.renderFragment(w, r, "search", "results", view{P: p, Data: d})
	return nil
}
