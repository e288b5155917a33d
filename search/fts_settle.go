package search

import (
	"bytes"
	"cmp"
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
// writer is idle, one shard at a time, in short steps.

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
// since it was last settled (needsSettle) into one, newest shard first
// (every newest-first search reads it), and returns how many shards it
// merged. It is meant for idle moments
// (the Indexer calls it when the outbox is empty, `bench search` after
// indexing). ctx is checked between shards and between the steps of a
// shard's merge.
//
// A shard is merged in steps of FTS5's 'merge' command with a negative
// page count (https://sqlite.org/fts5.html, "The 'merge' Command": all
// segments are put on one level and merged into one, at most
// settleStepPages leaf pages written per call), not with one 'optimize':
// the same CPU in total (1.57 s against 1.84 s for a shard of 83,000
// messages, BENCHMARKS.md) but each step is a short statement, so searches
// and index writes, which share the index's one connection, wait for one
// step (about 50 ms of CPU), not for a whole shard (1–2 s). Each step is a
// transaction of its own; FTS5 keeps the state of a merge in progress in
// the structure record, so a process killed mid-way leaves a consistent
// index (SQLite rolls the interrupted step back) whose shard has the
// segments it had plus the merge's partial output, and the next Settle
// continues it. Merging changes no row or term, so the prefix expansions
// cached per shard stay valid.
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
			return cmp.Compare(b.span, a.span)
		}
		return cmp.Compare(a.tenant, b.tenant)
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
		if err := x.settleShard(ctx, s, seg); err != nil {
			return settled, err
		}
		settled++
		x.log.Info("search: settled shard", slog.String("table", s.table()), slog.Int("segments", seg.count), slog.Int64("pages", seg.pages))
	}
	return settled, nil
}

// settleStepPages bounds the leaf pages one merge step writes (about
// 2 MB; 34 steps for a shard of 83,000 messages).
const settleStepPages = 500

// settleShard runs merge steps until one does no work, which FTS5 shows
// as fewer than two changes (https://sqlite.org/fts5.html, "The 'merge'
// Command"). The steps are bounded by what the shard held, in case other
// writes keep adding segments meanwhile.
func (x *FTSIndex) settleShard(ctx context.Context, s shard, seg ftsSegments) error {
	t := s.table()
	maxSteps := 4*seg.pages/settleStepPages + 16
	for range maxSteps {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := x.mergeStep(ctx, t)
		if err != nil {
			return fmt.Errorf("search: settle %s: %w", t, err)
		}
		if done {
			return nil
		}
	}
	return nil
}

// mergeStep runs one 'merge' on one connection (total_changes is per
// connection) and says whether it found nothing left to merge.
func (x *FTSIndex) mergeStep(ctx context.Context, table string) (bool, error) {
	conn, err := x.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	// Statements run without the driver's cancellation watch (see
	// FTSIndex.write); ctx is checked between steps.
	sctx := context.WithoutCancel(ctx)
	var before, after int64
	if err := conn.QueryRowContext(sctx, `SELECT total_changes()`).Scan(&before); err != nil {
		return false, err
	}
	if _, err := conn.ExecContext(sctx, `INSERT INTO `+table+` (`+table+`, rank) VALUES ('merge', ?)`, -settleStepPages); err != nil {
		return false, err
	}
	if err := conn.QueryRowContext(sctx, `SELECT total_changes()`).Scan(&after); err != nil {
		return false, err
	}
	return after-before < 2, nil
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
