package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
)

// openPGIndex returns the Postgres index in a new migrated schema of the
// test database (TIDINGS_TEST_DATABASE_URL; skipped without it outside CI,
// a failure under CI=true).
func openPGIndex(t *testing.T) *PGIndex {
	t.Helper()
	if testenv.PostgresURL(t) == "" {
		t.Skip("TIDINGS_TEST_DATABASE_URL not set")
	}
	store := testenv.OpenPostgres(t)
	db, err := store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := OpenPostgres(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestPostgresTable runs the whole query table against the Postgres
// backend with a real Postgres, asserting the hits as for the embedded
// index.
func TestPostgresTable(t *testing.T) {
	idx := openPGIndex(t)
	runTable(t, backend{
		assertsHits: true,
		open: func(t *testing.T) Index {
			if _, err := idx.db.Exec(`TRUNCATE search_documents`); err != nil {
				t.Fatal(err)
			}
			return idx
		},
	})
}

// TestPostgresManyMatches: past MaxTotal matches the total is "gte" and
// pages come from walking the date index; they must list the same hits in
// the same order as sorting every match would, across cursor pages, in
// both date orders, and a rarer word beside them is still counted exactly.
// The newest 300 documents match none of the words: with a short walk
// (walkFactor 2, 74 rows for pages of 37) the walk comes up short and the
// page is sorted from every match instead.
func TestPostgresManyMatches(t *testing.T) {
	idx := openPGIndex(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = MaxTotal + 40
	var docs []Document
	for i := 1; i <= n; i++ {
		d := Document{ID: int64(i), TenantID: 1, MailboxID: 1, GmailID: fmt.Sprint(i), Subject: fmt.Sprintf("Alphabet soup %d", i),
			Body: "weekly notes", LabelIDs: []string{"INBOX"}, Date: base.Add(time.Duration(i%997) * time.Hour)}
		if i%100 == 0 {
			d.Body = "betamax weekly notes"
		}
		if i%1000 == 0 {
			d.LabelIDs = []string{"TRASH"}
		}
		docs = append(docs, d)
	}
	for i := range 300 {
		docs = append(docs, Document{ID: int64(n + 1 + i), TenantID: 1, MailboxID: 1, Subject: "Zebra crossing", LabelIDs: []string{"INBOX"},
			Date: base.AddDate(1, 0, 0).Add(time.Duration(i) * time.Minute)})
	}
	docs = append(docs, Document{ID: n + 301, TenantID: 2, MailboxID: 2, Subject: "Alphabet of another tenant", Date: base})
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	want := func(word string, asc bool) []int64 {
		var ids []Document
		for _, d := range docs {
			if d.TenantID == 1 && d.LabelIDs[0] != "TRASH" && strings.Contains(strings.ToLower(d.Subject+" "+d.Body), word) {
				ids = append(ids, d)
			}
		}
		slices.SortFunc(ids, func(a, b Document) int {
			if c := a.Date.Compare(b.Date); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		out := make([]int64, len(ids))
		for i, d := range ids {
			out[i] = d.ID
		}
		if !asc {
			slices.Reverse(out)
		}
		return out
	}
	for _, c := range []struct {
		query    string
		sort     Sort
		relation string
		walk     int
	}{{"alph", DateDesc, TotalAtLeast, walkFactor}, {"alph", DateAsc, TotalAtLeast, walkFactor},
		{"alph", DateDesc, TotalAtLeast, 2}, {"alph", DateAsc, TotalAtLeast, 2}, {"betam", DateDesc, TotalExact, walkFactor},
		// Every match scores alike: relevance ties break newest first.
		{"alph", Relevance, TotalAtLeast, walkFactor},
		// Date conditions that hold for every match but not for the
		// newest (or oldest) documents: the walk starts inside the range.
		{"alph before:2026/12/01", DateDesc, TotalAtLeast, 2}, {"alph after:2025/12/01 before:2026/12/01", DateAsc, TotalAtLeast, 2}} {
		t.Run(fmt.Sprintf("%s %s walk %d", c.query, c.sort, c.walk), func(t *testing.T) {
			idx.walkFactor = c.walk
			all := want(strings.Fields(c.query)[0], c.sort == DateAsc)
			req := Request{Query: c.query, Sort: c.sort, Size: 37}
			var got []int64
			for page := 0; page < 4; page++ {
				res, err := idx.Search(ctx, 1, req)
				if err != nil {
					t.Fatal(err)
				}
				if res.TotalRelation != c.relation || (c.relation == TotalExact && res.Total != int64(len(all))) ||
					(c.relation == TotalAtLeast && res.Total != MaxTotal) {
					t.Fatalf("total = %d %s, want %s (%d matches)", res.Total, res.TotalRelation, c.relation, len(all))
				}
				for _, h := range res.Hits {
					got = append(got, h.ID)
				}
				if res.Next == "" {
					break
				}
				req.After = res.Next
			}
			if len(got) > len(all) || !slices.Equal(got, all[:len(got)]) || len(got) < min(len(all), 4*37) {
				t.Errorf("pages = %v…, want %v…", got[:min(10, len(got))], all[:min(10, len(all))])
			}
		})
	}
}

// TestPostgresTenantIsolation: every read and write of the Postgres index
// is scoped to the tenant: another tenant's documents are not counted,
// listed, deleted, relabelled or found.
func TestPostgresTenantIsolation(t *testing.T) {
	idx := openPGIndex(t)
	ctx := context.Background()
	docs := loadFixture(t)
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	var t2 []int64
	for _, d := range docs {
		if d.TenantID == 2 {
			t2 = append(t2, d.ID)
		}
	}
	h, err := idx.Hashes(ctx, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(h)); !slices.Equal(got, t2) {
		t.Errorf("Hashes(tenant 2) = %v, want %v", got, t2)
	}
	if n, err := idx.Count(ctx, 2, 0); err != nil || n != int64(len(t2)) {
		t.Errorf("Count(tenant 2) = %d, %v; want %d", n, err, len(t2))
	}
	if err := idx.Delete(ctx, 2, []int64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if n, _ := idx.Count(ctx, 1, 0); n != int64(len(docs)-len(t2)-countTenant(docs, 4)) {
		t.Errorf("a delete through tenant 2 removed tenant 1's documents: %d left", n)
	}
	if err := idx.UpdateLabels(ctx, 2, 1, []string{"TRASH"}, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateLabels of tenant 1's message through tenant 2 = %v, want ErrNotFound", err)
	}
	for _, tenant := range []int64{0, -1} {
		if _, err := idx.Search(ctx, tenant, Request{}); !errors.Is(err, ErrNoTenant) {
			t.Errorf("Search(tenant %d) = %v, want ErrNoTenant", tenant, err)
		}
	}
	res, err := idx.Search(ctx, 2, Request{Query: "in:anywhere"})
	if err != nil {
		t.Fatal(err)
	}
	for _, hit := range res.Hits {
		if !slices.Contains(t2, hit.ID) {
			t.Errorf("tenant 2 found message %d of another tenant", hit.ID)
		}
	}
}

func countTenant(docs []Document, tenant int64) int {
	n := 0
	for _, d := range docs {
		if d.TenantID == tenant {
			n++
		}
	}
	return n
}

func TestPostgresHighlights(t *testing.T) { testHighlights(t, openPGIndex(t)) }

// TestOpenChoosesByDatabase: without Elasticsearch, a process on Postgres
// always gets the shared index inside it — never a per-process embedded
// copy that other processes would not write — and SQLite keeps the
// embedded index.
func TestOpenChoosesByDatabase(t *testing.T) {
	ctx := context.Background()
	pg := testenv.OpenPostgres(t)
	lite := testenv.OpenSQLite(t)
	for _, c := range []struct {
		name    string
		store   *models.Store
		engine  string
		want    string // type of the index, "" for an error
		errPart string
	}{
		{"postgres default", pg, "", "*search.PGIndex", ""},
		{"postgres named", pg, "postgres", "*search.PGIndex", ""},
		{"embedded engine on postgres", pg, "fts5", "", "shares the index inside the database"},
		{"bleve on postgres", pg, "bleve", "", "shares the index inside the database"},
		{"sqlite default", lite, "", "*search.FTSIndex", ""},
		{"sqlite bleve", lite, "bleve", "*search.BleveIndex", ""},
		{"sqlite bleve-shards", lite, "bleve-shards", "*search.BleveShards", ""},
		{"bleve-shards on postgres", pg, "bleve-shards", "", "shares the index inside the database"},
		{"unknown embedded engine", lite, "lucene", "", "want fts5, bleve or bleve-shards"},
		{"postgres engine on sqlite", lite, "postgres", "", "needs a Postgres database"},
	} {
		t.Run(c.name, func(t *testing.T) {
			idx, err := Open(ctx, Config{Store: c.store, DataDir: t.TempDir(), Engine: c.engine}, nil)
			if c.want == "" {
				if err == nil || !strings.Contains(err.Error(), c.errPart) {
					t.Fatalf("Open = %T, %v; want an error containing %q", idx, err, c.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer idx.Close()
			if got := fmt.Sprintf("%T", idx); got != c.want {
				t.Errorf("Open = %s, want %s", got, c.want)
			}
		})
	}
}
