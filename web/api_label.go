package web

import (
	"net/http"
	"net/url"

	"tidings/models"
)

type labelOut struct {
	ID      int64            `json:"id"`
	GmailID string           `json:"gmail_id"`
	Name    string           `json:"name"`
	Type    models.LabelType `json:"type"`
	// BackgroundColor and TextColor are Gmail's label colours, when set.
	BackgroundColor string `json:"background_color,omitempty"`
	TextColor       string `json:"text_color,omitempty"`
	Links           links  `json:"_links"`
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
		out[i] = labelOut{ID: l.ID, GmailID: l.GmailID, Name: l.Name, Type: l.Type, BackgroundColor: l.BackgroundColor, TextColor: l.TextColor,
			Links: links{"messages": lnk("/api/mailboxes/%d/messages?label=%s", m.ID, url.QueryEscape(l.GmailID))}}
	}
	s.writeHAL(w, r, http.StatusOK, map[string]any{"count": len(out),
		"_links":    links{"self": lnk("/api/mailboxes/%d/labels", m.ID), "up": lnk("/api/mailboxes/%d", m.ID)},
		"_embedded": map[string]any{"labels": out}})
}
