package web

import (
	"net/http"
	"tidings/models"
	"time"
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
