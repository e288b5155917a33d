package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"tidings/internal/retry"
)

// Elasticsearch backend.
//
// Layout: physical indices "<prefix>-<generation>" are created from the
// index template <prefix>. Each tenant has a filtered alias
// "<prefix>-t<tenant>" (filter tenant_id, routing = tenant id) on one
// physical index; the alias "<prefix>" marks the index new tenants join.
// Every request goes through the tenant alias, carries routing=tenant and
// also filters on tenant_id itself, so isolation does not rest on the alias
// alone. Reindex builds a tenant's documents into a fresh physical index and
// swaps the tenant alias in one _aliases call, so searches never see a
// half-built index.

// ESConfig configures the Elasticsearch backend.
type ESConfig struct {
	URL      string
	Username string
	Password string
	APIKey   string
	// Prefix names the template, the indices and the aliases; default "tidings-mail".
	Prefix string
	// Refresh is passed to write requests ("", "true", "wait_for"); tests
	// use "wait_for" so a search sees the previous write.
	Refresh string
	// MaxRetries bounds retries of 429/502/503/504 responses (default 5).
	MaxRetries int
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
	// BulkWorkers is the number of bulk indexer workers (default 2).
	BulkWorkers int
}

// ESIndex is the Elasticsearch backend.
type ESIndex struct {
	es      *elasticsearch.Client
	cfg     ESConfig
	log     *slog.Logger
	mu      sync.Mutex
	tenants map[int64]bool // tenant aliases known to exist
}

var _ Index = (*ESIndex)(nil)

// ESError is an error response from Elasticsearch.
type ESError struct {
	Status int
	Type   string
	Reason string
}

func (e *ESError) Error() string {
	return fmt.Sprintf("elasticsearch: %d %s: %s", e.Status, e.Type, e.Reason)
}

// backoff is the project's retry policy (package retry), from 100 ms up
// to 10 s.
func backoff(attempt int) time.Duration {
	return retry.Delay(100*time.Millisecond, 10*time.Second, attempt)
}

// OpenElasticsearch connects, installs the index template and makes sure
// the base alias points at an index.
func OpenElasticsearch(ctx context.Context, cfg ESConfig, logger *slog.Logger) (*ESIndex, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tidings-mail"
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.BulkWorkers == 0 {
		cfg.BulkWorkers = 2
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{cfg.URL},
		Username:  cfg.Username, Password: cfg.Password, APIKey: cfg.APIKey,
		// 429 is how Elasticsearch sheds load (es_rejected_execution_exception
		// when a thread pool queue is full); retry it like a 503.
		RetryOnStatus: []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
		MaxRetries:    cfg.MaxRetries,
		RetryBackoff:  backoff,
		Transport:     cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("search: elasticsearch client: %w", err)
	}
	x := &ESIndex{es: es, cfg: cfg, log: logger, tenants: map[int64]bool{}}
	if err := x.setup(ctx); err != nil {
		return nil, err
	}
	return x, nil
}

// Close releases nothing: the client holds only idle HTTP connections.
func (x *ESIndex) Close() error { return nil }

func (x *ESIndex) tenantAlias(t int64) string { return x.cfg.Prefix + "-t" + idStr(t) }

// do runs req, decodes a 2xx body into out (if non-nil) and turns other
// statuses into *ESError.
func (x *ESIndex) do(ctx context.Context, req esapi.Request, out any) error {
	res, err := req.Do(ctx, x.es)
	if err != nil {
		return fmt.Errorf("search: elasticsearch request: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		var e struct {
			Error struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		ee := &ESError{Status: res.StatusCode}
		if json.Unmarshal(body, &e) == nil && e.Error.Type != "" {
			ee.Type, ee.Reason = e.Error.Type, e.Error.Reason
		} else {
			ee.Reason = strings.TrimSpace(string(body))
		}
		return ee
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("search: decode elasticsearch response: %w", err)
	}
	return nil
}

func isStatus(err error, status int) bool {
	var e *ESError
	return errors.As(err, &e) && e.Status == status
}

// jsonBody encodes a request body; an encoding error surfaces as the
// request's error when the transport reads the body.
func jsonBody(v any) io.Reader {
	b, err := json.Marshal(v)
	if err != nil {
		return errReader{fmt.Errorf("search: encode request body: %w", err)}
	}
	return bytes.NewReader(b)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func (x *ESIndex) setup(ctx context.Context) error {
	tmpl := fmt.Sprintf(esIndexTemplate, x.cfg.Prefix)
	if err := x.do(ctx, esapi.IndicesPutIndexTemplateRequest{Name: x.cfg.Prefix, Body: strings.NewReader(tmpl)}, nil); err != nil {
		return fmt.Errorf("search: install index template: %w", err)
	}
	cur, err := x.aliasIndices(ctx, x.cfg.Prefix)
	if err != nil {
		return err
	}
	if len(cur) > 0 {
		return nil
	}
	name, err := x.createIndex(ctx)
	if err != nil {
		return err
	}
	body := map[string]any{"actions": []any{map[string]any{"add": map[string]any{"index": name, "alias": x.cfg.Prefix}}}}
	if err := x.do(ctx, esapi.IndicesUpdateAliasesRequest{Body: jsonBody(body)}, nil); err != nil {
		return fmt.Errorf("search: point alias %s at %s: %w", x.cfg.Prefix, name, err)
	}
	x.log.Info("search: created elasticsearch index", slog.String("index", name))
	return nil
}

func (x *ESIndex) createIndex(ctx context.Context) (string, error) {
	name := fmt.Sprintf("%s-%d", x.cfg.Prefix, time.Now().UnixNano())
	if err := x.do(ctx, esapi.IndicesCreateRequest{Index: name}, nil); err != nil {
		return "", fmt.Errorf("search: create index %s: %w", name, err)
	}
	return name, nil
}

// aliasIndices returns the indices alias points at (none when absent).
func (x *ESIndex) aliasIndices(ctx context.Context, alias string) ([]string, error) {
	var out map[string]json.RawMessage
	err := x.do(ctx, esapi.IndicesGetAliasRequest{Name: []string{alias}}, &out)
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("search: look up alias %s: %w", alias, err)
	}
	names := make([]string, 0, len(out))
	for k := range out {
		names = append(names, k)
	}
	slices.Sort(names)
	return names, nil
}

func (x *ESIndex) tenantAliasAction(index string, tenantID int64) map[string]any {
	return map[string]any{"add": map[string]any{
		"index": index, "alias": x.tenantAlias(tenantID),
		"filter":  map[string]any{"term": map[string]any{"tenant_id": tenantID}},
		"routing": idStr(tenantID),
	}}
}

// ensureTenant creates the tenant's filtered, routed alias on the current
// base index the first time the tenant writes.
func (x *ESIndex) ensureTenant(ctx context.Context, tenantID int64) error {
	x.mu.Lock()
	known := x.tenants[tenantID]
	x.mu.Unlock()
	if known {
		return nil
	}
	alias := x.tenantAlias(tenantID)
	res, err := esapi.IndicesExistsAliasRequest{Name: []string{alias}}.Do(ctx, x.es)
	if err != nil {
		return fmt.Errorf("search: check alias %s: %w", alias, err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		base, err := x.aliasIndices(ctx, x.cfg.Prefix)
		if err != nil {
			return err
		}
		if len(base) != 1 {
			return fmt.Errorf("search: alias %s points at %d indices, want 1", x.cfg.Prefix, len(base))
		}
		body := map[string]any{"actions": []any{x.tenantAliasAction(base[0], tenantID)}}
		if err := x.do(ctx, esapi.IndicesUpdateAliasesRequest{Body: jsonBody(body)}, nil); err != nil {
			return fmt.Errorf("search: create alias %s: %w", alias, err)
		}
	} else if res.IsError() {
		return fmt.Errorf("search: check alias %s: status %d", alias, res.StatusCode)
	}
	x.mu.Lock()
	x.tenants[tenantID] = true
	x.mu.Unlock()
	return nil
}

// esDoc is the _source of a message.
type esDoc struct {
	ID            int64     `json:"id"`
	TenantID      int64     `json:"tenant_id"`
	MailboxID     int64     `json:"mailbox_id"`
	GmailID       string    `json:"gmail_id,omitempty"`
	ThreadID      string    `json:"thread_id,omitempty"`
	Subject       string    `json:"subject"`
	From          string    `json:"from"`
	To            []string  `json:"to,omitempty"`
	Cc            []string  `json:"cc,omitempty"`
	Bcc           []string  `json:"bcc,omitempty"`
	Body          string    `json:"body"`
	Labels        []string  `json:"labels"`
	LabelIDs      []string  `json:"label_ids,omitempty"`
	LabelNames    []string  `json:"label_names,omitempty"`
	Date          time.Time `json:"date"`
	HasAttachment bool      `json:"has_attachment"`
	Filenames     []string  `json:"filenames,omitempty"`
	ContactIDs    []int64   `json:"contact_ids,omitempty"`
	AccountIDs    []int64   `json:"account_ids,omitempty"`
	CaseIDs       []int64   `json:"case_ids,omitempty"`
	Hash          string    `json:"hash,omitempty"`
}

func toESDoc(d *Document) esDoc {
	return esDoc{ID: d.ID, TenantID: d.TenantID, MailboxID: d.MailboxID, GmailID: d.GmailID, ThreadID: d.ThreadID,
		Subject: d.Subject, From: d.From.String(), To: displayAddresses(d.To), Cc: displayAddresses(d.Cc),
		Bcc: displayAddresses(d.Bcc), Body: d.Body,
		Labels: labelTerms(d.LabelIDs, d.LabelNames), LabelIDs: d.LabelIDs, LabelNames: d.LabelNames,
		Date: d.Date.UTC(), HasAttachment: d.HasAttachment, Filenames: d.Filenames,
		ContactIDs: d.ContactIDs, AccountIDs: d.AccountIDs, CaseIDs: d.CaseIDs, Hash: d.Hash()}
}

// Index upserts docs through each tenant's alias with the bulk indexer.
func (x *ESIndex) Index(ctx context.Context, docs []Document) error {
	byTenant := map[int64][]Document{}
	for i := range docs {
		if err := validateDoc(&docs[i]); err != nil {
			return err
		}
		byTenant[docs[i].TenantID] = append(byTenant[docs[i].TenantID], docs[i])
	}
	tenants := make([]int64, 0, len(byTenant))
	for t := range byTenant {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	for _, t := range tenants {
		if err := x.ensureTenant(ctx, t); err != nil {
			return err
		}
		if err := x.bulkIndex(ctx, x.tenantAlias(t), true, t, byTenant[t]); err != nil {
			return err
		}
	}
	return nil
}

// bulkIndex sends docs with esutil.BulkIndexer. Items rejected with 429
// inside a 200 bulk response (the transport cannot see those) are retried
// with backoff; any other item failure fails the call.
func (x *ESIndex) bulkIndex(ctx context.Context, index string, requireAlias bool, tenantID int64, docs []Document) error {
	pending := docs
	for attempt := 0; ; attempt++ {
		var mu sync.Mutex
		var retry []Document
		var failures []string
		bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
			Client: x.es, Index: index, Refresh: x.cfg.Refresh, NumWorkers: x.cfg.BulkWorkers,
			FlushBytes: 5 << 20, RequireAlias: requireAlias,
			OnError: func(_ context.Context, err error) {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			},
		})
		if err != nil {
			return fmt.Errorf("search: bulk indexer: %w", err)
		}
		for i := range pending {
			d := &pending[i]
			body, err := json.Marshal(toESDoc(d))
			if err != nil {
				return fmt.Errorf("search: encode document %d: %w", d.ID, err)
			}
			err = bi.Add(ctx, esutil.BulkIndexerItem{
				Action: "index", DocumentID: idStr(d.ID), Routing: idStr(tenantID), Body: bytes.NewReader(body),
				OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, r esutil.BulkIndexerResponseItem, err error) {
					mu.Lock()
					defer mu.Unlock()
					if r.Status == http.StatusTooManyRequests {
						retry = append(retry, *d)
						return
					}
					if err != nil {
						failures = append(failures, fmt.Sprintf("%d: %v", d.ID, err))
						return
					}
					failures = append(failures, fmt.Sprintf("%d: %s: %s", d.ID, r.Error.Type, r.Error.Reason))
				},
			})
			if err != nil {
				_ = bi.Close(ctx)
				return fmt.Errorf("search: bulk add: %w", err)
			}
		}
		if err := bi.Close(ctx); err != nil {
			return fmt.Errorf("search: bulk index: %w", err)
		}
		if len(failures) > 0 {
			return fmt.Errorf("search: bulk index: %d failures, first: %s", len(failures), failures[0])
		}
		if len(retry) == 0 {
			return nil
		}
		if attempt >= x.cfg.MaxRetries {
			return fmt.Errorf("search: bulk index: %d documents still rejected (429) after %d retries", len(retry), attempt)
		}
		x.log.Warn("search: elasticsearch rejected bulk items, retrying", slog.Int("items", len(retry)), slog.Int("attempt", attempt+1))
		select {
		case <-ctx.Done():
			return fmt.Errorf("search: bulk index: %w", ctx.Err())
		case <-time.After(backoff(attempt)):
		}
		pending = retry
	}
}

func tenantFilter(tenantID int64) map[string]any {
	return map[string]any{"term": map[string]any{"tenant_id": tenantID}}
}

func idsQuery(tenantID int64, ids []int64) map[string]any {
	return map[string]any{"query": map[string]any{"bool": map[string]any{"filter": []any{
		tenantFilter(tenantID),
		map[string]any{"ids": map[string]any{"values": idStrs(ids)}},
	}}}}
}

func (x *ESIndex) refresh() *bool {
	if x.cfg.Refresh == "" || x.cfg.Refresh == "false" {
		return nil
	}
	t := true
	return &t
}

// Delete removes the tenant's documents among ids with _delete_by_query, so
// an id of another tenant can never be deleted through this tenant.
func (x *ESIndex) Delete(ctx context.Context, tenantID int64, ids []int64) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	if len(ids) == 0 {
		return nil
	}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		err := x.do(ctx, esapi.DeleteByQueryRequest{
			Index: []string{x.tenantAlias(tenantID)}, Routing: []string{idStr(tenantID)},
			Body: jsonBody(idsQuery(tenantID, chunk)), Refresh: x.refresh(), Conflicts: "proceed",
		}, nil)
		if isStatus(err, http.StatusNotFound) {
			return nil // the tenant has no index yet: nothing to delete
		}
		if err != nil {
			return fmt.Errorf("search: delete %d documents: %w", len(chunk), err)
		}
	}
	return nil
}

// UpdateLabels sets labels with _update_by_query (scoped like Delete).
func (x *ESIndex) UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	body := idsQuery(tenantID, []int64{id})
	body["script"] = map[string]any{
		"lang":   "painless",
		"source": "ctx._source.labels = params.labels; ctx._source.label_ids = params.label_ids; ctx._source.label_names = params.label_names",
		"params": map[string]any{"labels": labelTerms(labelIDs, labelNames), "label_ids": orEmpty(labelIDs), "label_names": orEmpty(labelNames)},
	}
	var out struct {
		Updated int64 `json:"updated"`
		Total   int64 `json:"total"`
	}
	err := x.do(ctx, esapi.UpdateByQueryRequest{
		Index: []string{x.tenantAlias(tenantID)}, Routing: []string{idStr(tenantID)},
		Body: jsonBody(body), Refresh: x.refresh(), Conflicts: "proceed",
	}, &out)
	if isStatus(err, http.StatusNotFound) || (err == nil && out.Total == 0) {
		return fmt.Errorf("search: update labels of %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("search: update labels of %d: %w", id, err)
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scopeFilter(tenantID, mailboxID int64) []any {
	f := []any{tenantFilter(tenantID)}
	if mailboxID != 0 {
		f = append(f, map[string]any{"term": map[string]any{"mailbox_id": mailboxID}})
	}
	return f
}

// Count counts the tenant's documents.
func (x *ESIndex) Count(ctx context.Context, tenantID, mailboxID int64) (int64, error) {
	if tenantID <= 0 {
		return 0, ErrNoTenant
	}
	var out struct {
		Count int64 `json:"count"`
	}
	body := map[string]any{"query": map[string]any{"bool": map[string]any{"filter": scopeFilter(tenantID, mailboxID)}}}
	err := x.do(ctx, esapi.CountRequest{Index: []string{x.tenantAlias(tenantID)}, Routing: []string{idStr(tenantID)}, Body: jsonBody(body)}, &out)
	if isStatus(err, http.StatusNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("search: count: %w", err)
	}
	return out.Count, nil
}

type esSearchResponse struct {
	Hits struct {
		Total struct {
			Value    int64  `json:"value"`
			Relation string `json:"relation"`
		} `json:"total"`
		Hits []struct {
			ID        string              `json:"_id"`
			Score     *float64            `json:"_score"`
			Source    esDoc               `json:"_source"`
			Highlight map[string][]string `json:"highlight"`
			Sort      []json.RawMessage   `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
}

// Hashes pages through the tenant's documents sorted by id with
// search_after and maps each id to its stored content hash.
func (x *ESIndex) Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	const page = 10000
	out := map[int64]string{}
	var after []any
	for {
		body := map[string]any{
			"query":   map[string]any{"bool": map[string]any{"filter": scopeFilter(tenantID, mailboxID)}},
			"size":    page,
			"_source": []string{"hash"},
			"sort":    []any{map[string]any{"id": "asc"}},
		}
		if after != nil {
			body["search_after"] = after
		}
		var res esSearchResponse
		err := x.do(ctx, esapi.SearchRequest{Index: []string{x.tenantAlias(tenantID)}, Routing: []string{idStr(tenantID)}, Body: jsonBody(body)}, &res)
		if isStatus(err, http.StatusNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("search: list documents: %w", err)
		}
		var last int64
		for _, h := range res.Hits.Hits {
			id, err := strconv.ParseInt(h.ID, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("search: unexpected document id %q", h.ID)
			}
			out[id], last = h.Source.Hash, id
		}
		if len(res.Hits.Hits) < page {
			break
		}
		after = []any{last}
	}
	return out, nil
}

// SearchBody builds the Elasticsearch request body for req; exported for
// the test suite and for debugging (tidings search --explain).
func (x *ESIndex) SearchBody(tenantID int64, req Request) (map[string]any, error) {
	pq, err := ParseQueryIn(req.Query, req.Location)
	if err != nil {
		return nil, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	filter := []any{tenantFilter(tenantID)}
	for _, f := range []struct {
		field string
		ids   []int64
	}{{"mailbox_id", req.MailboxIDs}, {"contact_ids", req.ContactIDs}, {"account_ids", req.AccountIDs}, {"case_ids", req.CaseIDs}} {
		if len(f.ids) > 0 {
			filter = append(filter, map[string]any{"terms": map[string]any{f.field: f.ids}})
		}
	}
	boolQ := map[string]any{"filter": filter}
	if root := (esCompiler{now: now}).compile(pq.Root); root != nil {
		boolQ["must"] = []any{root}
	}
	var mustNot []any
	if !pq.IncludeTrash {
		mustNot = append(mustNot, map[string]any{"term": map[string]any{"labels": "trash"}})
	}
	if !pq.IncludeSpam {
		mustNot = append(mustNot, map[string]any{"term": map[string]any{"labels": "spam"}})
	}
	if len(mustNot) > 0 {
		boolQ["must_not"] = mustNot
	}
	hl := map[string]any{}
	for _, f := range []string{"subject", "subject.prefix", "from", "from.prefix", "to", "to.prefix", "cc", "cc.prefix", "body"} {
		hl[f] = map[string]any{}
	}
	body := map[string]any{
		"query":            map[string]any{"bool": boolQ},
		"size":             pageSize(req.Size),
		"track_total_hits": MaxTotal,
		"_source":          []string{"id", "mailbox_id", "gmail_id", "thread_id", "subject", "from", "date"},
		"sort":             esSort(req.Sort),
		"highlight": map[string]any{
			"pre_tags": []string{"<mark>"}, "post_tags": []string{"</mark>"}, "encoder": "html",
			"require_field_match": true, "fragment_size": 150, "number_of_fragments": 3, "fields": hl,
		},
	}
	if req.After != "" {
		v, err := decodeCursor(req.After, req.Sort)
		if err != nil {
			return nil, err
		}
		body["search_after"] = esSearchAfter(req.Sort, v)
	}
	return body, nil
}

func esSort(s Sort) []any {
	switch s {
	case DateAsc:
		return []any{map[string]any{"date": "asc"}, map[string]any{"id": "asc"}}
	case DateDesc:
		return []any{map[string]any{"date": "desc"}, map[string]any{"id": "desc"}}
	}
	return []any{map[string]any{"_score": "desc"}, map[string]any{"date": "desc"}, map[string]any{"id": "desc"}}
}

// esSearchAfter converts validated cursor values to Elasticsearch sort
// values: score as a number, the date as epoch milliseconds, the id as a number.
func esSearchAfter(s Sort, v []string) []any {
	var out []any
	if s == Relevance {
		f, _ := strconv.ParseFloat(v[0], 64)
		out = append(out, f)
		v = v[1:]
	}
	t, _ := time.Parse(time.RFC3339Nano, v[0])
	id, _ := strconv.ParseInt(v[1], 10, 64)
	return append(out, t.UnixMilli(), id)
}

// Search runs req through the tenant's alias.
func (x *ESIndex) Search(ctx context.Context, tenantID int64, req Request) (*Result, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	body, err := x.SearchBody(tenantID, req)
	if err != nil {
		return nil, err
	}
	var res esSearchResponse
	err = x.do(ctx, esapi.SearchRequest{Index: []string{x.tenantAlias(tenantID)}, Routing: []string{idStr(tenantID)}, Body: jsonBody(body)}, &res)
	if isStatus(err, http.StatusNotFound) {
		return &Result{Hits: []Hit{}, TotalRelation: TotalExact}, nil // tenant never indexed anything
	}
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	out := &Result{Hits: make([]Hit, 0, len(res.Hits.Hits))}
	out.setTotal(res.Hits.Total.Value)
	if res.Hits.Total.Relation == TotalAtLeast {
		out.Total, out.TotalRelation = max(res.Hits.Total.Value, MaxTotal), TotalAtLeast
	}
	for _, h := range res.Hits.Hits {
		id, err := strconv.ParseInt(h.ID, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("search: unexpected document id %q", h.ID)
		}
		s := h.Source
		hit := Hit{ID: id, MailboxID: s.MailboxID, GmailID: s.GmailID, ThreadID: s.ThreadID, Subject: s.Subject, From: s.From, Date: s.Date}
		if h.Score != nil {
			hit.Score = *h.Score
		}
		for field, frags := range h.Highlight {
			if hit.Highlights == nil {
				hit.Highlights = map[string][]string{}
			}
			base := strings.TrimSuffix(field, ".prefix")
			for _, f := range frags {
				if !slices.Contains(hit.Highlights[base], f) {
					hit.Highlights[base] = append(hit.Highlights[base], f)
				}
			}
		}
		out.Hits = append(out.Hits, hit)
	}
	if len(out.Hits) == pageSize(req.Size) {
		out.Next = encodeCursor(req.Sort, cursorValues(req.Sort, out.Hits[len(out.Hits)-1]))
	}
	return out, nil
}

type esCompiler struct{ now time.Time }

var (
	esAnyFields  = []string{"subject", "from", "to", "cc", "bcc", "body", "filenames"}
	esFieldNames = map[string]string{FieldFrom: "from", FieldTo: "to", FieldCc: "cc", FieldBcc: "bcc", FieldSubject: "subject", FieldFilename: "filenames"}
	esAddrFields = map[string]bool{"from": true, "to": true, "cc": true, "bcc": true}
)

func (c esCompiler) compile(n Node) any {
	switch n := n.(type) {
	case *AllNode:
		return nil
	case *TextNode:
		return c.text(n)
	case *LabelNode:
		return map[string]any{"term": map[string]any{"labels": n.Label}}
	case *AttachmentNode:
		return map[string]any{"term": map[string]any{"has_attachment": true}}
	case *DateNode:
		return esRange(n.After, n.At)
	case *RelDateNode:
		return esRange(n.Newer, n.Since(c.now))
	case *NotNode:
		inner := c.compile(n.Child)
		if inner == nil {
			return map[string]any{"match_none": map[string]any{}}
		}
		return map[string]any{"bool": map[string]any{"must_not": []any{inner}}}
	case *AndNode:
		var qs []any
		for _, ch := range n.Children {
			if q := c.compile(ch); q != nil {
				qs = append(qs, q)
			}
		}
		if len(qs) == 0 {
			return nil
		}
		return map[string]any{"bool": map[string]any{"must": qs}}
	case *OrNode:
		var qs []any
		for _, ch := range n.Children {
			q := c.compile(ch)
			if q == nil {
				return nil
			}
			qs = append(qs, q)
		}
		return map[string]any{"bool": map[string]any{"should": qs, "minimum_should_match": 1}}
	}
	return map[string]any{"match_none": map[string]any{}}
}

func esRange(after bool, at time.Time) any {
	op := "lt"
	if after {
		op = "gte"
	}
	return map[string]any{"range": map[string]any{"date": map[string]any{op: at.UTC().Format(time.RFC3339)}}}
}

// foldTokens splits and folds text the way both backends' analyzers do, to
// decide between a prefix match (one word) and a phrase (several).
func foldTokens(s string) []string { return foldAnalyzer().Analyze([]byte(s)) }

var foldAnalyzer = sync.OnceValue(func() analyzerAdapter {
	m, err := newBleveMapping()
	if err != nil {
		panic(err) // static configuration, exercised by every test
	}
	return analyzerAdapter{m.AnalyzerNamed(analyzerFolded)}
})

func (c esCompiler) text(n *TextNode) any {
	fields := esAnyFields
	if n.Field != FieldAny {
		fields = []string{esFieldNames[n.Field]}
	}
	tokens := foldTokens(n.Text)
	if len(tokens) == 0 {
		return map[string]any{"match_none": map[string]any{}}
	}
	var should []any
	if n.Phrase || len(tokens) > 1 {
		should = append(should, map[string]any{"multi_match": map[string]any{"query": strings.Join(tokens, " "), "type": "phrase", "fields": fields}})
	} else {
		var prefixFields, exact []string
		for _, f := range fields {
			exact = append(exact, f+"^2")
			if f == "body" {
				should = append(should, map[string]any{"match_bool_prefix": map[string]any{"body": tokens[0]}})
			} else {
				prefixFields = append(prefixFields, f+".prefix")
			}
		}
		if len(prefixFields) > 0 {
			should = append(should, map[string]any{"multi_match": map[string]any{"query": tokens[0], "fields": prefixFields}})
		}
		should = append(should, map[string]any{"multi_match": map[string]any{"query": tokens[0], "fields": exact}})
	}
	if !n.Phrase && strings.Contains(n.Text, "@") {
		for _, f := range fields {
			if esAddrFields[f] {
				should = append(should, map[string]any{"prefix": map[string]any{f + ".addr": strings.ToLower(n.Text)}})
			}
		}
	}
	if len(should) == 1 {
		return should[0]
	}
	return map[string]any{"bool": map[string]any{"should": should, "minimum_should_match": 1}}
}

// rebuildTenant fills a new physical index with the tenant's documents and
// then, in one atomic _aliases call, moves the tenant alias (and the base
// alias, so new tenants join the newest index) onto it. The tenant's old
// copy is deleted afterwards, and an old index left with no aliases is
// dropped.
func (x *ESIndex) rebuildTenant(ctx context.Context, tenantID int64, src Source, progress func(done int64)) error {
	alias := x.tenantAlias(tenantID)
	newIndex, err := x.createIndex(ctx)
	if err != nil {
		return err
	}
	var done int64
	err = src.Documents(ctx, tenantID, func(batch []Document) error {
		for i := range batch {
			if err := validateDoc(&batch[i]); err != nil {
				return err
			}
			if batch[i].TenantID != tenantID {
				return fmt.Errorf("source returned document %d of tenant %d", batch[i].ID, batch[i].TenantID)
			}
		}
		if err := x.bulkIndex(ctx, newIndex, false, tenantID, batch); err != nil {
			return err
		}
		done += int64(len(batch))
		progress(done)
		return nil
	})
	if err != nil {
		_ = x.do(ctx, esapi.IndicesDeleteRequest{Index: []string{newIndex}}, nil)
		return fmt.Errorf("search: reindex tenant %d: %w", tenantID, err)
	}
	oldTenant, err := x.aliasIndices(ctx, alias)
	if err != nil {
		return err
	}
	oldBase, err := x.aliasIndices(ctx, x.cfg.Prefix)
	if err != nil {
		return err
	}
	var actions []any
	for _, old := range oldTenant {
		actions = append(actions, map[string]any{"remove": map[string]any{"index": old, "alias": alias}})
	}
	for _, old := range oldBase {
		actions = append(actions, map[string]any{"remove": map[string]any{"index": old, "alias": x.cfg.Prefix}})
	}
	actions = append(actions, x.tenantAliasAction(newIndex, tenantID),
		map[string]any{"add": map[string]any{"index": newIndex, "alias": x.cfg.Prefix}})
	if err := x.do(ctx, esapi.IndicesUpdateAliasesRequest{Body: jsonBody(map[string]any{"actions": actions})}, nil); err != nil {
		return fmt.Errorf("search: reindex tenant %d: swap alias: %w", tenantID, err)
	}
	x.mu.Lock()
	x.tenants[tenantID] = true
	x.mu.Unlock()
	x.log.Info("search: reindexed tenant", slog.Int64("tenant_id", tenantID), slog.String("index", newIndex), slog.Int64("documents", done))
	for _, old := range oldTenant {
		err := x.do(ctx, esapi.DeleteByQueryRequest{
			Index: []string{old}, Routing: []string{idStr(tenantID)}, Conflicts: "proceed",
			Body: jsonBody(map[string]any{"query": map[string]any{"bool": map[string]any{"filter": []any{tenantFilter(tenantID)}}}}),
		}, nil)
		if err != nil {
			x.log.Warn("search: old copy of tenant not removed", slog.String("index", old), slog.Any("err", err))
			continue
		}
		var aliases map[string]struct {
			Aliases map[string]json.RawMessage `json:"aliases"`
		}
		if err := x.do(ctx, esapi.IndicesGetAliasRequest{Index: []string{old}}, &aliases); err == nil && len(aliases[old].Aliases) == 0 {
			if err := x.do(ctx, esapi.IndicesDeleteRequest{Index: []string{old}}, nil); err != nil {
				x.log.Warn("search: unused index not deleted", slog.String("index", old), slog.Any("err", err))
			}
		}
	}
	return nil
}

// dropAll deletes every index and the template of this prefix (tests).
func (x *ESIndex) dropAll(ctx context.Context) {
	_ = x.do(ctx, esapi.IndicesDeleteRequest{Index: []string{x.cfg.Prefix + "-*"}}, nil)
	_ = x.do(ctx, esapi.IndicesDeleteIndexTemplateRequest{Name: x.cfg.Prefix}, nil)
}
