package search

import (
	"strings"
	"time"
)

// Date tags: every document's tsvector carries its UTC year, month and
// day ("#y:2026", "#mo:2026-01", "#d:2026-01-15"; migration 0014 adds them
// to rows written before). A date range narrower than half of the
// tenant's dates is then also a tsquery of the tags covering it, so the
// GIN index intersects a word with the range before any row is read.
// Without them the planner has two bad choices, both measured at
// 1,000,000 documents (BENCHMARKS.md): the word's GIN matches filtered by
// date (for `budget after:2026/01/01 before:2026/03/01` every one of the
// word's matches is read to find the 10,001 in two months), or the date
// index filtered by the tsquery (each row's out-of-line tsvector fetched
// and tested). Postgres does not cost the second correctly, so it picks
// it for narrow ranges; and a BitmapAnd of both is never chosen.
//
// The tags only narrow: the date conditions themselves stay in the SQL,
// so a range that starts or ends inside a day is exact.

// pgTagYears bounds the years that get tags: Go and Postgres format the
// year alike (four digits) within it.
const (
	pgTagMinYear = 1000
	pgTagMaxYear = 9999
	// pgMaxCoverTags bounds a cover's tsquery (a range of a few years has
	// at most ~90 tags).
	pgMaxCoverTags = 120
)

// pgDateTags are the tags of a document dated t.
func pgDateTags(t time.Time) []string {
	t = t.UTC()
	if t.Year() < pgTagMinYear || t.Year() > pgTagMaxYear {
		return nil
	}
	return []string{pgTag("y", t.Format("2006")), pgTag("mo", t.Format("2006-01")), pgTag("d", t.Format("2006-01-02"))}
}

// pgSpan is the oldest and newest date of a tenant's documents.
type pgSpan struct {
	min, max time.Time
	ok       bool // the tenant has documents
}

// pgRange is a date range [lo, hi); a zero bound is open.
type pgRange struct{ lo, hi time.Time }

func (r pgRange) empty() bool { return r.lo.IsZero() && r.hi.IsZero() }

// narrow intersects r with one date condition (after: date >= at,
// otherwise date < at).
func (r pgRange) narrow(after bool, at time.Time) pgRange {
	at = at.UTC()
	if after {
		if r.lo.IsZero() || at.After(r.lo) {
			r.lo = at
		}
	} else if r.hi.IsZero() || at.Before(r.hi) {
		r.hi = at
	}
	return r
}

// pgDateCond is a date node's condition, if n is one.
func pgDateCond(n Node, now time.Time) (after bool, at time.Time, ok bool) {
	switch n := n.(type) {
	case *DateNode:
		return n.After, n.At, true
	case *RelDateNode:
		return n.Newer, n.Since(now), true
	}
	return false, time.Time{}, false
}

// topRange is the range every match of n lies in by n's own date
// conditions: n itself, or the children of an AND.
func topRange(n Node, now time.Time) pgRange {
	if and, ok := n.(*AndNode); ok {
		return andRange(and.Children, now)
	}
	return andRange([]Node{n}, now)
}

// andRange is the range the date conditions among nodes (ANDed) allow.
func andRange(nodes []Node, now time.Time) pgRange {
	var r pgRange
	for _, ch := range nodes {
		if after, at, ok := pgDateCond(ch, now); ok {
			r = r.narrow(after, at)
		}
	}
	return r
}

// pgCover is a tsquery of date tags matching every document dated in r
// (and possibly others on the range's first and last day), or "" when
// the tags would not narrow much: r spans more than half of the tenant's
// dates, or falls outside the years that have tags. A range without any
// of the tenant's documents is pgNone.
func pgCover(r pgRange, span pgSpan) string {
	if r.empty() {
		return ""
	}
	if !span.ok {
		return pgNone
	}
	lo, hi := span.min, span.max.Add(time.Nanosecond) // [lo, hi) covers the span
	if !r.lo.IsZero() && r.lo.After(lo) {
		lo = r.lo
	}
	if !r.hi.IsZero() && r.hi.Before(hi) {
		hi = r.hi
	}
	if !lo.Before(hi) {
		return pgNone
	}
	if hi.Sub(lo) > span.max.Sub(span.min)/2 || lo.Year() < pgTagMinYear || hi.Year() >= pgTagMaxYear {
		return ""
	}
	// Where the span ends the range, the tenant has no documents beyond
	// it: the cover may reach to the year's end (or start), which takes
	// whole months and years instead of days.
	if !hi.Before(span.max) {
		hi = time.Date(hi.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if !lo.After(span.min) {
		lo = time.Date(lo.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	cur := time.Date(lo.Year(), lo.Month(), lo.Day(), 0, 0, 0, 0, time.UTC)
	var tags []string
	for cur.Before(hi) {
		if len(tags) == pgMaxCoverTags {
			return ""
		}
		switch {
		case cur.YearDay() == 1 && !cur.AddDate(1, 0, 0).After(hi):
			tags = append(tags, pgQuote(pgTag("y", cur.Format("2006"))))
			cur = cur.AddDate(1, 0, 0)
		case cur.Day() == 1 && !cur.AddDate(0, 1, 0).After(hi):
			tags = append(tags, pgQuote(pgTag("mo", cur.Format("2006-01"))))
			cur = cur.AddDate(0, 1, 0)
		default:
			tags = append(tags, pgQuote(pgTag("d", cur.Format("2006-01-02"))))
			cur = cur.AddDate(0, 0, 1)
		}
	}
	return strings.Join(tags, " | ")
}
