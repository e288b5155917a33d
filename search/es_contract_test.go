package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/typedapi/core/deletebyquery"
	"github.com/elastic/go-elasticsearch/v8/typedapi/core/search"
	"github.com/elastic/go-elasticsearch/v8/typedapi/core/updatebyquery"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
)

// The request contract of the Elasticsearch backend: what each kind of
// request the backend sends must look like, checked on the requests the
// fake recorded. Each check returns an error rather than failing the test,
// so TestElasticsearchContractRejects can show that it fails on requests
// Elasticsearch would reject or that would cross tenants.

// checkWrites requires one request per write the case made, each passing check.
func checkWrites(t *testing.T, rs []fakeRequest, want int, check func(i int, r fakeRequest) error) {
	t.Helper()
	if len(rs) != want {
		t.Errorf("%d requests for %d writes: %+v", len(rs), want, rs)
	}
	for i := range min(len(rs), want) {
		if err := check(i, rs[i]); err != nil {
			t.Error(err)
		}
	}
}

// esSearchContract checks one _search request: method, path and query
// string (the tenant's alias and routing, nothing else), a body the
// specification accepts, the tenant filter, track_total_hits, size, the
// sort of req.Sort, and search_after: absent on the first page, the last
// hit's sort values of the previous response on later pages.
func esSearchContract(r fakeRequest, prev *fakeRequest, tenant int64, req Request) error {
	t := strconv.FormatInt(tenant, 10)
	if r.Method != http.MethodPost || r.Path != "/tidings-mail-t"+t+"/_search" || !reflect.DeepEqual(r.Query, url.Values{"routing": {t}, "typed_keys": {"true"}}) {
		return fmt.Errorf("%s %s?%s, want POST /tidings-mail-t%s/_search?routing=%s&typed_keys=true", r.Method, r.Path, r.Query.Encode(), t, t)
	}
	var body search.Request
	if err := specDecode(r.Body, &body); err != nil {
		return err
	}
	if err := esTenantScoped(body.Query, tenant); err != nil {
		return err
	}
	if fmt.Sprint(body.TrackTotalHits) != "10000" {
		return fmt.Errorf("track_total_hits = %v, want 10000", body.TrackTotalHits)
	}
	if body.Size == nil || *body.Size != pageSize(req.Size) {
		return fmt.Errorf("size = %v, want %d", body.Size, pageSize(req.Size))
	}
	sortJSON, _ := json.Marshal(body.Sort)
	if got, _ := compactJSON(sortJSON); got != esSortDSL[req.Sort] {
		return fmt.Errorf("sort = %s, want %s for %v", got, esSortDSL[req.Sort], req.Sort)
	}
	var wantAfter []types.FieldValue
	if prev != nil {
		var res search.Response
		if err := json.Unmarshal(prev.Response, &res); err != nil || len(res.Hits.Hits) == 0 {
			return fmt.Errorf("previous response has no hits to page after: %v", err)
		}
		wantAfter = res.Hits.Hits[len(res.Hits.Hits)-1].Sort
	}
	got, _ := json.Marshal(body.SearchAfter)
	want, _ := json.Marshal(wantAfter)
	if string(got) != string(want) {
		return fmt.Errorf("search_after = %s, want the previous page's last sort values %s", got, want)
	}
	return nil
}

// esTenantScoped requires a bool query whose filter holds the term
// tenant_id = tenant, and no term on another tenant.
func esTenantScoped(q *types.Query, tenant int64) error {
	if q == nil || q.Bool == nil {
		return errors.New("query is not a bool query with a tenant filter")
	}
	found := false
	for _, c := range q.Bool.Filter {
		if term, ok := c.Term["tenant_id"]; ok {
			if fmt.Sprint(term.Value) != strconv.FormatInt(tenant, 10) {
				return fmt.Errorf("tenant filter on tenant %v, want %d", term.Value, tenant)
			}
			found = true
		}
	}
	if !found {
		return fmt.Errorf("query has no tenant_id filter for tenant %d", tenant)
	}
	return nil
}

// esWriteQuery is the query string of a by-query write: routed to the
// tenant, refreshed (the tests configure Refresh), and for deletes
// conflicts=proceed (_update_by_query takes conflicts in its body).
func esWriteQuery(tenant int64, delete bool) url.Values {
	v := url.Values{"routing": {strconv.FormatInt(tenant, 10)}, "refresh": {"true"}}
	if delete {
		v.Set("conflicts", "proceed")
	}
	return v
}

// esIDsScoped requires the tenant filter and exactly ids.
func esIDsScoped(q *types.Query, tenant int64, ids []int64) error {
	if err := esTenantScoped(q, tenant); err != nil {
		return err
	}
	for _, c := range q.Bool.Filter {
		if c.Ids != nil {
			if !slices.Equal(c.Ids.Values, idStrs(ids)) {
				return fmt.Errorf("ids %v, want %v", c.Ids.Values, ids)
			}
			return nil
		}
	}
	return errors.New("no ids filter")
}

func esDeleteContract(r fakeRequest, d deleteOp) error {
	t := strconv.FormatInt(d.tenant, 10)
	if r.Method != http.MethodPost || r.Path != "/tidings-mail-t"+t+"/_delete_by_query" || !reflect.DeepEqual(r.Query, esWriteQuery(d.tenant, true)) {
		return fmt.Errorf("delete: %s %s?%s, want POST through the alias of tenant %d", r.Method, r.Path, r.Query.Encode(), d.tenant)
	}
	var body deletebyquery.Request
	if err := specDecode(r.Body, &body); err != nil {
		return err
	}
	return esIDsScoped(body.Query, d.tenant, d.ids)
}

func esLabelContract(r fakeRequest, l labelOp) error {
	t := strconv.FormatInt(l.tenant, 10)
	if r.Method != http.MethodPost || r.Path != "/tidings-mail-t"+t+"/_update_by_query" || !reflect.DeepEqual(r.Query, esWriteQuery(l.tenant, false)) {
		return fmt.Errorf("label update: %s %s?%s, want POST through the alias of tenant %d", r.Method, r.Path, r.Query.Encode(), l.tenant)
	}
	var body updatebyquery.Request
	if err := specDecode(r.Body, &body); err != nil {
		return err
	}
	if err := esIDsScoped(body.Query, l.tenant, []int64{l.id}); err != nil {
		return err
	}
	if body.Conflicts == nil || body.Conflicts.String() != "proceed" {
		return fmt.Errorf("label update conflicts = %v, want proceed", body.Conflicts)
	}
	if body.Script == nil || body.Script.Lang == nil || body.Script.Lang.String() != "painless" || derefStr(body.Script.Source) != esLabelScript {
		return fmt.Errorf("label update script = %+v", body.Script)
	}
	var labels []string
	if err := json.Unmarshal(body.Script.Params["labels"], &labels); err != nil || !slices.Equal(labels, labelTerms(l.ids, l.names)) {
		return fmt.Errorf("label params %s, want %v", body.Script.Params["labels"], labelTerms(l.ids, l.names))
	}
	return nil
}

// esBulkContract checks a bulk request: through a tenant alias with
// require_alias, every item routed to and carrying its tenant.
func esBulkContract(r fakeRequest) error {
	if r.Method != http.MethodPost || r.Query.Get("require_alias") != "true" || r.Query.Get("refresh") != "wait_for" {
		return fmt.Errorf("bulk %s %s?%s, want POST with require_alias=true and refresh=wait_for", r.Method, r.Path, r.Query.Encode())
	}
	lines := strings.Split(strings.TrimSuffix(string(r.Body), "\n"), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		var op types.OperationContainer
		if err := specDecode([]byte(lines[i]), &op); err != nil {
			return err
		}
		src, err := decodeSource([]byte(lines[i+1]))
		if err != nil || op.Index == nil {
			return fmt.Errorf("bulk item %q / %q: %v", lines[i], lines[i+1], err)
		}
		want := strconv.FormatInt(src.TenantID, 10)
		if derefStr(op.Index.Routing) != want || r.Path != "/tidings-mail-t"+want+"/_bulk" || derefStr(op.Index.Id_) != strconv.FormatInt(src.ID, 10) {
			return fmt.Errorf("bulk item %s routing %q path %s, want routing and alias of tenant %s", derefStr(op.Index.Id_), derefStr(op.Index.Routing), r.Path, want)
		}
	}
	return nil
}

// FuzzElasticsearchSearchRequest: whatever the query text, the backend
// either rejects it as a *SyntaxError or builds a request that the
// specification accepts and that is scoped to the tenant.
//
//	go test ./search -run '^$' -fuzz FuzzElasticsearchSearchRequest -fuzztime 1m
func FuzzElasticsearchSearchRequest(f *testing.F) {
	for _, c := range searchCases {
		f.Add(c.req.Query)
	}
	idx := &ESIndex{cfg: ESConfig{Prefix: "tidings-mail"}}
	f.Fuzz(func(t *testing.T, q string) {
		req, err := idx.SearchRequest(7, Request{Query: q, Now: now})
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("SearchRequest(%q) = %v, want a request or a *SyntaxError", q, err)
			}
			return
		}
		body, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("encode request for %q: %v", q, err)
		}
		var back search.Request
		if err := specDecode(body, &back); err != nil {
			t.Fatalf("request for %q: %v", q, err)
		}
		if err := esTenantScoped(back.Query, 7); err != nil {
			t.Fatalf("request for %q: %v", q, err)
		}
	})
}
