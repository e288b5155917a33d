package search

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeES answers the Elasticsearch 8 REST calls the backend makes, records
// every request, and keeps just enough state (templates, indices, aliases,
// bulk-loaded sources) to answer them in Elasticsearch's response shapes.
// It does not evaluate queries: searches are answered with the ids the test
// primes, paged by the request's search_after.
type fakeES struct {
	t  testing.TB
	mu sync.Mutex

	requests  []fakeRequest
	templates map[string]map[string]any
	indices   map[string]bool
	aliases   map[string]map[string]map[string]any // alias → index → definition
	docs      map[string]map[string]any            // _id → _source

	answer      []int64
	rejectItems int // answer this many bulk items with 429 before accepting
	reject429   int // answer this many requests with HTTP 429 first
}

type fakeRequest struct {
	Method, Path string
	Query        url.Values
	Body         []byte
}

func newFakeES(t testing.TB) (*fakeES, *httptest.Server) {
	f := &fakeES{t: t, templates: map[string]map[string]any{}, indices: map[string]bool{},
		aliases: map[string]map[string]map[string]any{}, docs: map[string]map[string]any{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
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

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, fakeRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body})
	if f.reject429 > 0 {
		f.reject429--
		f.reply(w, http.StatusTooManyRequests, esErr("es_rejected_execution_exception", "rejected execution of coordinating operation", 429))
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodPut && len(parts) == 2 && parts[0] == "_index_template":
		var tmpl map[string]any
		if err := json.Unmarshal(body, &tmpl); err != nil {
			f.reply(w, 400, esErr("parse_exception", err.Error(), 400))
			return
		}
		f.templates[parts[1]] = tmpl
		f.reply(w, 200, map[string]any{"acknowledged": true})
	case r.Method == http.MethodPut && len(parts) == 1:
		if f.indices[parts[0]] {
			f.reply(w, 400, esErr("resource_already_exists_exception", "index exists", 400))
			return
		}
		f.indices[parts[0]] = true
		f.reply(w, 200, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": parts[0]})
	case r.Method == http.MethodDelete && len(parts) == 1:
		delete(f.indices, parts[0])
		for _, idx := range f.aliases {
			delete(idx, parts[0])
		}
		f.reply(w, 200, map[string]any{"acknowledged": true})
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && len(parts) == 2 && parts[0] == "_alias":
		defs, ok := f.aliases[parts[1]]
		if !ok || len(defs) == 0 {
			// Elasticsearch answers a missing alias with a plain-string error.
			f.reply(w, 404, map[string]any{"error": "alias [" + parts[1] + "] missing", "status": 404})
			return
		}
		out := map[string]any{}
		for idx, def := range defs {
			out[idx] = map[string]any{"aliases": map[string]any{parts[1]: def}}
		}
		f.reply(w, 200, out)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[1] == "_alias":
		as := map[string]any{}
		for alias, defs := range f.aliases {
			if def, ok := defs[parts[0]]; ok {
				as[alias] = def
			}
		}
		f.reply(w, 200, map[string]any{parts[0]: map[string]any{"aliases": as}})
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "_aliases":
		f.updateAliases(w, body)
	case r.Method == http.MethodPost && parts[len(parts)-1] == "_bulk":
		f.bulk(w, parts, r.URL.Query(), body)
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "_search":
		f.search(w, parts[0], body)
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "_count":
		if !f.resolves(parts[0]) {
			f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+parts[0]+"]", 404))
			return
		}
		f.reply(w, 200, map[string]any{"count": len(f.answer), "_shards": map[string]any{"total": 1, "successful": 1}})
	case r.Method == http.MethodPost && len(parts) == 2 && (parts[1] == "_delete_by_query" || parts[1] == "_update_by_query"):
		if !f.resolves(parts[0]) {
			f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+parts[0]+"]", 404))
			return
		}
		n := f.matchIDsQuery(body)
		key := "deleted"
		if parts[1] == "_update_by_query" {
			key = "updated"
		}
		f.reply(w, 200, map[string]any{"took": 1, "timed_out": false, "total": n, key: n, "failures": []any{}})
	default:
		f.reply(w, 400, esErr("illegal_argument_exception", "fake does not handle "+r.Method+" "+r.URL.Path, 400))
	}
}

func (f *fakeES) resolves(name string) bool { return f.indices[name] || len(f.aliases[name]) > 0 }

func (f *fakeES) updateAliases(w http.ResponseWriter, body []byte) {
	var req struct {
		Actions []map[string]map[string]any `json:"actions"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		f.reply(w, 400, esErr("parse_exception", err.Error(), 400))
		return
	}
	for _, a := range req.Actions {
		for verb, def := range a {
			idx, _ := def["index"].(string)
			alias, _ := def["alias"].(string)
			if !f.indices[idx] {
				f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+idx+"]", 404))
				return
			}
			switch verb {
			case "add":
				if f.aliases[alias] == nil {
					f.aliases[alias] = map[string]map[string]any{}
				}
				f.aliases[alias][idx] = def
			case "remove":
				delete(f.aliases[alias], idx)
			}
		}
	}
	f.reply(w, 200, map[string]any{"acknowledged": true})
}

// bulk parses the NDJSON body (https://www.elastic.co/guide/en/elasticsearch/reference/8.19/docs-bulk.html).
func (f *fakeES) bulk(w http.ResponseWriter, parts []string, q url.Values, body []byte) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		f.reply(w, 400, esErr("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]", 400))
		return
	}
	target := ""
	if len(parts) == 2 {
		target = parts[0]
	}
	if q.Get("require_alias") == "true" && len(f.aliases[target]) == 0 {
		f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+target+"] and [require_alias] request flag is [true]", 404))
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var items []any
	for sc.Scan() {
		var action map[string]map[string]any
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			f.reply(w, 400, esErr("x_content_parse_exception", err.Error(), 400))
			return
		}
		meta, ok := action["index"]
		if !ok || !sc.Scan() {
			f.reply(w, 400, esErr("illegal_argument_exception", "expected an index action with a source line", 400))
			return
		}
		var src map[string]any
		if err := json.Unmarshal(sc.Bytes(), &src); err != nil {
			f.reply(w, 400, esErr("mapper_parsing_exception", err.Error(), 400))
			return
		}
		id, _ := meta["_id"].(string)
		if f.rejectItems > 0 {
			f.rejectItems--
			items = append(items, map[string]any{"index": map[string]any{"_index": target, "_id": id, "status": 429,
				"error": map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution of primary operation"}}})
			continue
		}
		f.docs[id] = src
		items = append(items, map[string]any{"index": map[string]any{"_index": target, "_id": id, "_version": 1,
			"result": "created", "status": 201, "_seq_no": 0, "_primary_term": 1,
			"_shards": map[string]any{"total": 1, "successful": 1, "failed": 0}}})
	}
	errs := slices.ContainsFunc(items, func(it any) bool {
		return it.(map[string]any)["index"].(map[string]any)["status"] != 201
	})
	f.reply(w, 200, map[string]any{"took": 3, "errors": errs, "items": items})
}

// matchIDsQuery counts stored documents matching the ids + tenant_id
// filter that Delete and UpdateLabels send.
func (f *fakeES) matchIDsQuery(body []byte) int {
	var q struct {
		Query struct {
			Bool struct {
				Filter []map[string]map[string]any `json:"filter"`
			} `json:"bool"`
		} `json:"query"`
	}
	_ = json.Unmarshal(body, &q)
	var tenant float64
	var ids []any
	for _, c := range q.Query.Bool.Filter {
		if t, ok := c["term"]; ok {
			tenant, _ = t["tenant_id"].(float64)
		}
		if i, ok := c["ids"]; ok {
			ids, _ = i["values"].([]any)
		}
	}
	n := 0
	for _, id := range ids {
		if d, ok := f.docs[id.(string)]; ok && d["tenant_id"] == tenant {
			n++
		}
	}
	return n
}

func (f *fakeES) search(w http.ResponseWriter, target string, body []byte) {
	if !f.resolves(target) {
		f.reply(w, 404, esErr("index_not_found_exception", "no such index ["+target+"]", 404))
		return
	}
	var req struct {
		Size        int               `json:"size"`
		SearchAfter []json.RawMessage `json:"search_after"`
		Sort        []map[string]any  `json:"sort"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		f.reply(w, 400, esErr("parsing_exception", err.Error(), 400))
		return
	}
	start := 0
	if n := len(req.SearchAfter); n > 0 {
		last, _ := strconv.ParseInt(string(req.SearchAfter[n-1]), 10, 64)
		start = slices.Index(f.answer, last) + 1
	}
	end := min(start+req.Size, len(f.answer))
	hits := []any{}
	for i := start; i < end; i++ {
		src := f.docs[strconv.FormatInt(f.answer[i], 10)]
		date, _ := time.Parse(time.RFC3339, src["date"].(string))
		score := 10 - float64(i)*0.25
		var sortVals []any
		for _, s := range req.Sort {
			switch {
			case s["_score"] != nil:
				sortVals = append(sortVals, score)
			case s["date"] != nil:
				sortVals = append(sortVals, date.UnixMilli())
			case s["id"] != nil:
				sortVals = append(sortVals, f.answer[i])
			}
		}
		hits = append(hits, map[string]any{"_index": target, "_id": strconv.FormatInt(f.answer[i], 10), "_score": score,
			"_source": src, "sort": sortVals,
			"highlight": map[string]any{"subject.prefix": []string{"<mark>" + src["subject"].(string) + "</mark>"}}})
	}
	f.reply(w, 200, map[string]any{"took": 2, "timed_out": false,
		"_shards": map[string]any{"total": 1, "successful": 1, "skipped": 0, "failed": 0},
		"hits":    map[string]any{"total": map[string]any{"value": len(f.answer), "relation": "eq"}, "max_score": 10.0, "hits": hits}})
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

// canonical re-encodes a JSON body compactly with sorted keys.
func canonical(t testing.TB, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func openFakeES(t *testing.T) (*ESIndex, *fakeES) {
	f, srv := newFakeES(t)
	idx, err := OpenElasticsearch(context.Background(), ESConfig{URL: srv.URL, Refresh: "wait_for", MaxRetries: 3}, nil)
	if err != nil {
		t.Fatalf("OpenElasticsearch: %v", err)
	}
	return idx, f
}

func TestElasticsearchTableFake(t *testing.T) {
	var cur *fakeES
	runTable(t, backend{
		open: func(t *testing.T) Index {
			idx, f := openFakeES(t)
			cur = f
			return idx
		},
		prime: func(c searchCase) {
			cur.mu.Lock()
			cur.answer = c.want
			cur.mu.Unlock()
		},
		verify: func(t *testing.T, c searchCase) { verifyFakeRequests(t, cur, c) },
	})
}

func verifyFakeRequests(t *testing.T, f *fakeES, c searchCase) {
	tenant := c.tenant
	if tenant == 0 {
		tenant = 1
	}
	// Bulk: every item goes through its tenant's alias, with routing = tenant.
	for _, r := range f.take(func(r fakeRequest) bool { return strings.HasSuffix(r.Path, "/_bulk") }) {
		if r.Query.Get("require_alias") != "true" {
			t.Errorf("bulk %s without require_alias", r.Path)
		}
		lines := strings.Split(strings.TrimSuffix(string(r.Body), "\n"), "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			var action struct {
				Index struct {
					ID      string `json:"_id"`
					Routing string `json:"routing"`
				} `json:"index"`
			}
			var src esDoc
			if json.Unmarshal([]byte(lines[i]), &action) != nil || json.Unmarshal([]byte(lines[i+1]), &src) != nil {
				t.Fatalf("bad bulk lines %q / %q", lines[i], lines[i+1])
			}
			want := strconv.FormatInt(src.TenantID, 10)
			if action.Index.Routing != want || r.Path != "/tidings-mail-t"+want+"/_bulk" || action.Index.ID != strconv.FormatInt(src.ID, 10) {
				t.Errorf("bulk item %s routing %q path %s, want routing and alias of tenant %s", action.Index.ID, action.Index.Routing, r.Path, want)
			}
		}
	}
	for _, d := range c.deletes {
		rs := f.take(func(r fakeRequest) bool { return strings.HasSuffix(r.Path, "/_delete_by_query") })
		if len(rs) != 1 || rs[0].Path != fmt.Sprintf("/tidings-mail-t%d/_delete_by_query", d.tenant) ||
			rs[0].Query.Get("routing") != strconv.FormatInt(d.tenant, 10) ||
			!strings.Contains(canonical(t, rs[0].Body), fmt.Sprintf(`{"term":{"tenant_id":%d}}`, d.tenant)) {
			t.Errorf("delete requests = %+v, want one tenant-scoped _delete_by_query", rs)
		}
	}
	for _, l := range c.labels {
		rs := f.take(func(r fakeRequest) bool { return strings.HasSuffix(r.Path, "/_update_by_query") })
		body := ""
		if len(rs) == 1 {
			body = canonical(t, rs[0].Body)
		}
		wantLabels, _ := json.Marshal(labelTerms(l.ids, l.names))
		if !strings.Contains(body, `"labels":`+string(wantLabels)) || !strings.Contains(body, fmt.Sprintf(`{"ids":{"values":["%d"]}}`, l.id)) ||
			rs[0].Query.Get("routing") != strconv.FormatInt(l.tenant, 10) {
			t.Errorf("update_by_query body %s, want labels %s for id %d", body, wantLabels, l.id)
		}
	}
	searches := f.take(func(r fakeRequest) bool { return strings.HasSuffix(r.Path, "/_search") })
	if c.syntaxErr {
		if len(searches) != 0 {
			t.Errorf("a query with bad syntax reached Elasticsearch: %s", searches[0].Body)
		}
		return
	}
	if len(searches) == 0 {
		t.Fatal("no _search request")
	}
	for i, r := range searches {
		body := canonical(t, r.Body)
		if r.Path != fmt.Sprintf("/tidings-mail-t%d/_search", tenant) || r.Query.Get("routing") != strconv.FormatInt(tenant, 10) {
			t.Errorf("search went to %s?%s, want the alias and routing of tenant %d", r.Path, r.Query.Encode(), tenant)
		}
		if !strings.Contains(body, fmt.Sprintf(`"filter":[{"term":{"tenant_id":%d}}`, tenant)) {
			t.Errorf("search body lacks the tenant filter: %s", body)
		}
		for _, frag := range c.dsl {
			if !strings.Contains(body, frag) {
				t.Errorf("search body lacks %s\nbody: %s", frag, body)
			}
		}
		if (i > 0) != strings.Contains(body, `"search_after":`) {
			t.Errorf("request %d: search_after presence wrong: %s", i, body)
		}
	}
	if c.page > 0 && len(searches) != (len(c.want)+c.page-1)/c.page {
		t.Errorf("%d search requests for %d hits in pages of %d", len(searches), len(c.want), c.page)
	}
}

func TestElasticsearchTemplateAndSetup(t *testing.T) {
	_, f := openFakeES(t)
	tmpl := f.templates["tidings-mail"]
	if tmpl == nil {
		t.Fatal("no index template installed")
	}
	b, _ := json.Marshal(tmpl)
	s := string(b)
	for _, want := range []string{
		`"index_patterns":["tidings-mail-*"]`,
		`"dynamic":"strict"`,
		`"type":"edge_ngram"`, `"type":"asciifolding"`, `"type":"uax_url_email"`,
		`"body":{"analyzer":"words","index_prefixes":{"max_chars":10,"min_chars":1},"type":"text"}`,
		`"prefix":{"analyzer":"words_prefix","search_analyzer":"words","type":"text"}`,
		`"tenant_id":{"type":"long"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("template lacks %s", want)
		}
	}
	if len(f.indices) != 1 || len(f.aliases["tidings-mail"]) != 1 {
		t.Errorf("indices %v aliases %v, want one index behind alias tidings-mail", f.indices, f.aliases)
	}
	// A tenant's first write creates its filtered, routed alias.
	idx, err := OpenElasticsearch(context.Background(), ESConfig{URL: srvURL(t, f)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Index(context.Background(), loadFixture(t)[:1]); err != nil {
		t.Fatal(err)
	}
	def := f.aliases["tidings-mail-t1"]
	if len(def) != 1 {
		t.Fatalf("tenant alias = %v", def)
	}
	for _, d := range def {
		b, _ := json.Marshal(d)
		if !strings.Contains(string(b), `"filter":{"term":{"tenant_id":1}}`) || !strings.Contains(string(b), `"routing":"1"`) {
			t.Errorf("tenant alias definition %s lacks filter or routing", b)
		}
	}
}

// srvURL starts another server on the same fake state.
func srvURL(t *testing.T, f *fakeES) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestElasticsearchRetries429(t *testing.T) {
	ctx := context.Background()
	idx, f := openFakeES(t)
	docs := loadFixture(t)
	f.mu.Lock()
	f.rejectItems = 3 // inside a 200 bulk response: retried by the backend
	f.reject429 = 0
	f.mu.Unlock()
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatalf("Index: %v", err)
	}
	if len(f.docs) != len(docs) {
		t.Errorf("%d documents stored, want %d", len(f.docs), len(docs))
	}
	if n := len(f.take(func(r fakeRequest) bool { return strings.HasSuffix(r.Path, "/_bulk") })); n < 3 {
		t.Errorf("%d bulk requests, want the rejected items resent", n)
	}
	// HTTP 429 for a whole request: retried by the client transport.
	f.mu.Lock()
	f.reject429 = 2
	f.answer = []int64{1}
	f.mu.Unlock()
	res, err := idx.Search(ctx, 1, Request{Query: "invoice"})
	if err != nil {
		t.Fatalf("Search after two 429s: %v", err)
	}
	if len(res.Hits) != 1 {
		t.Errorf("hits = %v", res.Hits)
	}
	// More 429s than retries: a clear error, not an empty result.
	f.mu.Lock()
	f.reject429 = 10
	f.mu.Unlock()
	_, err = idx.Search(ctx, 1, Request{Query: "invoice"})
	var ee *ESError
	if !errors.As(err, &ee) || ee.Status != 429 || ee.Type != "es_rejected_execution_exception" {
		t.Errorf("Search with persistent 429 = %v, want *ESError 429", err)
	}
}

func TestElasticsearchReindexSwapsAlias(t *testing.T) {
	ctx := context.Background()
	idx, f := openFakeES(t)
	docs := loadFixture(t)
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	var old string
	for i := range f.aliases["tidings-mail-t1"] {
		old = i
	}
	var progress []int64
	if err := Reindex(ctx, idx, 1, sliceSource(docs), func(n int64) { progress = append(progress, n) }); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	var now string
	for i := range f.aliases["tidings-mail-t1"] {
		now = i
	}
	if now == "" || now == old || len(f.aliases["tidings-mail-t1"]) != 1 {
		t.Fatalf("tenant alias on %v, want exactly one new index (old %s)", f.aliases["tidings-mail-t1"], old)
	}
	if _, ok := f.aliases["tidings-mail-t2"][old]; !ok {
		t.Errorf("tenant 2 alias moved; only tenant 1 was reindexed")
	}
	swaps := f.take(func(r fakeRequest) bool { return r.Path == "/_aliases" })
	last := canonical(t, swaps[len(swaps)-1].Body)
	for _, want := range []string{
		fmt.Sprintf(`{"remove":{"alias":"tidings-mail-t1","index":"%s"}}`, old),
		fmt.Sprintf(`{"add":{"alias":"tidings-mail-t1","filter":{"term":{"tenant_id":1}},"index":"%s","routing":"1"}}`, now),
	} {
		if !strings.Contains(last, want) {
			t.Errorf("alias swap %s lacks %s", last, want)
		}
	}
	bulks := f.take(func(r fakeRequest) bool { return r.Path == "/"+now+"/_bulk" })
	if len(bulks) == 0 {
		t.Error("no bulk request into the new index")
	}
	if dq := f.take(func(r fakeRequest) bool { return r.Path == "/"+old+"/_delete_by_query" }); len(dq) != 1 || dq[0].Query.Get("routing") != "1" {
		t.Errorf("old copy of tenant 1 not removed with routing: %+v", dq)
	}
	if !f.indices[old] {
		t.Error("old index deleted although tenant 2 still uses it")
	}
	if len(progress) == 0 || progress[len(progress)-1] != 9 {
		t.Errorf("progress = %v, want to end at 9 (tenant 1's documents)", progress)
	}
}

// TestElasticsearchLive runs the table against a real cluster when
// ELASTICSEARCH_URL is set; CI does not have one.
func TestElasticsearchLive(t *testing.T) {
	u := os.Getenv("ELASTICSEARCH_URL")
	if u == "" {
		t.Skip("ELASTICSEARCH_URL not set; the live Elasticsearch suite is not run")
	}
	n := 0
	runTable(t, backend{
		assertsHits: true,
		open: func(t *testing.T) Index {
			n++
			prefix := fmt.Sprintf("tidings-test-%d-%d", time.Now().UnixNano(), n)
			idx, err := OpenElasticsearch(context.Background(), ESConfig{URL: u, Prefix: prefix, Refresh: "wait_for"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { idx.dropAll(context.Background()) })
			return idx
		},
	})
}
