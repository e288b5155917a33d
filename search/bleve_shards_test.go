package search

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func openBleveShardsTest(t *testing.T) *BleveShards {
	t.Helper()
	x, err := OpenBleveShards(t.TempDir()+"/mail.bleve-shards", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return x
}

// TestBleveShardsOrderCountAndPaging: over two years of mail in several
// shards, date order, both directions, relevance and date ranges list
// every match once in the order one index would, across cursor pages.
func TestBleveShardsOrderCountAndPaging(t *testing.T) {
	x := openBleveShardsTest(t)
	docs := shardDocs(600)
	if err := x.Index(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	if n := len(x.spans(1, -1<<62, 1<<62)); n < 5 {
		t.Fatalf("%d shards, want the two years split into several", n)
	}
	testShardedPaging(t, x, docs)
	t.Run("a date range searches only its shards", func(t *testing.T) {
		pq, now, err := parseRequest(Request{Query: "after:2024/03/01 before:2024/07/01"})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := spanBounds(pq.Root, now)
		if n, all := len(x.spans(1, lo, hi)), len(x.spans(1, -1<<62, 1<<62)); n >= all || n < 2 {
			t.Errorf("the range searches %d of %d shards, want the two or three it spans", n, all)
		}
	})
}

// TestBleveShardsMoveBetweenShards: a message re-dated into another
// shard is found once, under its new date, and deleted from there.
func TestBleveShardsMoveBetweenShards(t *testing.T) {
	ctx := context.Background()
	x := openBleveShardsTest(t)
	docs := shardDocs(3)
	if err := x.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	moved := docs[0]
	moved.Date = moved.Date.AddDate(1, 0, 0)
	// Both dates in one batch: the later copy wins, in one shard.
	twice := docs[0]
	twice.Date = twice.Date.AddDate(0, 6, 0)
	if err := x.Index(ctx, []Document{twice, moved}); err != nil {
		t.Fatal(err)
	}
	res, err := x.Search(ctx, 1, Request{Query: "invoice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 || res.Hits[0].ID != moved.ID || !res.Hits[0].Date.Equal(moved.Date) || res.Total != 1 {
		t.Fatalf("hits = %+v (total %d), want message %d once at %s", res.Hits, res.Total, moved.ID, moved.Date)
	}
	if err := x.UpdateLabels(ctx, 1, moved.ID, []string{"TRASH"}, nil); err != nil {
		t.Fatal(err)
	}
	if res, err = x.Search(ctx, 1, Request{Query: "in:trash invoice"}); err != nil || len(res.Hits) != 1 {
		t.Fatalf("after trashing: %+v, %v; want the message in the trash", res, err)
	}
	if err := x.Delete(ctx, 1, []int64{moved.ID}); err != nil {
		t.Fatal(err)
	}
	if res, err = x.Search(ctx, 1, Request{Query: "in:trash invoice"}); err != nil || res.Total != 0 {
		t.Fatalf("after delete: %+v, %v; want nothing", res, err)
	}
}

// TestBleveShardsCountCap: more than MaxTotal matches over several shards
// count as "at least MaxTotal" (the shards the page did not visit are
// counted only up to what is left), a rarer word is counted exactly, and
// pages of MaxSize walk across shard boundaries in date order.
func TestBleveShardsCountCap(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes 10,040 documents")
	}
	ctx := context.Background()
	x := openBleveShardsTest(t)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = MaxTotal + 40
	docs := make([]Document, 0, n+1)
	for i := 1; i <= n; i++ {
		d := Document{ID: int64(i), TenantID: 1, MailboxID: 1, Subject: fmt.Sprintf("Alphabet soup %d", i),
			Body: "weekly notes", LabelIDs: []string{"INBOX"}, Date: base.Add(time.Duration(i) * 100 * time.Minute)}
		if i%100 == 0 {
			d.Body = "betamax weekly notes"
		}
		docs = append(docs, d)
	}
	docs = append(docs, Document{ID: n + 1, TenantID: 2, MailboxID: 2, Subject: "Alphabet of another tenant", Date: base})
	for start := 0; start < len(docs); start += 2000 {
		if err := x.Index(ctx, docs[start:min(start+2000, len(docs))]); err != nil {
			t.Fatal(err)
		}
	}
	if s := len(x.spans(1, -1<<62, 1<<62)); s < 4 {
		t.Fatalf("%d shards, want several", s)
	}
	newest := func(word string, asc bool) []int64 {
		return idsByDate(docs, func(d Document) bool { return d.TenantID == 1 && containsWord(d.Subject+" "+d.Body, word) }, asc)
	}
	for _, c := range []struct {
		query    string
		sort     Sort
		relation string
		want     []int64
	}{
		{"alph", DateDesc, TotalAtLeast, newest("alphabet", false)},
		{"alph", DateAsc, TotalAtLeast, newest("alphabet", true)},
		{"betam", DateDesc, TotalExact, newest("betamax", false)},
	} {
		t.Run(fmt.Sprintf("%s %s", c.query, c.sort), func(t *testing.T) {
			req := Request{Query: c.query, Sort: c.sort, Size: MaxSize}
			var got []int64
			for page := 0; page < 5; page++ {
				res, err := x.Search(ctx, 1, req)
				if err != nil {
					t.Fatal(err)
				}
				if res.TotalRelation != c.relation || (c.relation == TotalExact && res.Total != int64(len(c.want))) ||
					(c.relation == TotalAtLeast && res.Total != MaxTotal) {
					t.Fatalf("page %d: total = %d %s, want %s (%d matches)", page, res.Total, res.TotalRelation, c.relation, len(c.want))
				}
				for _, h := range res.Hits {
					got = append(got, h.ID)
				}
				if res.Next == "" {
					break
				}
				req.After = res.Next
			}
			if len(got) < min(len(c.want), 5*MaxSize) || !slices.Equal(got, c.want[:len(got)]) {
				t.Errorf("%d hits, want the first %d of %d in order", len(got), min(len(c.want), 5*MaxSize), len(c.want))
			}
		})
	}
}
