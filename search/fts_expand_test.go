package search

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// expandDocs are shardDocs plus, in their newest shard, one message per
// word "budgaa".."budgbz" (52 words, more than the expansion cut-off), and
// messages with non-ASCII and mixed words that begin like ASCII ones.
func expandDocs() []Document {
	docs := shardDocs(300)
	last := docs[len(docs)-1]
	id := last.ID
	add := func(subject, body string) {
		id++
		d := last
		d.ID, d.GmailID, d.ThreadID = id, fmt.Sprintf("g%d", id), fmt.Sprintf("t%d", id)
		d.Subject, d.Body = subject, body
		d.Date = last.Date.Add(time.Duration(id-last.ID) * time.Minute)
		docs = append(docs, d)
	}
	for _, a := range "ab" {
		for b := 'a'; b <= 'z'; b++ {
			add("Budget line", "budg"+string(a)+string(b)+" figures")
		}
	}
	add("Отчёт", "отчет за квартал")
	add("Mixed", "invoiceпочта и invoices")
	add("Numbers", "meeting 2024q3 at room 12b")
	return docs
}

func searchIDs(t *testing.T, x *FTSIndex, req Request) []int64 {
	t.Helper()
	req.Size = 200
	ids, _ := allPages(t, x, req)
	slices.Sort(ids)
	return ids
}

// TestFTSPrefixExpansionKeepsHits compares every query with expansion
// against the same query with FTS5's plain prefixes (expandMax 0) and a
// cut-off of 1 (most prefixes over it): the same hits, in the same order.
func TestFTSPrefixExpansionKeepsHits(t *testing.T) {
	x := openFTSTest(t)
	if err := x.Index(context.Background(), expandDocs()); err != nil {
		t.Fatal(err)
	}
	queries := []string{"budg", "budga", "budgbz", "invo", "invoice", "meet", "mee -invo", "about (invo OR meet)",
		"from:anna", "from:anna@ex", "to:bob@example.c", "отч", "invoiceп", "2024", "12", "subject:budg", "budg -budgaa",
		`"the invoice" atta`, "muller", "mül", "zzzz", "b"}
	for _, q := range queries {
		for _, sort := range []Sort{DateDesc, DateAsc} {
			req := Request{Query: q, Sort: sort, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			x.expandMax = ftsExpandMax
			got := searchIDs(t, x, req)
			x.expandMax = 0
			want := searchIDs(t, x, req)
			x.expandMax = 1
			cut := searchIDs(t, x, req)
			x.expandMax = ftsExpandMax
			if !slices.Equal(got, want) || !slices.Equal(cut, want) {
				t.Errorf("%q (sort %v): expanded %d hits, cut-off 1 %d, plain prefix %d", q, sort, len(got), len(cut), len(want))
			}
		}
	}
	if n := len(searchIDs(t, x, Request{Query: "budg"})); n != 52 {
		t.Errorf("budg: %d hits, want the 52 budg.. words", n)
	}
}

// TestFTSPrefixExpansionCutOff checks which shape a prefix takes: its
// terms up to the cut-off, the plain prefix beyond it, nothing where no
// term begins so.
func TestFTSPrefixExpansionCutOff(t *testing.T) {
	ctx := context.Background()
	x := openFTSTest(t)
	docs := expandDocs()
	if err := x.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	newest := shardOf(1, rowKey(docs[len(docs)-1].Date, docs[len(docs)-1].ID))
	oldest := shardOf(1, rowKey(docs[0].Date, docs[0].ID))
	for _, c := range []struct {
		s         shard
		max       int
		tok, want string
	}{
		{newest, 4, "budga", `body : "budga"*`}, // 26 terms > 4
		{newest, 26, "budgby", `body : ("budgby")`},
		{newest, 26, "budga", `body : ("budgaa" OR "budgab" OR "budgac" OR "budgad" OR "budgae" OR "budgaf" OR "budgag" OR ` +
			`"budgah" OR "budgai" OR "budgaj" OR "budgak" OR "budgal" OR "budgam" OR "budgan" OR "budgao" OR "budgap" OR "budgaq" OR ` +
			`"budgar" OR "budgas" OR "budgat" OR "budgau" OR "budgav" OR "budgaw" OR "budgax" OR "budgay" OR "budgaz")`},
		{newest, 4, "invoices", `body : ("invoices")`},
		// "invoiceпочта" begins with invoice but is not ASCII: the
		// prefix stays FTS5's.
		{newest, 4, "invoice", `body : "invoice"*`},
		{oldest, 4, "budg", ftsNone},
		{newest, 4, "отч", `body : "отч"*`}, // not ASCII: left to FTS5
	} {
		x.expandMax = c.max
		got, err := x.expandPrefix(ctx, c.s, ftsPrefix{"body", c.tok})
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("expand %q in %s = %s, want %s", c.tok, c.s.table(), got, c.want)
		}
	}
}

// TestFTSPrefixExpansionSeesNewTerms caches an expansion, then writes a
// document with a new word of the prefix into the same shard: the next
// search finds it. A deletion and an update (which re-inserts) likewise.
func TestFTSPrefixExpansionSeesNewTerms(t *testing.T) {
	ctx := context.Background()
	x := openFTSTest(t)
	docs := shardDocs(30)
	if err := x.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if n := len(searchIDs(t, x, Request{Query: "quarterl"})); n != 0 {
		t.Fatalf("quarterl before: %d hits", n)
	}
	d := docs[len(docs)-1]
	d.ID, d.Body = 1000, "the quarterly figures"
	if err := x.Index(ctx, []Document{d}); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, x, Request{Query: "quarterl"}); !slices.Equal(got, []int64{1000}) {
		t.Fatalf("quarterl after adding a document: %v, want [1000]", got)
	}
	// The same document rewritten with another word of the prefix.
	d.Body = "quarterlies and more"
	if err := x.Index(ctx, []Document{d}); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, x, Request{Query: "quarterl"}); !slices.Equal(got, []int64{1000}) {
		t.Fatalf("quarterl after the update: %v, want [1000]", got)
	}
	if got := searchIDs(t, x, Request{Query: "quarterly"}); len(got) != 0 {
		t.Fatalf("quarterly after the update: %v, want none", got)
	}
	if err := x.Delete(ctx, 1, []int64{1000}); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, x, Request{Query: "quarterl"}); len(got) != 0 {
		t.Fatalf("quarterl after the delete: %v, want none", got)
	}
}

// TestFTSPrefixExpansionRelevance: relevance order keeps FTS5's plain
// prefixes, so bm25 scores are those of one phrase per prefix.
func TestFTSPrefixExpansionRelevance(t *testing.T) {
	x := openFTSTest(t)
	if err := x.Index(context.Background(), expandDocs()); err != nil {
		t.Fatal(err)
	}
	req := Request{Query: "invo OR budg", Sort: Relevance, Size: 200}
	x.expandMax = 0
	want, err := x.Search(context.Background(), 1, req)
	if err != nil {
		t.Fatal(err)
	}
	x.expandMax = ftsExpandMax
	got, err := x.Search(context.Background(), 1, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hits) != len(want.Hits) || len(got.Hits) == 0 {
		t.Fatalf("%d hits, want %d", len(got.Hits), len(want.Hits))
	}
	for i := range got.Hits {
		if got.Hits[i].ID != want.Hits[i].ID || got.Hits[i].Score != want.Hits[i].Score {
			t.Fatalf("hit %d: %d (%v), want %d (%v)", i, got.Hits[i].ID, got.Hits[i].Score, want.Hits[i].ID, want.Hits[i].Score)
		}
	}
}

// TestFTSTagLikeCoversTagAndAddrTokens: every token of the addr and tags
// columns is tagLike, so a query word without a column filter (one that is
// not tagLike) can never match them.
func TestFTSTagLikeCoversTagAndAddrTokens(t *testing.T) {
	d := Document{ID: 7, TenantID: 12345, MailboxID: 678, ContactIDs: []int64{42, 9}, AccountIDs: []int64{3},
		CaseIDs: []int64{77}, LabelIDs: []string{"INBOX", "Label_7", "UNREAD"}, LabelNames: []string{"Projects/Alpha", "Zürich"},
		HasAttachment: true, From: Address{Name: "Ann", Address: "ann.o'neil@example.com"},
		To: []Address{{Address: "zoë@exämple.org"}}, Cc: []Address{{Address: "x+y@z.io"}}, Bcc: []Address{{Address: "b@c.d"}}}
	vals := ftsValues(&d)
	for _, col := range []int{len(ftsColumns) - 2, len(ftsColumns) - 1} { // addr, tags
		for _, tok := range strings.Fields(vals[col].(string)) {
			if !tagLike(tok) {
				t.Errorf("%s token %q is not tagLike", ftsColumns[col], tok)
			}
		}
	}
	if !tagLike(strings.TrimSuffix(strings.TrimPrefix(ftsNone, `tags : "`), `"`)) {
		t.Error("ftsNone's token is not tagLike")
	}
	for _, w := range []string{"budget", "quarterly", "invoice", "zebra", "fax", "bz", "report"} {
		if tagLike(w) {
			t.Errorf("tagLike(%q) = true, want false", w)
		}
	}
}

// TestFTSWordsDoNotMatchTags: query words spelled like tag or address
// tokens find only text.
func TestFTSWordsDoNotMatchTags(t *testing.T) {
	x := openFTSTest(t)
	base := Document{TenantID: 1, MailboxID: 3, ContactIDs: []int64{42}, HasAttachment: true, LabelIDs: []string{"INBOX"},
		From: Address{Address: "fa@example.com"}, Subject: "Budget", Body: "nothing here", Date: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	text := base
	text.ID, text.MailboxID, text.ContactIDs, text.HasAttachment = 2, 1, nil, false
	text.Body = "see m3 att c42 t1 f6661 budget"
	base.ID = 1
	if err := x.Index(context.Background(), []Document{base, text}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"m3", "att", "c42", "t1", "f6661", "f666", "m", "a"} {
		if got := searchIDs(t, x, Request{Query: q}); !slices.Equal(got, []int64{2}) {
			t.Errorf("%q: %v, want only the message with the word in its text [2]", q, got)
		}
	}
	if got := searchIDs(t, x, Request{Query: "budg"}); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("budg: %v, want [1 2]", got)
	}
}
