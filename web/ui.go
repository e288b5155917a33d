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
		s.render(w, r, http.StatusNotFound, "error", view{P: p, Title: "Not found", Data: "There is nothing here."})
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

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
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
	// withData passes a loop item to a sub-template with the page's view.
	"withData": func(v view, d any) view { v.Data = d; return v },
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
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
		t, err := template.New("layout").Funcs(funcs).Funcs(outboundFuncs).Parse(string(layout))
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
	t, ok := s.pages[page]
	if !ok {
		s.internalError(w, r, fmt.Errorf("web: no template %q", page))
		return
	}
	v.S = s
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
