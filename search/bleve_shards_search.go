package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/collector"
	"github.com/blevesearch/bleve/v2/search/query"
)

// Search runs req within the tenant's shards. Date order walks the shards
// from the newest (or, oldest first, the oldest) and stops as soon as the
// page is full: within a shard bleve sorts the shard's matches by date, so
// the work is bounded by the shards visited, not by the tenant's mail.
// Relevance asks every shard for its best page after the cursor and merges
// them (see pageByScore). The total is exact up to MaxTotal: the shards a
// page visited report their own totals, and the others are counted newest
// first, each stopping at what is left to count.
func (x *BleveShards) Search(ctx context.Context, tenantID int64, req Request) (*Result, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	pq, now, err := parseRequest(req)
	if err != nil {
		return nil, err
	}
	q := compileBleve(x.an, nil, req, pq, now) // a shard holds one tenant
	size := pageSize(req.Size)
	sr, err := newBleveRequest(q, size, req)
	if err != nil {
		return nil, err
	}
	lo, hi := spanBounds(pq.Root, now)
	shards := x.spans(tenantID, lo, hi)
	totals := map[shard]uint64{}
	var hits []Hit
	if req.Sort == Relevance {
		hits, err = x.pageByScore(ctx, sr, shards, totals)
	} else {
		hits, err = x.pageByDate(ctx, sr, req.Sort, shards, totals)
	}
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	total, err := x.count(ctx, q, shards, totals)
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	out := &Result{Hits: hits}
	if out.Hits == nil {
		out.Hits = []Hit{}
	}
	out.setTotal(total)
	if len(out.Hits) == size {
		out.Next = encodeCursor(req.Sort, cursorValues(req.Sort, out.Hits[len(out.Hits)-1]))
	}
	return out, nil
}

// spanBounds are the shard spans [lo, hi] that date conditions ANDed at
// the top of the query leave possible; other shards cannot match.
func spanBounds(root Node, now time.Time) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	conds := []Node{root}
	if and, ok := root.(*AndNode); ok {
		conds = and.Children
	}
	for _, c := range conds {
		var after bool
		var at time.Time
		switch n := c.(type) {
		case *DateNode:
			after, at = n.After, n.At
		case *RelDateNode:
			after, at = n.Newer, n.Since(now)
		default:
			continue
		}
		// after: date ≥ at; before: date < at, so at's own span may match.
		if s := at.Unix() >> shardBits; after {
			lo = max(lo, s)
		} else {
			hi = min(hi, s)
		}
	}
	return lo, hi
}

// pageByDate fills the page from one shard after another in date order;
// shards lie in disjoint date spans, so their pages concatenate into the
// order one index would give. Shards wholly before the cursor are skipped.
func (x *BleveShards) pageByDate(ctx context.Context, sr *bleve.SearchRequest, order Sort, shards []shard, totals map[shard]uint64) ([]Hit, error) {
	walk := slices.Clone(shards)
	if order == DateDesc {
		slices.Reverse(walk)
	}
	cursorSpan := int64(math.MinInt64)
	if sr.SearchAfter != nil {
		t, _ := time.Parse(time.RFC3339Nano, sr.SearchAfter[0]) // checked by decodeCursor
		cursorSpan = t.Unix() >> shardBits
	}
	size := sr.Size
	var hits []Hit
	for _, s := range walk {
		if len(hits) == size {
			break
		}
		if sr.SearchAfter != nil && ((order == DateDesc && s.span > cursorSpan) || (order == DateAsc && s.span < cursorSpan)) {
			continue
		}
		sr.Size = size - len(hits)
		page, total, err := x.searchShard(ctx, s, sr)
		if err != nil {
			return nil, err
		}
		totals[s] = total
		hits = append(hits, page...)
	}
	return hits, nil
}

// pageByScore asks each shard for its best page after the cursor and
// keeps the best of their union, in bleve's relevance order (score, then
// newest, then doc id as a string, as bleve compares ids). Each shard
// scores with its own term statistics, so a score is what that shard's
// index alone would give, not what one index of every shard would; the
// cursor carries the merged score, which the shard that holds the hit
// reproduces, so paging neither repeats nor skips a hit.
func (x *BleveShards) pageByScore(ctx context.Context, sr *bleve.SearchRequest, shards []shard, totals map[shard]uint64) ([]Hit, error) {
	var hits []Hit
	for _, s := range shards {
		page, total, err := x.searchShard(ctx, s, sr)
		if err != nil {
			return nil, err
		}
		totals[s] = total
		hits = append(hits, page...)
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		return strings.Compare(docKey(b.ID), docKey(a.ID))
	})
	return hits[:min(len(hits), sr.Size)], nil
}

// searchShard runs sr on one shard: its page and its total (bleve counts
// every match, the cursor notwithstanding).
func (x *BleveShards) searchShard(ctx context.Context, s shard, sr *bleve.SearchRequest) ([]Hit, uint64, error) {
	idx, err := x.shard(s, false)
	if err != nil {
		return nil, 0, err
	}
	res, err := idx.SearchInContext(ctx, sr)
	if err != nil {
		return nil, 0, fmt.Errorf("shard %s: %w", s.dirName(), err)
	}
	hits := make([]Hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		hit, err := bleveHit(h)
		if err != nil {
			return nil, 0, err
		}
		hits = append(hits, hit)
	}
	return hits, res.Total, nil
}

// count adds the shards' totals newest first up to MaxTotal+1, counting
// the shards no page visited with a collector that stops at what is left.
func (x *BleveShards) count(ctx context.Context, q query.Query, shards []shard, totals map[shard]uint64) (int64, error) {
	var total int64
	for i := len(shards) - 1; i >= 0 && total <= MaxTotal; i-- {
		if n, ok := totals[shards[i]]; ok {
			total += int64(n)
			continue
		}
		n, err := x.countUpTo(ctx, shards[i], q, MaxTotal+1-total)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// countUpTo counts the shard's matches of q, stopping at limit. bleve's
// own SearchRequest always counts every match; its collector can stop
// early (TopNCollector.SetEarlyStop), so the count runs the collector
// directly on the shard's reader.
func (x *BleveShards) countUpTo(ctx context.Context, s shard, q query.Query, limit int64) (int64, error) {
	idx, err := x.shard(s, false)
	if err != nil {
		return 0, err
	}
	adv, err := idx.Advanced()
	if err != nil {
		return 0, fmt.Errorf("shard %s: %w", s.dirName(), err)
	}
	r, err := adv.Reader()
	if err != nil {
		return 0, fmt.Errorf("shard %s: reader: %w", s.dirName(), err)
	}
	defer r.Close()
	searcher, err := q.Searcher(ctx, r, idx.Mapping(), bsearch.SearcherOptions{Score: "none"})
	if err != nil {
		return 0, fmt.Errorf("shard %s: %w", s.dirName(), err)
	}
	defer searcher.Close()
	c := collector.NewTopNCollector(0, 0, bsearch.SortOrder{&bsearch.SortDocID{}})
	c.SetEarlyStop(int(limit))
	if err := c.Collect(ctx, searcher, r); err != nil {
		return 0, fmt.Errorf("shard %s: count: %w", s.dirName(), err)
	}
	return int64(c.Total()), nil
}
