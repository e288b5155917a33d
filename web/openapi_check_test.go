package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The API tests' server checks every /api response it gives against
// openapi.json (kin-openapi's openapi3filter.ValidateResponse): status
// documented for the operation, content type, headers and body schema.
// So the document is held to what the handlers really answer, not only to
// the route list (TestOpenAPIMatchesRoutes).

var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	raw, err := assets.ReadFile("openapi.json")
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

// checkedAgainstOpenAPI wraps the server so that an /api response that
// openapi.json does not describe fails the test.
func checkedAgainstOpenAPI(t testing.TB, h http.Handler) http.Handler {
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api") {
			h.ServeHTTP(w, r)
			return
		}
		// The route is looked up on a copy with an absolute URL, as the
		// router matches the document's servers.
		lookup := r.Clone(r.Context())
		lookup.URL.Scheme, lookup.URL.Host = "http", r.Host
		rec := &bufferedResponse{ResponseRecorder: httptest.NewRecorder(), real: w}
		h.ServeHTTP(rec, r)
		if route, params, err := router.FindRoute(lookup); err == nil {
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: lookup, PathParams: params, Route: route},
				Status:                 rec.Code,
				Header:                 rec.Header(),
				Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
			}
			in.SetBodyBytes(rec.Body.Bytes())
			if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
				t.Errorf("%s %s answered %d, which openapi.json does not describe: %v\nbody: %.400s",
					r.Method, r.URL.RequestURI(), rec.Code, err, rec.Body.Bytes())
			}
		}
		// A path the document does not have is TestOpenAPIMatchesRoutes'
		// business (every registered route is documented), not this one's.
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = io.Copy(w, bytes.NewReader(rec.Body.Bytes()))
	})
}

// bufferedResponse holds the response for validation; http.ResponseController
// still reaches the real connection (the server sets read deadlines on
// request bodies through it).
type bufferedResponse struct {
	*httptest.ResponseRecorder
	real http.ResponseWriter
}

func (b *bufferedResponse) Unwrap() http.ResponseWriter { return b.real }

// TestOpenAPIDocumentValid: the document passes kin-openapi's validation
// (loaded by openAPIRouter), and its license object is one every validator
// accepts: OpenAPI 3.1 §4.8.4 wants a name and either an SPDX identifier or
// a url, never both.
func TestOpenAPIDocumentValid(t *testing.T) {
	if _, err := openAPIRouter(); err != nil {
		t.Fatal(err)
	}
	raw, err := assets.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	l := doc.Info.License
	if l == nil || l.Name == "" || (l.Identifier == "") == (l.URL == "") {
		t.Fatalf("license = %+v: want a name and exactly one of identifier and url", l)
	}
}
