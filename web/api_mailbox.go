package web

import (
	"fmt"
	"net/http"
	"time"

	"tidings/models"
)

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
	out := repsOf(items, mailboxRep)
	l := links{"self": lnk("/api/mailboxes")}
	if s.d.Gmail != nil || s.d.Demo != nil {
		l["connect"] = link{Href: "/api/mailboxes", Title: `POST {"provider":"gmail"} or {"provider":"demo"}`}
	}
	s.writeHAL(w, r, http.StatusOK, map[string]any{"count": len(out), "_links": l, "_embedded": map[string]any{"mailboxes": out}})
}

func (s *Server) mailboxOf(w http.ResponseWriter, r *http.Request, p *principal) (*models.Mailbox, bool) {
	m, ok := loadOne(s, w, r, p, s.d.Store.GetMailbox)
	if !ok {
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
