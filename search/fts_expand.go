package search

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Word prefixes are expanded per shard into the shard's own terms.
//
// FTS5 answers `"budget"*` by merging the doclists of every term the
// prefix begins into one list before it returns the first row
// (fts5SetupPrefixIter), so a prefix costs the whole of its doclists in
// every shard a query visits, however early the page is full or the count
// reaches MaxTotal+1. `(budget OR budgets OR budgeted)` is evaluated
// lazily instead: FTS5 steps the terms' iterators side by side and an
// AND with a rare phrase or tag skips through them. On the 1M benchmark
// index `"quarterly report" AND budget*` took 70 ms and
// `m3 AND invoice*` 104 ms against 7.5 and 13 ms with the exact terms.
//
// The terms are read from the index itself through an fts5vocab table
// (https://sqlite.org/fts5.html, section 7), so they are exactly FTS5's
// tokens; the lookup is a term range (fts5vocab's xBestIndex takes term
// >= and < constraints). A prefix with more than ftsExpandMax terms in a
// shard (FTSIndex.expandMax) stays a plain prefix there: a long OR costs
// more than the merge.
// Only prefixes of ASCII letters and digits are expanded, since for them
// our folding and FTS5's unicode61 tokenizer agree byte for byte (both
// lower-case ASCII and keep it whole); any other prefix is left to FTS5.

// ftsExpandMax is the default of FTSIndex.expandMax, the largest number
// of terms a prefix is expanded into in one shard (chosen by measurement,
// see BENCHMARKS.md).
const ftsExpandMax = 32

// ftsExpandCacheMax bounds the expansion cache; it is emptied when full.
const ftsExpandCacheMax = 4096

// ftsPrefix is a word prefix of a compiled query: the FTS5 column filter
// ("" for none) and the token.
type ftsPrefix struct{ cols, tok string }

// placeholder stands for prefix i in a compiled MATCH expression until the
// shard is known. NUL never occurs in a query token.
func (c *ftsCompiler) placeholder(p ftsPrefix) string {
	for i, q := range c.prefixes {
		if q == p {
			return "\x00" + strconv.Itoa(i) + "\x00"
		}
	}
	c.prefixes = append(c.prefixes, p)
	return "\x00" + strconv.Itoa(len(c.prefixes)-1) + "\x00"
}

// expandable reports whether tok is a prefix FTS5 tokenizes as itself.
func expandable(tok string) bool {
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return tok != ""
}

func plainPrefix(p ftsPrefix) string { return colFilter(p.cols) + `"` + p.tok + `"*` }

// expansion is a prefix's terms in one shard as of a write generation;
// over means there were more than ftsExpandMax.
type expansion struct {
	gen   uint64
	max   int // the cut-off it was read with
	terms []string
	over  bool
}

type expandKey struct {
	s   shard
	tok string
}

// expandCache keeps expansions per shard and token. An entry is valid while
// the shard's write generation is the one it was read at: every committed
// write bumps the generations of the shards it touched (written), so a
// term added later is never missed.
type expandCache struct {
	mu      sync.Mutex
	gens    map[shard]uint64
	entries map[expandKey]expansion
	vocab   map[shard]bool // fts5vocab tables created on the connection
}

func newExpandCache() *expandCache {
	return &expandCache{gens: map[shard]uint64{}, entries: map[expandKey]expansion{}, vocab: map[shard]bool{}}
}

// written records committed writes to shards.
func (c *expandCache) written(shards []shard) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range shards {
		c.gens[s]++
	}
}

func (c *expandCache) get(k expandKey) (e expansion, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gen = c.gens[k.s]
	e, ok = c.entries[k]
	return e, gen, ok && e.gen == gen
}

func (c *expandCache) put(k expandKey, e expansion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= ftsExpandCacheMax {
		clear(c.entries)
	}
	c.entries[k] = e
}

// shardArgs are q's arguments for shard s, its prefixes expanded (or, with
// expand false, plain FTS5 prefixes).
func (x *FTSIndex) shardArgs(ctx context.Context, q *ftsQuery, s shard, expand bool) ([]any, error) {
	repl := make([]string, 0, 2*len(q.prefixes))
	for i, p := range q.prefixes {
		m := plainPrefix(p)
		if expand {
			var err error
			if m, err = x.expandPrefix(ctx, s, p); err != nil {
				return nil, err
			}
		}
		repl = append(repl, "\x00"+strconv.Itoa(i)+"\x00", m)
	}
	if len(repl) == 0 {
		return q.args, nil
	}
	r := strings.NewReplacer(repl...)
	out := make([]any, len(q.args))
	for i, a := range q.args {
		if str, ok := a.(string); ok && strings.Contains(str, "\x00") {
			a = r.Replace(str)
		}
		out[i] = a
	}
	return out, nil
}

// expandPrefix is the MATCH expression of prefix p in shard s.
func (x *FTSIndex) expandPrefix(ctx context.Context, s shard, p ftsPrefix) (string, error) {
	if !expandable(p.tok) || x.expandMax <= 0 {
		return plainPrefix(p), nil
	}
	k := expandKey{s, p.tok}
	e, gen, ok := x.expand.get(k)
	if !ok || e.max != x.expandMax {
		terms, over, err := x.vocabTerms(ctx, s, p.tok)
		if err != nil {
			return "", err
		}
		e = expansion{gen: gen, max: x.expandMax, terms: terms, over: over}
		x.expand.put(k, e)
	}
	switch {
	case e.over:
		return plainPrefix(p), nil
	case len(e.terms) == 0:
		return ftsNone, nil // no word of this shard begins so
	}
	return colFilter(p.cols) + `("` + strings.Join(e.terms, `" OR "`) + `")`, nil
}

// vocabTerms lists the terms of shard s that begin with tok, at most
// x.expandMax (over is true when there are more). The fts5vocab table
// lives in the connection's temp schema; it is created on first use.
func (x *FTSIndex) vocabTerms(ctx context.Context, s shard, tok string) (terms []string, over bool, err error) {
	conn, err := x.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("search: expand %q: %w", tok, err)
	}
	defer conn.Close()
	v := "vocab_" + s.table()
	if _, err := conn.ExecContext(ctx, `CREATE VIRTUAL TABLE IF NOT EXISTS temp.`+v+` USING fts5vocab(main, `+s.table()+`, 'row')`); err != nil {
		return nil, false, fmt.Errorf("search: expand %q: %w", tok, err)
	}
	// tok is ASCII, so tok with its last byte raised bounds every term it
	// begins.
	hi := tok[:len(tok)-1] + string(rune(tok[len(tok)-1]+1))
	rows, err := conn.QueryContext(ctx, `SELECT term FROM temp.`+v+` WHERE term >= ? AND term < ? LIMIT ?`, tok, hi, x.expandMax+1)
	if err != nil {
		return nil, false, fmt.Errorf("search: expand %q: %w", tok, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t sql.RawBytes
		if err := rows.Scan(&t); err != nil {
			return nil, false, fmt.Errorf("search: expand %q: %w", tok, err)
		}
		if !strings.HasPrefix(string(t), tok) || !expandable(string(t)) {
			return nil, true, rows.Err() // a term FTS5 would match we cannot spell: keep the prefix
		}
		terms = append(terms, string(t))
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("search: expand %q: %w", tok, err)
	}
	if len(terms) > x.expandMax {
		return nil, true, nil
	}
	return terms, false, nil
}
