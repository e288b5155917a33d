package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tidings/search"
	"tidings/search/searchbench"
)

// runSearchBench implements `tidings bench search`: it generates a
// deterministic corpus (searchbench.NewCorpus), loads it into each engine —
// the embedded FTS5 and bleve indexes and Postgres pg_trgm (GIN trigram
// indexes queried with ILIKE, the baseline) — and reports indexing
// throughput, size on disk, RSS and p50/p99 latency of a fixed query mix,
// side by side.
func runSearchBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	b, engines, prof, code := parseSearchBench(args, stdout, stderr)
	if b == nil {
		return code
	}
	stopProf, err := prof.start()
	if err != nil {
		fmt.Fprintf(stderr, "bench search: %v\n", err)
		return 1
	}
	defer func() {
		if err := stopProf(); err != nil {
			fmt.Fprintf(stderr, "bench search: %v\n", err)
		}
	}()
	if b.dir == "" {
		d, err := os.MkdirTemp("", "tidings-bench-search-")
		if err != nil {
			fmt.Fprintf(stderr, "bench search: %v\n", err)
			return 1
		}
		defer os.RemoveAll(d)
		b.dir = d
	}
	runners := b.engines()
	var results []sbResult
	for _, e := range engines {
		r, err := runners[e](ctx)
		if err != nil {
			fmt.Fprintf(stderr, "bench search: %s: %v\n", e, err)
			return 1
		}
		// Each engine's figures as soon as it is done, so a run cut short
		// still has them.
		b.log.Info("engine done", slog.String("engine", r.engine), slog.String("result", string(sbJSON(b.n, []sbResult{r}))))
		for _, l := range r.lat {
			b.log.Info("query", slog.String("engine", r.engine), slog.String("name", l.name), slog.String("p50_ms", sbMs(l.p50)),
				slog.String("p99_ms", sbMs(l.p99)), slog.String("cpu_p50_ms", sbMs(l.cpu50)), slog.String("cpu_p99_ms", sbMs(l.cpu99)),
				slog.Int64("hits", l.hits))
		}
		results = append(results, r)
		runtime.GC()
		debug.FreeOSMemory()
	}
	b.report(results)
	return 0
}

// parseSearchBench reads the flags; a nil bench means exit with code.
func parseSearchBench(args []string, stdout, stderr io.Writer) (*searchBench, []string, *profileFlags, int) {
	fl := flag.NewFlagSet("bench search", flag.ContinueOnError)
	fl.SetOutput(stderr)
	n := fl.Int("n", 100000, "number of generated messages")
	engines := fl.String("engines", "fts5,bleve,pgtrgm", "comma-separated engines, run in this order: "+strings.Join(slices.Sorted(maps.Keys((&searchBench{}).engines())), ", "))
	pgURL := fl.String("pg", os.Getenv("TIDINGS_BENCH_DATABASE_URL"), "Postgres URL for the Postgres engines (default $TIDINGS_BENCH_DATABASE_URL); their tables are dropped afterwards")
	dir := fl.String("dir", "", "directory for the embedded indexes (default: a temporary directory, removed afterwards)")
	rounds := fl.Int("rounds", 20, "times each query of the mix runs (after one warm-up round)")
	budget := fl.Duration("query-budget", 0, "stop an engine's query rounds once they took this long (0 = run all rounds; at least one round runs)")
	batch := fl.Int("batch", 1000, "documents per indexing batch")
	reuse := fl.Bool("reuse", false, "query the embedded indexes left in -dir (and the Postgres index in -pg-schema) by an earlier run of the same -n instead of indexing again (index figures are then not measured)")
	settle := fl.Bool("settle", false, "with -reuse: settle the reused FTS5 index (merge its shards' segments, as the indexer does when idle) before querying, and log the time and CPU it took")
	pgSchema := fl.String("pg-schema", "", "schema of the postgres engine's index in the -pg database, created if missing and kept afterwards, so that -reuse can query it again (default: a new schema, dropped afterwards)")
	prof := &profileFlags{}
	prof.register(fl)
	if err := fl.Parse(args); err != nil {
		return nil, nil, nil, 2
	}
	if *n <= 0 || *rounds <= 0 || *batch <= 0 {
		fmt.Fprintln(stderr, "bench search: -n, -rounds and -batch must be positive")
		return nil, nil, nil, 2
	}
	b := &searchBench{n: *n, rounds: *rounds, budget: *budget, batch: *batch, reuse: *reuse, settle: *settle, dir: *dir, pgURL: *pgURL, pgSchema: *pgSchema, out: stdout,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	var list []string
	for _, e := range strings.Split(*engines, ",") {
		e = strings.TrimSpace(e)
		if _, ok := b.engines()[e]; !ok {
			fmt.Fprintf(stderr, "bench search: unknown engine %q\n", e)
			return nil, nil, nil, 2
		}
		list = append(list, e)
	}
	return b, list, prof, 0
}

type searchBench struct {
	n, rounds, batch int
	reuse, settle    bool
	budget           time.Duration
	dir, pgURL       string
	pgSchema         string
	out              io.Writer
	log              *slog.Logger
}

// engines maps the names -engines accepts to the runs that measure them.
func (b *searchBench) engines() map[string]func(context.Context) (sbResult, error) {
	return map[string]func(context.Context) (sbResult, error){
		"fts5":  b.runFTS5,
		"bleve": b.runBleve,
		// bleve split into tenant/date shards (search.BleveShards)
		"bleve-shards": b.runBleveShards,
		"pgtrgm":       b.runPg,
		"postgres":     b.runPgIndex, // the search.PGIndex backend
	}
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
	indexCPU   time.Duration // process CPU while indexing (in-process engines)
	docsPerSec float64
	sizeBytes  int64
	rssIndex   int64 // bytes, after indexing
	rssQuery   int64 // bytes, after the query rounds
	rssNote    string
	lat        []sbLatency
	all        []time.Duration
	rounds     int // query rounds that ran
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

// measure runs every query once to warm caches, then rounds times, or
// fewer when the rounds outlast the -query-budget; it returns how many
// rounds ran.
func (b *searchBench) measure(ctx context.Context, engine string, run func(ctx context.Context, q sbQuery) (int64, error)) ([]sbLatency, []time.Duration, int, error) {
	qs := sbQueries()
	samples := make([][]time.Duration, len(qs))
	cpu := make([][]time.Duration, len(qs))
	totals := make([]int64, len(qs))
	start := time.Now()
	rounds := 0
	for round := -1; round < b.rounds; round++ {
		if round == 0 {
			start = time.Now()
		}
		if round > 0 && b.budget > 0 && time.Since(start) > b.budget {
			b.log.Info("query budget spent", slog.String("engine", engine), slog.Int("rounds", rounds))
			break
		}
		for i, q := range qs {
			cpuStart := sbCPU()
			qStart := time.Now()
			total, err := run(ctx, q)
			d := time.Since(qStart)
			c := sbCPU() - cpuStart
			if err != nil {
				return nil, nil, 0, fmt.Errorf("%s: query %q: %w", engine, q.name, err)
			}
			totals[i] = total
			if round >= 0 {
				samples[i] = append(samples[i], d)
				cpu[i] = append(cpu[i], c)
			}
		}
		if round >= 0 {
			rounds++
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
	return out, all, rounds, nil
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

func (b *searchBench) runBleveShards(ctx context.Context) (sbResult, error) {
	path := filepath.Join(b.dir, "bleve-shards", "mail.bleve-shards")
	return b.runEmbedded(ctx, "bleve, date shards (embedded)", path, func() (search.Index, error) { return search.OpenBleveShards(path, b.log) })
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
	if !b.reuse {
		_ = os.RemoveAll(filepath.Dir(path))
	}
	idx, err := open()
	if err != nil {
		return r, err
	}
	defer idx.Close()
	if n, err := idx.Count(ctx, 1, 0); !b.reuse || err != nil || n != int64(b.n) {
		if err := b.indexEmbedded(ctx, &r, idx); err != nil {
			return r, err
		}
	} else {
		b.log.Info("reusing the index", slog.String("engine", engine), slog.Int64("n", n))
		if b.settle {
			start, cpuStart := time.Now(), sbCPU()
			settled, err := settleIndex(ctx, idx)
			if err != nil {
				return r, err
			}
			b.log.Info("settled the index", slog.String("engine", engine), slog.Int("shards", settled),
				slog.Duration("wall", time.Since(start)), slog.Duration("cpu", sbCPU()-cpuStart))
		}
	}
	b.log.Info("querying", slog.String("engine", engine))
	r.lat, r.all, r.rounds, err = b.measure(ctx, engine, func(ctx context.Context, q sbQuery) (int64, error) {
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

// indexEmbedded loads the corpus into idx and records the time, CPU and
// memory it took.
func (b *searchBench) indexEmbedded(ctx context.Context, r *sbResult, idx search.Index) error {
	b.log.Info("indexing", slog.String("engine", r.engine), slog.Int("n", b.n))
	start, cpuStart := time.Now(), sbCPU()
	if err := b.generate(func(docs []search.Document) error { return idx.Index(ctx, docs) }); err != nil {
		return err
	}
	// The shipped indexer settles the index when it has drained its work;
	// that merge is part of indexing, so it is inside the measured time,
	// and logged on its own: documents are searchable before it runs.
	settleStart, settleCPU := time.Now(), sbCPU()
	if n, err := settleIndex(ctx, idx); err != nil {
		return err
	} else if n > 0 {
		b.log.Info("settled after indexing", slog.String("engine", r.engine), slog.Int("shards", n),
			slog.Duration("took", time.Since(settleStart)), slog.Duration("cpu", sbCPU()-settleCPU),
			slog.Duration("indexing_before_settle", settleStart.Sub(start)))
	}
	r.indexDur, r.indexCPU = time.Since(start), sbCPU()-cpuStart
	r.docsPerSec = float64(b.n) / r.indexDur.Seconds()
	r.rssIndex = sbRSS("self")
	if n, err := idx.Count(ctx, 1, 0); err != nil || n != int64(b.n) {
		return fmt.Errorf("count after indexing = %d, %v; want %d", n, err, b.n)
	}
	return nil
}

// settleIndex settles an index that supports it (search.FTSIndex).
func settleIndex(ctx context.Context, idx search.Index) (int, error) {
	s, ok := idx.(interface {
		Settle(context.Context) (int, error)
	})
	if !ok {
		return 0, nil
	}
	n, err := s.Settle(ctx)
	if err != nil {
		return n, fmt.Errorf("settle index: %w", err)
	}
	return n, nil
}

func sbMB(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func sbMs(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// report prints Markdown tables (for BENCHMARKS.md) and one JSON line.
func (b *searchBench) report(rs []sbResult) {
	w := b.out
	load, _ := os.ReadFile("/proc/loadavg")
	fields := strings.Fields(string(load))
	fmt.Fprintf(w, "\n## Search benchmark: %d messages, %d rounds of %d queries, GOMAXPROCS=%d, load average at end: %s\n\n",
		b.n, b.rounds, len(sbQueries()), runtime.GOMAXPROCS(0), strings.Join(fields[:min(3, len(fields))], " "))
	fmt.Fprintln(w, "| engine | index time [CPU] | docs/s | size on disk | RSS after indexing | RSS after queries | p50 all | p99 all | rounds |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		cpu := ""
		if r.indexCPU > 0 {
			cpu = " [" + r.indexCPU.Round(time.Second).String() + "]"
		}
		fmt.Fprintf(w, "| %s | %s%s | %.0f | %s | %s | %s | %s ms | %s ms | %d |\n", r.engine, r.indexDur.Round(time.Second), cpu, r.docsPerSec,
			sbMB(r.sizeBytes), sbMB(r.rssIndex), sbMB(r.rssQuery), sbMs(sbPercentile(r.all, 50)), sbMs(sbPercentile(r.all, 99)), r.rounds)
	}
	b.reportQueries(rs)
	fmt.Fprintf(w, "\n%s\n", sbJSON(b.n, rs))
}

// reportQueries prints the per-query table; in-process engines get their
// CPU time per query too.
func (b *searchBench) reportQueries(rs []sbResult) {
	w := b.out
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
			if i >= len(r.lat) {
				fmt.Fprint(w, " |")
				continue
			}
			l := r.lat[i]
			if r.rssNote == "this process" {
				fmt.Fprintf(w, " %s / %s [%s / %s] (%d) |", sbMs(l.p50), sbMs(l.p99), sbMs(l.cpu50), sbMs(l.cpu99), l.hits)
			} else {
				fmt.Fprintf(w, " %s / %s (%d) |", sbMs(l.p50), sbMs(l.p99), l.hits)
			}
		}
		fmt.Fprintln(w)
	}
}

// sbJSON is the machine-readable summary of results.
func sbJSON(n int, rs []sbResult) []byte {
	type jsonRes struct {
		Engine     string  `json:"engine"`
		N          int     `json:"n"`
		IndexSecs  float64 `json:"index_seconds"`
		IndexCPU   float64 `json:"index_cpu_seconds,omitempty"`
		DocsPerSec float64 `json:"docs_per_sec"`
		SizeBytes  int64   `json:"size_bytes"`
		RSSIndex   int64   `json:"rss_after_index_bytes"`
		RSSQuery   int64   `json:"rss_after_queries_bytes"`
		RSSNote    string  `json:"rss_of"`
		P50ms      float64 `json:"p50_ms"`
		P99ms      float64 `json:"p99_ms"`
		Rounds     int     `json:"rounds"`
	}
	js := []jsonRes{}
	for _, r := range rs {
		js = append(js, jsonRes{r.engine, n, r.indexDur.Seconds(), r.indexCPU.Seconds(), r.docsPerSec, r.sizeBytes, r.rssIndex, r.rssQuery, r.rssNote,
			float64(sbPercentile(r.all, 50).Microseconds()) / 1000, float64(sbPercentile(r.all, 99).Microseconds()) / 1000, r.rounds})
	}
	line, _ := json.Marshal(js) // plain values: cannot fail
	return line
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
