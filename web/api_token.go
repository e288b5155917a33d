package web

import (
	"net/http"
	"strings"
	"time"

	"tidings/models"
)

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
	out := repsOf(items, tokenRep)
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
