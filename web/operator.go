package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// Operators' tools (the queue UI, /metrics) show every tenant's queues and
// mailboxes, so a tenant's admin is not enough: only the admins of the
// operator tenant (the first organization, the one that set the instance
// up; models.Store.OperatorTenantID) get in with a browser session, and
// scrapers with the metrics bearer token.

// OperatorsOnly admits operators to h: a request with "Authorization:
// Bearer <token>" (RFC 6750 §2.1) when token is not empty, or a browser
// session of an admin of the operator tenant. Without credentials a
// browser is sent to the login page; an admin of another tenant gets 403.
// State-changing requests of a session must pass the cross-origin check
// (the queue UI's buttons post JSON without a CSRF token of ours).
func (s *Server) OperatorsOnly(h http.Handler, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if auth := r.Header.Get("Authorization"); auth != "" {
			if token != "" && bearerMatches(auth, token) {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="tidings operators"`)
			http.Error(w, "invalid bearer token", http.StatusUnauthorized)
			return
		}
		p := s.sessionPrincipal(r)
		if p == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		opTenant, err := s.d.Store.OperatorTenantID(r.Context())
		if err != nil || !p.Admin() || p.TenantID != opTenant {
			http.Error(w, "only the operator organization's admins may use this", http.StatusForbidden)
			return
		}
		s.cop.Handler(h).ServeHTTP(w, r)
	})
}

// bearerMatches compares an Authorization header with the expected token
// in constant time.
func bearerMatches(header, token string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}
