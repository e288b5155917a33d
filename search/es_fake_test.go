package search

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/typedapi/core/bulk"
	"github.com/elastic/go-elasticsearch/v8/typedapi/core/count"
	"github.com/elastic/go-elasticsearch/v8/typedapi/core/deletebyquery"
	"github.com/elastic/go-elasticsearch/v8/typedapi/core/search"
	"github.com/elastic/go-elasticsearch/v8/typedapi/core/updatebyquery"
	"github.com/elastic/go-elasticsearch/v8/typedapi/indices/putindextemplate"
	"github.com/elastic/go-elasticsearch/v8/typedapi/indices/updatealiases"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/operationtype"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/totalhitsrelation"
)

// fakeES answers the Elasticsearch 8 REST calls the backend makes, in
// Elasticsearch's response shapes (the typed API's response types),
// records every request, and decodes every request body strictly into the
// typed API's request type of its endpoint (specDecode): a body the
// specification would not accept fails the test and is answered 400, as
// Elasticsearch would. It keeps just enough state (templates, indices,
// aliases, bulk-loaded sources) to answer. It does not evaluate queries:
// searches are answered with the ids the test primes (answer), paged by
// the request's search_after, or with canned responses from testdata/es.
type fakeES struct {
	t  testing.TB
	mu sync.Mutex

	requests  []fakeRequest
	templates map[string]*putindextemplate.Request
	indices   map[string]bool
	aliases   map[string]map[string]types.AddAction // alias → index → definition
	docs      map[string]esDoc                      // _id → _source

	answer      []int64
	canned      [][]byte // _search responses served, in order, before answer is used
	rejectItems int      // answer this many bulk items with 429 before accepting
	reject429   int      // answer this many requests with HTTP 429 first
}

type fakeRequest struct {
	Method, Path string
	Query        url.Values
	Body         []byte
	Response     []byte // what the fake answered
}

func newFakeES(t testing.TB) (*fakeES, *httptest.Server) {
	f := &fakeES{t: t, templates: map[string]*putindextemplate.Request{}, indices: map[string]bool{},
		aliases: map[string]map[string]types.AddAction{}, docs: map[string]esDoc{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

type fakeWriter struct {
	http.ResponseWriter
	body *bytes.Buffer
}

func (w fakeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (f *fakeES) reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func esErr(typ, reason string, status int) map[string]any {
	return map[string]any{"error": map[string]any{"root_cause": []any{map[string]any{"type": typ, "reason": reason}},
		"type": typ, "reason": reason}, "status": status}
}

// decode decodes a request body strictly; a failure fails the test and is
// answered like Elasticsearch answers a body it cannot parse.
func (f *fakeES) decode(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if err := specDecode(body, v); err != nil {
		f.t.Errorf("%s %s: body outside the Elasticsearch specification: %v\n%s", r.Method, r.URL.Path, err, body)
		f.reply(w, http.StatusBadRequest, esErr("x_content_parse_exception", err.Error(), 400))
		return false
	}
	return true
}

func (f *fakeES) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	w := fakeWriter{rw, &bytes.Buffer{}}
	defer func() {
		f.requests = append(f.requests, fakeRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, Response: w.body.Bytes()})
	}()
	if f.reject429 > 0 {
		f.reject429--
		f.reply(w, http.StatusTooManyRequests, esErr("es_rejected_execution_exception", "rejected execution of coordinating operation", 429))
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	last := parts[len(parts)-1]
	switch {
	case r.Method == http.MethodPut && len(parts) == 2 && parts[0] == "_index_template":
		var tmpl putindextemplate.Request
		if f.decode(w, r, body, &tmpl) {
			f.templates[parts[1]] = &tmpl
			f.reply(w, 200, map[string]any{"acknowledged": true})
		}
	case r.Method == http.MethodPut && len(parts) == 1:
		f.createIndex(w, parts[0], body)
	case r.Method == http.MethodDelete && len(parts) == 1:
		delete(f.indices, parts[0])
		for _, idx := range f.aliases {
			delete(idx, parts[0])
		}
		f.reply(w, 200, map[string]any{"acknowledged": true})
	case r.Method == http.MethodDelete && len(parts) == 2 && parts[0] == "_index_template":
		delete(f.templates, parts[1])
		f.reply(w, 200, map[string]any{"acknowledged": true})
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && len(parts) == 2 && parts[0] == "_alias":
		f.getAlias(w, parts[1])
	case r.Method == http.MethodGet && len(parts) == 2 && last == "_alias":
		as := map[string]types.AliasDefinition{}
		for alias, defs := range f.aliases {
			if def, ok := defs[parts[0]]; ok {
				as[alias] = types.AliasDefinition{Filter: def.Filter, Routing: def.Routing}
			}
		}
		f.reply(w, 200, map[string]types.IndexAliases{parts[0]: {Aliases: as}})
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "_aliases":
		var req updatealiases.Request
		if f.decode(w, r, body, &req) {
			f.updateAliases(w, &req)
		}
	case r.Method == http.MethodPost && last == "_bulk":
		f.bulk(w, r, parts, body)
	case r.Method == http.MethodPost && len(parts) == 2 && last == "_search":
		var req search.Request
		if f.decode(w, r, body, &req) && f.decodeSort(w, r, req.Sort) {
			f.search(w, parts[0], &req)
		}
	case r.Method == http.MethodPost && len(parts) == 2 && last == "_count":
		var req count.Request
		if !f.decode(w, r, body, &req) {
			return
		}
		if !f.resolves(parts[0]) {
			f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+parts[0]+"]", 404))
			return
		}
		f.reply(w, 200, count.Response{Count: int64(len(f.answer)), Shards_: types.ShardStatistics{Total: 1, Successful: 1}})
	case r.Method == http.MethodPost && len(parts) == 2 && (last == "_delete_by_query" || last == "_update_by_query"):
		f.byQuery(w, r, parts[0], last, body)
	default:
		f.reply(w, 400, esErr("illegal_argument_exception", "fake does not handle "+r.Method+" "+r.URL.Path, 400))
	}
}

func (f *fakeES) createIndex(w http.ResponseWriter, name string, body []byte) {
	if len(bytes.TrimSpace(body)) > 0 {
		f.t.Errorf("create index %s with a body; settings belong in the index template: %s", name, body)
	}
	if f.indices[name] {
		f.reply(w, 400, esErr("resource_already_exists_exception", "index exists", 400))
		return
	}
	f.indices[name] = true
	f.reply(w, 200, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name})
}

func (f *fakeES) getAlias(w http.ResponseWriter, alias string) {
	defs, ok := f.aliases[alias]
	if !ok || len(defs) == 0 {
		// Elasticsearch answers a missing alias with a plain-string error.
		f.reply(w, 404, map[string]any{"error": "alias [" + alias + "] missing", "status": 404})
		return
	}
	out := map[string]types.IndexAliases{}
	for idx, def := range defs {
		out[idx] = types.IndexAliases{Aliases: map[string]types.AliasDefinition{alias: {Filter: def.Filter, Routing: def.Routing}}}
	}
	f.reply(w, 200, out)
}

// decodeSort decodes each sort clause strictly: the request type holds
// them as untyped values.
func (f *fakeES) decodeSort(w http.ResponseWriter, r *http.Request, sort []types.SortCombinations) bool {
	for _, s := range sort {
		b, _ := json.Marshal(s)
		if !f.decode(w, r, b, &types.SortOptions{}) {
			return false
		}
	}
	return true
}

func (f *fakeES) resolves(name string) bool { return f.indices[name] || len(f.aliases[name]) > 0 }

func (f *fakeES) updateAliases(w http.ResponseWriter, req *updatealiases.Request) {
	for _, a := range req.Actions {
		switch {
		case a.Add != nil:
			idx, alias := derefStr(a.Add.Index), derefStr(a.Add.Alias)
			if !f.indices[idx] {
				f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+idx+"]", 404))
				return
			}
			if f.aliases[alias] == nil {
				f.aliases[alias] = map[string]types.AddAction{}
			}
			f.aliases[alias][idx] = *a.Add
		case a.Remove != nil:
			delete(f.aliases[derefStr(a.Remove.Alias)], derefStr(a.Remove.Index))
		}
	}
	f.reply(w, 200, updatealiases.Response{Acknowledged: true})
}

// bulk parses the NDJSON body (https://www.elastic.co/guide/en/elasticsearch/reference/8.19/docs-bulk.html):
// each action line strictly as a types.OperationContainer, each source
// line strictly as the document the mapping describes.
func (f *fakeES) bulk(w http.ResponseWriter, r *http.Request, parts []string, body []byte) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		f.reply(w, 400, esErr("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]", 400))
		return
	}
	target := ""
	if len(parts) == 2 {
		target = parts[0]
	}
	if r.URL.Query().Get("require_alias") == "true" && len(f.aliases[target]) == 0 {
		f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+target+"] and [require_alias] request flag is [true]", 404))
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	res := bulk.Response{Took: 3}
	for sc.Scan() {
		var op types.OperationContainer
		if !f.decode(w, r, sc.Bytes(), &op) {
			return
		}
		if op.Index == nil || !sc.Scan() {
			f.reply(w, 400, esErr("illegal_argument_exception", "expected an index action with a source line", 400))
			return
		}
		src, err := decodeSource(sc.Bytes())
		if err != nil {
			f.t.Errorf("bulk source outside the mapping: %v", err)
			f.reply(w, 400, esErr("strict_dynamic_mapping_exception", err.Error(), 400))
			return
		}
		id := derefStr(op.Index.Id_)
		item := types.ResponseItem{Index_: target, Id_: &id, Status: 201}
		if f.rejectItems > 0 {
			f.rejectItems--
			reason := "rejected execution of primary operation"
			item.Status, item.Error = 429, &types.ErrorCause{Type: "es_rejected_execution_exception", Reason: &reason}
			res.Errors = true
		} else {
			f.docs[id] = src
		}
		res.Items = append(res.Items, map[operationtype.OperationType]types.ResponseItem{operationtype.Index: item})
	}
	f.reply(w, 200, res)
}

// decodeSource decodes a bulk source line into esDoc, rejecting fields it
// does not have; TestElasticsearchMapping checks esDoc against the mapping.
func decodeSource(b []byte) (esDoc, error) {
	var d esDoc
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&d)
	return d, err
}

// byQuery answers _delete_by_query and _update_by_query, counting the
// stored documents that match the ids + tenant_id filter they send.
func (f *fakeES) byQuery(w http.ResponseWriter, r *http.Request, target, op string, body []byte) {
	var q *types.Query
	if op == "_update_by_query" {
		var req updatebyquery.Request
		if !f.decode(w, r, body, &req) {
			return
		}
		q = req.Query
	} else {
		var req deletebyquery.Request
		if !f.decode(w, r, body, &req) {
			return
		}
		q = req.Query
	}
	if !f.resolves(target) {
		f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+target+"]", 404))
		return
	}
	n := int64(0)
	if q != nil && q.Bool != nil {
		var tenant any
		var ids []string
		for _, c := range q.Bool.Filter {
			if t, ok := c.Term["tenant_id"]; ok {
				tenant = t.Value
			}
			if c.Ids != nil {
				ids = c.Ids.Values
			}
		}
		for _, id := range ids {
			if d, ok := f.docs[id]; ok && fmt.Sprint(d.TenantID) == fmt.Sprint(tenant) {
				n++
			}
		}
	}
	res := map[string]any{"took": 1, "timed_out": false, "total": n, "failures": []any{}}
	key := "deleted"
	if op == "_update_by_query" {
		key = "updated"
	}
	res[key] = n
	f.reply(w, 200, res)
}

func (f *fakeES) search(w http.ResponseWriter, target string, req *search.Request) {
	if !f.resolves(target) {
		f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+target+"]", 404))
		return
	}
	if len(f.canned) > 0 {
		body := f.canned[0]
		f.canned = f.canned[1:]
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		return
	}
	start := 0
	if n := len(req.SearchAfter); n > 0 {
		last, _ := strconv.ParseInt(fmt.Sprint(req.SearchAfter[n-1]), 10, 64)
		start = slices.Index(f.answer, last) + 1
	}
	size := 10
	if req.Size != nil {
		size = *req.Size
	}
	end := min(start+size, len(f.answer))
	hits := []types.Hit{}
	for i := max(start, 0); i < end; i++ {
		hits = append(hits, f.hit(target, i, req.Sort))
	}
	f.reply(w, 200, search.Response{Took: 2, Shards_: types.ShardStatistics{Total: 1, Successful: 1},
		Hits: types.HitsMetadata{Total: &types.TotalHits{Value: int64(len(f.answer)), Relation: totalhitsrelation.Eq}, Hits: hits}})
}

// hit answers the i-th primed id with its stored source and the sort
// values the request's sort asks for.
func (f *fakeES) hit(target string, i int, sort []types.SortCombinations) types.Hit {
	id := strconv.FormatInt(f.answer[i], 10)
	d := f.docs[id]
	src, _ := json.Marshal(d)
	score := types.Float64(10 - float64(i)*0.25)
	var sortVals []types.FieldValue
	for _, s := range sort {
		b, _ := json.Marshal(s)
		var opt types.SortOptions
		_ = json.Unmarshal(b, &opt)
		switch {
		case opt.Score_ != nil:
			sortVals = append(sortVals, float64(score))
		case opt.SortOptions["date"].Order != nil:
			sortVals = append(sortVals, d.Date.UnixMilli())
		case opt.SortOptions["id"].Order != nil:
			sortVals = append(sortVals, f.answer[i])
		}
	}
	return types.Hit{Index_: target, Id_: &id, Score_: &score, Source_: src, Sort: sortVals,
		Highlight: map[string][]string{"subject.prefix": {"<mark>" + d.Subject + "</mark>"}}}
}

func (f *fakeES) take(match func(fakeRequest) bool) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.requests {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

func pathSuffix(s string) func(fakeRequest) bool {
	return func(r fakeRequest) bool { return strings.HasSuffix(r.Path, s) }
}
