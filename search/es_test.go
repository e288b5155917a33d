package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/typedapi/core/search"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
)

// The Elasticsearch contract tests. No Elasticsearch server runs in CI,
// so the backend is held to Elasticsearch's specification instead: every
// request is decoded strictly into the typed API's request types
// (es_spec_test.go, es_fake_test.go), and these tests assert method, path,
// query string and body of each request the query table causes, and map
// canned Elasticsearch responses (testdata/es) to Results.

// Field lists of a free word, as the ES query DSL names them.
const (
	esAnyPrefixFields = `["subject.prefix","from.name.prefix","from.address.prefix","to.name.prefix","to.address.prefix",` +
		`"cc.name.prefix","cc.address.prefix","bcc.name.prefix","bcc.address.prefix","filenames.prefix"]`
	esAnyExactFields = `["subject^2","from.name^2","from.address.words^2","to.name^2","to.address.words^2",` +
		`"cc.name^2","cc.address.words^2","bcc.name^2","bcc.address.words^2","filenames^2","body^2"]`
	esAnyPhraseFields = `["subject","from.name","from.address.words","to.name","to.address.words",` +
		`"cc.name","cc.address.words","bcc.name","bcc.address.words","filenames","body"]`
	esDefaultMustNot = `"must_not":[{"term":{"labels":{"value":"trash"}}},{"term":{"labels":{"value":"spam"}}}]`
)

// esCaseDSL lists, per query-table case, clauses (or the part of a clause
// the case is about) its search body must contain, written as the
// Elasticsearch query DSL reference writes them, compact with keys sorted
// as the body is compared. Together with the contract every
// search is held to (esSearchContract), they cover each case family:
// prefixes, phrases, operators, folding, filters, tenant scope, sort.
var esCaseDSL = map[string][]string{
	"empty query lists everything but trash and spam": {esDefaultMustNot},
	// A word is a prefix on every field: edge n-grams of the text fields,
	// the body's index_prefixes, and the whole word boosted.
	"word prefix invo finds invoice and invoicing": {
		`{"multi_match":{"fields":` + esAnyPrefixFields + `,"query":"invo"}}`,
		`{"match_bool_prefix":{"body":{"query":"invo"}}}`,
		`{"multi_match":{"fields":` + esAnyExactFields + `,"query":"invo"}}`,
	},
	"word prefix on a sender name": {
		`{"bool":{"minimum_should_match":1,"should":[{"multi_match":{"fields":["from.name.prefix","from.address.prefix"],"query":"jans"}},` +
			`{"multi_match":{"fields":["from.name^2","from.address.words^2"],"query":"jans"}}]}}`,
	},
	// Folding happens on the query side too, before the word reaches ES.
	"accent folding muller finds Müller": {`{"multi_match":{"fields":` + esAnyPrefixFields + `,"query":"muller"}}`},
	"accented query folds too":           {`{"multi_match":{"fields":` + esAnyPrefixFields + `,"query":"muller"}}`},
	"ß folds to ss":                      {`{"multi_match":{"fields":["to.name.prefix","to.address.prefix"],"query":"strasse"}}`},
	"ø folds to o":                       {`{"multi_match":{"fields":` + esAnyPrefixFields + `,"query":"lokken"}}`},
	"Cyrillic prefix":                    {`{"multi_match":{"fields":["subject.prefix"],"query":"кварт"}}`},
	// A CJK word is a phrase of its characters, as the analyzer splits them.
	"CJK word inside a run":     {`{"multi_match":{"fields":` + esAnyPhraseFields + `,"query":"京 都","type":"phrase"}}`},
	"CJK word at a run's start": {`{"multi_match":{"fields":["subject"],"query":"東 京","type":"phrase"}}`},
	"exact phrase":              {`{"multi_match":{"fields":` + esAnyPhraseFields + `,"query":"payment was received","type":"phrase"}}`},
	// An address matches the address keyword as a prefix, and its words as a phrase.
	"from full address": {
		`{"multi_match":{"fields":["from.name","from.address.words"],"query":"sanne tyrell nl","type":"phrase"}}`,
		`{"prefix":{"from.address":{"value":"sanne@tyrell.nl"}}}`,
	},
	"from address prefix":           {`{"prefix":{"from.address":{"value":"sanne@tyr"}}}`},
	"from address local part":       {`{"multi_match":{"fields":["from.name","from.address.words"],"query":"p jansen","type":"phrase"}}`},
	"bcc name":                      {`{"multi_match":{"fields":["bcc.name.prefix","bcc.address.prefix"],"query":"legal"}}`},
	"subject prefix":                {`{"multi_match":{"fields":["subject.prefix"],"query":"invo"}}`},
	"filename prefix":               {`{"multi_match":{"fields":["filenames.prefix"],"query":"road"}}`},
	"user label by name with dash":  {`{"term":{"labels":{"value":"projects-alpha"}}}`},
	"user label quoted with slash":  {`{"term":{"labels":{"value":"projects-alpha"}}}`},
	"user label by id":              {`{"term":{"labels":{"value":"label_7"}}}`},
	"in:inbox":                      {`{"term":{"labels":{"value":"inbox"}}}`, esDefaultMustNot},
	"in:trash shows trash":          {`"must":[{"term":{"labels":{"value":"trash"}}}],"must_not":[{"term":{"labels":{"value":"spam"}}}]`},
	"in:spam":                       {`"must":[{"term":{"labels":{"value":"spam"}}}],"must_not":[{"term":{"labels":{"value":"trash"}}}]`},
	"is:read":                       {`{"bool":{"must_not":[{"term":{"labels":{"value":"unread"}}}]}}`},
	"category":                      {`{"term":{"labels":{"value":"category_promotions"}}}`},
	"has:attachment":                {`{"term":{"has_attachment":{"value":true}}}`},
	"before":                        {`{"range":{"date":{"lt":"2025-01-01T00:00:00Z"}}}`},
	"after is inclusive of the day": {`{"range":{"date":{"gte":"2026-11-20T00:00:00Z"}}}`},
	"date range": {`"must":[{"bool":{"must":[{"range":{"date":{"gte":"2026-11-01T00:00:00Z"}}},` +
		`{"range":{"date":{"lt":"2026-11-20T00:00:00Z"}}}]}}]`},
	"newer_than days":  {`{"range":{"date":{"gte":"2026-11-18T12:00:00Z"}}}`},
	"older_than years": {`{"range":{"date":{"lt":"2025-11-25T12:00:00Z"}}}`},
	"OR": {`{"bool":{"minimum_should_match":1,"should":[{"bool":{"minimum_should_match":1,"should":[{"multi_match":{"fields":` +
		esAnyPrefixFields + `,"query":"roadmap"}}`},
	"negated word":             {`{"bool":{"must_not":[{"bool":{"minimum_should_match":1,"should":[{"multi_match":{"fields":` + esAnyPrefixFields + `,"query":"contract"}}`},
	"negated operator":         {`{"bool":{"must_not":[{"bool":{"minimum_should_match":1,"should":[{"multi_match":{"fields":["from.name.prefix","from.address.prefix"],"query":"jansen"}}`},
	"parentheses and AND":      {`{"term":{"labels":{"value":"starred"}}}`},
	"mailbox filter":           {`{"terms":{"mailbox_id":[12]}}`},
	"contact filter":           {`{"terms":{"contact_ids":[100]}}`},
	"account filter":           {`{"terms":{"account_ids":[201]}}`},
	"case filter":              {`{"terms":{"case_ids":[300]}}`},
	"filters combine with AND": {`"filter":[{"term":{"tenant_id":{"value":1}}},{"terms":{"mailbox_id":[11,12]}},{"terms":{"case_ids":[300]}}]`},
	// in:anywhere lifts the trash and spam exclusion: no must_not at all.
	"in:anywhere includes trash and spam": {`"query":{"bool":{"filter":[{"term":{"tenant_id":{"value":1}}}],"must":[{"bool":{"must":[{"bool":{"minimum_should_match":1,"should":[{"multi_match":{"fields":` + esAnyPrefixFields + `,"query":"invoice"}}`},
}

// esSortDSL is the sort clause of each Sort: newest first with the id as
// tiebreak by default, relevance on request.
var esSortDSL = map[Sort]string{
	DateDesc:  `[{"date":{"order":"desc"}},{"id":{"order":"desc"}}]`,
	DateAsc:   `[{"date":{"order":"asc"}},{"id":{"order":"asc"}}]`,
	Relevance: `[{"_score":{"order":"desc"}},{"date":{"order":"desc"}},{"id":{"order":"desc"}}]`,
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
	seen := map[string]bool{}
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
		verify: func(t *testing.T, c searchCase) {
			seen[c.name] = true
			verifyFakeRequests(t, cur, c)
		},
	})
	for name := range esCaseDSL {
		if !seen[name] {
			t.Errorf("esCaseDSL names %q, which is not a case of the query table", name)
		}
	}
}

func caseTenant(c searchCase) int64 {
	if c.tenant == 0 {
		return 1
	}
	return c.tenant
}

func verifyFakeRequests(t *testing.T, f *fakeES, c searchCase) {
	t.Helper()
	for _, r := range f.take(pathSuffix("/_bulk")) {
		if err := esBulkContract(r); err != nil {
			t.Error(err)
		}
	}
	checkWrites(t, f.take(pathSuffix("/_delete_by_query")), len(c.deletes), func(i int, r fakeRequest) error {
		return esDeleteContract(r, c.deletes[i])
	})
	checkWrites(t, f.take(pathSuffix("/_update_by_query")), len(c.labels), func(i int, r fakeRequest) error {
		return esLabelContract(r, c.labels[i])
	})
	searches := f.take(pathSuffix("/_search"))
	if c.syntaxErr {
		if len(searches) != 0 {
			t.Errorf("a query with bad syntax reached Elasticsearch: %s", searches[0].Body)
		}
		return
	}
	if len(searches) == 0 {
		t.Fatal("no _search request")
	}
	var prev *fakeRequest
	for i, r := range searches {
		if err := esSearchContract(r, prev, caseTenant(c), c.req); err != nil {
			t.Errorf("search %d: %v", i, err)
		}
		body, _ := compactJSON(r.Body)
		for _, frag := range esCaseDSL[c.name] {
			if !strings.Contains(body, frag) {
				t.Errorf("search body lacks %s\nbody: %s", frag, body)
			}
		}
		prev = &searches[i]
	}
	if c.page > 0 && len(searches) != (len(c.want)+c.page-1)/c.page {
		t.Errorf("%d search requests for %d hits in pages of %d", len(searches), len(c.want), c.page)
	}
}

// TestElasticsearchContractRejects shows the contract checks fail on
// requests Elasticsearch would reject or that would leak across tenants.
func TestElasticsearchContractRejects(t *testing.T) {
	idx, _ := openFakeES(t)
	good, err := idx.SearchRequest(1, Request{Query: "invo"})
	if err != nil {
		t.Fatal(err)
	}
	encode := func(r *search.Request) []byte {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	req := func(body []byte) fakeRequest {
		return fakeRequest{Method: http.MethodPost, Path: "/tidings-mail-t1/_search", Query: url.Values{"routing": {"1"}, "typed_keys": {"true"}}, Body: body}
	}
	if err := esSearchContract(req(encode(good)), nil, 1, Request{Query: "invo"}); err != nil {
		t.Fatalf("the backend's own request fails the contract: %v", err)
	}
	noTenant := *good
	noTenant.Query = &types.Query{Bool: &types.BoolQuery{Must: good.Query.Bool.Must}}
	otherTenant := *good
	otherTenant.Query = &types.Query{Bool: &types.BoolQuery{Filter: []types.Query{*tenantTerm(2)}, Must: good.Query.Bool.Must}}
	body := encode(good)
	for name, c := range map[string]struct {
		r      fakeRequest
		wanted string
	}{
		"query without the tenant term": {req(encode(&noTenant)), "no tenant_id filter"},
		"query on another tenant":       {req(encode(&otherTenant)), "tenant filter on tenant 2"},
		"misspelt top-level key":        {req([]byte(strings.Replace(string(body), `"track_total_hits"`, `"track_total_hit"`, 1))), "unknown to the specification"},
		"unknown query type":            {req([]byte(strings.Replace(string(body), `"match_bool_prefix"`, `"match_bool_prefixx"`, 1))), "not in the specification"},
		"unknown option of a query":     {req([]byte(strings.Replace(string(body), `"minimum_should_match"`, `"minimum_should_matches"`, 1))), "unknown to the specification"},
		"no routing":                    {fakeRequest{Method: http.MethodPost, Path: "/tidings-mail-t1/_search", Body: body}, "want POST"},
		"exact count":                   {req([]byte(strings.Replace(string(body), `"track_total_hits":10000`, `"track_total_hits":true`, 1))), "track_total_hits"},
	} {
		err := esSearchContract(c.r, nil, 1, Request{Query: "invo"})
		if err == nil || !strings.Contains(err.Error(), c.wanted) {
			t.Errorf("%s: contract error = %v, want one saying %q", name, err, c.wanted)
		}
	}
}

// TestElasticsearchResultMapping answers searches with canned responses
// shaped as Elasticsearch 8 answers them and checks the Result: the count
// beyond track_total_hits ("gte": more than 10,000), hits, and a cursor
// whose next request carries the last hit's sort values as search_after.
func TestElasticsearchResultMapping(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		file      string
		req       Request
		total     int64
		relation  string
		text      string
		ids       []int64
		wantNext  bool
		wantAfter string
	}{
		{file: "search_gte_date_desc.json", req: Request{Query: "invo", Size: 2}, total: 10000, relation: TotalAtLeast,
			text: "more than 10,000", ids: []int64{90412, 90407}, wantNext: true, wantAfter: `[1764403200000,90407]`},
		{file: "search_relevance.json", req: Request{Query: "invo", Size: 2, Sort: Relevance}, total: 1234, relation: TotalExact,
			text: "1,234", ids: []int64{311, 87}, wantNext: true, wantAfter: `[7.25,1732060800123,87]`},
		{file: "search_last_page.json", req: Request{Query: "invo", Size: 2, Sort: DateAsc}, total: 1, relation: TotalExact,
			text: "1", ids: []int64{5}},
	} {
		t.Run(c.file, func(t *testing.T) {
			idx, f := openFakeES(t)
			canned, err := os.ReadFile("testdata/es/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			f.indices["tidings-mail-t1"] = true
			f.canned = [][]byte{canned, canned}
			f.mu.Unlock()
			res, err := idx.Search(ctx, 1, c.req)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, h := range res.Hits {
				ids = append(ids, h.ID)
			}
			if res.Total != c.total || res.TotalRelation != c.relation || res.TotalText() != c.text || !slices.Equal(ids, c.ids) {
				t.Errorf("result %d %q %q %v, want %d %q %q %v", res.Total, res.TotalRelation, res.TotalText(), ids, c.total, c.relation, c.text, c.ids)
			}
			if (res.Next != "") != c.wantNext {
				t.Fatalf("Next = %q, want a cursor: %v", res.Next, c.wantNext)
			}
			if !c.wantNext {
				return
			}
			next := c.req
			next.After = res.Next
			if _, err := idx.Search(ctx, 1, next); err != nil {
				t.Fatal(err)
			}
			rs := f.take(pathSuffix("/_search"))
			var body search.Request
			if err := specDecode(rs[len(rs)-1].Body, &body); err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(body.SearchAfter); string(got) != c.wantAfter {
				t.Errorf("search_after = %s, want %s (the canned last hit's sort values)", got, c.wantAfter)
			}
			if err := esSearchContract(rs[len(rs)-1], &rs[len(rs)-2], 1, next); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestElasticsearchHighlightsAndFrom(t *testing.T) {
	idx, f := openFakeES(t)
	canned, err := os.ReadFile("testdata/es/search_gte_date_desc.json")
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.indices["tidings-mail-t1"] = true
	f.canned = [][]byte{canned}
	f.mu.Unlock()
	res, err := idx.Search(context.Background(), 1, Request{Query: "invo", Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Hits[0]
	if h.From != "Piet Jansen <p.jansen@acme.com>" || h.Subject != "Invoice 2026-114" || h.MailboxID != 11 {
		t.Errorf("hit = %+v", h)
	}
	want := map[string][]string{"subject": {"<mark>Invoice</mark> 2026-114"}, "from": {"p.<mark>jansen</mark>@acme.com", "Piet <mark>Jansen</mark>"}}
	if !reflect.DeepEqual(h.Highlights, want) {
		t.Errorf("highlights = %v, want %v", h.Highlights, want)
	}
}

func TestElasticsearchCountAndHashes(t *testing.T) {
	ctx := context.Background()
	idx, f := openFakeES(t)
	docs := loadFixture(t)
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.answer = []int64{1, 2, 3}
	f.mu.Unlock()
	n, err := idx.Count(ctx, 1, 12)
	if err != nil || n != 3 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	r := f.take(pathSuffix("/_count"))[0]
	if r.Path != "/tidings-mail-t1/_count" || r.Query.Get("routing") != "1" {
		t.Errorf("count went to %s?%s", r.Path, r.Query.Encode())
	}
	body, _ := compactJSON(r.Body)
	if body != `{"query":{"bool":{"filter":[{"term":{"tenant_id":{"value":1}}},{"term":{"mailbox_id":{"value":12}}}]}}}` {
		t.Errorf("count body %s", body)
	}
	hashes, err := idx.Hashes(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs[:3] {
		if hashes[d.ID] != d.Hash() {
			t.Errorf("hash of %d = %q, want %q", d.ID, hashes[d.ID], d.Hash())
		}
	}
	r = f.take(pathSuffix("/_search"))[0]
	var req search.Request
	if err := specDecode(r.Body, &req); err != nil {
		t.Fatal(err)
	}
	if err := esTenantScoped(req.Query, 1); err != nil {
		t.Error(err)
	}
	if s, _ := json.Marshal(req.Sort); string(s) != `[{"id":{"order":"asc"}}]` || fmt.Sprint(req.Source_) != "[hash]" {
		t.Errorf("hashes request sort %s source %v", s, req.Source_)
	}
}

func TestElasticsearchTemplateAndSetup(t *testing.T) {
	_, f := openFakeES(t)
	tmpl := f.templates["tidings-mail"]
	if tmpl == nil {
		t.Fatal("no index template installed")
	}
	if !slices.Equal(tmpl.IndexPatterns, []string{"tidings-mail-*"}) || tmpl.Template == nil || tmpl.Template.Mappings == nil {
		t.Fatalf("template = %+v", tmpl)
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
		if err := esTenantScoped(&types.Query{Bool: &types.BoolQuery{Filter: []types.Query{*d.Filter}}}, 1); err != nil || derefStr(d.Routing) != "1" {
			t.Errorf("tenant alias definition %+v lacks filter or routing: %v", d, err)
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
	f.mu.Unlock()
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatalf("Index: %v", err)
	}
	if len(f.docs) != len(docs) {
		t.Errorf("%d documents stored, want %d", len(f.docs), len(docs))
	}
	if n := len(f.take(pathSuffix("/_bulk"))); n < 3 {
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
	last, _ := compactJSON(swaps[len(swaps)-1].Body)
	for _, want := range []string{
		fmt.Sprintf(`{"remove":{"alias":"tidings-mail-t1","index":"%s"}}`, old),
		fmt.Sprintf(`{"add":{"alias":"tidings-mail-t1","filter":{"term":{"tenant_id":{"value":1}}},"index":"%s","routing":"1"}}`, now),
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

// BenchmarkElasticsearchSearchRequest measures what a search costs the
// web process before Elasticsearch sees it: parsing the query, building
// the typed request and encoding it.
func BenchmarkElasticsearchSearchRequest(b *testing.B) {
	idx := &ESIndex{cfg: ESConfig{Prefix: "tidings-mail"}}
	req := Request{Query: `invo from:sanne@tyr -in:trash "signed contract" after:2026/01/01`, Now: now}
	for b.Loop() {
		r, err := idx.SearchRequest(1, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkElasticsearchDocument measures encoding one document for a
// bulk request (its hash included).
func BenchmarkElasticsearchDocument(b *testing.B) {
	docs := loadFixture(b)
	for b.Loop() {
		for i := range docs {
			if _, err := json.Marshal(toESDoc(&docs[i])); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(docs)), "ns/doc")
}
