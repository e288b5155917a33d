package web

import (
	"net/http"
)

// openAPI serves the OpenAPI 3.1 description of the REST API. It is
// written by hand (openapi.json) rather than generated from the routes, so
// that TestOpenAPIMatchesRoutes can catch a route that is missing from the
// document or a documented route that does not exist.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("openapi.json")
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/openapi+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}
