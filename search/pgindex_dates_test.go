package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPGDateTagsFormat pins the tag format migration 0014 writes in SQL
// (to_char of the UTC date) for rows indexed before it.
func TestPGDateTagsFormat(t *testing.T) {
	for _, c := range []struct {
		at   time.Time
		want []string
	}{
		{time.Date(2026, 1, 15, 23, 59, 0, 0, time.UTC), []string{"#y:2026", "#mo:2026-01", "#d:2026-01-15"}},
		// The UTC day, not the local one.
		{time.Date(2026, 3, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), []string{"#y:2026", "#mo:2026-02", "#d:2026-02-28"}},
		{time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), []string{"#y:1999", "#mo:1999-12", "#d:1999-12-31"}},
		{time.Date(999, 12, 31, 0, 0, 0, 0, time.UTC), nil},
		{time.Time{}, nil},
	} {
		if got := pgDateTags(c.at); !slices.Equal(got, c.want) {
			t.Errorf("pgDateTags(%v) = %q, want %q", c.at, got, c.want)
		}
	}
}

// TestPGCoverHoldsTheRange: every instant of a range has a tag in the
// range's cover, which is what makes the cover a safe pre-filter.
func TestPGCoverHoldsTheRange(t *testing.T) {
	span := pgSpan{min: time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC), max: time.Date(2026, 10, 31, 23, 41, 10, 0, time.UTC), ok: true}
	day := 24 * time.Hour
	rng := rand.New(rand.NewPCG(1, 2))
	ranges := []pgRange{
		{lo: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), hi: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{lo: time.Date(2026, 10, 2, 13, 0, 0, 0, time.UTC)},
		{hi: time.Date(2020, 12, 2, 1, 0, 0, 0, time.UTC)},
		{lo: time.Date(2023, 12, 30, 22, 0, 0, 0, time.UTC), hi: time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)},
	}
	for range 200 {
		lo := span.min.Add(time.Duration(rng.Int64N(int64(span.max.Sub(span.min)))))
		ranges = append(ranges, pgRange{lo: lo, hi: lo.Add(time.Duration(rng.Int64N(int64(900 * day))))})
	}
	for _, r := range ranges {
		cover := pgCover(r, span)
		if cover == "" || cover == pgNone {
			continue
		}
		lo, hi := r.lo, r.hi
		if lo.IsZero() {
			lo = span.min
		}
		if hi.IsZero() || hi.After(span.max) {
			hi = span.max
		}
		for at := lo; at.Before(hi); at = at.Add(time.Duration(rng.Int64N(int64(day)))) {
			tags := pgDateTags(at)
			if !slices.ContainsFunc(tags, func(tag string) bool { return strings.Contains(cover, pgQuote(tag)) }) {
				t.Fatalf("cover of [%v, %v) = %s: nothing for %v (%q)", r.lo, r.hi, cover, at, tags)
			}
		}
	}
	if got := pgCover(ranges[0], span); got != "'#mo:2026-01' | '#mo:2026-02'" {
		t.Errorf("cover of two whole months = %s", got)
	}
	if got := pgCover(pgRange{lo: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}, span); got != "" {
		t.Errorf("cover of most of the span = %s, want none", got)
	}
	if got := pgCover(pgRange{lo: span.max.Add(time.Hour)}, span); got != pgNone {
		t.Errorf("cover past the newest document = %s, want %s", got, pgNone)
	}
}

// TestPostgresDateRanges: date conditions, narrow (served by the date
// tags) and wide, alone and with words, in both date orders and across
// pages, list exactly the documents a scan of the corpus finds.
func TestPostgresDateRanges(t *testing.T) {
	idx := openPGIndex(t)
	ctx := context.Background()
	base := time.Date(2023, 11, 2, 7, 0, 0, 0, time.UTC)
	var docs []Document
	for i := 1; i <= 3000; i++ {
		d := Document{ID: int64(i), TenantID: 1, MailboxID: 1, Subject: fmt.Sprintf("note %d", i), Body: "weekly notes",
			LabelIDs: []string{"INBOX"}, Date: base.Add(time.Duration(i) * 8 * time.Hour).Add(time.Duration(i%7) * time.Minute)}
		if i%3 == 0 {
			d.Body = "budget weekly notes"
		}
		docs = append(docs, d)
	}
	docs = append(docs, Document{ID: 9999, TenantID: 2, MailboxID: 2, Subject: "budget", Body: "budget", Date: time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)})
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		query  string
		lo, hi time.Time
		word   string
	}{
		{"budget after:2024/01/01 before:2024/03/01", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), "budget"},
		{"after:2024/02/10 before:2024/02/12", time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 12, 0, 0, 0, 0, time.UTC), ""},
		{"newer_than:300d budget", now.AddDate(0, 0, -300), time.Time{}, "budget"},
		{"older_than:2y notes", time.Time{}, now.AddDate(-2, 0, 0), "notes"},
		{"before:2025/01/01 budget", time.Time{}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "budget"},
		{"after:2030/01/01", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, ""},
	} {
		for _, sort := range []Sort{DateDesc, DateAsc} {
			t.Run(c.query+" "+sort.String(), func(t *testing.T) {
				var want []int64
				for _, d := range docs {
					if d.TenantID == 1 && (c.lo.IsZero() || !d.Date.Before(c.lo)) && (c.hi.IsZero() || d.Date.Before(c.hi)) &&
						strings.Contains(d.Body, c.word) {
						want = append(want, d.ID) // ids grow with dates
					}
				}
				if sort == DateDesc {
					slices.Reverse(want)
				}
				req := Request{Query: c.query, Sort: sort, Size: 50, Now: now}
				var got []int64
				for page := 0; page < 3; page++ {
					res, err := idx.Search(ctx, 1, req)
					if err != nil {
						t.Fatal(err)
					}
					if res.Total != int64(len(want)) {
						t.Fatalf("total = %d, want %d", res.Total, len(want))
					}
					for _, h := range res.Hits {
						got = append(got, h.ID)
					}
					if res.Next == "" {
						break
					}
					req.After = res.Next
				}
				if n := min(len(want), 150); !slices.Equal(got, want[:n]) {
					t.Errorf("hits = %v, want %v", got, want[:n])
				}
			})
		}
	}
}
