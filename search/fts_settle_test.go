package search

import (
	"context"
	"slices"
	"testing"
)

// pagesOf pages through a tenant's search and returns the hit ids in order.
func pagesOf(t *testing.T, x Index, tenant int64, req Request) []int64 {
	t.Helper()
	var ids []int64
	for range 1000 {
		res, err := x.Search(context.Background(), tenant, req)
		if err != nil {
			t.Fatalf("Search(%q): %v", req.Query, err)
		}
		for _, h := range res.Hits {
			ids = append(ids, h.ID)
		}
		if res.Next == "" {
			return append(ids, -res.Total) // the total too
		}
		req.After = res.Next
	}
	t.Fatal("paging did not end")
	return nil
}

// segmentCounts reads every shard's segments.
func segmentCounts(t *testing.T, x *FTSIndex) map[shard]ftsSegments {
	t.Helper()
	out := map[shard]ftsSegments{}
	for _, s := range x.shardsIn(1, -1<<62, 1<<62) {
		seg, err := x.segments(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = seg
	}
	return out
}

// TestFTSSettle writes the query table's fixture and the expansion corpus
// in small batches (a segment per shard and commit), settles the index,
// and checks that the shards that had many segments have one, that every
// query of both tables gives the same hits in the same order and the same
// total in every sort, and that a second Settle finds nothing to do.
func TestFTSSettle(t *testing.T) {
	ctx := context.Background()
	x := openFTSTest(t)
	docs := append(loadFixture(t), expandDocs()...)
	for i := range docs[len(loadFixture(t)):] {
		docs[len(loadFixture(t))+i].ID += 1000 // clear of the fixture's ids
	}
	for i := 0; i < len(docs); i += 7 {
		if err := x.Index(ctx, docs[i:min(i+7, len(docs))]); err != nil {
			t.Fatal(err)
		}
	}
	type query struct {
		tenant int64
		req    Request
	}
	var queries []query
	for _, c := range searchCases {
		if c.syntaxErr {
			continue
		}
		tenant := max(c.tenant, 1)
		for _, sort := range []Sort{DateDesc, DateAsc, Relevance} {
			req := c.req
			req.Sort, req.Size = sort, 10
			queries = append(queries, query{tenant, req})
		}
	}
	for _, q := range []string{"budg", "budgbz", "invo", "meet", "mee -invo", "from:anna@ex", "отч", `"the invoice" atta`, "mül", "b"} {
		for _, sort := range []Sort{DateDesc, DateAsc, Relevance} {
			queries = append(queries, query{1, Request{Query: q, Sort: sort, Size: 50, Now: now}})
		}
	}
	before := make([][]int64, len(queries))
	for i, q := range queries {
		before[i] = pagesOf(t, x, q.tenant, q.req)
	}
	segs := segmentCounts(t, x)
	var due []shard
	for s, seg := range segs {
		if seg.needsSettle() {
			due = append(due, s)
		}
	}
	if len(due) == 0 {
		t.Fatalf("no shard needs settling: %v", segs)
	}
	n, err := x.Settle(ctx)
	if err != nil || n != len(due) {
		t.Fatalf("Settle = %d, %v; want the %d shards %v", n, err, len(due), due)
	}
	after := segmentCounts(t, x)
	for _, s := range due {
		if after[s].count != 1 {
			t.Errorf("shard %v: %d segments after Settle, %d before, want 1", s, after[s].count, segs[s].count)
		}
	}
	for s, seg := range after {
		if seg.count > segs[s].count {
			t.Errorf("shard %v: %d segments after Settle, %d before", s, seg.count, segs[s].count)
		}
	}
	for i, q := range queries {
		if got := pagesOf(t, x, q.tenant, q.req); !slices.Equal(got, before[i]) {
			t.Errorf("tenant %d %q (sort %v): after Settle %v, before %v", q.tenant, q.req.Query, q.req.Sort, got, before[i])
		}
	}
	if n, err := x.Settle(ctx); err != nil || n != 0 {
		t.Errorf("second Settle = %d, %v; want nothing to do", n, err)
	}
	// A settled shard written a little is left alone; written as much
	// again, it is settled again.
	s := due[0]
	var more []Document
	for _, d := range docs {
		if shardOf(d.TenantID, rowKey(d.Date, d.ID)) == s {
			d.ID += 100000
			more = append(more, d)
		}
	}
	if err := x.Index(ctx, more[:1]); err != nil {
		t.Fatal(err)
	}
	if n, err := x.Settle(ctx); err != nil || n != 0 {
		t.Errorf("Settle after one new message = %d, %v; want nothing to do", n, err)
	}
	for _, d := range more[1:] {
		if err := x.Index(ctx, []Document{d}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := x.Settle(ctx); err != nil || n != 1 {
		t.Errorf("Settle after doubling shard %v (%+v) = %d, %v; want it settled", s, segmentCounts(t, x)[s], n, err)
	}
}

func TestDecodeStructureRejectsBadRecords(t *testing.T) {
	x := openFTSTest(t)
	if err := x.Index(context.Background(), shardDocs(20)); err != nil {
		t.Fatal(err)
	}
	s := x.shardsIn(1, -1<<62, 1<<62)[0]
	var rec []byte
	if err := x.db.QueryRow(`SELECT block FROM `+s.table()+`_data WHERE id = ?`, ftsStructureRowid).Scan(&rec); err != nil {
		t.Fatal(err)
	}
	seg, err := decodeStructure(rec)
	if err != nil || seg.count < 1 || seg.pages < 1 {
		t.Fatalf("decodeStructure = %+v, %v; want segments", seg, err)
	}
	for _, b := range [][]byte{nil, rec[:3], rec[:len(rec)-1], append(slices.Clone(rec[:8]), 0x85)} {
		if seg, err := decodeStructure(b); err == nil {
			t.Errorf("decodeStructure(%x) = %+v, want an error", b, seg)
		}
	}
}
