package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"tidings/models"
	"tidings/search"
)

// runPgIndex measures the Postgres search backend exactly as shipped: a
// schema of its own in the -pg database, migrated by models.Migrate (so
// the table and indexes are migration 0011's), the corpus written through
// search.PGIndex.Index in the benchmark's batches (the GIN index is
// maintained as documents arrive, as the indexer does), and the mix run
// through its Search under the query contract. The schema is dropped
// afterwards (kept when TIDINGS_BENCH_KEEP_SCHEMA is set, to study plans).
func (b *searchBench) runPgIndex(ctx context.Context) (sbResult, error) {
	r := sbResult{engine: "Postgres tsvector (search.PGIndex)"}
	if b.pgURL == "" {
		return r, errors.New("no Postgres URL: pass -pg or set TIDINGS_BENCH_DATABASE_URL")
	}
	dbURL, drop, err := b.pgBenchSchema(ctx)
	if err != nil {
		return r, err
	}
	defer drop()
	sqlDB, idx, pid, err := b.openPgIndex(ctx, dbURL)
	if err != nil {
		return r, err
	}
	defer sqlDB.Close()
	if err := b.pgIndexCorpus(ctx, sqlDB, idx, pid, &r); err != nil {
		return r, err
	}
	if n, err := idx.Count(ctx, 1, 0); err != nil || n != int64(b.n) {
		return r, fmt.Errorf("count after indexing = %d, %v; want %d", n, err, b.n)
	}
	if err := sqlDB.QueryRowContext(ctx, `SELECT pg_total_relation_size('search_documents')`).Scan(&r.sizeBytes); err != nil {
		return r, err
	}
	b.log.Info("pgindex: querying")
	cpuStart := sbProcCPU(pid)
	defer func() {
		b.log.Info("pgindex: queried", slog.Duration("backend_cpu", sbProcCPU(pid)-cpuStart), slog.Int("queries", (b.rounds+1)*len(sbQueries())))
	}()
	r.lat, r.all, r.rounds, err = b.measure(ctx, "pgindex", func(ctx context.Context, q sbQuery) (int64, error) {
		req := q.req
		req.Size = 20
		res, err := idx.Search(ctx, 1, req)
		if err != nil {
			return 0, err
		}
		return res.Total, nil
	})
	r.rssQuery = sbRSS(pid)
	r.rssNote = "Postgres backend process (shared buffers excluded)"
	if r.rssIndex == 0 {
		r.rssNote = "Postgres backend process (not readable from here)"
	}
	return r, err
}

// pgIndexCorpus writes the corpus, unless -reuse -pg-schema asks to query
// the index an earlier run left there.
func (b *searchBench) pgIndexCorpus(ctx context.Context, sqlDB *sql.DB, idx *search.PGIndex, pid string, r *sbResult) error {
	if b.reuse && b.pgSchema != "" {
		b.log.Info("pgindex: reusing the index", slog.String("schema", b.pgSchema))
		return nil
	}
	b.log.Info("pgindex: indexing", slog.Int("n", b.n))
	cpuStart, start := sbProcCPU(pid), time.Now()
	if err := b.generate(func(docs []search.Document) error { return idx.Index(ctx, docs) }); err != nil {
		return err
	}
	r.indexDur = time.Since(start)
	r.docsPerSec = float64(b.n) / r.indexDur.Seconds()
	// On a shared machine the wall time says little: the CPU time of the
	// Postgres backend and of this process say what indexing costs.
	b.log.Info("pgindex: indexed", slog.Duration("wall", r.indexDur), slog.Duration("backend_cpu", sbProcCPU(pid)-cpuStart))
	// Statistics for the planner, as autovacuum would gather them after a
	// load; not counted as indexing time.
	if _, err := sqlDB.ExecContext(ctx, `VACUUM ANALYZE search_documents`); err != nil {
		return err
	}
	r.rssIndex = sbRSS(pid)
	return nil
}

// sbProcCPU is the CPU time (user+system) of a local process, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func sbProcCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

// pgBenchSchema creates a schema of its own for one run and returns the
// database URL that uses it, and the function that drops it again (unless
// TIDINGS_BENCH_KEEP_SCHEMA asks to keep it for EXPLAIN in psql).
func (b *searchBench) pgBenchSchema(ctx context.Context) (string, func(), error) {
	schema := "bench_pgindex_" + strings.ToLower(rand.Text()[:8])
	if b.pgSchema != "" {
		schema = b.pgSchema
	}
	u, err := url.Parse(b.pgURL)
	if err != nil {
		return "", nil, fmt.Errorf("-pg: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, _, err := models.Open(ctx, models.OpenOptions{DatabaseURL: b.pgURL})
	if err != nil {
		return "", nil, err
	}
	admin, err := db.DB()
	if err != nil {
		return "", nil, err
	}
	create := `CREATE SCHEMA `
	if b.pgSchema != "" {
		create = `CREATE SCHEMA IF NOT EXISTS `
	}
	if _, err := admin.ExecContext(ctx, create+pgIdent(schema)); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		defer admin.Close()
		if os.Getenv("TIDINGS_BENCH_KEEP_SCHEMA") != "" || b.pgSchema != "" {
			b.log.Info("pgindex: schema kept", slog.String("schema", schema))
			return
		}
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+pgIdent(schema)+` CASCADE`); err != nil {
			b.log.Warn("pgindex: drop bench schema", slog.Any("err", err))
		}
	}
	return u.String(), drop, nil
}

// pgIdent quotes a schema name for SQL.
func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// openPgIndex migrates the bench schema and opens the index on one
// connection, so that the backend whose memory and CPU are reported (pid)
// is the one that did the work.
func (b *searchBench) openPgIndex(ctx context.Context, dbURL string) (*sql.DB, *search.PGIndex, string, error) {
	gdb, engine, err := models.Open(ctx, models.OpenOptions{DatabaseURL: dbURL})
	if err != nil {
		return nil, nil, "", err
	}
	if _, err := models.Migrate(ctx, gdb, engine); err != nil {
		return nil, nil, "", err
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, nil, "", err
	}
	sqlDB.SetMaxOpenConns(1)
	idx, err := search.OpenPostgres(ctx, sqlDB, b.log)
	if err != nil {
		sqlDB.Close()
		return nil, nil, "", err
	}
	var pid string
	if err := sqlDB.QueryRowContext(ctx, `SELECT pg_backend_pid()::text`).Scan(&pid); err != nil {
		sqlDB.Close()
		return nil, nil, "", err
	}
	return sqlDB, idx, pid, nil
}
