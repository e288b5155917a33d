package search

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/highlight/highlighter/html"
	"github.com/blevesearch/bleve/v2/search/query"
)

// The query side shared by both bleve layouts (BleveIndex, BleveShards):
// the parsed query and the request's filters as a bleve query, the search
// request for one page, and the Hit of a match.

// compileBleve is the whole query of req: the parsed query, the request's
// filters and the trash and spam exclusions, within scope (the tenant
// term; nil where the index holds one tenant only).
func compileBleve(an wordAnalyzer, scope query.Query, req Request, pq *Query, now time.Time) query.Query {
	c := bleveCompiler{an: an, now: now}
	var must []query.Query
	if scope != nil {
		must = append(must, scope)
	}
	if root := c.compile(pq.Root); root != nil {
		must = append(must, root)
	}
	for _, f := range []struct {
		field string
		ids   []int64
	}{{bfMailbox, req.MailboxIDs}, {bfContacts, req.ContactIDs}, {bfAccounts, req.AccountIDs}, {bfCases, req.CaseIDs}} {
		if len(f.ids) > 0 {
			alts := make([]query.Query, len(f.ids))
			for i, id := range f.ids {
				alts[i] = termQ(f.field, idStr(id))
			}
			must = append(must, query.NewDisjunctionQuery(alts))
		}
	}
	if len(must) == 0 {
		must = append(must, query.NewMatchAllQuery())
	}
	var mustNot []query.Query
	if !pq.IncludeTrash {
		mustNot = append(mustNot, termQ(bfLabels, "trash"))
	}
	if !pq.IncludeSpam {
		mustNot = append(mustNot, termQ(bfLabels, "spam"))
	}
	var q query.Query = query.NewConjunctionQuery(must)
	if len(mustNot) > 0 {
		q = query.NewBooleanQuery([]query.Query{q}, nil, mustNot)
	}
	return q
}

// newBleveRequest asks for one page of size hits of q in req's order,
// after req's cursor, with the stored fields and highlights a Hit needs.
func newBleveRequest(q query.Query, size int, req Request) (*bleve.SearchRequest, error) {
	sr := bleve.NewSearchRequestOptions(q, size, 0, false)
	sr.Fields = []string{bfMeta, bfSubject, bfFrom}
	sr.Highlight = bleve.NewHighlightWithStyle(html.Name)
	sr.Highlight.Fields = []string{bfSubject, bfFrom, bfTo, bfCc, bfBody}
	sr.Sort = bleveSort(req.Sort)
	if req.Sort != Relevance {
		sr.Score = "none" // date order needs no scoring
	}
	if req.After != "" {
		after, err := decodeCursor(req.After, req.Sort)
		if err != nil {
			return nil, err
		}
		sr.SearchAfter = after
	}
	return sr, nil
}

// bleveHit is the Hit of a match of newBleveRequest.
func bleveHit(h *bsearch.DocumentMatch) (Hit, error) {
	id, err := strconv.ParseInt(h.ID, 10, 64)
	if err != nil {
		return Hit{}, fmt.Errorf("search: unexpected document id %q in index", h.ID)
	}
	var m bleveMeta
	s, _ := h.Fields[bfMeta].(string)
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Hit{}, fmt.Errorf("search: stored fields of %d: %w", id, err)
	}
	subject, _ := h.Fields[bfSubject].(string)
	from, _ := h.Fields[bfFrom].(string)
	hit := Hit{ID: id, MailboxID: m.MailboxID, GmailID: m.GmailID, ThreadID: m.ThreadID,
		Subject: subject, From: from, Date: m.Date, Score: h.Score}
	if len(h.Fragments) > 0 {
		hit.Highlights = map[string][]string(h.Fragments)
	}
	return hit, nil
}

type bleveCompiler struct {
	an  wordAnalyzer
	now time.Time
}

// text fields a free word searches, and their address keyword fields.
var (
	anyTextFields = []string{bfSubject, bfFrom, bfTo, bfCc, bfBcc, bfBody, bfFilename}
	addrField     = map[string]string{bfFrom: bfFromAddr, bfTo: bfToAddr, bfCc: bfCcAddr, bfBcc: bfBccAddr}
)

func (c *bleveCompiler) compile(n Node) query.Query {
	switch n := n.(type) {
	case *AllNode:
		return nil
	case *TextNode:
		return c.text(n)
	case *LabelNode:
		return termQ(bfLabels, n.Label)
	case *AttachmentNode:
		return termQ(bfAttach, "1")
	case *DateNode:
		return dateRange(n.After, n.At)
	case *RelDateNode:
		return dateRange(n.Newer, n.Since(c.now))
	case *NotNode:
		inner := c.compile(n.Child)
		if inner == nil {
			return query.NewMatchNoneQuery()
		}
		return query.NewBooleanQuery([]query.Query{query.NewMatchAllQuery()}, nil, []query.Query{inner})
	case *AndNode:
		var qs []query.Query
		for _, ch := range n.Children {
			if q := c.compile(ch); q != nil {
				qs = append(qs, q)
			}
		}
		if len(qs) == 0 {
			return nil
		}
		return query.NewConjunctionQuery(qs)
	case *OrNode:
		var qs []query.Query
		for _, ch := range n.Children {
			q := c.compile(ch)
			if q == nil {
				return nil // one alternative matches everything
			}
			qs = append(qs, q)
		}
		return query.NewDisjunctionQuery(qs)
	}
	return query.NewMatchNoneQuery()
}

func dateRange(after bool, at time.Time) query.Query {
	t, f := true, false
	var q *query.DateRangeQuery
	if after {
		q = query.NewDateRangeInclusiveQuery(at, time.Time{}, &t, &f)
	} else {
		q = query.NewDateRangeInclusiveQuery(time.Time{}, at, &t, &f)
	}
	q.SetField(bfDate)
	return q
}

// text matches a word as a prefix of a word, or a phrase exactly, in the
// node's field or all text fields ("_all" for a single word).
func (c *bleveCompiler) text(n *TextNode) query.Query {
	fields := anyTextFields
	if n.Field != FieldAny {
		fields = []string{n.Field}
	}
	tokens := c.an.Analyze([]byte(n.Text))
	var alts []query.Query
	if len(tokens) == 0 {
		return query.NewMatchNoneQuery()
	}
	single := !n.Phrase && len(tokens) == 1
	if single && n.Field == FieldAny {
		pre := query.NewPrefixQuery(tokens[0])
		pre.SetField(bfAll)
		alts = append(alts, pre)
	}
	for _, f := range fields {
		switch {
		case single && n.Field == FieldAny:
			// covered by the prefix query on _all
		case single:
			pre := query.NewPrefixQuery(tokens[0])
			pre.SetField(f)
			alts = append(alts, pre)
		default:
			alts = append(alts, query.NewPhraseQuery(tokens, f))
		}
		if af, ok := addrField[f]; ok && strings.Contains(n.Text, "@") {
			pre := query.NewPrefixQuery(strings.ToLower(n.Text))
			pre.SetField(af)
			alts = append(alts, pre)
		}
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return query.NewDisjunctionQuery(alts)
}
