package search

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pgArgs numbers the parameters of one statement as they are rendered, so
// a condition dropped while compiling never leaves an unused parameter.
type pgArgs struct{ v []any }

func (a *pgArgs) add(v any) string {
	a.v = append(a.v, v)
	return "$" + strconv.Itoa(len(a.v))
}

// pgCond is a compiled query node: everything (all), or a tsquery (ts)
// and/or an SQL condition rendered on demand, ANDed. Subtrees that are
// pure tsquery stay one tsquery, which GIN evaluates in one index scan.
type pgCond struct {
	all bool
	ts  string
	sql func(a *pgArgs) string
}

// pgNone is a tag no document carries.
const pgNone = "'#none'"

type pgCompiler struct {
	now  time.Time
	span pgSpan // the tenant's dates, for date covers (pgindex_dates.go)
}

func (c *pgCompiler) compile(n Node) pgCond {
	switch n := n.(type) {
	case *AllNode:
		return pgCond{all: true}
	case *TextNode:
		return pgCond{ts: pgText(n)}
	case *LabelNode:
		return pgCond{ts: pgQuote(pgTag("l", n.Label))}
	case *AttachmentNode:
		return pgCond{ts: pgQuote(pgAttachment)}
	case *DateNode, *RelDateNode:
		return c.and([]Node{n})
	case *NotNode:
		inner := c.compile(n.Child)
		switch {
		case inner.all:
			return pgCond{ts: pgNone}
		case inner.sql == nil:
			return pgCond{ts: "!(" + inner.ts + ")"}
		}
		return pgCond{sql: func(a *pgArgs) string { return "NOT (" + inner.render(a) + ")" }}
	case *AndNode:
		return c.and(n.Children)
	case *OrNode:
		return c.or(n.Children)
	}
	return pgCond{ts: pgNone}
}

func pgDate(after bool, at time.Time) pgCond {
	op := "<"
	if after {
		op = ">="
	}
	return pgCond{sql: func(a *pgArgs) string { return "date " + op + " " + a.add(at.UTC()) }}
}

// and ANDs children. Its date conditions are SQL on the date column, and
// the tags covering their range are one more tsquery (pgCover).
func (c *pgCompiler) and(children []Node) pgCond {
	var ts []string
	var sqls []func(*pgArgs) string
	if cover := pgCover(andRange(children, c.now), c.span); cover != "" {
		ts = append(ts, "("+cover+")")
	}
	for _, ch := range children {
		var cc pgCond
		if after, at, ok := pgDateCond(ch, c.now); ok {
			cc = pgDate(after, at)
		} else {
			cc = c.compile(ch)
		}
		if cc.all {
			continue
		}
		if cc.ts != "" {
			ts = append(ts, "("+cc.ts+")")
		}
		if cc.sql != nil {
			sqls = append(sqls, cc.sql)
		}
	}
	out := pgCond{ts: strings.Join(ts, " & ")}
	if len(sqls) > 0 {
		out.sql = func(a *pgArgs) string {
			parts := make([]string, len(sqls))
			for i, s := range sqls {
				parts[i] = "(" + s(a) + ")"
			}
			return strings.Join(parts, " AND ")
		}
	}
	out.all = out.ts == "" && out.sql == nil
	return out
}

func (c *pgCompiler) or(children []Node) pgCond {
	conds := make([]pgCond, len(children))
	pure := true
	for i, ch := range children {
		conds[i] = c.compile(ch)
		if conds[i].all {
			return pgCond{all: true}
		}
		pure = pure && conds[i].sql == nil
	}
	if pure {
		parts := make([]string, len(conds))
		for i, cc := range conds {
			parts[i] = "(" + cc.ts + ")"
		}
		return pgCond{ts: strings.Join(parts, " | ")}
	}
	return pgCond{sql: func(a *pgArgs) string {
		parts := make([]string, len(conds))
		for i, cc := range conds {
			parts[i] = "(" + cc.render(a) + ")"
		}
		return strings.Join(parts, " OR ")
	}}
}

// render is the condition as SQL on a row of search_documents.
func (cc pgCond) render(a *pgArgs) string {
	if cc.all {
		return "true"
	}
	var parts []string
	if cc.ts != "" {
		parts = append(parts, "terms @@ "+a.add(cc.ts)+"::tsquery")
	}
	if cc.sql != nil {
		parts = append(parts, "("+cc.sql(a)+")")
	}
	return strings.Join(parts, " AND ")
}

// pgText matches a word as a word prefix, or a phrase exactly, among the
// plain words (any field) or the words tagged with the node's field; text
// with an '@' also matches whole addresses by prefix, as in the embedded
// index.
func pgText(n *TextNode) string {
	toks := queryTokens(n.Text)
	if len(toks) == 0 {
		return pgNone
	}
	code := pgFieldCode[n.Field]
	var alts []string
	if !n.Phrase && len(toks) == 1 {
		alts = append(alts, pgQuote(code+toks[0])+":*")
	} else {
		parts := make([]string, len(toks))
		for i, t := range toks {
			parts[i] = pgQuote(code + t)
		}
		alts = append(alts, "("+strings.Join(parts, " <-> ")+")")
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
			alts = append(alts, pgQuote(pgAddr(r, strings.ToLower(n.Text)))+":*")
		}
	}
	return strings.Join(alts, " | ")
}

func pgTagsAny(kind string, ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = pgQuote(pgTag(kind, strconv.FormatInt(id, 10)))
	}
	return "(" + strings.Join(parts, " | ") + ")"
}

// pgQuery is a compiled request: the tsquery every hit matches (may be
// empty), and the rest of the WHERE clause.
type pgQuery struct {
	tenantID  int64
	mailboxes []int64
	ts        string
	rest      pgCond
	dates     pgRange // the range the query's top-level date conditions allow
}

// where renders the WHERE clause. walk: the tsquery is written so that no
// index can serve it (COALESCE), which leaves the planner the date index
// to walk newest first, testing each row, for queries that match many.
// Otherwise the tenant is compared so that no B-tree can serve it
// (tenant_id + 0): a plan through the (tenant, date) or (tenant, mailbox)
// index would fetch and test every row's out-of-line tsvector, where the
// GIN index answers the tsquery — mailbox, links and labels included, as
// tags — exactly (BENCHMARKS.md).
func (q *pgQuery) where(a *pgArgs, walk bool) string {
	tenant := "tenant_id + 0 = "
	if walk {
		tenant = "tenant_id = "
	}
	parts := []string{tenant + a.add(q.tenantID)}
	if len(q.mailboxes) > 0 {
		parts = append(parts, "mailbox_id = ANY("+a.add(q.mailboxes)+")")
	}
	if q.ts != "" {
		m := "terms @@ " + a.add(q.ts) + "::tsquery"
		if walk {
			m = "COALESCE(" + m + ", false)"
		}
		parts = append(parts, m)
	}
	if !q.rest.all && (q.rest.ts != "" || q.rest.sql != nil) {
		parts = append(parts, "("+q.rest.render(a)+")")
	}
	return strings.Join(parts, " AND ")
}

// compile builds the statement parts of req; the tenant's date span is
// read (through tx) only when the query has a date condition.
func (x *PGIndex) compile(ctx context.Context, tx *sql.Tx, tenantID int64, pq *Query, now time.Time, req Request) (*pgQuery, error) {
	c := &pgCompiler{now: now}
	if hasDate(pq.Root) {
		var lo, hi sql.NullTime
		if err := tx.QueryRowContext(ctx, `SELECT min(date), max(date) FROM search_documents WHERE tenant_id = $1`, tenantID).Scan(&lo, &hi); err != nil {
			return nil, err
		}
		c.span = pgSpan{min: lo.Time.UTC(), max: hi.Time.UTC(), ok: lo.Valid && hi.Valid}
	}
	root := c.compile(pq.Root)
	q := &pgQuery{tenantID: tenantID, mailboxes: req.MailboxIDs, dates: topRange(pq.Root, now)}
	var must []string
	if root.ts != "" {
		must = append(must, "("+root.ts+")")
	}
	root.ts = ""
	q.rest = root
	for _, f := range []struct {
		kind string
		ids  []int64
	}{{"m", req.MailboxIDs}, {"c", req.ContactIDs}, {"a", req.AccountIDs}, {"k", req.CaseIDs}} {
		if len(f.ids) > 0 {
			must = append(must, pgTagsAny(f.kind, f.ids))
		}
	}
	if !pq.IncludeTrash {
		must = append(must, "!"+pgQuote(pgTag("l", "trash")))
	}
	if !pq.IncludeSpam {
		must = append(must, "!"+pgQuote(pgTag("l", "spam")))
	}
	q.ts = strings.Join(must, " & ")
	return q, nil
}

// hasDate reports whether n has a date condition anywhere.
func hasDate(n Node) bool {
	switch n := n.(type) {
	case *DateNode, *RelDateNode:
		return true
	case *AndNode:
		return slices.ContainsFunc(n.Children, hasDate)
	case *OrNode:
		return slices.ContainsFunc(n.Children, hasDate)
	case *NotNode:
		return hasDate(n.Child)
	}
	return false
}

// Search runs req within the tenant. One statement collects up to
// MaxTotal+1 matches through the GIN index, counts them and sorts those
// for the page; when there are more than MaxTotal, a second statement
// walks the date index instead (pageSQL).
func (x *PGIndex) Search(ctx context.Context, tenantID int64, req Request) (*Result, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	pq, now, err := parseRequest(req)
	if err != nil {
		return nil, err
	}
	var after []string
	if req.After != "" {
		if after, err = decodeCursor(req.After, req.Sort); err != nil {
			return nil, err
		}
	}
	size := pageSize(req.Size)
	terms := highlightTerms(pq.Root)
	// One snapshot for the date span, the count and the page, so that they
	// agree while documents are written.
	tx, err := x.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	defer func() { _ = tx.Rollback() }()
	q, err := x.compile(ctx, tx, tenantID, pq, now, req)
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	// The planner prices a sequential scan by pages and not by the
	// out-of-line tsvector it must fetch and test for each row, so for a
	// word in many documents it would scan the table to collect 10,001
	// matches where the GIN bitmap reads a fraction of it (BENCHMARKS.md).
	if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	stmt, args := x.pageSQL(q, req.Sort, after, size, pgCollect)
	out, last, err := x.page(ctx, tx, stmt, args, terms)
	if err == nil && out.Total > MaxTotal && req.Sort != Relevance {
		stmt, args = x.pageSQL(q, req.Sort, after, size, pgWalk)
		var walked *Result
		walked, last, err = x.page(ctx, tx, stmt, args, terms)
		if err == nil && len(walked.Hits) < size {
			// The bounded walk came up short: the matches lie further
			// back than the newest rows it may read (or this is the last
			// page). Sorting every match is then the cheaper way.
			stmt, args = x.pageSQL(q, req.Sort, after, size, pgSortAll)
			walked, last, err = x.page(ctx, tx, stmt, args, terms)
		}
		if walked != nil {
			out.Hits = walked.Hits
		}
	}
	if err != nil {
		return nil, fmt.Errorf("search: query %q: %w", req.Query, err)
	}
	out.setTotal(out.Total)
	if len(out.Hits) == size {
		// The cursor holds the stored sort values (the column's
		// microseconds, the score as a float4), so the next page compares
		// exactly with what the database sorted by.
		v := []string{last.date.UTC().Format(time.RFC3339Nano), strconv.FormatInt(out.Hits[len(out.Hits)-1].ID, 10)}
		if req.Sort == Relevance {
			v = append([]string{strconv.FormatFloat(last.score, 'g', -1, 32)}, v...)
		}
		out.Next = encodeCursor(req.Sort, v)
	}
	return out, nil
}

// pgSortValues are the sort values of a page's last hit.
type pgSortValues struct {
	date  time.Time
	score float64
}

// page runs a page statement: rows of count, id, date, score, doc, where
// id is NULL when the page is empty (counted) or the count is absent (the
// date walk). Total is the count as read, not yet capped.
func (x *PGIndex) page(ctx context.Context, tx *sql.Tx, stmt string, args []any, terms []hlTerm) (*Result, pgSortValues, error) {
	var last pgSortValues
	rows, err := tx.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, last, err
	}
	defer rows.Close()
	out := &Result{Hits: []Hit{}}
	for rows.Next() {
		var n sql.NullInt64
		var id sql.NullInt64
		var date sql.NullTime
		var score sql.NullFloat64
		var blob []byte
		if err := rows.Scan(&n, &id, &date, &score, &blob); err != nil {
			return nil, last, err
		}
		out.Total = n.Int64
		if !id.Valid {
			continue
		}
		doc, err := x.decode(id.Int64, blob)
		if err != nil {
			return nil, last, err
		}
		d := &doc
		out.Hits = append(out.Hits, Hit{ID: d.ID, MailboxID: d.MailboxID, GmailID: d.GmailID, ThreadID: d.ThreadID,
			Subject: d.Subject, From: d.From.String(), Date: d.Date, Score: score.Float64, Highlights: highlight(d, terms)})
		last = pgSortValues{date: date.Time, score: score.Float64}
	}
	if err := rows.Err(); err != nil {
		return nil, last, err
	}
	return out, last, nil
}

// pgPlan is how a page statement finds its hits.
type pgPlan int

const (
	// pgCollect collects the matches from the GIN index — at most
	// MaxTotal+1 for the date sorts, all for relevance, which ranks every
	// match — materialized so that the LIMIT of the page cannot tempt the
	// planner into walking dates for a rare word, counts them, and sorts
	// them for the page (left empty when there are more than MaxTotal).
	pgCollect pgPlan = iota
	// pgWalk writes the tsquery so that no index serves it: the planner
	// walks the (tenant_id, date, id) index, testing each row, until the
	// page is full. With more than MaxTotal matches spread over time a
	// page is a few rows away; the walk reads at most walkFactor rows per
	// hit asked for, so matches that all lie long ago cost a bounded walk
	// and then pgSortAll.
	pgWalk
	// pgSortAll sorts every match from the GIN index for the page.
	pgSortAll
)

// walkFactor bounds a date walk to this many rows per hit of the page.
// With at least 10,001 matches spread evenly, a walk finds a hit every
// N/10,001 rows: 200 covers two million documents per tenant.
const walkFactor = 200

// pageSQL is the statement of one page under plan.
func (x *PGIndex) pageSQL(q *pgQuery, sort Sort, after []string, size int, plan pgPlan) (string, []any) {
	a := &pgArgs{}
	dir, op := "DESC", "<"
	if sort == DateAsc {
		dir, op = "ASC", ">"
	}
	cursorCond := func(vals []string) string {
		t, _ := time.Parse(time.RFC3339Nano, vals[0])
		id, _ := strconv.ParseInt(vals[1], 10, 64)
		return "(date, id) " + op + " (" + a.add(t) + "::timestamptz, " + a.add(id) + "::bigint)"
	}
	limit := strconv.Itoa(size)
	order := func(p string) string { return p + "date " + dir + ", " + p + "id " + dir }
	if plan == pgWalk {
		where := q.where(a, true)
		// The walk's far end: the date of the row walkFactor*size rows
		// back (an index-only read), or no end when fewer remain.
		bound := `SELECT date FROM search_documents WHERE tenant_id = ` + a.add(q.tenantID)
		// Rows outside the query's own date range are no part of the walk:
		// it starts and ends within the range.
		if !q.dates.lo.IsZero() {
			bound += ` AND date >= ` + a.add(q.dates.lo)
		}
		if !q.dates.hi.IsZero() {
			bound += ` AND date < ` + a.add(q.dates.hi)
		}
		if after != nil {
			where += " AND " + cursorCond(after)
			bound += " AND " + cursorCond(after)
		}
		bound += ` ORDER BY ` + order("") + ` OFFSET ` + strconv.Itoa(x.walkFactor*size) + ` LIMIT 1`
		if sort == DateAsc {
			where += ` AND date <= COALESCE((` + bound + `), 'infinity'::timestamptz)`
		} else {
			where += ` AND date >= COALESCE((` + bound + `), '-infinity'::timestamptz)`
		}
		return `SELECT NULL::bigint, id, date, 0::float8, doc FROM search_documents WHERE ` + where +
			` ORDER BY ` + order("") + ` LIMIT ` + limit, a.v
	}
	var m, inner string
	if sort == Relevance {
		rank := "0::real"
		if q.ts != "" {
			rank = "ts_rank(terms, " + a.add(q.ts) + "::tsquery)"
		}
		m = `SELECT id, date, ` + rank + ` AS score FROM search_documents WHERE ` + q.where(a, false)
		inner = `SELECT id, date, score FROM m`
		if after != nil {
			score, _ := strconv.ParseFloat(after[0], 64)
			sa := a.add(score)
			inner += ` WHERE score < ` + sa + `::real OR (score = ` + sa + `::real AND ` + cursorCond(after[1:]) + `)`
		}
		order = func(p string) string { return p + "score DESC, " + p + "date DESC, " + p + "id DESC" }
	} else {
		m = `SELECT id, date, 0::real AS score FROM search_documents WHERE ` + q.where(a, false)
		inner = `SELECT id, date, score FROM m WHERE true`
		if plan == pgCollect {
			m += ` LIMIT ` + strconv.Itoa(MaxTotal+1)
			inner += ` AND (SELECT n FROM c) <= ` + strconv.Itoa(MaxTotal)
		}
		if after != nil {
			inner += ` AND ` + cursorCond(after)
		}
	}
	return `WITH m AS MATERIALIZED (` + m + `), c AS (SELECT count(*) AS n FROM m)
		SELECT c.n, p.id, p.date, p.score::float8, s.doc FROM c
		LEFT JOIN LATERAL (` + inner + ` ORDER BY ` + order("") + ` LIMIT ` + limit + `) p ON true
		LEFT JOIN search_documents s ON s.id = p.id
		ORDER BY ` + order("p."), a.v
}
