package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/mapping"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// Embedded backend: one bleve (scorch) index holding every tenant, each
// document carrying its tenant id as a keyword that every query requires.

// Names of the fields in the bleve index.
const (
	bfTenant   = "tenant"
	bfMailbox  = "mailbox"
	bfContacts = "contacts"
	bfAccounts = "accounts"
	bfCases    = "cases"
	bfLabels   = "labels"
	bfAttach   = "attach"
	bfDate     = "date"
	bfSubject  = "subject"
	bfFrom     = "from"
	bfTo       = "to"
	bfCc       = "cc"
	bfBcc      = "bcc"
	bfBody     = "body"
	bfFilename = "filename"
	bfMeta     = "meta"
	bfHash     = "hash" // Document.Hash, stored only, for the consistency check
	bfAll      = "_all" // bleve's composite of every field with IncludeInAll
	// Full lower-cased addresses, so from:p.jansen@acme.com matches exactly
	// and from:p.jansen@ac as a prefix.
	bfFromAddr = "from_addr"
	bfToAddr   = "to_addr"
	bfCcAddr   = "cc_addr"
	bfBccAddr  = "bcc_addr"

	analyzerFolded = "tidings_folded"
)

// newBleveMapping builds the index mapping: a folded analyzer (lower case,
// then ASCII folding so "muller" finds "Müller") for text, keywords for ids
// and labels, a datetime for sorting and ranges, and a stored "meta" blob
// that lets UpdateLabels rebuild a document without the database.
func newBleveMapping() (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomAnalyzer(analyzerFolded, map[string]any{
		"type":          custom.Name,
		"tokenizer":     wordsTokenizerName,
		"token_filters": []string{lowercase.Name, foldFilterName},
	}); err != nil {
		return nil, fmt.Errorf("search: bleve analyzer: %w", err)
	}
	im.DefaultAnalyzer = analyzerFolded
	im.IndexDynamic, im.StoreDynamic, im.DocValuesDynamic = false, false, false

	kw := func() *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = keyword.Name
		f.Store, f.IncludeTermVectors, f.IncludeInAll, f.DocValues = false, false, false, false
		return f
	}
	text := func(store bool) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzerFolded
		f.Store = store
		f.IncludeTermVectors = true // phrases and highlighting need positions
		// Every text field also feeds the composite "_all" field, so a free
		// word is one prefix lookup instead of one per field; its term
		// locations keep the source field name, so highlighting still
		// marks subject, from or body.
		f.IncludeInAll, f.DocValues = true, false
		return f
	}
	dm := bleve.NewDocumentStaticMapping()
	for _, name := range []string{bfTenant, bfMailbox, bfContacts, bfAccounts, bfCases, bfLabels, bfAttach,
		bfFromAddr, bfToAddr, bfCcAddr, bfBccAddr} {
		dm.AddFieldMappingsAt(name, kw())
	}
	date := bleve.NewDateTimeFieldMapping()
	date.Store, date.IncludeInAll, date.DocValues = false, false, true
	dm.AddFieldMappingsAt(bfDate, date)
	for _, name := range []string{bfSubject, bfFrom, bfTo, bfCc, bfBody} {
		dm.AddFieldMappingsAt(name, text(true))
	}
	for _, name := range []string{bfBcc, bfFilename} {
		dm.AddFieldMappingsAt(name, text(false))
	}
	meta := bleve.NewTextFieldMapping()
	meta.Index, meta.Store, meta.IncludeTermVectors, meta.IncludeInAll, meta.DocValues = false, true, false, false, false
	dm.AddFieldMappingsAt(bfMeta, meta)
	dm.AddFieldMappingsAt(bfHash, meta)
	im.DefaultMapping = dm
	return im, nil
}

// BleveIndex is the embedded backend.
type BleveIndex struct {
	idx      bleve.Index
	analyzer wordAnalyzer
	log      *slog.Logger
	lock     *os.File // see lockIndex
}

var _ Index = (*BleveIndex)(nil)

// OpenBleve opens the index at dir, creating it when absent.
func OpenBleve(dir string, logger *slog.Logger) (*BleveIndex, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return nil, fmt.Errorf("search: create index dir: %w", err)
	}
	lock, err := lockIndex(dir)
	if err != nil {
		return nil, err
	}
	b, err := openBleve(dir, logger)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	b.lock = lock
	return b, nil
}

func openBleve(dir string, logger *slog.Logger) (*BleveIndex, error) {
	var idx bleve.Index
	_, statErr := os.Stat(filepath.Join(dir, "index_meta.json"))
	switch {
	case statErr == nil:
		var err error
		idx, err = bleve.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("search: open bleve index %s: %w", dir, err)
		}
	case errors.Is(statErr, os.ErrNotExist):
		m, err := newBleveMapping()
		if err != nil {
			return nil, err
		}
		idx, err = bleve.New(dir, m)
		if err != nil {
			return nil, fmt.Errorf("search: create bleve index %s: %w", dir, err)
		}
		logger.Info("search: created embedded index", slog.String("dir", dir))
	default:
		return nil, fmt.Errorf("search: open bleve index %s: %w", dir, statErr)
	}
	b := &BleveIndex{idx: idx, log: logger}
	a := idx.Mapping().AnalyzerNamed(analyzerFolded)
	if a == nil {
		_ = idx.Close()
		return nil, fmt.Errorf("search: index %s lacks analyzer %s; rebuild it", dir, analyzerFolded)
	}
	b.analyzer = analyzerAdapter{a}
	return b, nil
}

// wordAnalyzer splits and folds query text exactly as the index mapping
// does for documents.
type wordAnalyzer interface {
	Analyze([]byte) analysisTokens
}

// Close closes the index.
func (b *BleveIndex) Close() error {
	defer b.lock.Close() // after the index is closed
	if err := b.idx.Close(); err != nil {
		return fmt.Errorf("search: close bleve index: %w", err)
	}
	return nil
}

// meta is the stored part of a document that is not a stored text field.
type bleveMeta struct {
	MailboxID     int64     `json:"m"`
	GmailID       string    `json:"g,omitempty"`
	ThreadID      string    `json:"t,omitempty"`
	From          Address   `json:"fr"`
	To            []Address `json:"to,omitempty"`
	Cc            []Address `json:"cc,omitempty"`
	Bcc           []Address `json:"b,omitempty"`
	LabelIDs      []string  `json:"l,omitempty"`
	LabelNames    []string  `json:"n,omitempty"`
	Date          time.Time `json:"d"`
	HasAttachment bool      `json:"a,omitempty"`
	Filenames     []string  `json:"f,omitempty"`
	ContactIDs    []int64   `json:"c,omitempty"`
	AccountIDs    []int64   `json:"ac,omitempty"`
	CaseIDs       []int64   `json:"cs,omitempty"`
}

func docKey(id int64) string { return strconv.FormatInt(id, 10) }
func idStr(id int64) string  { return strconv.FormatInt(id, 10) }

func idStrs(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = idStr(id)
	}
	return out
}

func validateDoc(d *Document) error {
	if d.ID <= 0 {
		return fmt.Errorf("search: document without id (gmail id %q)", d.GmailID)
	}
	if d.TenantID <= 0 {
		return fmt.Errorf("search: document %d: %w", d.ID, ErrNoTenant)
	}
	return nil
}

// bleveDoc is d as the fields of newBleveMapping.
func bleveDoc(d *Document) (map[string]any, error) {
	meta, err := json.Marshal(bleveMeta{
		MailboxID: d.MailboxID, GmailID: d.GmailID, ThreadID: d.ThreadID,
		From: d.From, To: d.To, Cc: d.Cc, Bcc: d.Bcc,
		LabelIDs: d.LabelIDs, LabelNames: d.LabelNames, Date: d.Date.UTC(), HasAttachment: d.HasAttachment,
		Filenames: d.Filenames, ContactIDs: d.ContactIDs, AccountIDs: d.AccountIDs, CaseIDs: d.CaseIDs,
	})
	if err != nil {
		return nil, fmt.Errorf("search: encode document %d: %w", d.ID, err)
	}
	m := map[string]any{
		bfTenant:   idStr(d.TenantID),
		bfMailbox:  idStr(d.MailboxID),
		bfContacts: idStrs(d.ContactIDs),
		bfAccounts: idStrs(d.AccountIDs),
		bfCases:    idStrs(d.CaseIDs),
		bfLabels:   labelTerms(d.LabelIDs, d.LabelNames),
		bfDate:     d.Date.UTC(),
		bfSubject:  d.Subject,
		bfFrom:     d.From.String(),
		bfTo:       displayAddresses(d.To),
		bfCc:       displayAddresses(d.Cc),
		bfBcc:      displayAddresses(d.Bcc),
		bfBody:     d.Body,
		bfFilename: d.Filenames,
		bfMeta:     string(meta),
		bfHash:     d.Hash(),
		bfFromAddr: addrSpecs(d.From),
		bfToAddr:   addrSpecs(d.To...),
		bfCcAddr:   addrSpecs(d.Cc...),
		bfBccAddr:  addrSpecs(d.Bcc...),
	}
	if d.HasAttachment {
		m[bfAttach] = "1"
	}
	return m, nil
}

// Index upserts docs in one bleve batch.
func (b *BleveIndex) Index(ctx context.Context, docs []Document) error {
	batch := b.idx.NewBatch()
	for i := range docs {
		if err := validateDoc(&docs[i]); err != nil {
			return err
		}
		m, err := bleveDoc(&docs[i])
		if err != nil {
			return err
		}
		if err := batch.Index(docKey(docs[i].ID), m); err != nil {
			return fmt.Errorf("search: index document %d: %w", docs[i].ID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("search: index: %w", err)
	}
	if err := b.idx.Batch(batch); err != nil {
		return fmt.Errorf("search: index batch of %d: %w", len(docs), err)
	}
	return nil
}

func tenantQuery(tenantID int64) query.Query { return termQ(bfTenant, idStr(tenantID)) }

func termQ(field, term string) *query.TermQuery {
	q := query.NewTermQuery(term)
	q.SetField(field)
	return q
}

// ownedIDs returns which of ids belong to the tenant.
func (b *BleveIndex) ownedIDs(ctx context.Context, tenantID int64, ids []int64, fields []string) ([]*bsearch.DocumentMatch, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = docKey(id)
	}
	req := bleve.NewSearchRequestOptions(query.NewConjunctionQuery([]query.Query{tenantQuery(tenantID), query.NewDocIDQuery(keys)}), len(keys), 0, false)
	req.Fields = fields
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("search: look up documents: %w", err)
	}
	return res.Hits, nil
}

// Delete removes the tenant's documents among ids.
func (b *BleveIndex) Delete(ctx context.Context, tenantID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	batch := b.idx.NewBatch()
	for start := 0; start < len(ids); start += 1000 {
		hits, err := b.ownedIDs(ctx, tenantID, ids[start:min(start+1000, len(ids))], nil)
		if err != nil {
			return err
		}
		for _, h := range hits {
			batch.Delete(h.ID)
		}
	}
	if err := b.idx.Batch(batch); err != nil {
		return fmt.Errorf("search: delete %d documents: %w", batch.Size(), err)
	}
	return nil
}

// UpdateLabels re-indexes one document with new labels from its stored fields.
func (b *BleveIndex) UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error {
	hits, err := b.ownedIDs(ctx, tenantID, []int64{id}, []string{"*"})
	if err != nil {
		return err
	}
	if len(hits) == 0 {
		return fmt.Errorf("search: update labels of %d: %w", id, ErrNotFound)
	}
	d, err := docFromFields(tenantID, id, hits[0].Fields)
	if err != nil {
		return err
	}
	d.LabelIDs, d.LabelNames = labelIDs, labelNames
	return b.Index(ctx, []Document{d})
}

func docFromFields(tenantID, id int64, f map[string]any) (Document, error) {
	var m bleveMeta
	s, _ := f[bfMeta].(string)
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Document{}, fmt.Errorf("search: stored fields of %d: %w", id, err)
	}
	str := func(name string) string { v, _ := f[name].(string); return v }
	return Document{
		ID: id, TenantID: tenantID, MailboxID: m.MailboxID, GmailID: m.GmailID, ThreadID: m.ThreadID,
		Subject: str(bfSubject), From: m.From, To: m.To, Cc: m.Cc, Bcc: m.Bcc,
		Body: str(bfBody), LabelIDs: m.LabelIDs, LabelNames: m.LabelNames, Date: m.Date,
		HasAttachment: m.HasAttachment, Filenames: m.Filenames,
		ContactIDs: m.ContactIDs, AccountIDs: m.AccountIDs, CaseIDs: m.CaseIDs,
	}, nil
}

// strList reads a stored field that bleve returns as a string for one value
// and as []any for several.
func strList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (b *BleveIndex) scope(tenantID, mailboxID int64) query.Query {
	qs := []query.Query{tenantQuery(tenantID)}
	if mailboxID != 0 {
		qs = append(qs, termQ(bfMailbox, idStr(mailboxID)))
	}
	return query.NewConjunctionQuery(qs)
}

// Count counts the tenant's documents.
func (b *BleveIndex) Count(ctx context.Context, tenantID, mailboxID int64) (int64, error) {
	if tenantID <= 0 {
		return 0, ErrNoTenant
	}
	res, err := b.idx.SearchInContext(ctx, bleve.NewSearchRequestOptions(b.scope(tenantID, mailboxID), 0, 0, false))
	if err != nil {
		return 0, fmt.Errorf("search: count: %w", err)
	}
	return int64(res.Total), nil
}

// Hashes maps the tenant's document ids to their content hashes, paging
// through the index by doc id.
func (b *BleveIndex) Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	const page = 10000
	out := map[int64]string{}
	var after []string
	for {
		req := bleve.NewSearchRequestOptions(b.scope(tenantID, mailboxID), page, 0, false)
		req.Sort = bsearch.SortOrder{&bsearch.SortDocID{}}
		req.SearchAfter = after
		req.Fields = []string{bfHash}
		res, err := b.idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("search: list documents: %w", err)
		}
		for _, h := range res.Hits {
			id, err := strconv.ParseInt(h.ID, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("search: unexpected document id %q in index", h.ID)
			}
			out[id], _ = h.Fields[bfHash].(string)
		}
		if len(res.Hits) < page {
			break
		}
		after = []string{res.Hits[len(res.Hits)-1].ID}
	}
	return out, nil
}

// Search runs req within the tenant.
func (b *BleveIndex) Search(ctx context.Context, tenantID int64, req Request) (*Result, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	pq, now, err := parseRequest(req)
	if err != nil {
		return nil, err
	}
	q := compileBleve(b.analyzer, tenantQuery(tenantID), req, pq, now)
	size := pageSize(req.Size)
	sr, err := newBleveRequest(q, size, req)
	if err != nil {
		return nil, err
	}
	res, err := b.idx.SearchInContext(ctx, sr)
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	out := &Result{Hits: make([]Hit, 0, len(res.Hits))}
	out.setTotal(int64(res.Total))
	for _, h := range res.Hits {
		hit, err := bleveHit(h)
		if err != nil {
			return nil, err
		}
		out.Hits = append(out.Hits, hit)
	}
	if len(out.Hits) == size {
		last := out.Hits[len(out.Hits)-1]
		out.Next = encodeCursor(req.Sort, cursorValues(req.Sort, last))
	}
	return out, nil
}

func pageSize(n int) int {
	switch {
	case n <= 0:
		return DefaultSize
	case n > MaxSize:
		return MaxSize
	}
	return n
}

func bleveSort(s Sort) bsearch.SortOrder {
	switch s {
	case DateAsc:
		return bsearch.SortOrder{&bsearch.SortField{Field: bfDate, Type: bsearch.SortFieldAsDate}, &bsearch.SortDocID{}}
	case DateDesc:
		return bsearch.SortOrder{&bsearch.SortField{Field: bfDate, Type: bsearch.SortFieldAsDate, Desc: true}, &bsearch.SortDocID{Desc: true}}
	}
	return bsearch.SortOrder{&bsearch.SortScore{Desc: true},
		&bsearch.SortField{Field: bfDate, Type: bsearch.SortFieldAsDate, Desc: true}, &bsearch.SortDocID{Desc: true}}
}

// cursorValues are the search-after values for hit: [score,] date, id.
// Doc ids compare as strings in bleve, which is a total order, so the id is
// a stable tie-breaker.
func cursorValues(s Sort, h Hit) []string {
	v := []string{h.Date.UTC().Format(time.RFC3339Nano), docKey(h.ID)}
	if s == Relevance {
		v = append([]string{strconv.FormatFloat(h.Score, 'g', -1, 64)}, v...)
	}
	return v
}
