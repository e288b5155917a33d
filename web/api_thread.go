package web

import (
	"context"
	"net/http"
	"time"

	"tidings/models"
)

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

// threadsQuery reads GET /api/mailboxes/{id}/threads: the mailbox, which
// must be the caller's, and the page.
func (s *Server) threadsQuery(w http.ResponseWriter, r *http.Request, p *principal) (mailboxPage, models.Page, bool) {
	m, ok := s.mailboxOf(w, r, p)
	if !ok {
		return mailboxPage{}, models.Page{}, false
	}
	pg, ok := s.pageParams(w, r)
	return mailboxPage{MailboxID: m.ID, Page: pg}, pg, ok
}

// mailboxPage is one page of a mailbox's collection.
type mailboxPage struct {
	MailboxID int64
	models.Page
}

func (s *Server) listThreads(ctx context.Context, tenantID int64, q mailboxPage) ([]models.Thread, int64, error) {
	return s.d.Store.ListThreads(ctx, tenantID, q.MailboxID, q.Page)
}

func (s *Server) getThread(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := loadOne(s, w, r, p, s.d.Store.GetThread)
	if !ok {
		return
	}
	msgs, _, err := s.d.Store.ListMessages(r.Context(), p.TenantID, models.MessageFilter{
		MailboxID: t.MailboxID, GmailThreadID: t.GmailThreadID, Page: models.Page{Limit: 500}})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := threadRep(t)
	reps := repsOf(msgs, messageSummary)
	if !s.nameLabels(w, r, p, reps) {
		return
	}
	out.Embedded = map[string]any{"messages": reps}
	s.writeHAL(w, r, http.StatusOK, out)
}
