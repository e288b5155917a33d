package search

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// Settling: merging a shard's FTS5 segments into one.
//
// Every commit adds a segment to each shard it touches and automerge
// (ftsTuning) merges them 8 at a time per level, so a shard written in
// many batches keeps 8–14 segments, and a query steps through all of them
// side by side (fts5MultiIterNextFrom was 43 % of the query profile at a
// million messages). One segment per shard made the slow query shapes
// 1.6–1.9× cheaper (BENCHMARKS.md). Settle does that merge when the
// writer is idle, one shard at a time.

// settleMinSegments: a shard with fewer segments is left alone.
const settleMinSegments = 4

// settleMinShare: a shard is settled again only when the pages outside its
// largest segment are at least 1/settleMinShare of that segment's pages.
// A settled shard written a little (the current quarter during
// incremental sync) is not rewritten whole for a few new messages; each
// rewrite follows growth of at least a quarter, so a shard is rewritten
// a bounded number of times as it grows.
const settleMinShare = 4

// ftsStructureRowid is the %_data row of FTS5's structure record
// (FTS5_STRUCTURE_ROWID in fts5_index.c).
const ftsStructureRowid = 10

// ftsSegments is what Settle reads of a shard's structure record.
type ftsSegments struct {
	count   int   // segments
	pages   int64 // leaf pages of all segments
	largest int64 // leaf pages of the largest segment
}

// needsSettle says whether merging the shard's segments is worth a rewrite.
func (s ftsSegments) needsSettle() bool {
	return s.count >= settleMinSegments && (s.pages-s.largest)*settleMinShare >= s.largest
}

// Settle merges the segments of every shard that has grown enough of them
// since it was last settled (needsSettle) into one, oldest shard first,
// and returns how many shards it merged. It is meant for idle moments
// (the Indexer calls it when the outbox is empty, `bench search` after
// indexing): each shard's merge is one FTS5 'optimize', a statement in a
// transaction of its own, so a process killed mid-way leaves that shard as
// it was (SQLite rolls the transaction back; the WAL makes that cheap) and
// the shards settled before it merged. ctx is checked between shards; a
// merge that started runs to its end (about 1.4 s of CPU for a shard of
// 83,000 messages), and searches and writes wait for it, as they wait for
// any write on the index's one connection.
//
// Merging changes no row or term, so the prefix expansions cached per
// shard stay valid.
func (x *FTSIndex) Settle(ctx context.Context) (int, error) {
	x.mu.RLock()
	var all []shard
	for tenant, spans := range x.shards {
		for _, span := range spans {
			all = append(all, shard{tenant, span})
		}
	}
	x.mu.RUnlock()
	slices.SortFunc(all, func(a, b shard) int {
		if a.span != b.span {
			return int(a.span - b.span)
		}
		return int(a.tenant - b.tenant)
	})
	settled := 0
	for _, s := range all {
		if err := ctx.Err(); err != nil {
			return settled, err
		}
		seg, err := x.segments(ctx, s)
		if err != nil {
			return settled, err
		}
		if !seg.needsSettle() {
			continue
		}
		t := s.table()
		if _, err := x.db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO `+t+` (`+t+`) VALUES ('optimize')`); err != nil {
			return settled, fmt.Errorf("search: settle %s: %w", t, err)
		}
		settled++
		x.log.Info("search: settled shard", slog.String("table", t), slog.Int("segments", seg.count), slog.Int64("pages", seg.pages))
	}
	return settled, nil
}

// segments reads the shard's structure record.
func (x *FTSIndex) segments(ctx context.Context, s shard) (ftsSegments, error) {
	var rec []byte
	err := x.db.QueryRowContext(ctx, `SELECT block FROM `+s.table()+`_data WHERE id = ?`, ftsStructureRowid).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return ftsSegments{}, nil // nothing written yet
	}
	if err != nil {
		return ftsSegments{}, fmt.Errorf("search: read structure of %s: %w", s.table(), err)
	}
	seg, err := decodeStructure(rec)
	if err != nil {
		return ftsSegments{}, fmt.Errorf("search: structure of %s: %w", s.table(), err)
	}
	return seg, nil
}

// ftsStructureV2 marks the structure record of a table with
// contentless_delete=1 (FTS5_STRUCTURE_V2 in fts5_index.c).
var ftsStructureV2 = []byte{0xff, 0x00, 0x00, 0x01}

var errStructure = errors.New("malformed FTS5 structure record")

// decodeStructure reads FTS5's structure record (fts5StructureDecode in
// fts5_index.c): a 4-byte cookie, the V2 marker, then varints: number of
// levels, of segments, a write counter, and per level its merge state and
// segments (id, first and last leaf page, and in V2 two origin counters
// and three tombstone/entry counters).
func decodeStructure(b []byte) (ftsSegments, error) {
	var out ftsSegments
	if len(b) < 4 {
		return out, errStructure
	}
	r := varintReader{b: b[4:]}
	v2 := bytes.HasPrefix(r.b, ftsStructureV2)
	if v2 {
		r.b = r.b[4:]
	}
	levels, segs := r.next(), r.next()
	r.next() // write counter
	for range levels {
		r.next() // segments being merged into the next level
		n := r.next()
		for range n {
			r.next() // segment id
			first, last := r.next(), r.next()
			if v2 {
				for range 5 { // origin 1 and 2, tombstone pages, tombstone entries, entries
					r.next()
				}
			}
			pages := int64(last - first + 1)
			out.count++
			out.pages += pages
			out.largest = max(out.largest, pages)
		}
	}
	if r.bad || uint64(out.count) != segs {
		return ftsSegments{}, errStructure
	}
	return out, nil
}

// varintReader reads SQLite varints (https://sqlite.org/fileformat.html,
// "Variable-length integer": big-endian 7-bit groups, the ninth byte whole).
type varintReader struct {
	b   []byte
	bad bool
}

func (r *varintReader) next() uint64 {
	var v uint64
	for i := 0; i < 9; i++ {
		if len(r.b) == 0 {
			r.bad = true
			return 0
		}
		c := r.b[0]
		r.b = r.b[1:]
		if i == 8 {
			return v<<8 | uint64(c)
		}
		v = v<<7 | uint64(c&0x7f)
		if c < 0x80 {
			return v
		}
	}
	return v
}
