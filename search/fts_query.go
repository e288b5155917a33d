package search

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ftsCond is a compiled query node: everything (all), or an FTS5 MATCH
// expression and/or a SQL condition on the rowid (dates), ANDed. The SQL
// names the shard's table as ftsTable. A conjunction of date conditions
// also bounds the row keys (lo, hi), so shards outside are not searched.
type ftsCond struct {
	all    bool
	match  string
	sql    string
	args   []any
	lo, hi *int64 // keys >= lo and < hi; nil = unbounded
}

// ftsTable stands for the shard's table in compiled SQL.
const ftsTable = "{fts}"

// ftsNone matches nothing: no document carries this tag.
const ftsNone = `tags : "none0"`

type ftsCompiler struct {
	now      time.Time
	universe string      // the tenant's tag: every document of the tenant
	prefixes []ftsPrefix // word prefixes, expanded per shard (fts_expand.go)
}

func (c *ftsCompiler) compile(n Node) ftsCond {
	switch n := n.(type) {
	case *AllNode:
		return ftsCond{all: true}
	case *TextNode:
		return ftsCond{match: c.text(n)}
	case *LabelNode:
		return ftsCond{match: `tags : "` + tagLabel(n.Label) + `"`}
	case *AttachmentNode:
		return ftsCond{match: `tags : "` + tagAttachment + `"`}
	case *DateNode:
		return dateCond(n.After, n.At)
	case *RelDateNode:
		return dateCond(n.Newer, n.Since(c.now))
	case *NotNode:
		inner := c.compile(n.Child)
		switch {
		case inner.all:
			return ftsCond{match: ftsNone}
		case inner.sql == "":
			return ftsCond{match: "(" + c.universe + " NOT (" + inner.match + "))"}
		}
		s, args := c.toSQL(inner)
		return ftsCond{sql: "NOT (" + s + ")", args: args}
	case *AndNode:
		return c.and(n.Children)
	case *OrNode:
		return c.or(n.Children)
	}
	return ftsCond{match: ftsNone}
}

func dateCond(after bool, at time.Time) ftsCond {
	k := dateKey(at)
	if after {
		return ftsCond{sql: "rowid >= ?", args: []any{k}, lo: &k}
	}
	return ftsCond{sql: "rowid < ?", args: []any{k}, hi: &k}
}

// bound narrows out's key range by cc's.
func (out *ftsCond) bound(cc ftsCond) {
	if cc.lo != nil && (out.lo == nil || *cc.lo > *out.lo) {
		out.lo = cc.lo
	}
	if cc.hi != nil && (out.hi == nil || *cc.hi < *out.hi) {
		out.hi = cc.hi
	}
}

// and keeps everything expressible in FTS5 in one MATCH expression
// (negations as FTS5's binary NOT) and ANDs the rest as SQL.
func (c *ftsCompiler) and(children []Node) ftsCond {
	var pos, neg, sqls []string
	var args []any
	var bounds ftsCond
	for _, ch := range children {
		if not, ok := ch.(*NotNode); ok {
			inner := c.compile(not.Child)
			if inner.all {
				return ftsCond{match: ftsNone}
			}
			if inner.sql == "" {
				neg = append(neg, inner.match)
				continue
			}
		}
		cc := c.compile(ch)
		if cc.all {
			continue
		}
		if cc.match != "" {
			pos = append(pos, "("+cc.match+")")
		}
		if cc.sql != "" {
			sqls = append(sqls, "("+cc.sql+")")
			args = append(args, cc.args...)
		}
		bounds.bound(cc)
	}
	out := ftsCond{sql: strings.Join(sqls, " AND "), args: args, lo: bounds.lo, hi: bounds.hi}
	if len(neg) > 0 && len(pos) == 0 {
		pos = []string{c.universe}
	}
	if len(pos) > 0 {
		m := strings.Join(pos, " AND ")
		for _, n := range neg {
			m = "(" + m + ") NOT (" + n + ")"
		}
		out.match = m
	}
	out.all = out.match == "" && out.sql == ""
	return out
}

// or stays in FTS5 when every alternative does, and becomes SQL otherwise.
func (c *ftsCompiler) or(children []Node) ftsCond {
	conds := make([]ftsCond, len(children))
	pure := true
	for i, ch := range children {
		conds[i] = c.compile(ch)
		if conds[i].all {
			return ftsCond{all: true}
		}
		pure = pure && conds[i].sql == ""
	}
	parts := make([]string, len(conds))
	var args []any
	for i, cc := range conds {
		if pure {
			parts[i] = "(" + cc.match + ")"
			continue
		}
		s, a := c.toSQL(cc)
		parts[i] = "(" + s + ")"
		args = append(args, a...)
	}
	if pure {
		return ftsCond{match: strings.Join(parts, " OR ")}
	}
	return ftsCond{sql: strings.Join(parts, " OR "), args: args}
}

// toSQL turns a condition into SQL on the rowid.
func (c *ftsCompiler) toSQL(cc ftsCond) (string, []any) {
	if cc.all {
		return "1", nil
	}
	var parts []string
	var args []any
	if cc.match != "" {
		parts = append(parts, "rowid IN (SELECT rowid FROM "+ftsTable+" WHERE "+ftsTable+" MATCH ?)")
		args = append(args, cc.match)
	}
	if cc.sql != "" {
		parts = append(parts, "("+cc.sql+")")
		args = append(args, cc.args...)
	}
	return strings.Join(parts, " AND "), args
}

// queryTokens folds a query word or phrase as the index folds text and
// splits it into the words FTS5 will look up.
func queryTokens(text string) []string {
	var out []string
	for _, t := range (wordsTokenizer{}).Tokenize([]byte(foldText(text))) {
		out = append(out, strings.ToLower(string(t.Term)))
	}
	return out
}

// text matches a word as a word prefix, or a phrase exactly, in the
// node's columns; text with an '@' also matches addresses by prefix.
// Prefixes are placeholders, expanded per shard.
func (c *ftsCompiler) text(n *TextNode) string {
	cols := ftsTextColumns
	if n.Field != FieldAny {
		cols = ftsField[n.Field]
	}
	toks := queryTokens(n.Text)
	if len(toks) == 0 {
		return ftsNone
	}
	if n.Field == FieldAny && !slices.ContainsFunc(toks, tagLike) {
		cols = "" // the text columns are every column these words can be in
	}
	var alts []string
	if !n.Phrase && len(toks) == 1 {
		alts = append(alts, c.placeholder(ftsPrefix{cols, toks[0]}))
	} else {
		alts = append(alts, colFilter(cols)+`"`+strings.Join(toks, " ")+`"`)
	}
	if strings.Contains(n.Text, "@") {
		roles := []string{"f", "t", "c", "b"}
		if n.Field != FieldAny {
			roles = nil
			if r, ok := ftsAddrRole[n.Field]; ok {
				roles = []string{r}
			}
		}
		for _, r := range roles {
			alts = append(alts, c.placeholder(ftsPrefix{"addr", addrToken(r, strings.ToLower(n.Text))}))
		}
	}
	return strings.Join(alts, " OR ")
}

// colFilter is an FTS5 column filter for cols, none when cols is empty.
func colFilter(cols string) string {
	if cols == "" {
		return ""
	}
	return cols + " : "
}

func tagsAny(tag func(int64) string, ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = `tags : "` + tag(id) + `"`
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// ftsQuery is a compiled search: a WHERE clause that names the shard's
// table as ftsTable, its arguments, and the range of keys it can match.
type ftsQuery struct {
	where    string
	args     []any
	lo, hi   int64       // keys in [lo, hi)
	prefixes []ftsPrefix // placeholders in args (x.shardArgs expands them)
}

// on is the WHERE clause for shard s.
func (q *ftsQuery) on(s shard) string { return strings.ReplaceAll(q.where, ftsTable, s.table()) }

// compileSearch turns the parsed query and the request's filters into one
// FTS5 MATCH expression (filters, trash and spam included) and the SQL
// conditions FTS5 cannot express. The tenant is the shard tables searched;
// its tag, which every document carries, appears only where a query has
// nothing positive to start from (an empty or purely negative query).
func compileSearch(tenantID int64, req Request, pq *Query, now time.Time) *ftsQuery {
	c := &ftsCompiler{now: now, universe: `tags : "` + tagTenant(tenantID) + `"`}
	root := c.compile(pq.Root)
	var must []string
	for _, f := range []struct {
		tag func(int64) string
		ids []int64
	}{{tagMailbox, req.MailboxIDs}, {tagContact, req.ContactIDs}, {tagAccount, req.AccountIDs}, {tagCase, req.CaseIDs}} {
		if len(f.ids) > 0 {
			must = append(must, tagsAny(f.tag, f.ids))
		}
	}
	if root.match != "" {
		must = append(must, "("+root.match+")")
	}
	if len(must) == 0 {
		must = []string{c.universe}
	}
	match := strings.Join(must, " AND ")
	if !pq.IncludeTrash {
		match = "(" + match + `) NOT tags : "` + tagLabel("trash") + `"`
	}
	if !pq.IncludeSpam {
		match = "(" + match + `) NOT tags : "` + tagLabel("spam") + `"`
	}
	q := &ftsQuery{where: ftsTable + " MATCH ?", args: []any{match}, lo: math.MinInt64, hi: math.MaxInt64, prefixes: c.prefixes}
	if root.sql != "" {
		q.where += " AND (" + root.sql + ")"
		q.args = append(q.args, root.args...)
	}
	if root.lo != nil {
		q.lo = *root.lo
	}
	if root.hi != nil {
		q.hi = *root.hi
	}
	return q
}

// Search runs req within the tenant.
func (x *FTSIndex) Search(ctx context.Context, tenantID int64, req Request) (*Result, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	pq, now, err := parseRequest(req)
	if err != nil {
		return nil, err
	}
	q := compileSearch(tenantID, req, pq, now)
	shards := x.shardsIn(tenantID, q.lo, q.hi)
	out := &Result{Hits: []Hit{}}
	total, err := x.count(ctx, q, shards)
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	out.setTotal(total)
	size := pageSize(req.Size)
	keys, scores, err := x.page(ctx, req, q, shards, size)
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	docs, err := x.loadByKey(ctx, keys)
	if err != nil {
		return nil, err
	}
	terms := highlightTerms(pq.Root)
	for i, k := range keys {
		d, ok := docs[k]
		if !ok {
			continue
		}
		h := Hit{ID: d.ID, MailboxID: d.MailboxID, GmailID: d.GmailID, ThreadID: d.ThreadID, Subject: d.Subject,
			From: d.From.String(), Date: d.Date, Score: scores[i], Highlights: highlight(d, terms)}
		out.Hits = append(out.Hits, h)
	}
	if len(out.Hits) == size {
		out.Next = encodeCursor(req.Sort, cursorValues(req.Sort, out.Hits[len(out.Hits)-1]))
	}
	return out, nil
}

// count counts matches, newest shard first, up to MaxTotal+1.
func (x *FTSIndex) count(ctx context.Context, q *ftsQuery, shards []shard) (int64, error) {
	var total int64
	for i := len(shards) - 1; i >= 0 && total <= MaxTotal; i-- {
		var n int64
		args, err := x.shardArgs(ctx, q, shards[i], true)
		if err != nil {
			return 0, err
		}
		err = x.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+shards[i].table()+` WHERE `+q.on(shards[i])+` LIMIT ?)`,
			append(slices.Clip(args), MaxTotal+1-total)...).Scan(&n)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// page returns the row keys (and scores) of one page in the requested order.
func (x *FTSIndex) page(ctx context.Context, req Request, q *ftsQuery, shards []shard, size int) ([]int64, []float64, error) {
	var after []string
	if req.After != "" {
		v, err := decodeCursor(req.After, req.Sort)
		if err != nil {
			return nil, nil, err
		}
		after = v
	}
	if req.Sort == Relevance {
		return x.pageByScore(ctx, q, shards, after, size)
	}
	var afterKey *int64
	if after != nil {
		rk, err := x.cursorKey(ctx, after)
		if err != nil {
			return nil, nil, err
		}
		afterKey = &rk
	}
	order := slices.Clone(shards)
	op, dir := "<", "DESC"
	if req.Sort == DateAsc {
		op, dir = ">", "ASC"
	} else {
		slices.Reverse(order)
	}
	var keys []int64
	for _, s := range order {
		if len(keys) == size {
			break
		}
		if lo, hi := s.keyRange(); afterKey != nil && ((op == "<" && lo >= *afterKey) || (op == ">" && hi <= *afterKey)) {
			continue // the shard lies entirely before the cursor
		}
		args, err := x.shardArgs(ctx, q, s, true)
		if err != nil {
			return nil, nil, err
		}
		stmt, args := `SELECT rowid, 0 FROM `+s.table()+` WHERE `+q.on(s), slices.Clip(args)
		if afterKey != nil {
			stmt += ` AND rowid ` + op + ` ?`
			args = append(args, *afterKey)
		}
		k, _, err := x.keys(ctx, stmt+` ORDER BY rowid `+dir+` LIMIT ?`, append(args, size-len(keys)))
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k...)
	}
	return keys, make([]float64, len(keys)), nil
}

// pageByScore ranks by FTS5's bm25, which scores every match: each shard
// gives its best page and the pages are merged. bm25 weighs terms by their
// frequency within the shard, so scores of different shards are close to,
// not exactly, what one table would give.
func (x *FTSIndex) pageByScore(ctx context.Context, q *ftsQuery, shards []shard, after []string, size int) ([]int64, []float64, error) {
	type hit struct {
		k int64
		s float64
	}
	var hits []hit
	for _, s := range shards {
		// Plain prefixes here: bm25 weighs each term of an expansion as a
		// phrase of its own, which would change the ranking.
		args, err := x.shardArgs(ctx, q, s, false)
		if err != nil {
			return nil, nil, err
		}
		args = slices.Clip(args)
		stmt := `SELECT r, s FROM (SELECT rowid AS r, bm25(` + s.table() + `) AS s FROM ` + s.table() + ` WHERE ` + q.on(s) + `)`
		if after != nil {
			score, _ := strconv.ParseFloat(after[0], 64)
			rk, err := x.cursorKey(ctx, after[1:])
			if err != nil {
				return nil, nil, err
			}
			// Scores are returned as -bm25: higher is better.
			stmt += ` WHERE s > ? OR (s = ? AND r < ?)`
			args = append(args, -score, -score, rk)
		}
		k, sc, err := x.keys(ctx, stmt+` ORDER BY s, r DESC LIMIT ?`, append(args, size))
		if err != nil {
			return nil, nil, err
		}
		for i := range k {
			hits = append(hits, hit{k[i], sc[i]})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(b.s, a.s); c != 0 {
			return c
		}
		return cmp.Compare(b.k, a.k)
	})
	hits = hits[:min(len(hits), size)]
	keys, scores := make([]int64, len(hits)), make([]float64, len(hits))
	for i, h := range hits {
		keys[i], scores[i] = h.k, h.s
	}
	return keys, scores, nil
}

// keys runs a query of (row key, bm25) rows; scores come back as -bm25.
func (x *FTSIndex) keys(ctx context.Context, stmt string, args []any) ([]int64, []float64, error) {
	rows, err := x.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var keys []int64
	var scores []float64
	for rows.Next() {
		var k int64
		var s float64
		if err := rows.Scan(&k, &s); err != nil {
			return nil, nil, err
		}
		if math.IsNaN(s) || math.IsInf(s, 0) {
			s = 0
		}
		keys, scores = append(keys, k), append(scores, -s)
	}
	return keys, scores, rows.Err()
}

// cursorKey is the row key of a cursor's last hit ([date, id]).
func (x *FTSIndex) cursorKey(ctx context.Context, v []string) (int64, error) {
	id, _ := strconv.ParseInt(v[1], 10, 64)
	var rk int64
	err := x.db.QueryRowContext(ctx, `SELECT rk FROM docs WHERE id = ?`, id).Scan(&rk)
	if errors.Is(err, sql.ErrNoRows) {
		t, _ := time.Parse(time.RFC3339Nano, v[0])
		return rowKey(t, id), nil // the hit was deleted since: its computed key
	}
	if err != nil {
		return 0, fmt.Errorf("search: cursor: %w", err)
	}
	return rk, nil
}

func (x *FTSIndex) loadByKey(ctx context.Context, keys []int64) (map[int64]*Document, error) {
	out := make(map[int64]*Document, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := x.db.QueryContext(ctx, `SELECT rk, id, tenant, mailbox, doc FROM docs WHERE rk IN (?`+strings.Repeat(", ?", len(keys)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("search: load hits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, id, tenant, mailbox int64
		var blob []byte
		if err := rows.Scan(&k, &id, &tenant, &mailbox, &blob); err != nil {
			return nil, fmt.Errorf("search: load hits: %w", err)
		}
		d, err := x.codec.decode(id, tenant, mailbox, blob)
		if err != nil {
			return nil, err
		}
		out[k] = &d
	}
	return out, rows.Err()
}

// hlTerm is a positive word or phrase of the query, for highlighting.
type hlTerm struct {
	field  string
	tokens []string
	prefix bool
}

func highlightTerms(root Node) []hlTerm {
	var out []hlTerm
	var visit func(n Node, negated bool)
	visit = func(n Node, negated bool) {
		switch n := n.(type) {
		case *TextNode:
			if !negated {
				toks := queryTokens(n.Text)
				out = append(out, hlTerm{field: n.Field, tokens: toks, prefix: !n.Phrase && len(toks) == 1})
			}
		case *NotNode:
			visit(n.Child, !negated)
		case *AndNode:
			for _, c := range n.Children {
				visit(c, negated)
			}
		case *OrNode:
			for _, c := range n.Children {
				visit(c, negated)
			}
		}
	}
	visit(root, false)
	return out
}

// highlight marks the query's words in the stored text of d, HTML-escaped
// with <mark>, as the bleve backend's highlighter does: subject, from, to
// and cc whole, the body as a fragment around the first match.
func highlight(d *Document, terms []hlTerm) map[string][]string {
	if len(terms) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, f := range []struct {
		name, text string
	}{{"subject", d.Subject}, {"from", d.From.String()}, {"to", strings.Join(displayAddresses(d.To), ", ")}, {"cc", strings.Join(displayAddresses(d.Cc), ", ")}, {"body", d.Body}} {
		if s, ok := markField(f.name, f.text, terms); ok {
			out[f.name] = []string{s}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func markField(field, text string, terms []hlTerm) (string, bool) {
	var b strings.Builder
	last, first := 0, -1
	for _, tok := range (wordsTokenizer{}).Tokenize([]byte(text)) {
		folded := strings.ReplaceAll(strings.ToLower(foldText(string(tok.Term))), " ", "")
		if !termMatches(field, folded, terms) {
			continue
		}
		if first < 0 {
			first = tok.Start
		}
		b.WriteString(html.EscapeString(text[last:tok.Start]))
		b.WriteString("<mark>" + html.EscapeString(text[tok.Start:tok.End]) + "</mark>")
		last = tok.End
	}
	if first < 0 {
		return "", false
	}
	b.WriteString(html.EscapeString(text[last:]))
	s := b.String()
	if field == "body" && len(text) > 200 {
		// A fragment of about 150 bytes around the first mark.
		start := strings.Index(s, "<mark>")
		lo, hi := max(0, start-60), min(len(s), start+150)
		for lo > 0 && !utf8.RuneStart(s[lo]) {
			lo--
		}
		for hi < len(s) && !utf8.RuneStart(s[hi]) {
			hi++
		}
		if i := strings.LastIndex(s[start:hi], "<"); i > 0 && !strings.HasPrefix(s[start+i:], "</mark>") {
			hi = start + i // do not cut a tag
		} else if i > 0 && strings.HasPrefix(s[start+i:], "</mark>") {
			hi = min(len(s), start+i+len("</mark>"))
		}
		if j := strings.LastIndexByte(s[lo:hi], '&'); j >= 0 && !strings.Contains(s[lo+j:hi], ";") {
			hi = lo + j // do not cut an entity
		}
		s = s[lo:hi]
	}
	return s, true
}

func termMatches(field, folded string, terms []hlTerm) bool {
	for _, t := range terms {
		if t.field != FieldAny && t.field != field {
			continue
		}
		for _, q := range t.tokens {
			if folded == q || (t.prefix && strings.HasPrefix(folded, q)) || (isCJKString(q) && strings.Contains(folded, q)) {
				return true
			}
		}
	}
	return false
}

func isCJKString(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isCJK(r)
}
