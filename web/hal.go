package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"google.golang.org/api/googleapi"

	"tidings/models"
)

// HAL (draft-kelly-json-hal) and problem details (RFC 9457) helpers.

const (
	halType     = "application/hal+json"
	problemType = "application/problem+json"
)

// link is a HAL link object.
type link struct {
	Href      string `json:"href"`
	Templated bool   `json:"templated,omitempty"`
	Title     string `json:"title,omitempty"`
	Type      string `json:"type,omitempty"`
}

// links maps a link relation to its link.
type links map[string]link

func lnk(format string, args ...any) link { return link{Href: fmt.Sprintf(format, args...)} }

func (s *Server) writeHAL(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.internalError(w, r, fmt.Errorf("web: encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", halType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// InvalidParams lists field-level validation errors (the extension
	// member of RFC 9457 §3's example).
	InvalidParams []InvalidParam `json:"invalid-params,omitempty"`
}

// InvalidParam is one rejected field: its JSON name (or query parameter)
// and why.
type InvalidParam struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Problem type URIs. They are identifiers (RFC 9457 §3.1.1); "about:blank"
// is used when the HTTP status says it all.
const (
	probValidation  = "/api/problems/validation-error"
	probMalformed   = "/api/problems/malformed-json"
	probTooLarge    = "/api/problems/body-too-large"
	probUnsupported = "/api/problems/unsupported-media-type"
	probNotImpl     = "/api/problems/not-configured"
	probConflict    = "/api/problems/conflict"
	probRateLimited = "/api/problems/rate-limited"
)

func (s *Server) problem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	p.Instance = r.URL.Path
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", problemType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.problem(w, r, Problem{Status: http.StatusNotFound, Detail: "no such resource"})
}

func (s *Server) invalid(w http.ResponseWriter, r *http.Request, params ...InvalidParam) {
	s.problem(w, r, Problem{Type: probValidation, Title: "Your request is not valid.", Status: http.StatusBadRequest,
		Detail: "see invalid-params", InvalidParams: params})
}

func (s *Server) notConfigured(w http.ResponseWriter, r *http.Request, what string) {
	s.problem(w, r, Problem{Type: probNotImpl, Title: "Not configured", Status: http.StatusNotImplemented,
		Detail: what + " is not configured on this server"})
}

// apiError maps a store error: not-found (including other tenants' ids)
// to 404, conflicts to 409, anything else to 500 (logged, not shown).
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	if v, ok := models.AsValidation(err); ok {
		s.invalid(w, r, invalidParams(v)...)
		return
	}
	if status, detail, ok := clientFault(err); ok {
		s.problem(w, r, Problem{Status: status, Detail: detail})
		return
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		s.apiNotFound(w, r)
	case errors.Is(err, models.ErrConflict):
		s.problem(w, r, Problem{Type: probConflict, Status: http.StatusConflict, Detail: strings.TrimPrefix(conflictDetail(err), "models: ")})
	default:
		s.internalError(w, r, err)
	}
}

// clientFault recognises dependency errors the request caused, so they
// answer 4xx with their reason instead of 500: Gmail refusing an action
// with a 4xx (an unknown label, say; RFC 9110 §15.5), and a mailbox whose
// grant must be renewed before Gmail can be asked anything.
func clientFault(err error) (int, string, bool) {
	if errors.Is(err, models.ErrNeedsReauth) {
		return http.StatusConflict, "the mailbox needs re-authorization: reconnect it, then try again", true
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code >= 400 && ge.Code < 500 && ge.Code != http.StatusTooManyRequests &&
		ge.Code != http.StatusUnauthorized && ge.Code != http.StatusForbidden {
		msg := ge.Message
		if msg == "" {
			msg = http.StatusText(ge.Code)
		}
		status := http.StatusBadRequest
		if ge.Code == http.StatusNotFound {
			status = http.StatusUnprocessableEntity // the resource exists; what it names in Gmail does not
		}
		return status, "Gmail refused the request: " + msg, true
	}
	return 0, "", false
}

// invalidParams maps the store's validation errors to RFC 9457
// invalid-params.
func invalidParams(v models.ValidationErrors) []InvalidParam {
	out := make([]InvalidParam, len(v))
	for i, e := range v {
		out[i] = InvalidParam{Name: e.Field, Reason: e.Reason}
	}
	return out
}

// conflictDetail keeps the store's explanation but not the driver's text.
func conflictDetail(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": models: conflict"); i > 0 {
		return msg[:i]
	}
	return "the request conflicts with existing data"
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	if strings.HasPrefix(r.URL.Path, "/api") {
		s.problem(w, r, Problem{Status: http.StatusInternalServerError, Detail: "internal error; it has been logged"})
		return
	}
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "The error has been logged. Try again in a moment.")
}

// decodeJSON reads a JSON request body strictly: a JSON media type, at most
// MaxBodyBytes, one value, no unknown fields. On failure it has written the
// problem response and returns false.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/merge-patch+json" && !strings.HasSuffix(mt, "+json")) {
		s.problem(w, r, Problem{Type: probUnsupported, Status: http.StatusUnsupportedMediaType,
			Detail: "send the body as application/json"})
		return false
	}
	body := http.MaxBytesReader(w, r.Body, s.d.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data after the JSON value")
			var mbe *http.MaxBytesError
			if errors.As(extra, &mbe) {
				err = extra
			}
		}
	}
	if err == nil {
		return true
	}
	var (
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		mbe  *http.MaxBytesError
		fe   *fieldError
		unkn = strings.HasPrefix(err.Error(), "json: unknown field ")
	)
	switch {
	case errors.As(err, &mbe):
		s.problem(w, r, Problem{Type: probTooLarge, Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the body exceeds %d bytes", mbe.Limit)})
	case errors.As(err, &typ):
		name := typ.Field
		if name == "" {
			name = "(body)"
		}
		s.invalid(w, r, InvalidParam{Name: name, Reason: "must be " + jsonTypeName(typ.Type)})
	case errors.As(err, &fe):
		s.invalid(w, r, InvalidParam{Name: fe.field, Reason: fe.reason})
	case unkn:
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		s.invalid(w, r, InvalidParam{Name: name, Reason: "is not a known field"})
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		s.problem(w, r, Problem{Type: probMalformed, Title: "Malformed JSON", Status: http.StatusBadRequest,
			Detail: "the body is not valid JSON"})
	default:
		s.problem(w, r, Problem{Type: probMalformed, Title: "Malformed JSON", Status: http.StatusBadRequest, Detail: err.Error()})
	}
	return false
}

func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	}
	return "of type " + t.String()
}

type fieldError struct{ field, reason string }

func (e *fieldError) Error() string { return e.field + " " + e.reason }

// nullableID is an optional, nullable id in a PATCH body: absent leaves the
// field alone, null clears it (JSON Merge Patch semantics, RFC 7396).
type nullableID struct {
	Set bool
	ID  *int64
}

func (n *nullableID) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.ID = nil
		return nil
	}
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[int64]()}
	}
	n.ID = &v
	return nil
}

// pageParams parses limit/offset; on bad input it has written the problem.
func (s *Server) pageParams(w http.ResponseWriter, r *http.Request) (models.Page, bool) {
	p := models.Page{Limit: 25, Query: r.URL.Query().Get("q")}
	var bad []InvalidParam
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			bad = append(bad, InvalidParam{Name: "limit", Reason: "must be an integer from 1 to 200"})
		}
		p.Limit = n
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad = append(bad, InvalidParam{Name: "offset", Reason: "must be a non-negative integer"})
		}
		p.Offset = n
	}
	if len(bad) > 0 {
		s.invalid(w, r, bad...)
		return p, false
	}
	return p, true
}

// collection is a HAL collection page: _embedded[name] holds the items and
// _links has self/first/prev/next/last, which keep all other query
// parameters (filters) of the request.
type collection struct {
	Total  int64          `json:"total"`
	Count  int            `json:"count"`
	Limit  int            `json:"limit"`
	Offset int            `json:"offset"`
	Links  links          `json:"_links"`
	Embed  map[string]any `json:"_embedded"`
}

func newCollection(r *http.Request, name string, items any, count int, total int64, p models.Page) collection {
	at := func(off int) link {
		q := r.URL.Query()
		q.Set("limit", strconv.Itoa(p.Limit))
		q.Set("offset", strconv.Itoa(off))
		return link{Href: r.URL.Path + "?" + q.Encode()}
	}
	l := links{"self": at(p.Offset), "first": at(0)}
	if p.Offset > 0 {
		l["prev"] = at(max(0, p.Offset-p.Limit))
	}
	if int64(p.Offset+count) < total {
		l["next"] = at(p.Offset + p.Limit)
	}
	if total > 0 {
		l["last"] = at(int((total - 1) / int64(p.Limit) * int64(p.Limit)))
	}
	return collection{Total: total, Count: count, Limit: p.Limit, Offset: p.Offset, Links: l, Embed: map[string]any{name: items}}
}

// pathID parses the {name} path value; a malformed id is simply not found.
func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

// queryID parses an optional id filter.
func queryID(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, &fieldError{field: name, reason: "must be a positive integer id"}
	}
	return id, nil
}
