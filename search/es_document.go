package search

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/elastic/go-elasticsearch/v8/typedapi/core/bulk"
	"github.com/elastic/go-elasticsearch/v8/typedapi/core/updatebyquery"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/conflicts"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/refresh"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/scriptlanguage"
)

// esDoc is the _source of a message (mapping: es_mapping.go). Participants
// are objects {name, address} as the store holds them (Address): the
// address a keyword, the name text.
type esDoc struct {
	ID            int64     `json:"id"`
	TenantID      int64     `json:"tenant_id"`
	MailboxID     int64     `json:"mailbox_id"`
	GmailID       string    `json:"gmail_id,omitempty"`
	ThreadID      string    `json:"thread_id,omitempty"`
	Subject       string    `json:"subject"`
	From          *Address  `json:"from,omitempty"`
	To            []Address `json:"to,omitempty"`
	Cc            []Address `json:"cc,omitempty"`
	Bcc           []Address `json:"bcc,omitempty"`
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
	var from *Address
	if d.From != (Address{}) {
		from = &d.From
	}
	return esDoc{ID: d.ID, TenantID: d.TenantID, MailboxID: d.MailboxID, GmailID: d.GmailID, ThreadID: d.ThreadID,
		Subject: d.Subject, From: from, To: d.To, Cc: d.Cc, Bcc: d.Bcc,
		Body: d.Body, Labels: labelTerms(d.LabelIDs, d.LabelNames), LabelIDs: d.LabelIDs, LabelNames: d.LabelNames,
		Date: d.Date.UTC(), HasAttachment: d.HasAttachment, Filenames: d.Filenames,
		ContactIDs: d.ContactIDs, AccountIDs: d.AccountIDs, CaseIDs: d.CaseIDs, Hash: d.Hash()}
}

// Index upserts docs through each tenant's alias with bulk requests.
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

// bulkIndex sends docs in bulk requests of about ESConfig.BulkBytes. Items
// rejected with 429 inside a 200 bulk response (the transport cannot see
// those) are resent with backoff; any other item failure fails the call.
// requireAlias makes Elasticsearch refuse a target that is not an alias,
// so a missing alias can never auto-create an index.
func (x *ESIndex) bulkIndex(ctx context.Context, index string, requireAlias bool, tenantID int64, docs []Document) error {
	pending := docs
	for attempt := 0; ; attempt++ {
		var rejected []Document
		for start := 0; start < len(pending); {
			req, n, err := x.bulkRequest(index, requireAlias, tenantID, pending[start:])
			if err != nil {
				return err
			}
			res, err := req.Do(ctx)
			if err != nil {
				return esError("bulk index", err)
			}
			retry, err := bulkFailures(res, pending[start:start+n])
			if err != nil {
				return err
			}
			rejected = append(rejected, retry...)
			start += n
		}
		if len(rejected) == 0 {
			return nil
		}
		if attempt >= x.cfg.MaxRetries {
			return fmt.Errorf("search: bulk index: %d documents still rejected (429) after %d retries", len(rejected), attempt)
		}
		x.log.Warn("search: elasticsearch rejected bulk items, retrying", slog.Int("items", len(rejected)), slog.Int("attempt", attempt+1))
		select {
		case <-ctx.Done():
			return fmt.Errorf("search: bulk index: %w", ctx.Err())
		case <-time.After(backoff(attempt)):
		}
		pending = rejected
	}
}

// bulkRequest builds one bulk request from the head of docs, up to
// BulkBytes of source; n is the number of documents it holds (at least one).
func (x *ESIndex) bulkRequest(index string, requireAlias bool, tenantID int64, docs []Document) (*bulk.Bulk, int, error) {
	req := x.es.Bulk().Index(index).RequireAlias(requireAlias)
	switch x.cfg.Refresh {
	case "true":
		req.Refresh(refresh.True)
	case "wait_for":
		req.Refresh(refresh.Waitfor)
	}
	routing, size := idStr(tenantID), 0
	n := 0
	for ; n < len(docs) && (n == 0 || size < x.cfg.BulkBytes); n++ {
		d := &docs[n]
		src, err := json.Marshal(toESDoc(d))
		if err != nil {
			return nil, 0, fmt.Errorf("search: encode document %d: %w", d.ID, err)
		}
		id := idStr(d.ID)
		if err := req.IndexOp(types.IndexOperation{Id_: &id, Routing: &routing}, json.RawMessage(src)); err != nil {
			return nil, 0, fmt.Errorf("search: bulk add %d: %w", d.ID, err)
		}
		size += len(src)
	}
	return req, n, nil
}

// bulkFailures returns the documents rejected with 429 and an error for
// any other failed item (docs are the documents of the request, in order).
func bulkFailures(res *bulk.Response, docs []Document) ([]Document, error) {
	if !res.Errors {
		return nil, nil
	}
	var retry []Document
	for i, item := range res.Items {
		for _, r := range item {
			switch {
			case r.Error == nil && r.Status < 300:
			case r.Status == http.StatusTooManyRequests && i < len(docs):
				retry = append(retry, docs[i])
			default:
				reason := ""
				if r.Error != nil {
					reason = r.Error.Type
					if r.Error.Reason != nil {
						reason += ": " + *r.Error.Reason
					}
				}
				return nil, fmt.Errorf("search: bulk index: document %s: status %d %s", derefStr(r.Id_), r.Status, reason)
			}
		}
	}
	return retry, nil
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Delete removes the tenant's documents among ids with _delete_by_query, so
// an id of another tenant can never be deleted through this tenant.
func (x *ESIndex) Delete(ctx context.Context, tenantID int64, ids []int64) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		_, err := x.es.DeleteByQuery(x.tenantAlias(tenantID)).Routing(idStr(tenantID)).
			Refresh(x.refreshWrites()).Conflicts(conflicts.Proceed).Query(idsQuery(tenantID, chunk)).Do(ctx)
		if err != nil {
			err = esError(fmt.Sprintf("delete %d documents", len(chunk)), err)
			if isStatus(err, http.StatusNotFound) {
				return nil // the tenant has no index yet: nothing to delete
			}
			return err
		}
	}
	return nil
}

// esLabelScript replaces the label fields of a document in place.
const esLabelScript = "ctx._source.labels = params.labels; ctx._source.label_ids = params.label_ids; ctx._source.label_names = params.label_names"

// UpdateLabels sets labels with _update_by_query (scoped like Delete).
func (x *ESIndex) UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	params := map[string]json.RawMessage{}
	for k, v := range map[string][]string{"labels": labelTerms(labelIDs, labelNames), "label_ids": orEmpty(labelIDs), "label_names": orEmpty(labelNames)} {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("search: encode labels: %w", err)
		}
		params[k] = b
	}
	src := esLabelScript
	res, err := x.es.UpdateByQuery(x.tenantAlias(tenantID)).Routing(idStr(tenantID)).
		Refresh(x.refreshWrites()).
		Request(&updatebyquery.Request{
			// Unlike _delete_by_query's, this conflicts is a body field.
			Conflicts: &conflicts.Proceed,
			Query:     idsQuery(tenantID, []int64{id}),
			Script:    &types.Script{Lang: &scriptlanguage.Painless, Source: &src, Params: params},
		}).Do(ctx)
	if err != nil {
		err = esError(fmt.Sprintf("update labels of %d", id), err)
		if isStatus(err, http.StatusNotFound) {
			return fmt.Errorf("%w: %w", err, ErrNotFound)
		}
		return err
	}
	if res.Total == nil || *res.Total == 0 {
		return fmt.Errorf("search: update labels of %d: %w", id, ErrNotFound)
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
