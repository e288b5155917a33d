package search

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"
)

// shardDocs are n messages of tenant 1, one every 29 hours over about two
// years, so they fall into several date shards; every third mentions
// "invoice" and the rest "meeting".
func shardDocs(n int) []Document {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	docs := make([]Document, n)
	for i := range docs {
		word := "meeting"
		if i%3 == 0 {
			word = "invoice"
		}
		docs[i] = Document{ID: int64(i + 1), TenantID: 1, MailboxID: 1 + int64(i%2), GmailID: fmt.Sprintf("g%d", i),
			ThreadID: fmt.Sprintf("t%d", i), Subject: fmt.Sprintf("About the %s %d", word, i),
			From: Address{Name: "Anna Müller", Address: "anna@example.com"}, To: []Address{{Address: "bob@example.com"}},
			Body: "Hello, see the " + word + " attached.", LabelIDs: []string{"INBOX"},
			Date: start.Add(time.Duration(i) * 29 * time.Hour)}
	}
	return docs
}

func openFTSTest(t *testing.T) *FTSIndex {
	t.Helper()
	x, err := OpenFTS(t.TempDir()+"/mail.fts", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return x
}

// allPages pages through a search and returns the hit ids in order.
func allPages(t *testing.T, x Index, req Request) ([]int64, *Result) {
	t.Helper()
	var ids []int64
	var first *Result
	for page := 0; page < 100; page++ {
		res, err := x.Search(context.Background(), 1, req)
		if err != nil {
			t.Fatalf("Search(%+v): %v", req, err)
		}
		if first == nil {
			first = res
		}
		for _, h := range res.Hits {
			ids = append(ids, h.ID)
		}
		if res.Next == "" {
			return ids, first
		}
		req.After = res.Next
	}
	t.Fatal("paging did not end")
	return nil, nil
}

func TestFTSShardsOrderCountAndPaging(t *testing.T) {
	x := openFTSTest(t)
	docs := shardDocs(600)
	if err := x.Index(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	if n := len(x.shardsIn(1, -1<<62, 1<<62)); n < 5 {
		t.Fatalf("%d shards, want the two years split into several", n)
	}
	testShardedPaging(t, x, docs)
}

// testShardedPaging checks an index holding docs (shardDocs, two years
// over several date shards): date order in both directions, relevance and
// a date range across a shard boundary list every match once, in the
// order one unsharded index would, across cursor pages.
func testShardedPaging(t *testing.T, x Index, docs []Document) {
	byDate := func(word string, asc bool) []int64 {
		return idsByDate(docs, func(d Document) bool { return containsWord(d.Body, word) }, asc)
	}
	for _, c := range []struct {
		name string
		req  Request
		want []int64
	}{
		{"newest first", Request{Query: "invo", Size: 37}, byDate("invoice", false)},
		{"oldest first", Request{Query: "meet", Size: 50, Sort: DateAsc}, byDate("meeting", true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, first := allPages(t, x, c.req)
			if !slices.Equal(got, c.want) {
				t.Errorf("ids = %v\nwant %v", got, c.want)
			}
			if first.Total != int64(len(c.want)) || first.TotalRelation != TotalExact {
				t.Errorf("total = %d %s, want %d eq", first.Total, first.TotalRelation, len(c.want))
			}
		})
	}
	t.Run("relevance pages every match once", func(t *testing.T) {
		got, first := allPages(t, x, Request{Query: "invoice", Size: 30, Sort: Relevance})
		want := byDate("invoice", false)
		if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("relevance ids = %v, want %v", got, want)
		}
		if first.Total != int64(len(want)) {
			t.Errorf("total = %d, want %d", first.Total, len(want))
		}
	})
	t.Run("date range across a shard boundary", func(t *testing.T) {
		got, first := allPages(t, x, Request{Query: "after:2024/03/01 before:2024/07/01", Size: 500})
		var want []int64
		for _, d := range slices.Backward(docs) {
			if !d.Date.Before(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) && d.Date.Before(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)) {
				want = append(want, d.ID)
			}
		}
		if !slices.Equal(got, want) || first.Total != int64(len(want)) {
			t.Errorf("ids = %v (total %d)\nwant %v", got, first.Total, want)
		}
	})
}

// idsByDate lists the ids of the docs that match, newest first (oldest
// first when asc).
func idsByDate(docs []Document, match func(Document) bool, asc bool) []int64 {
	var want []Document
	for _, d := range docs {
		if match(d) {
			want = append(want, d)
		}
	}
	slices.SortStableFunc(want, func(a, b Document) int { return b.Date.Compare(a.Date) })
	if asc {
		slices.Reverse(want)
	}
	ids := make([]int64, len(want))
	for i, d := range want {
		ids[i] = d.ID
	}
	return ids
}

func containsWord(text, word string) bool {
	for _, w := range queryTokens(text) {
		if w == word {
			return true
		}
	}
	return false
}

func TestFTSMoveBetweenShards(t *testing.T) {
	ctx := context.Background()
	x := openFTSTest(t)
	docs := shardDocs(3)
	if err := x.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	// The same message re-dated a year later moves to another shard: it
	// must be found once, under its new date.
	moved := docs[0]
	moved.Date = moved.Date.AddDate(1, 0, 0)
	if err := x.Index(ctx, []Document{moved}); err != nil {
		t.Fatal(err)
	}
	res, err := x.Search(ctx, 1, Request{Query: "invoice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 || res.Hits[0].ID != moved.ID || !res.Hits[0].Date.Equal(moved.Date) || res.Total != 1 {
		t.Fatalf("hits = %+v (total %d), want message %d once at %s", res.Hits, res.Total, moved.ID, moved.Date)
	}
	if err := x.Delete(ctx, 1, []int64{moved.ID}); err != nil {
		t.Fatal(err)
	}
	if res, err = x.Search(ctx, 1, Request{Query: "invoice"}); err != nil || res.Total != 0 {
		t.Fatalf("after delete: %+v, %v; want nothing", res, err)
	}
}

func TestFTSStoredCopyKeepsTheDocument(t *testing.T) {
	c, err := newDocCodec()
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, d := range append(shardDocs(2), loadFixture(t)...) {
		blob, err := c.encode(&d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.decode(d.ID, d.TenantID, d.MailboxID, blob)
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash() != d.Hash() {
			t.Errorf("document %d changed in the stored copy:\n got %+v\nwant %+v", d.ID, got, d)
		}
	}
}

// An index file of the first layout (one FTS5 table, documents as JSON)
// is emptied on open, so the Indexer refills it from the database.
func TestFTSOldLayoutIsRebuilt(t *testing.T) {
	path := t.TempDir() + "/mail.fts"
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`CREATE TABLE docs (id INTEGER PRIMARY KEY, rk INTEGER NOT NULL UNIQUE, tenant INTEGER NOT NULL,
			mailbox INTEGER NOT NULL, hash TEXT NOT NULL, doc BLOB NOT NULL)`,
		`CREATE VIRTUAL TABLE fts USING fts5(subject, tags, content='')`,
		`INSERT INTO docs VALUES (1, 1, 1, 1, 'h', '{}')`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	_ = db.Close()
	x, err := OpenFTS(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if n, err := x.Count(context.Background(), 1, 0); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v; want an emptied index", n, err)
	}
	var old int
	if err := x.db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'fts'`).Scan(&old); err != nil || old != 0 {
		t.Fatalf("old fts table left: %d, %v", old, err)
	}
	if err := x.Index(context.Background(), shardDocs(3)); err != nil {
		t.Fatal(err)
	}
}

// One Index call of many chunks (prepared beside the writer) keeps the
// last copy of a repeated id, moves re-dated documents between shards,
// and writes nothing when its context ends first.
func TestFTSIndexBatchOfManyChunks(t *testing.T) {
	ctx := context.Background()
	x := openFTSTest(t)
	first := shardDocs(5 * prepChunk)
	if err := x.Index(ctx, first); err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{}
	for i := range first {
		want[first[i].ID] = first[i].Hash()
	}
	// The second batch: every other document again, re-dated by a year
	// (another shard) and retitled, each twice with the later copy winning,
	// and new documents.
	var second []Document
	for i := 0; i < len(first); i += 2 {
		d := first[i]
		d.Date = d.Date.AddDate(1, 0, 0)
		d.Subject = "stale copy"
		second = append(second, d)
		d.Subject = fmt.Sprintf("Renewed contract %d", i)
		second = append(second, d)
		want[d.ID] = d.Hash()
	}
	repeated := len(second)
	for i, d := range shardDocs(len(first) + 3*prepChunk)[len(first):] {
		d.Subject = fmt.Sprintf("Renewed contract new %d", i)
		second = append(second, d)
		want[d.ID] = d.Hash()
	}
	slices.Reverse(second[repeated:]) // not in date order
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := x.Index(cancelled, second); err == nil {
		t.Fatal("Index with an ended context succeeded")
	}
	if n, err := x.Count(ctx, 1, 0); err != nil || n != int64(len(first)) {
		t.Fatalf("after a cancelled batch Count = %d, %v; want %d", n, err, len(first))
	}
	if err := x.Index(ctx, second); err != nil {
		t.Fatal(err)
	}
	got, err := x.Hashes(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d documents indexed, want %d", len(got), len(want))
	}
	for id, h := range want {
		if got[id] != h {
			t.Errorf("document %d: hash %q, want %q", id, got[id], h)
		}
	}
	renewed := len(first)/2 + 3*prepChunk
	for _, q := range []struct {
		query string
		total int64
	}{{"renewed contract", int64(renewed)}, {`"stale copy"`, 0}} {
		ids, res := allPages(t, x, Request{Query: q.query, Size: 50})
		if res.Total != q.total || len(ids) != int(q.total) {
			t.Errorf("%s: total %d, %d hits; want %d", q.query, res.Total, len(ids), q.total)
		}
	}
}
