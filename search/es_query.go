package search

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8/typedapi/core/search"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/highlighterencoder"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/sortorder"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/textquerytype"
)

// This file compiles a Request into a search.Request of the typed API:
// the tenant filter, the request filters, the parsed query as query DSL,
// the sort of Request.Sort, search_after from the cursor, and
// track_total_hits = MaxTotal (the count is exact to 10,000, then "gte").
// References (8.19): query-dsl-bool-query.html, query-dsl-multi-match-query.html,
// query-dsl-match-bool-prefix-query.html, sort-search-results.html,
// paginate-search-results.html#search-after, search-your-data.html#track-total-hits.

func tenantTerm(tenantID int64) *types.Query {
	return &types.Query{Term: map[string]types.TermQuery{"tenant_id": {Value: tenantID}}}
}

func termQuery(field string, v types.FieldValue) types.Query {
	return types.Query{Term: map[string]types.TermQuery{field: {Value: v}}}
}

// idsQuery matches the tenant's documents among ids.
func idsQuery(tenantID int64, ids []int64) *types.Query {
	return &types.Query{Bool: &types.BoolQuery{Filter: []types.Query{
		*tenantTerm(tenantID),
		{Ids: &types.IdsQuery{Values: idStrs(ids)}},
	}}}
}

// scopeQuery matches the tenant's documents, in one mailbox or all (0).
func scopeQuery(tenantID, mailboxID int64) *types.Query {
	f := []types.Query{*tenantTerm(tenantID)}
	if mailboxID != 0 {
		f = append(f, termQuery("mailbox_id", mailboxID))
	}
	return &types.Query{Bool: &types.BoolQuery{Filter: f}}
}

func matchNone() types.Query { return types.Query{MatchNone: &types.MatchNoneQuery{}} }

func fieldSort(field string, o sortorder.SortOrder) types.SortCombinations {
	return types.SortOptions{SortOptions: map[string]types.FieldSort{field: {Order: &o}}}
}

// esSort orders newest first (date, then id as a tiebreak that is unique
// and stable under concurrent writes), oldest first, or by score and then
// newest first.
func esSort(s Sort) []types.SortCombinations {
	switch s {
	case DateAsc:
		return []types.SortCombinations{fieldSort("date", sortorder.Asc), fieldSort("id", sortorder.Asc)}
	case Relevance:
		return []types.SortCombinations{types.SortOptions{Score_: &types.ScoreSort{Order: &sortorder.Desc}},
			fieldSort("date", sortorder.Desc), fieldSort("id", sortorder.Desc)}
	}
	return []types.SortCombinations{fieldSort("date", sortorder.Desc), fieldSort("id", sortorder.Desc)}
}

// esSearchAfter converts validated cursor values to the sort values
// Elasticsearch returned for the last hit: the score as a number, the date
// as epoch milliseconds, the id as a number.
func esSearchAfter(s Sort, v []string) []types.FieldValue {
	var out []types.FieldValue
	if s == Relevance {
		f, _ := strconv.ParseFloat(v[0], 64)
		out = append(out, f)
		v = v[1:]
	}
	t, _ := time.Parse(time.RFC3339Nano, v[0])
	id, _ := strconv.ParseInt(v[1], 10, 64)
	return append(out, t.UnixMilli(), id)
}

// esSource lists the stored fields a hit needs.
var esSource = []string{"id", "mailbox_id", "gmail_id", "thread_id", "subject", "from", "date"}

// esHighlightFields are highlighted; esHighlightBase maps each to the
// Hit.Highlights key it reports under.
var esHighlightFields = []string{
	"subject", "subject.prefix", "body",
	"from.name", "from.name.prefix", "from.address.words", "from.address.prefix",
	"to.name", "to.name.prefix", "to.address.words", "to.address.prefix",
	"cc.name", "cc.name.prefix", "cc.address.words", "cc.address.prefix",
}

func esHighlightBase(field string) string {
	base, _, _ := strings.Cut(field, ".")
	return base
}

func esHighlight() *types.Highlight {
	fields := make(map[string]types.HighlightField, len(esHighlightFields))
	for _, f := range esHighlightFields {
		fields[f] = types.HighlightField{}
	}
	size, n, match := 150, 3, true
	return &types.Highlight{
		PreTags: []string{"<mark>"}, PostTags: []string{"</mark>"}, Encoder: &highlighterencoder.Html,
		RequireFieldMatch: &match, FragmentSize: &size, NumberOfFragments: &n, Fields: fields,
	}
}

// SearchRequest builds the Elasticsearch request for req; exported for the
// test suite and for debugging.
func (x *ESIndex) SearchRequest(tenantID int64, req Request) (*search.Request, error) {
	pq, now, err := parseRequest(req)
	if err != nil {
		return nil, err
	}
	size := pageSize(req.Size)
	out := &search.Request{
		Query:          &types.Query{Bool: esBoolQuery(tenantID, req, pq, now)},
		Size:           &size,
		TrackTotalHits: MaxTotal,
		Source_:        esSource,
		Sort:           esSort(req.Sort),
		Highlight:      esHighlight(),
	}
	if req.After != "" {
		v, err := decodeCursor(req.After, req.Sort)
		if err != nil {
			return nil, err
		}
		out.SearchAfter = esSearchAfter(req.Sort, v)
	}
	return out, nil
}

// esBoolQuery is the tenant filter and the request's filters (no score),
// the query (scored), and trash and spam left out unless the query names
// them.
func esBoolQuery(tenantID int64, req Request, pq *Query, now time.Time) *types.BoolQuery {
	filter := []types.Query{*tenantTerm(tenantID)}
	for _, f := range []struct {
		field string
		ids   []int64
	}{{"mailbox_id", req.MailboxIDs}, {"contact_ids", req.ContactIDs}, {"account_ids", req.AccountIDs}, {"case_ids", req.CaseIDs}} {
		if len(f.ids) > 0 {
			filter = append(filter, types.Query{Terms: &types.TermsQuery{TermsQuery: map[string]types.TermsQueryField{f.field: f.ids}}})
		}
	}
	b := &types.BoolQuery{Filter: filter}
	if root := (esCompiler{now: now}).compile(pq.Root); root != nil {
		b.Must = []types.Query{*root}
	}
	if !pq.IncludeTrash {
		b.MustNot = append(b.MustNot, termQuery("labels", "trash"))
	}
	if !pq.IncludeSpam {
		b.MustNot = append(b.MustNot, termQuery("labels", "spam"))
	}
	return b
}

type esCompiler struct{ now time.Time }

// esTextFields are the text fields behind each query field: words are
// searched in these, word prefixes in their ".prefix" subfields (the body
// through its index_prefixes).
var esTextFields = map[string][]string{
	FieldSubject: {"subject"}, FieldFilename: {"filenames"},
	FieldFrom: {"from.name", "from.address.words"}, FieldTo: {"to.name", "to.address.words"},
	FieldCc: {"cc.name", "cc.address.words"}, FieldBcc: {"bcc.name", "bcc.address.words"},
}

var esAnyOrder = []string{FieldSubject, FieldFrom, FieldTo, FieldCc, FieldBcc, FieldFilename}

var esAddrFields = map[string]bool{FieldFrom: true, FieldTo: true, FieldCc: true, FieldBcc: true}

// compile returns nil for a node that matches everything (in:anywhere).
func (c esCompiler) compile(n Node) *types.Query {
	switch n := n.(type) {
	case *AllNode:
		return nil
	case *TextNode:
		return c.text(n)
	case *LabelNode:
		q := termQuery("labels", n.Label)
		return &q
	case *AttachmentNode:
		q := termQuery("has_attachment", true)
		return &q
	case *DateNode:
		return esRange(n.After, n.At)
	case *RelDateNode:
		return esRange(n.Newer, n.Since(c.now))
	case *NotNode:
		inner := c.compile(n.Child)
		if inner == nil {
			q := matchNone()
			return &q
		}
		return &types.Query{Bool: &types.BoolQuery{MustNot: []types.Query{*inner}}}
	case *AndNode:
		var qs []types.Query
		for _, ch := range n.Children {
			if q := c.compile(ch); q != nil {
				qs = append(qs, *q)
			}
		}
		if len(qs) == 0 {
			return nil
		}
		return &types.Query{Bool: &types.BoolQuery{Must: qs}}
	case *OrNode:
		var qs []types.Query
		for _, ch := range n.Children {
			q := c.compile(ch)
			if q == nil {
				return nil
			}
			qs = append(qs, *q)
		}
		return &types.Query{Bool: &types.BoolQuery{Should: qs, MinimumShouldMatch: 1}}
	}
	q := matchNone()
	return &q
}

func esRange(after bool, at time.Time) *types.Query {
	v := at.UTC().Format(time.RFC3339)
	r := types.DateRangeQuery{}
	if after {
		r.Gte = &v
	} else {
		r.Lt = &v
	}
	return &types.Query{Range: map[string]types.RangeQuery{"date": r}}
}

// foldTokens splits and folds text the way every backend's analyzers do,
// to decide between a prefix match (one word) and a phrase (several).
func foldTokens(s string) []string { return foldAnalyzer().Analyze([]byte(s)) }

var foldAnalyzer = sync.OnceValue(func() analyzerAdapter {
	m, err := newBleveMapping()
	if err != nil {
		panic(err) // static configuration, exercised by every test
	}
	return analyzerAdapter{m.AnalyzerNamed(analyzerFolded)}
})

// text matches one word as a word prefix (in every field when n.Field is
// FieldAny) or several words as a phrase; an address-like word also
// matches the address keywords as a prefix.
func (c esCompiler) text(n *TextNode) *types.Query {
	fields := esAnyOrder
	if n.Field != FieldAny {
		fields = []string{n.Field}
	}
	tokens := foldTokens(n.Text)
	if len(tokens) == 0 {
		q := matchNone()
		return &q
	}
	var text []string
	for _, f := range fields {
		text = append(text, esTextFields[f]...)
	}
	withBody := n.Field == FieldAny
	var should []types.Query
	if n.Phrase || len(tokens) > 1 {
		if withBody {
			text = append(text, "body")
		}
		should = append(should, multiMatch(strings.Join(tokens, " "), text, &textquerytype.Phrase))
	} else {
		should = append(should, esPrefix(tokens[0], text, withBody)...)
	}
	if !n.Phrase && strings.Contains(n.Text, "@") {
		for _, f := range fields {
			if esAddrFields[f] {
				should = append(should, types.Query{Prefix: map[string]types.PrefixQuery{f + ".address": {Value: strings.ToLower(n.Text)}}})
			}
		}
	}
	if len(should) == 1 {
		return &should[0]
	}
	return &types.Query{Bool: &types.BoolQuery{Should: should, MinimumShouldMatch: 1}}
}

// esPrefix matches word as a word prefix: the edge n-grams of each field's
// "prefix" subfield (an address's sits beside its "words"), the body's
// index_prefixes, and the whole word in each field (boosted, so a
// whole-word match scores above a prefix).
func esPrefix(word string, fields []string, withBody bool) []types.Query {
	prefixFields := make([]string, 0, len(fields))
	exact := make([]string, 0, len(fields)+1)
	for _, f := range fields {
		prefixFields = append(prefixFields, strings.TrimSuffix(f, ".words")+".prefix")
		exact = append(exact, f+"^2")
	}
	out := []types.Query{multiMatch(word, prefixFields, nil)}
	if withBody {
		out = append(out, types.Query{MatchBoolPrefix: map[string]types.MatchBoolPrefixQuery{"body": {Query: word}}})
		exact = append(exact, "body^2")
	}
	return append(out, multiMatch(word, exact, nil))
}

func multiMatch(q string, fields []string, typ *textquerytype.TextQueryType) types.Query {
	return types.Query{MultiMatch: &types.MultiMatchQuery{Query: q, Fields: fields, Type: typ}}
}
