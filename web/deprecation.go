package web

import (
	"net/http"
	"strconv"
	"time"
)

// Deprecation announces that a route will be retired. The API has no
// version in its URLs: it evolves by adding, and what is retired is first
// announced on every response of the route with
//
//	Deprecation: @<unix time>           (RFC 9745)
//	Sunset: <HTTP-date>                 (RFC 8594)
//	Link: <doc>; rel="deprecation"      (RFC 9745 §3)
//	Link: <successor>; rel="successor-version"
//
// and with "deprecated: true" on the operation in /api/openapi.json. A
// route is deprecated by registering it with handleRoute and a non-nil
// route.Deprecated.
type Deprecation struct {
	// Since is when the route was deprecated.
	Since time.Time
	// Sunset is when it stops working; zero when not yet decided.
	Sunset time.Time
	// Doc explains the change; Successor is the route that replaces it.
	Doc, Successor string
}

func (d *Deprecation) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Deprecation", "@"+strconv.FormatInt(d.Since.Unix(), 10))
		if !d.Sunset.IsZero() {
			hd.Set("Sunset", d.Sunset.UTC().Format(http.TimeFormat))
		}
		if d.Doc != "" {
			hd.Add("Link", "<"+d.Doc+`>; rel="deprecation"; type="text/html"`)
		}
		if d.Successor != "" {
			hd.Add("Link", "<"+d.Successor+`>; rel="successor-version"`)
		}
		h.ServeHTTP(w, r)
	})
}
