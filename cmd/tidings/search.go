package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // database/sql driver "sqlite" (FTS5 compiled in)

	"tidings/search"
	"tidings/search/searchbench"
)

// runSearchBench implements `tidings bench search`: it generates a
// deterministic corpus (searchbench.NewCorpus), loads it into each engine —
// the embedded bleve index, SQLite FTS5 (the other embedded candidate) and
// Postgres pg_trgm (GIN trigram indexes queried with ILIKE, the baseline)
// — and reports indexing throughput, size on disk, RSS and p50/p99 latency
// of a fixed query mix, side by side.
func runSearchBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("bench search", flag.ContinueOnError)
	fl.SetOutput(stderr)
	n := fl.Int("n", 100000, "number of generated messages")
	engines := fl.String("engines", "bleve,fts5,pgtrgm", "comma-separated engines: bleve, fts5, pgtrgm, postgres (the search.PGIndex backend)")
	pgURL := fl.String("pg", os.Getenv("TIDINGS_BENCH_DATABASE_URL"), "Postgres URL for pg_trgm (default $TIDINGS_BENCH_DATABASE_URL); its table bench_messages is dropped afterwards")
	dir := fl.String("dir", "", "directory for the embedded indexes (default: a temporary directory, removed afterwards)")
	rounds := fl.Int("rounds", 20, "times each query of the mix runs (after one warm-up round)")
	batch := fl.Int("batch", 1000, "documents per indexing batch")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *n <= 0 || *rounds <= 0 || *batch <= 0 {
		fmt.Fprintln(stderr, "bench search: -n, -rounds and -batch must be positive")
		return 2
	}
	workDir := *dir
	if workDir == "" {
		d, err := os.MkdirTemp("", "tidings-bench-search-")
		if err != nil {
			fmt.Fprintf(stderr, "bench search: %v\n", err)
			return 1
		}
		defer os.RemoveAll(d)
		workDir = d
	}
	b := &searchBench{n: *n, rounds: *rounds, batch: *batch, dir: workDir, pgURL: *pgURL, out: stdout,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	var results []sbResult
	for _, e := range strings.Split(*engines, ",") {
		var r sbResult
		var err error
		switch strings.TrimSpace(e) {
		case "bleve":
			r, err = b.runBleve(ctx)
		case "fts5":
			r, err = b.runFTS5(ctx)
		case "pgtrgm":
			r, err = b.runPg(ctx)
		case "postgres":
			r, err = b.runPgIndex(ctx)
		default:
			err = fmt.Errorf("unknown engine %q", e)
		}
		if err != nil {
			fmt.Fprintf(stderr, "bench search: %s: %v\n", e, err)
			return 1
		}
		results = append(results, r)
		runtime.GC()
		debug.FreeOSMemory()
	}
	b.report(results)
	return 0
}

type searchBench struct {
	n, rounds, batch int
	dir, pgURL       string
	out              io.Writer
	log              *slog.Logger
}

// sbQuery is one query of the fixed mix, written for each engine. The
// embedded backends get the Gmail-style query; FTS5 and Postgres get the
// closest equivalent SQL. Every variant is scoped to tenant 1, excludes
// trash and spam, returns 20 hits and counts the total.
type sbQuery struct {
	name string
	req  search.Request
	// Postgres conditions on m (pg_trgm ILIKE and filters).
	pgWhere string
}

var sbNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func sbQueries() []sbQuery {
	return []sbQuery{
		{name: "prefix word (invo)", req: search.Request{Query: "invo"},
			pgWhere: `(m.subject ILIKE '%invo%' OR m.from_ ILIKE '%invo%' OR m.to_ ILIKE '%invo%' OR m.body ILIKE '%invo%')`},
		{name: "prefix name (jans)", req: search.Request{Query: "jans"},
			pgWhere: `(m.subject ILIKE '%jans%' OR m.from_ ILIKE '%jans%' OR m.to_ ILIKE '%jans%' OR m.body ILIKE '%jans%')`},
		{name: "two prefixes (quar repo)", req: search.Request{Query: "quar repo"},
			pgWhere: `((m.subject ILIKE '%quar%' OR m.body ILIKE '%quar%') AND (m.subject ILIKE '%repo%' OR m.body ILIKE '%repo%'))`},
		{name: "folded name (muller)", req: search.Request{Query: "muller"},
			pgWhere: `(m.subject ILIKE '%muller%' OR m.from_ ILIKE '%muller%' OR m.to_ ILIKE '%muller%' OR m.body ILIKE '%muller%')`},
		{name: "from: name", req: search.Request{Query: "from:bakker"},
			pgWhere: `m.from_ ILIKE '%bakker%'`},
		{name: "from: address prefix", req: search.Request{Query: "from:sophie.hansen@ac"},
			pgWhere: `m.from_ ILIKE '%sophie.hansen@ac%'`},
		{name: "phrase", req: search.Request{Query: `"support contract"`},
			pgWhere: `(m.subject ILIKE '%support contract%' OR m.body ILIKE '%support contract%')`},
		{name: "phrase + word", req: search.Request{Query: `"quarterly report" budget`},
			pgWhere: `((m.subject ILIKE '%quarterly report%' OR m.body ILIKE '%quarterly report%') AND (m.subject ILIKE '%budget%' OR m.body ILIKE '%budget%'))`},
		{name: "word + mailbox filter", req: search.Request{Query: "invoice", MailboxIDs: []int64{3}}, pgWhere: `m.mailbox_id = 3 AND (m.subject ILIKE '%invoice%' OR m.body ILIKE '%invoice%' OR m.from_ ILIKE '%invoice%' OR m.to_ ILIKE '%invoice%')`},
		{name: "contact filter only", req: search.Request{ContactIDs: []int64{42}}, pgWhere: `m.contact_id = 42`},
		{name: "labels (is:unread label:clients)", req: search.Request{Query: "is:unread label:clients"}, pgWhere: `m.labels @> ARRAY['unread','clients']`},
		{name: "has:attachment filename:pdf", req: search.Request{Query: "has:attachment filename:pdf"}, pgWhere: `m.has_attachment AND m.filenames ILIKE '%pdf%'`},
		{name: "word + date range", req: search.Request{Query: "budget after:2026/01/01 before:2026/03/01"},
			pgWhere: `m.date >= '2026-01-01' AND m.date < '2026-03-01' AND (m.subject ILIKE '%budget%' OR m.body ILIKE '%budget%' OR m.from_ ILIKE '%budget%' OR m.to_ ILIKE '%budget%')`},
		{name: "newer_than:30d + prefix", req: search.Request{Query: "newer_than:30d meet", Now: sbNow},
			pgWhere: `m.date >= '2026-10-02' AND (m.subject ILIKE '%meet%' OR m.body ILIKE '%meet%' OR m.from_ ILIKE '%meet%' OR m.to_ ILIKE '%meet%')`},
		{name: "from: + prefix + OR", req: search.Request{Query: "from:jans (offerte OR factuur)"},
			pgWhere: `m.from_ ILIKE '%jans%' AND (m.subject ILIKE '%offerte%' OR m.body ILIKE '%offerte%' OR m.subject ILIKE '%factuur%' OR m.body ILIKE '%factuur%')`},
	}
}

type sbLatency struct {
	name         string
	p50, p99     time.Duration
	cpu50, cpu99 time.Duration // process CPU time per query (embedded engines)
	hits         int64         // total matches of the query
}

type sbResult struct {
	engine     string
	indexDur   time.Duration
	docsPerSec float64
	sizeBytes  int64
	rssIndex   int64 // bytes, after indexing
	rssQuery   int64 // bytes, after the query rounds
	rssNote    string
	lat        []sbLatency
	all        []time.Duration
}

func (b *searchBench) corpus() *searchbench.Corpus {
	return searchbench.NewCorpus(searchbench.DefaultCorpus())
}

func (b *searchBench) generate(fn func([]search.Document) error) error {
	done := 0
	last := time.Now()
	return b.corpus().Generate(b.n, b.batch, func(docs []search.Document) error {
		if err := fn(docs); err != nil {
			return err
		}
		done += len(docs)
		if time.Since(last) > 15*time.Second {
			b.log.Info("indexing", slog.Int("done", done), slog.Int("of", b.n))
			last = time.Now()
		}
		return nil
	})
}

// measure runs every query once to warm caches, then rounds times.
func (b *searchBench) measure(ctx context.Context, engine string, run func(ctx context.Context, q sbQuery) (int64, error)) ([]sbLatency, []time.Duration, error) {
	qs := sbQueries()
	samples := make([][]time.Duration, len(qs))
	cpu := make([][]time.Duration, len(qs))
	totals := make([]int64, len(qs))
	for round := -1; round < b.rounds; round++ {
		for i, q := range qs {
			cpuStart := sbCPU()
			start := time.Now()
			total, err := run(ctx, q)
			d := time.Since(start)
			c := sbCPU() - cpuStart
			if err != nil {
				return nil, nil, fmt.Errorf("%s: query %q: %w", engine, q.name, err)
			}
			totals[i] = total
			if round >= 0 {
				samples[i] = append(samples[i], d)
				cpu[i] = append(cpu[i], c)
			}
		}
	}
	var out []sbLatency
	var all []time.Duration
	for i, q := range qs {
		slices.Sort(samples[i])
		slices.Sort(cpu[i])
		all = append(all, samples[i]...)
		out = append(out, sbLatency{name: q.name, p50: sbPercentile(samples[i], 50), p99: sbPercentile(samples[i], 99),
			cpu50: sbPercentile(cpu[i], 50), cpu99: sbPercentile(cpu[i], 99), hits: totals[i]})
	}
	slices.Sort(all)
	return out, all, nil
}

// sbPercentile is the nearest-rank percentile of sorted samples.
func sbPercentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := (p*len(sorted) + 99) / 100
	return sorted[max(k-1, 0)]
}

// sbCPU is the CPU time (user+system) this process has used. The machine
// the benchmark runs on may be shared; CPU time per query shows the work
// an engine does independently of how long it waited for a core.
func sbCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sbRSS reads VmRSS of a process from /proc (Linux), in bytes.
func sbRSS(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func sbDirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

func (b *searchBench) runBleve(ctx context.Context) (sbResult, error) {
	path := filepath.Join(b.dir, "bleve", "mail.bleve")
	return b.runEmbedded(ctx, "bleve (embedded)", path, func() (search.Index, error) { return search.OpenBleve(path, b.log) })
}

func (b *searchBench) runFTS5(ctx context.Context) (sbResult, error) {
	path := filepath.Join(b.dir, "fts5", "mail.fts")
	return b.runEmbedded(ctx, "SQLite FTS5 (embedded)", path, func() (search.Index, error) { return search.OpenFTS(path, b.log) })
}

// runEmbedded loads the corpus into an embedded backend exactly as shipped
// (search.OpenBleve, search.OpenFTS) and runs the mix through its Search
// under the query contract: newest first, 20 hits, totals exact up to
// 10,000.
func (b *searchBench) runEmbedded(ctx context.Context, engine, path string, open func() (search.Index, error)) (sbResult, error) {
	r := sbResult{engine: engine}
	_ = os.RemoveAll(filepath.Dir(path))
	idx, err := open()
	if err != nil {
		return r, err
	}
	defer idx.Close()
	b.log.Info("indexing", slog.String("engine", engine), slog.Int("n", b.n))
	start := time.Now()
	if err := b.generate(func(docs []search.Document) error { return idx.Index(ctx, docs) }); err != nil {
		return r, err
	}
	r.indexDur = time.Since(start)
	r.docsPerSec = float64(b.n) / r.indexDur.Seconds()
	r.rssIndex = sbRSS("self")
	if n, err := idx.Count(ctx, 1, 0); err != nil || n != int64(b.n) {
		return r, fmt.Errorf("count after indexing = %d, %v; want %d", n, err, b.n)
	}
	b.log.Info("querying", slog.String("engine", engine))
	r.lat, r.all, err = b.measure(ctx, engine, func(ctx context.Context, q sbQuery) (int64, error) {
		req := q.req
		req.Size = 20
		res, err := idx.Search(ctx, 1, req)
		if err != nil {
			return 0, err
		}
		return res.Total, nil
	})
	r.rssQuery = sbRSS("self")
	r.sizeBytes = sbDirSize(filepath.Dir(path))
	r.rssNote = "this process"
	return r, err
}

func sbCount(ctx context.Context, db *sql.DB, stmt string, args ...any) (int64, error) {
	rows, err := db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	return sbTotal(rows)
}

// sbTotal reads the "id, count(*) OVER ()" rows of a benchmark query (from
// database/sql or pgx) and returns the count.
func sbTotal(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}) (int64, error) {
	var total int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &total); err != nil {
			return 0, err
		}
	}
	return total, rows.Err()
}

func sbFirst(ids []int64) any {
	if len(ids) == 0 {
		return nil
	}
	return ids[0]
}

// sbLabels returns the normalised labels (ids and names, as label: sees
// them) and whether the message is in trash or spam.
func sbLabels(d search.Document) ([]string, bool) {
	var out []string
	trash := false
	for _, l := range append(slices.Clone(d.LabelIDs), d.LabelNames...) {
		l = strings.ToLower(strings.NewReplacer(" ", "-", "/", "-").Replace(l))
		out = append(out, l)
		trash = trash || l == "trash" || l == "spam"
	}
	return out, trash
}

func (b *searchBench) runPg(ctx context.Context) (sbResult, error) {
	r := sbResult{engine: "Postgres pg_trgm"}
	if b.pgURL == "" {
		return r, errors.New("no Postgres URL: pass -pg or set TIDINGS_BENCH_DATABASE_URL")
	}
	conn, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return r, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	defer func() {
		if _, err := conn.Exec(context.Background(), `DROP TABLE IF EXISTS bench_messages`); err != nil {
			b.log.Warn("pg: drop bench table", slog.Any("err", err))
		}
	}()
	var pid string
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()::text`).Scan(&pid); err != nil {
		return r, err
	}
	for _, stmt := range []string{
		`CREATE EXTENSION IF NOT EXISTS pg_trgm`,
		`DROP TABLE IF EXISTS bench_messages`,
		`CREATE TABLE bench_messages (id bigint PRIMARY KEY, tenant_id bigint NOT NULL, mailbox_id bigint NOT NULL,
			contact_id bigint, date timestamptz NOT NULL, labels text[] NOT NULL, has_attachment boolean NOT NULL,
			trash_or_spam boolean NOT NULL, subject text NOT NULL, from_ text NOT NULL, to_ text NOT NULL,
			body text NOT NULL, filenames text NOT NULL)`,
		`SET maintenance_work_mem = '512MB'`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return r, fmt.Errorf("%s: %w", strings.Fields(stmt)[0], err)
		}
	}
	b.log.Info("pg_trgm: loading", slog.Int("n", b.n))
	start := time.Now()
	cols := []string{"id", "tenant_id", "mailbox_id", "contact_id", "date", "labels", "has_attachment", "trash_or_spam",
		"subject", "from_", "to_", "body", "filenames"}
	err = b.generate(func(docs []search.Document) error {
		rows := make([][]any, len(docs))
		for i, d := range docs {
			labels, trash := sbLabels(d)
			rows[i] = []any{d.ID, d.TenantID, d.MailboxID, sbFirst(d.ContactIDs), d.Date, labels, d.HasAttachment, trash,
				d.Subject, d.From.String(), sbJoin(d.To, d.Cc), d.Body, strings.Join(d.Filenames, " ")}
		}
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"bench_messages"}, cols, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return r, fmt.Errorf("copy: %w", err)
	}
	b.log.Info("pg_trgm: building indexes")
	for _, stmt := range []string{
		`CREATE INDEX ON bench_messages USING gin (subject gin_trgm_ops)`,
		`CREATE INDEX ON bench_messages USING gin (from_ gin_trgm_ops)`,
		`CREATE INDEX ON bench_messages USING gin (to_ gin_trgm_ops)`,
		`CREATE INDEX ON bench_messages USING gin (body gin_trgm_ops)`,
		`CREATE INDEX ON bench_messages USING gin (filenames gin_trgm_ops)`,
		`CREATE INDEX ON bench_messages (tenant_id, date)`,
		`CREATE INDEX ON bench_messages (tenant_id, contact_id)`,
		`CREATE INDEX ON bench_messages (tenant_id, mailbox_id)`,
		`VACUUM ANALYZE bench_messages`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return r, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	r.indexDur = time.Since(start)
	r.docsPerSec = float64(b.n) / r.indexDur.Seconds()
	r.rssIndex = sbRSS(pid)
	if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size('bench_messages')`).Scan(&r.sizeBytes); err != nil {
		return r, err
	}
	b.log.Info("pg_trgm: querying")
	r.lat, r.all, err = b.measure(ctx, "pg_trgm", func(ctx context.Context, q sbQuery) (int64, error) {
		stmt := `SELECT m.id, count(*) OVER () FROM bench_messages m WHERE m.tenant_id = 1 AND NOT m.trash_or_spam AND ` +
			q.pgWhere + ` ORDER BY m.date DESC LIMIT 20`
		rows, err := conn.Query(ctx, stmt)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		return sbTotal(rows)
	})
	r.rssQuery = sbRSS(pid)
	r.rssNote = "Postgres backend process (shared buffers excluded)"
	if r.rssIndex == 0 {
		r.rssNote = "Postgres backend process (not readable from here)"
	}
	return r, err
}

// sbJoin is the display form of the recipients, as one text column.
func sbJoin(lists ...[]search.Address) string {
	var out []string
	for _, l := range lists {
		for _, a := range l {
			out = append(out, a.String())
		}
	}
	return strings.Join(out, ", ")
}

func sbMB(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func sbMs(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// report prints Markdown tables (for BENCHMARKS.md) and one JSON line.
func (b *searchBench) report(rs []sbResult) {
	w := b.out
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(w, "\n## Search benchmark: %d messages, %d rounds of %d queries, GOMAXPROCS=%d, load average at end: %s\n\n",
		b.n, b.rounds, len(sbQueries()), runtime.GOMAXPROCS(0), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	fmt.Fprintln(w, "| engine | index time | docs/s | size on disk | RSS after indexing | RSS after queries | p50 all | p99 all |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %s ms | %s ms |\n", r.engine, r.indexDur.Round(time.Second), r.docsPerSec,
			sbMB(r.sizeBytes), sbMB(r.rssIndex), sbMB(r.rssQuery), sbMs(sbPercentile(r.all, 50)), sbMs(sbPercentile(r.all, 99)))
	}
	fmt.Fprint(w, "\n| query |")
	for _, r := range rs {
		if r.rssNote == "this process" {
			fmt.Fprintf(w, " %s p50 / p99 ms [CPU p50 / p99] (hits) |", r.engine)
		} else {
			fmt.Fprintf(w, " %s p50 / p99 ms (hits) |", r.engine)
		}
	}
	fmt.Fprint(w, "\n|---|")
	for range rs {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for i, q := range sbQueries() {
		fmt.Fprintf(w, "| `%s` |", q.req.Query+sbFilterText(q.req))
		for _, r := range rs {
			if i < len(r.lat) {
				l := r.lat[i]
				if r.rssNote == "this process" {
					fmt.Fprintf(w, " %s / %s [%s / %s] (%d) |", sbMs(l.p50), sbMs(l.p99), sbMs(l.cpu50), sbMs(l.cpu99), l.hits)
				} else {
					fmt.Fprintf(w, " %s / %s (%d) |", sbMs(l.p50), sbMs(l.p99), l.hits)
				}
			}
		}
		fmt.Fprintln(w)
	}
	type jsonRes struct {
		Engine     string  `json:"engine"`
		N          int     `json:"n"`
		IndexSecs  float64 `json:"index_seconds"`
		DocsPerSec float64 `json:"docs_per_sec"`
		SizeBytes  int64   `json:"size_bytes"`
		RSSIndex   int64   `json:"rss_after_index_bytes"`
		RSSQuery   int64   `json:"rss_after_queries_bytes"`
		RSSNote    string  `json:"rss_of"`
		P50ms      float64 `json:"p50_ms"`
		P99ms      float64 `json:"p99_ms"`
	}
	var js []jsonRes
	for _, r := range rs {
		js = append(js, jsonRes{r.engine, b.n, r.indexDur.Seconds(), r.docsPerSec, r.sizeBytes, r.rssIndex, r.rssQuery, r.rssNote,
			float64(sbPercentile(r.all, 50).Microseconds()) / 1000, float64(sbPercentile(r.all, 99).Microseconds()) / 1000})
	}
	line, _ := json.Marshal(js)
	fmt.Fprintf(w, "\n%s\n", line)
}

func sbFilterText(r search.Request) string {
	var parts []string
	if len(r.MailboxIDs) > 0 {
		parts = append(parts, fmt.Sprintf("mailbox=%v", r.MailboxIDs))
	}
	if len(r.ContactIDs) > 0 {
		parts = append(parts, fmt.Sprintf("contact=%v", r.ContactIDs))
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, " ") + "]"
}
