package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/typedapi/indices/putindextemplate"
	"github.com/elastic/go-elasticsearch/v8/typedapi/indices/updatealiases"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/conflicts"

	"tidings/internal/retry"
)

// Elasticsearch backend, built on go-elasticsearch's typed API (package
// typedapi, generated from the Elasticsearch specification), so every
// request body is a value of the specification's request types.
//
// Files: es.go (client, index template, aliases, reindex), es_mapping.go
// (analysis settings and field mapping), es_document.go (the indexed
// document, bulk writes, deletes, label updates), es_query.go (query text →
// query DSL, sort, search_after) and es_result.go (search, count, hashes
// and the mapping of responses to Result).
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
	// BulkBytes is the size of one bulk request body (default 5 MiB).
	BulkBytes int
}

// ESIndex is the Elasticsearch backend.
type ESIndex struct {
	es      *elasticsearch.TypedClient
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

// esError turns the typed client's *types.ElasticsearchError into an
// *ESError and wraps anything else (transport, decoding) with context.
func esError(what string, err error) error {
	var te *types.ElasticsearchError
	if errors.As(err, &te) {
		e := &ESError{Status: te.Status, Type: te.ErrorCause.Type}
		if te.ErrorCause.Reason != nil {
			e.Reason = *te.ErrorCause.Reason
		}
		return fmt.Errorf("search: %s: %w", what, e)
	}
	return fmt.Errorf("search: %s: %w", what, err)
}

func isStatus(err error, status int) bool {
	var e *ESError
	return errors.As(err, &e) && e.Status == status
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
	if cfg.BulkBytes == 0 {
		cfg.BulkBytes = 5 << 20
	}
	es, err := elasticsearch.NewTypedClient(elasticsearch.Config{
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

// refreshWrites reports whether writes wait for a refresh (ESConfig.Refresh).
func (x *ESIndex) refreshWrites() bool { return x.cfg.Refresh != "" && x.cfg.Refresh != "false" }

// indexTemplate is the composable index template for every physical index
// of the prefix (https://www.elastic.co/guide/en/elasticsearch/reference/8.19/index-templates.html).
func (x *ESIndex) indexTemplate() *putindextemplate.Request {
	priority := int64(200)
	return &putindextemplate.Request{
		IndexPatterns: []string{x.cfg.Prefix + "-*"},
		Priority:      &priority,
		Template:      &types.IndexTemplateMapping{Settings: esSettings(), Mappings: esMappings()},
	}
}

func (x *ESIndex) setup(ctx context.Context) error {
	if _, err := x.es.Indices.PutIndexTemplate(x.cfg.Prefix).Request(x.indexTemplate()).Do(ctx); err != nil {
		return esError("install index template", err)
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
	if err := x.updateAliases(ctx, addAlias(name, x.cfg.Prefix)); err != nil {
		return fmt.Errorf("search: point alias %s at %s: %w", x.cfg.Prefix, name, err)
	}
	x.log.Info("search: created elasticsearch index", slog.String("index", name))
	return nil
}

// createIndex creates a physical index; its settings and mappings come
// from the index template.
func (x *ESIndex) createIndex(ctx context.Context) (string, error) {
	name := fmt.Sprintf("%s-%d", x.cfg.Prefix, time.Now().UnixNano())
	if _, err := x.es.Indices.Create(name).Do(ctx); err != nil {
		return "", esError("create index "+name, err)
	}
	return name, nil
}

// aliasIndices returns the indices alias points at (none when absent).
func (x *ESIndex) aliasIndices(ctx context.Context, alias string) ([]string, error) {
	res, err := x.es.Indices.GetAlias().Name(alias).Do(ctx)
	if err != nil {
		err = esError("look up alias "+alias, err)
		if isStatus(err, http.StatusNotFound) {
			return nil, nil
		}
		return nil, err
	}
	names := make([]string, 0, len(res))
	for k := range res {
		names = append(names, k)
	}
	slices.Sort(names)
	return names, nil
}

func (x *ESIndex) updateAliases(ctx context.Context, actions ...types.IndicesAction) error {
	if _, err := x.es.Indices.UpdateAliases().Request(&updatealiases.Request{Actions: actions}).Do(ctx); err != nil {
		return esError("update aliases", err)
	}
	return nil
}

func addAlias(index, alias string) types.IndicesAction {
	return types.IndicesAction{Add: &types.AddAction{Index: &index, Alias: &alias}}
}

func removeAlias(index, alias string) types.IndicesAction {
	return types.IndicesAction{Remove: &types.RemoveAction{Index: &index, Alias: &alias}}
}

// tenantAliasAction adds the tenant's alias on index: filtered on
// tenant_id and routed by the tenant id, so every shard a tenant uses is
// the one its routing names.
func (x *ESIndex) tenantAliasAction(index string, tenantID int64) types.IndicesAction {
	alias, routing := x.tenantAlias(tenantID), idStr(tenantID)
	return types.IndicesAction{Add: &types.AddAction{
		Index: &index, Alias: &alias, Filter: tenantTerm(tenantID), Routing: &routing,
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
	exists, err := x.es.Indices.ExistsAlias(alias).Do(ctx)
	if err != nil {
		return esError("check alias "+alias, err)
	}
	if !exists {
		base, err := x.aliasIndices(ctx, x.cfg.Prefix)
		if err != nil {
			return err
		}
		if len(base) != 1 {
			return fmt.Errorf("search: alias %s points at %d indices, want 1", x.cfg.Prefix, len(base))
		}
		if err := x.updateAliases(ctx, x.tenantAliasAction(base[0], tenantID)); err != nil {
			return fmt.Errorf("search: create alias %s: %w", alias, err)
		}
	}
	x.mu.Lock()
	x.tenants[tenantID] = true
	x.mu.Unlock()
	return nil
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
	done, err := x.fillIndex(ctx, newIndex, tenantID, src, progress)
	if err != nil {
		_, _ = x.es.Indices.Delete(newIndex).Do(ctx)
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
	var actions []types.IndicesAction
	for _, old := range oldTenant {
		actions = append(actions, removeAlias(old, alias))
	}
	for _, old := range oldBase {
		actions = append(actions, removeAlias(old, x.cfg.Prefix))
	}
	actions = append(actions, x.tenantAliasAction(newIndex, tenantID), addAlias(newIndex, x.cfg.Prefix))
	if err := x.updateAliases(ctx, actions...); err != nil {
		return fmt.Errorf("search: reindex tenant %d: swap alias: %w", tenantID, err)
	}
	x.mu.Lock()
	x.tenants[tenantID] = true
	x.mu.Unlock()
	x.log.Info("search: reindexed tenant", slog.Int64("tenant_id", tenantID), slog.String("index", newIndex), slog.Int64("documents", done))
	for _, old := range oldTenant {
		x.dropOldCopy(ctx, old, tenantID)
	}
	return nil
}

// fillIndex bulk-loads the tenant's documents from src into index.
func (x *ESIndex) fillIndex(ctx context.Context, index string, tenantID int64, src Source, progress func(done int64)) (int64, error) {
	var done int64
	err := src.Documents(ctx, tenantID, func(batch []Document) error {
		for i := range batch {
			if err := validateDoc(&batch[i]); err != nil {
				return err
			}
			if batch[i].TenantID != tenantID {
				return fmt.Errorf("source returned document %d of tenant %d", batch[i].ID, batch[i].TenantID)
			}
		}
		if err := x.bulkIndex(ctx, index, false, tenantID, batch); err != nil {
			return err
		}
		done += int64(len(batch))
		progress(done)
		return nil
	})
	return done, err
}

// dropOldCopy deletes the tenant's documents from an index it left, and
// the index itself once no alias points at it any more.
func (x *ESIndex) dropOldCopy(ctx context.Context, old string, tenantID int64) {
	_, err := x.es.DeleteByQuery(old).Routing(idStr(tenantID)).Conflicts(conflicts.Proceed).
		Query(&types.Query{Bool: &types.BoolQuery{Filter: []types.Query{*tenantTerm(tenantID)}}}).Do(ctx)
	if err != nil {
		x.log.Warn("search: old copy of tenant not removed", slog.String("index", old), slog.Any("err", esError("delete old copy", err)))
		return
	}
	aliases, err := x.es.Indices.GetAlias().Index(old).Do(ctx)
	if err != nil || len(aliases[old].Aliases) > 0 {
		return
	}
	if _, err := x.es.Indices.Delete(old).Do(ctx); err != nil {
		x.log.Warn("search: unused index not deleted", slog.String("index", old), slog.Any("err", esError("delete index", err)))
	}
}

// dropAll deletes every index and the template of this prefix (tests).
func (x *ESIndex) dropAll(ctx context.Context) {
	_, _ = x.es.Indices.Delete(x.cfg.Prefix + "-*").Do(ctx)
	_, _ = x.es.Indices.DeleteIndexTemplate(x.cfg.Prefix).Do(ctx)
}
