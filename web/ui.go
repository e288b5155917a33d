package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"tidings/models"
)

// pageHandler is a UI handler for a logged-in user. Returning
// models.ErrNotFound renders the 404 page, which is the same for another
// tenant's ids as for ids that never existed.
type pageHandler func(w http.ResponseWriter, r *http.Request, p *principal) error

// page requires a session. State-changing methods must also carry the
// session's CSRF token.
func (s *Server) page(h pageHandler) http.Handler {
	return s.pageWithLimit(s.d.MaxBodyBytes, h)
}

// pageWithLimit is page with its own request body limit (compose forms
// carry attachments).
func (s *Server) pageWithLimit(limit int64, h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.sessionPrincipal(r)
		if p == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.forbidden(w, r, "not logged in")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if !csrfOK(r, p) {
				s.forbidden(w, r, "missing or invalid CSRF token")
				return
			}
		}
		r = withPrincipal(r, p)
		if err := h(w, r, p); err != nil {
			s.pageError(w, r, p, err)
		}
	})
}

// loadFromPath loads the record named by the {id} of the path within the
// caller's tenant; a malformed id is not found like a missing one.
func loadFromPath[T any](r *http.Request, p *principal, load func(ctx context.Context, tenantID, id int64) (*T, error)) (*T, error) {
	id, ok := pathID(r, "id")
	if !ok {
		return nil, models.ErrNotFound
	}
	return load(r.Context(), p.TenantID, id)
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, why string) {
	s.log.Info("request forbidden", "method", r.Method, "path", r.URL.Path, "reason", why)
	if strings.HasPrefix(r.URL.Path, "/api") {
		s.problem(w, r, Problem{Status: http.StatusForbidden, Detail: why})
		return
	}
	s.render(w, r, http.StatusForbidden, "error", view{Title: "Forbidden", Data: "This request was rejected (" + why + "). Reload the page and try again."})
}

func (s *Server) pageError(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	switch {
	case errors.Is(err, models.ErrNotFound):
		s.notFoundPage(w, r, p)
	case func() bool { _, _, ok := clientFault(err); return ok }():
		status, detail, _ := clientFault(err)
		s.render(w, r, status, "error", view{P: p, Title: "Not possible", Data: strings.ToUpper(detail[:1]) + detail[1:] + "."})
	case errors.Is(err, errNotConfigured):
		s.render(w, r, http.StatusNotImplemented, "error", view{P: p, Title: "Not available", Data: "This feature is not configured on this server."})
	default:
		s.internalError(w, r, err)
	}
}

// view is what every page template gets.
type view struct {
	Title string
	P     *principal
	Error string
	Form  url.Values
	Data  any
	S     *Server
	// Flash says what the previous action did ("Case deleted.").
	Flash string
}

func (v view) CSRF() string {
	if v.P == nil || v.P.Session == nil {
		return ""
	}
	return v.P.Session.CSRF
}

// Features tell templates which optional dependencies exist.
func (s *Server) HasSearch() bool { return s.d.Search != nil }

// HasGmail reports whether the Google OAuth flow is configured.
func (s *Server) HasGmail() bool { return s.d.Gmail != nil }

// HasDemo reports whether the demo mailbox can be connected.
func (s *Server) HasDemo() bool { return s.d.Demo != nil }

// HasSync reports whether syncs can be enqueued.
func (s *Server) HasSync() bool { return s.d.Sync != nil }

// HasLabels reports whether labels can be changed.
func (s *Server) HasLabels() bool { return s.d.Labels != nil }

// HasAttachments reports whether attachments can be downloaded.
func (s *Server) HasAttachments() bool { return s.d.Attachments != nil }

// highlightPolicy keeps only <mark> in search highlights, whatever the
// index returns.
var highlightPolicy = bluemonday.NewPolicy().AllowElements("mark")

// funcsFor returns the template functions; dates are shown in loc, the
// reader's time zone.
func funcsFor(loc *time.Location) template.FuncMap {
	return template.FuncMap{
		"date": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(loc).Format("2006-01-02 15:04")
		},
		// when is a list date: the time for today, the day otherwise.
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			t = t.In(loc)
			now := time.Now().In(loc)
			switch {
			case t.Year() == now.Year() && t.YearDay() == now.YearDay():
				return t.Format("15:04")
			case t.Year() == now.Year():
				return t.Format("Jan 2")
			}
			return t.Format("2006-01-02")
		},
		"iso":     func(t time.Time) string { return t.In(loc).Format(time.RFC3339) },
		"zone":    func() string { return loc.String() },
		"percent": func(m models.Mailbox) int { return percent(&m) },
		"done":    func(m models.Mailbox) bool { return m.SyncState == models.SyncIdle },
		"mark": func(frags []string) template.HTML {
			return template.HTML(highlightPolicy.Sanitize(strings.Join(frags, " … "))) //nolint:gosec // sanitized to <mark> only
		},
		"deref": func(p *int64) int64 {
			if p == nil {
				return 0
			}
			return *p
		},
		"is":    func(p *int64, id int64) bool { return p != nil && *p == id },
		"add":   func(a, b int) int { return a + b },
		"sub":   func(a, b int) int { return a - b },
		"join":  func(s []string) string { return strings.Join(s, ", ") },
		"lower": strings.ToLower,
		"has":   slices.Contains[[]string],
		"last":  func(i, n int) bool { return i == n-1 },
		"size":  humanSize,
		// withData passes a loop item to a sub-template with the page's view.
		"withData": func(v view, d any) view { v.Data = d; return v },
	}
}

// pageSet holds the parsed pages per time zone: html/template binds
// functions at parse time, so each zone readers use gets its own parse.
type pageSet struct {
	mu     sync.Mutex
	byZone map[string]map[string]*template.Template
}

func newPageSet() (*pageSet, error) {
	ps := &pageSet{byZone: map[string]map[string]*template.Template{}}
	if _, err := ps.get(time.UTC); err != nil {
		return nil, err
	}
	return ps, nil
}

func (ps *pageSet) get(loc *time.Location) (map[string]*template.Template, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.byZone[loc.String()]; ok {
		return p, nil
	}
	p, err := parsePages(loc)
	if err != nil {
		return nil, err
	}
	ps.byZone[loc.String()] = p
	return p, nil
}

// parsePages parses each page template together with the layout.
func parsePages(loc *time.Location) (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(assets, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	partials, _ := fs.Glob(assets, "templates/partials/*.html")
	out := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		body, err := fs.ReadFile(assets, f)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", f, err)
		}
		t, err := template.New("layout").Funcs(funcsFor(loc)).Funcs(outboundFuncs).Parse(string(layout))
		if err == nil && len(partials) > 0 {
			// Partials (templates/partials) are small blocks pages share,
			// kept apart so several features can add to one page.
			_, err = t.ParseFS(assets, "templates/partials/*.html")
		}
		if err == nil {
			_, err = t.New(name).Parse(string(body))
		}
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", f, err)
		}
		out[name] = t
	}
	return out, nil
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	s.renderTemplate(w, r, status, name, "layout", v)
}

// renderFragment renders one named block of a page (htmx partials).
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, page, block string, v view) {
	s.renderTemplate(w, r, http.StatusOK, page, block, v)
}

func (s *Server) renderTemplate(w http.ResponseWriter, r *http.Request, status int, page, block string, v view) {
	loc := time.UTC
	if v.P != nil && v.P.User != nil {
		loc = v.P.User.Location()
	}
	pages, err := s.pages.get(loc)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	t, ok := pages[page]
	if !ok {
		s.internalError(w, r, fmt.Errorf("web: no template %q", page))
		return
	}
	v.S = s
	if v.Flash == "" {
		v.Flash = takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, v); err != nil {
		s.internalError(w, r, fmt.Errorf("web: render %s/%s: %w", page, block, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func redirect(w http.ResponseWriter, r *http.Request, to string) {
	// htmx follows HX-Redirect; a plain form post follows the 303.
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// localPath accepts only same-site paths as a post-login target, so the
// login form cannot be used as an open redirector.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func formID(r *http.Request, name string) (*int64, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" || v == "0" {
		return nil, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("%s: not an id", name)
	}
	return &id, nil
}

func offsetParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("offset"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// pager is the data of the prev/next links under a list.
type pager struct {
	Offset, Limit int
	Total         int64
	Base          string // path with the other query parameters, ending in ? or &
}

func newPager(r *http.Request, limit int, total int64) pager {
	q := r.URL.Query()
	q.Del("offset")
	base := r.URL.Path + "?"
	if enc := q.Encode(); enc != "" {
		base += enc + "&"
	}
	return pager{Offset: offsetParam(r), Limit: limit, Total: total, Base: base}
}

func (p pager) HasPrev() bool { return p.Offset > 0 }
func (p pager) HasNext() bool { return int64(p.Offset+p.Limit) < p.Total }
func (p pager) Prev() string  { return p.Base + "offset=" + strconv.Itoa(max(0, p.Offset-p.Limit)) }
func (p pager) Next() string  { return p.Base + "offset=" + strconv.Itoa(p.Offset+p.Limit) }

const flashCookie = "tidings_flash"

// setFlash remembers for the next page what an action did; the page shows
// it once. The text is ours (never user input), so it needs no signing.
func setFlash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	msg, err := url.QueryUnescape(c.Value)
	if err != nil || len(msg) > 200 {
		return ""
	}
	return msg
}

// notFoundPage is the styled 404 for pages, problem+json under /api.
func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request, p *principal) {
	if strings.HasPrefix(r.URL.Path, "/api") {
		s.problem(w, r, Problem{Status: http.StatusNotFound, Detail: "no such resource"})
		return
	}
	s.render(w, r, http.StatusNotFound, "error", view{P: p, Title: "Page not found",
		Data: "There is nothing at " + r.URL.Path + ". It may have been deleted, or the link is mistyped."})
}

// renderError renders the error page without templates that could fail
// again (it is also the fallback when rendering itself failed).
func (s *Server) renderError(w http.ResponseWriter, _ *http.Request, status int, title, detail string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, struct{ Title, Detail string }{title, detail})
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · tidings</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header class="top"><a class="brand" href="/">tidings</a></header>
<main><section class="narrow card errorpage"><h1>{{.Title}}</h1><p>{{.Detail}}</p><p><a href="/">Back to the dashboard</a></p></section></main></body></html>`))

// humanSize writes a byte count as people read it (1.5 MB, 300 KB).
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt((n+512)>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
