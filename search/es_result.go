package search

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/elastic/go-elasticsearch/v8/typedapi/core/search"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/sortorder"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/totalhitsrelation"
)

// This file runs searches, counts and the hash listing, and maps
// Elasticsearch's responses to Result.

// Search runs req through the tenant's alias.
func (x *ESIndex) Search(ctx context.Context, tenantID int64, req Request) (*Result, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	body, err := x.SearchRequest(tenantID, req)
	if err != nil {
		return nil, err
	}
	res, err := x.es.Search().Index(x.tenantAlias(tenantID)).Routing(idStr(tenantID)).Request(body).Do(ctx)
	if err != nil {
		err = esError(fmt.Sprintf("query %q", req.Query), err)
		if isStatus(err, http.StatusNotFound) {
			return &Result{Hits: []Hit{}, TotalRelation: TotalExact}, nil // tenant never indexed anything
		}
		return nil, err
	}
	return esResult(res, req.Sort, pageSize(req.Size))
}

// esResult maps a search response: the total under the MaxTotal contract
// (hits.total is exact up to track_total_hits, then relation "gte"), the
// hits, and a cursor made of the last hit's sort values when the page is
// full.
func esResult(res *search.Response, s Sort, size int) (*Result, error) {
	out := &Result{Hits: make([]Hit, 0, len(res.Hits.Hits))}
	if t := res.Hits.Total; t != nil {
		out.setTotal(t.Value)
		if t.Relation == totalhitsrelation.Gte {
			out.Total, out.TotalRelation = MaxTotal, TotalAtLeast
		}
	}
	for i := range res.Hits.Hits {
		hit, err := esHit(&res.Hits.Hits[i])
		if err != nil {
			return nil, err
		}
		out.Hits = append(out.Hits, hit)
	}
	if n := len(res.Hits.Hits); n > 0 && n == size {
		v, err := esCursorValues(s, res.Hits.Hits[n-1].Sort)
		if err != nil {
			return nil, err
		}
		out.Next = encodeCursor(s, v)
	}
	return out, nil
}

func esFromString(a *Address) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func esHit(h *types.Hit) (Hit, error) {
	id, err := strconv.ParseInt(derefStr(h.Id_), 10, 64)
	if err != nil {
		return Hit{}, fmt.Errorf("search: unexpected document id %q", derefStr(h.Id_))
	}
	var src esDoc
	if err := json.Unmarshal(h.Source_, &src); err != nil {
		return Hit{}, fmt.Errorf("search: decode document %d: %w", id, err)
	}
	hit := Hit{ID: id, MailboxID: src.MailboxID, GmailID: src.GmailID, ThreadID: src.ThreadID,
		Subject: src.Subject, From: esFromString(src.From), Date: src.Date}
	if h.Score_ != nil {
		hit.Score = float64(*h.Score_)
	}
	for _, field := range slices.Sorted(maps.Keys(h.Highlight)) {
		if hit.Highlights == nil {
			hit.Highlights = map[string][]string{}
		}
		base := esHighlightBase(field)
		for _, f := range h.Highlight[field] {
			if !slices.Contains(hit.Highlights[base], f) {
				hit.Highlights[base] = append(hit.Highlights[base], f)
			}
		}
	}
	return hit, nil
}

// esCursorValues turns a hit's sort values ([score,] epoch milliseconds,
// id, as esSort asks for them) into cursor values, which esSearchAfter
// turns back into the same search_after.
func esCursorValues(s Sort, sortValues []types.FieldValue) ([]string, error) {
	want := 2
	if s == Relevance {
		want = 3
	}
	if len(sortValues) != want {
		return nil, fmt.Errorf("search: hit has %d sort values, want %d", len(sortValues), want)
	}
	nums := make([]float64, want)
	for i, v := range sortValues {
		switch v := v.(type) {
		case float64:
			nums[i] = v
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				return nil, fmt.Errorf("search: sort value %q: %w", v, err)
			}
			nums[i] = f
		default:
			return nil, fmt.Errorf("search: sort value %v is not a number", v)
		}
	}
	var out []string
	if s == Relevance {
		out = append(out, strconv.FormatFloat(nums[0], 'g', -1, 64))
		nums = nums[1:]
	}
	date := time.UnixMilli(int64(nums[0])).UTC().Format(time.RFC3339Nano)
	return append(out, date, strconv.FormatInt(int64(nums[1]), 10)), nil
}

// Count counts the tenant's documents.
func (x *ESIndex) Count(ctx context.Context, tenantID, mailboxID int64) (int64, error) {
	if tenantID <= 0 {
		return 0, ErrNoTenant
	}
	res, err := x.es.Count().Index(x.tenantAlias(tenantID)).Routing(idStr(tenantID)).Query(scopeQuery(tenantID, mailboxID)).Do(ctx)
	if err != nil {
		err = esError("count", err)
		if isStatus(err, http.StatusNotFound) {
			return 0, nil
		}
		return 0, err
	}
	return res.Count, nil
}

// hashesPage is the page size of Hashes, the most a search may return
// (index.max_result_window).
const hashesPage = 10000

// Hashes pages through the tenant's documents sorted by id with
// search_after and maps each id to its stored content hash.
func (x *ESIndex) Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	out := map[int64]string{}
	var after []types.FieldValue
	for {
		size := hashesPage
		req := &search.Request{
			Query: scopeQuery(tenantID, mailboxID), Size: &size, TrackTotalHits: false,
			Source_: []string{"hash"}, Sort: []types.SortCombinations{fieldSort("id", sortorder.Asc)}, SearchAfter: after,
		}
		res, err := x.es.Search().Index(x.tenantAlias(tenantID)).Routing(idStr(tenantID)).Request(req).Do(ctx)
		if err != nil {
			err = esError("list documents", err)
			if isStatus(err, http.StatusNotFound) {
				return out, nil
			}
			return nil, err
		}
		var last int64
		for _, h := range res.Hits.Hits {
			id, err := strconv.ParseInt(derefStr(h.Id_), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("search: unexpected document id %q", derefStr(h.Id_))
			}
			var src struct {
				Hash string `json:"hash"`
			}
			if err := json.Unmarshal(h.Source_, &src); err != nil {
				return nil, fmt.Errorf("search: decode document %d: %w", id, err)
			}
			out[id], last = src.Hash, id
		}
		if len(res.Hits.Hits) < hashesPage {
			return out, nil
		}
		after = []types.FieldValue{last}
	}
}
