package search

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the fixed "current time" of the table (newer_than/older_than).
var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type deleteOp struct {
	tenant int64
	ids    []int64
}

type labelOp struct {
	tenant, id   int64
	ids, names   []string
	wantNotFound bool
}

// searchCase is one row of the query table. Every backend runs every row:
// the embedded indexes and a live Elasticsearch assert want (the hits); the
// Elasticsearch fake cannot evaluate queries, so it asserts the requests
// it received (es_test.go: esCaseDSL and the request contract), and
// answers with want so the response decoding and pagination are exercised.
type searchCase struct {
	name      string
	tenant    int64 // default 1
	req       Request
	deletes   []deleteOp
	labels    []labelOp
	want      []int64 // hit ids; a set unless ordered
	ordered   bool
	page      int // >0: walk all pages of this size and compare the concatenation
	syntaxErr bool
}

var searchCases = []searchCase{
	{name: "empty query lists everything but trash and spam", req: Request{}, want: []int64{1, 2, 3, 4, 8, 9, 10}},
	{name: "word prefix invo finds invoice and invoicing", req: Request{Query: "invo"}, want: []int64{1, 4}},
	{name: "word prefix on a sender name", req: Request{Query: "from:jans"}, want: []int64{1}},
	{name: "accent folding muller finds Müller", req: Request{Query: "muller"}, want: []int64{1, 2, 8}},
	{name: "accented query folds too", req: Request{Query: "MÜLLER"}, want: []int64{1, 2, 8}},
	{name: "cafe finds Café in a body", req: Request{Query: "cafe"}, want: []int64{2}},
	{name: "resume finds Résumé", req: Request{Query: "resume"}, want: []int64{8}},
	{name: "exact phrase", req: Request{Query: `"payment was received"`}, want: []int64{9}},
	{name: "phrase word order matters", req: Request{Query: `"received the payment"`}, want: []int64{10}},
	{name: "from full address", req: Request{Query: "from:sanne@tyrell.nl"}, want: []int64{9, 10}},
	{name: "from address prefix", req: Request{Query: "from:sanne@tyr"}, want: []int64{9, 10}},
	{name: "from address local part", req: Request{Query: "from:p.jansen"}, want: []int64{1}},
	{name: "to name", req: Request{Query: "to:anna"}, want: []int64{1, 8}},
	{name: "cc name", req: Request{Query: "cc:jansen"}, want: []int64{8}},
	{name: "bcc name", req: Request{Query: "bcc:legal"}, want: []int64{10}},
	{name: "subject word", req: Request{Query: "subject:invoice"}, want: []int64{1}},
	{name: "subject prefix", req: Request{Query: "Subject:INVO"}, want: []int64{1, 4}},
	{name: "subject group with OR", req: Request{Query: "subject:(roadmap OR résumé)"}, want: []int64{3, 8}},
	{name: "user label by name with dash", req: Request{Query: "label:projects-alpha"}, want: []int64{3}},
	{name: "user label quoted with slash", req: Request{Query: `label:"Projects/Alpha"`}, want: []int64{3}},
	{name: "user label by id", req: Request{Query: "label:Label_7"}, want: []int64{3}},
	{name: "in:inbox", req: Request{Query: "in:inbox"}, want: []int64{1, 3, 4, 8, 9, 10}},
	{name: "in:sent", req: Request{Query: "in:sent"}, want: []int64{2}},
	{name: "in:trash shows trash", req: Request{Query: "in:trash"}, want: []int64{5}},
	{name: "word in trash", req: Request{Query: "invoice in:trash"}, want: []int64{5}},
	{name: "in:spam", req: Request{Query: "in:spam"}, want: []int64{6}},
	{name: "in:anywhere includes trash and spam", req: Request{Query: "invoice in:anywhere"}, want: []int64{1, 5, 6}},
	{name: "is:unread", req: Request{Query: "is:unread"}, want: []int64{1, 8}},
	{name: "is:read", req: Request{Query: "is:read"}, want: []int64{2, 3, 4, 9, 10}},
	{name: "is:starred", req: Request{Query: "is:starred"}, want: []int64{3}},
	{name: "category", req: Request{Query: "category:promotions"}, want: []int64{4}},
	{name: "has:attachment", req: Request{Query: "has:attachment"}, want: []int64{1, 3}},
	{name: "filename extension", req: Request{Query: "filename:pdf"}, want: []int64{1}},
	{name: "filename prefix", req: Request{Query: "filename:road"}, want: []int64{3}},
	{name: "before", req: Request{Query: "before:2025/01/01"}, want: []int64{8}},
	{name: "after is inclusive of the day", req: Request{Query: "after:2026-11-20"}, want: []int64{1, 4}},
	{name: "date range", req: Request{Query: "after:2026/11/01 before:2026/11/20"}, want: []int64{9}},
	{name: "newer_than days", req: Request{Query: "newer_than:7d", Now: now}, want: []int64{1, 4}},
	{name: "newer_than months", req: Request{Query: "newer_than:2m", Now: now}, want: []int64{1, 2, 4, 9}},
	{name: "older_than years", req: Request{Query: "older_than:1y", Now: now}, want: []int64{3, 8}},
	{name: "OR", req: Request{Query: "roadmap OR résumé"}, want: []int64{3, 8}},
	{name: "negated word", req: Request{Query: "payment -contract"}, want: []int64{1, 4, 9}},
	{name: "negated operator", req: Request{Query: "jansen -from:jansen"}, want: []int64{2, 3, 4, 8, 9, 10}},
	{name: "parentheses and AND", req: Request{Query: "(roadmap OR contract) AND is:starred"}, want: []int64{3}},
	{name: "mailbox filter", req: Request{MailboxIDs: []int64{12}}, want: []int64{8, 9, 10}},
	{name: "contact filter", req: Request{ContactIDs: []int64{100}}, want: []int64{1, 9}},
	{name: "account filter", req: Request{AccountIDs: []int64{201}}, want: []int64{8}},
	{name: "case filter", req: Request{CaseIDs: []int64{300}}, want: []int64{3, 10}},
	{name: "filters combine with AND", req: Request{Query: "contract", MailboxIDs: []int64{11, 12}, CaseIDs: []int64{300}}, want: []int64{10}},
	{name: "tenant 2 sees only its message", tenant: 2, req: Request{Query: "invoice"}, want: []int64{7}},
	{name: "tenant 2 cannot see tenant 1", tenant: 2, req: Request{Query: "roadmap"}, want: nil},
	{name: "unknown tenant sees nothing", tenant: 3, req: Request{}, want: nil},
	{name: "deleted message disappears", deletes: []deleteOp{{1, []int64{1}}}, req: Request{Query: "invo"}, want: []int64{4}},
	{name: "delete through another tenant is ignored", deletes: []deleteOp{{2, []int64{1}}}, req: Request{Query: "invo"}, want: []int64{1, 4}},
	{name: "label removed", labels: []labelOp{{tenant: 1, id: 3, ids: []string{"INBOX"}}}, req: Request{Query: "is:starred OR label:projects-alpha"}, want: nil},
	{name: "label added", labels: []labelOp{{tenant: 1, id: 2, ids: []string{"SENT", "STARRED"}}}, req: Request{Query: "is:starred"}, want: []int64{2, 3}},
	{name: "moved to trash", labels: []labelOp{{tenant: 1, id: 9, ids: []string{"TRASH"}}}, req: Request{Query: "payment"}, want: []int64{1, 4, 10}},
	{name: "label update of another tenant is not found", labels: []labelOp{{tenant: 2, id: 3, ids: []string{"INBOX"}, wantNotFound: true}}, req: Request{Query: "is:starred"}, want: []int64{3}},
	{name: "newest first by default", req: Request{Query: "jansen"}, want: []int64{4, 1, 9, 2, 10, 3, 8}, ordered: true},
	{name: "relevance on request", req: Request{Query: "jansen", Sort: Relevance},
		want: []int64{1, 2, 3, 4, 8, 9, 10}},
	{name: "sort by date newest first", req: Request{Sort: DateDesc}, want: []int64{4, 1, 9, 2, 10, 3, 8}, ordered: true},
	{name: "sort by date oldest first", req: Request{Sort: DateAsc, Query: "in:inbox"}, want: []int64{8, 3, 10, 9, 1, 4}, ordered: true},
	{name: "date pagination is stable", req: Request{Sort: DateDesc, Size: 3}, page: 3, want: []int64{4, 1, 9, 2, 10, 3, 8}, ordered: true},
	{name: "relevance pagination visits every hit once", req: Request{Query: "jansen", Size: 2, Sort: Relevance}, page: 2, want: []int64{1, 2, 3, 4, 8, 9, 10}},
	{name: "ё folds to е as Gmail does", tenant: 4, req: Request{Query: "отчет"}, want: []int64{41}},
	{name: "Cyrillic prefix", tenant: 4, req: Request{Query: "subject:кварт"}, want: []int64{41}},
	{name: "ß folds to ss", tenant: 4, req: Request{Query: "to:strasse"}, want: []int64{41}},
	{name: "ø folds to o", tenant: 4, req: Request{Query: "lokken"}, want: []int64{41}},
	{name: "CJK word inside a run", tenant: 4, req: Request{Query: "京都"}, want: []int64{42}},
	{name: "CJK word at a run's start", tenant: 4, req: Request{Query: "subject:東京"}, want: []int64{42}},
	{name: "CJK characters apart do not match as a word", tenant: 4, req: Request{Query: "東会"}, want: nil},
	{name: "syntax: unclosed quote", req: Request{Query: `"payment was`}, syntaxErr: true},
	{name: "syntax: unknown in: value", req: Request{Query: "in:nowhere"}, syntaxErr: true},
	{name: "syntax: bad date", req: Request{Query: "before:2026/13/45"}, syntaxErr: true},
	{name: "syntax: bad age unit", req: Request{Query: "newer_than:3w"}, syntaxErr: true},
	{name: "syntax: unclosed parenthesis", req: Request{Query: "(invoice OR roadmap"}, syntaxErr: true},
	{name: "syntax: dangling OR", req: Request{Query: "invoice OR"}, syntaxErr: true},
	{name: "syntax: operator without value", req: Request{Query: "from: jansen"}, syntaxErr: true},
	{name: "syntax: unknown has: value", req: Request{Query: "has:pdf"}, syntaxErr: true},
}

func loadFixture(t testing.TB) []Document {
	t.Helper()
	b, err := os.ReadFile("testdata/docs.json")
	if err != nil {
		t.Fatal(err)
	}
	var docs []Document
	if err := json.Unmarshal(b, &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

// backend opens a fresh index for one case.
type backend struct {
	open        func(t *testing.T) Index
	assertsHits bool
	// prime tells a fake which hits to answer with.
	prime func(c searchCase)
	// verify checks what the backend sent for the case.
	verify func(t *testing.T, c searchCase)
}

func runTable(t *testing.T, b backend) {
	docs := loadFixture(t)
	for _, c := range searchCases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			idx := b.open(t)
			t.Cleanup(func() { _ = idx.Close() })
			if err := idx.Index(ctx, docs); err != nil {
				t.Fatalf("Index: %v", err)
			}
			for _, d := range c.deletes {
				if err := idx.Delete(ctx, d.tenant, d.ids); err != nil {
					t.Fatalf("Delete: %v", err)
				}
			}
			for _, l := range c.labels {
				err := idx.UpdateLabels(ctx, l.tenant, l.id, l.ids, l.names)
				if l.wantNotFound != errors.Is(err, ErrNotFound) || (!l.wantNotFound && err != nil) {
					t.Fatalf("UpdateLabels(%d, %d) = %v, want not-found %v", l.tenant, l.id, err, l.wantNotFound)
				}
			}
			if b.prime != nil {
				b.prime(c)
			}
			tenant := c.tenant
			if tenant == 0 {
				tenant = 1
			}
			req := c.req
			var got []int64
			var total int64 = -1
			for pages := 0; ; pages++ {
				res, err := idx.Search(ctx, tenant, req)
				if c.syntaxErr {
					var se *SyntaxError
					if !errors.As(err, &se) {
						t.Fatalf("Search(%q) error = %v, want *SyntaxError", req.Query, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Search(%q): %v", req.Query, err)
				}
				if res.TotalRelation != TotalExact {
					t.Errorf("TotalRelation = %q, want %q for %d hits", res.TotalRelation, TotalExact, res.Total)
				}
				if total >= 0 && res.Total != total {
					t.Errorf("page %d: total changed from %d to %d", pages, total, res.Total)
				}
				total = res.Total
				for _, h := range res.Hits {
					checkHit(t, docs, h)
					got = append(got, h.ID)
				}
				if c.page == 0 || res.Next == "" {
					break
				}
				if len(res.Hits) != c.page {
					t.Fatalf("page %d has %d hits, want %d", pages, len(res.Hits), c.page)
				}
				if pages > len(docs) {
					t.Fatal("pagination does not end")
				}
				req.After = res.Next
			}
			if b.assertsHits {
				if total != int64(len(c.want)) {
					t.Errorf("Total = %d, want %d", total, len(c.want))
				}
				if !sameIDs(got, c.want, c.ordered) {
					t.Errorf("Search(%q) = %v, want %v", c.req.Query, got, c.want)
				}
			}
			if b.verify != nil {
				b.verify(t, c)
			}
		})
	}
}

// checkHit compares a hit's stored fields with the fixture.
func checkHit(t *testing.T, docs []Document, h Hit) {
	t.Helper()
	for _, d := range docs {
		if d.ID != h.ID {
			continue
		}
		if h.Subject != d.Subject || h.From != d.From.String() || h.MailboxID != d.MailboxID || h.GmailID != d.GmailID ||
			h.ThreadID != d.ThreadID || !h.Date.Equal(d.Date) {
			t.Errorf("hit %d = %+v, does not match the indexed document", h.ID, h)
		}
		return
	}
	t.Errorf("hit %d is not in the fixture", h.ID)
}

func sameIDs(got, want []int64, ordered bool) bool {
	if len(got) != len(want) {
		return false
	}
	if !ordered {
		got, want = slices.Clone(got), slices.Clone(want)
		slices.Sort(got)
		slices.Sort(want)
	}
	return slices.Equal(got, want)
}

// blevesByName are the two bleve layouts: one index, and one per tenant
// and date span.
var blevesByName = map[string]func(dir string) (Index, error){
	"bleve":        func(dir string) (Index, error) { return OpenBleve(dir+"/mail.bleve", nil) },
	"bleve-shards": func(dir string) (Index, error) { return OpenBleveShards(dir+"/mail.bleve-shards", nil) },
}

func TestEmbeddedTable(t *testing.T) {
	for name, open := range blevesByName {
		t.Run(name, func(t *testing.T) {
			runTable(t, backend{
				assertsHits: true,
				open: func(t *testing.T) Index {
					idx, err := open(t.TempDir())
					if err != nil {
						t.Fatal(err)
					}
					return idx
				},
			})
		})
	}
}

func TestEmbeddedHighlights(t *testing.T) {
	engines := map[string]func(dir string) (Index, error){
		"fts5": func(dir string) (Index, error) { return OpenFTS(dir+"/mail.fts", nil) },
	}
	maps.Copy(engines, blevesByName)
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			idx, err := open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer idx.Close()
			testHighlights(t, idx)
		})
	}
}

func testHighlights(t *testing.T, idx Index) {
	ctx := context.Background()
	if err := idx.Index(ctx, loadFixture(t)); err != nil {
		t.Fatal(err)
	}
	res, err := idx.Search(ctx, 1, Request{Query: "muller cafe"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 || res.Hits[0].ID != 2 {
		t.Fatalf("hits = %+v, want message 2", res.Hits)
	}
	h := res.Hits[0].Highlights
	if !strings.Contains(strings.Join(h["from"], " "), "Anna <mark>Müller</mark> &lt;") {
		t.Errorf("from highlight = %q, want Müller marked and the address escaped", h["from"])
	}
	if !strings.Contains(strings.Join(h["body"], " "), "<mark>Café</mark>") {
		t.Errorf("body highlight = %q, want Café marked", h["body"])
	}
}

func TestTotalContract(t *testing.T) {
	for _, c := range []struct {
		n        int64
		total    int64
		relation string
		text     string
	}{
		{0, 0, TotalExact, "0"},
		{1234, 1234, TotalExact, "1,234"},
		{MaxTotal, MaxTotal, TotalExact, "10,000"},
		{MaxTotal + 1, MaxTotal, TotalAtLeast, "more than 10,000"},
		{418135, MaxTotal, TotalAtLeast, "more than 10,000"},
	} {
		var r Result
		r.setTotal(c.n)
		if r.Total != c.total || r.TotalRelation != c.relation || r.TotalText() != c.text {
			t.Errorf("setTotal(%d) = %d %q %q, want %d %q %q", c.n, r.Total, r.TotalRelation, r.TotalText(), c.total, c.relation, c.text)
		}
	}
}

func TestFTSTable(t *testing.T) {
	runTable(t, backend{
		assertsHits: true,
		open: func(t *testing.T) Index {
			idx, err := OpenFTS(t.TempDir()+"/mail.fts", nil)
			if err != nil {
				t.Fatal(err)
			}
			return idx
		},
	})
}
