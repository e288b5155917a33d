package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"tidings/internal/testenv"
	"tidings/models"
)

// A small run of `bench search` on the embedded engines: every engine of
// -engines runs, in that order, and the report's JSON line carries each
// one's figures for the same corpus.
func TestSearchBenchEmbedded(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"bench", "search", "-n", "300", "-rounds", "1", "-batch", "100", "-engines", "fts5,bleve,bleve-shards", "-dir", t.TempDir()}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res []struct {
		Engine     string  `json:"engine"`
		N          int     `json:"n"`
		DocsPerSec float64 `json:"docs_per_sec"`
		SizeBytes  int64   `json:"size_bytes"`
		Rounds     int     `json:"rounds"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not the JSON summary: %v\n%s", err, out.String())
	}
	if len(res) != 3 || !strings.Contains(res[0].Engine, "FTS5") || res[1].Engine != "bleve (embedded)" ||
		!strings.Contains(res[2].Engine, "bleve, date shards") {
		t.Fatalf("engines = %+v, want FTS5, bleve, then bleve in date shards", res)
	}
	for _, r := range res {
		if r.N != 300 || r.DocsPerSec <= 0 || r.SizeBytes <= 0 || r.Rounds != 1 {
			t.Errorf("%s: %+v", r.Engine, r)
		}
	}
	if !strings.Contains(out.String(), "| `invo` |") {
		t.Errorf("no per-query table:\n%s", out.String())
	}
}

func TestSearchBenchRejectsUnknownEngine(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"bench", "search", "-engines", "fts5,lucene"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), `unknown engine "lucene"`) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// The postgres engine with -pg-schema keeps its index, and -reuse queries
// it again without indexing: the second run reports no indexing figures
// and the same size and totals.
func TestSearchBenchPostgresReuse(t *testing.T) {
	pgURL := testenv.PostgresURL(t)
	if pgURL == "" {
		t.Skip("TIDINGS_TEST_DATABASE_URL not set")
	}
	schema := "bench_reuse_" + strings.ToLower(rand.Text()[:8])
	t.Cleanup(func() {
		gdb, _, err := models.Open(context.Background(), models.OpenOptions{DatabaseURL: pgURL})
		if err != nil {
			t.Error(err)
			return
		}
		if db, err := gdb.DB(); err == nil {
			_, _ = db.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`)
			db.Close()
		}
	})
	type result struct {
		DocsPerSec float64 `json:"docs_per_sec"`
		SizeBytes  int64   `json:"size_bytes"`
	}
	runOnce := func(extra ...string) (result, string) {
		t.Helper()
		var out, errb bytes.Buffer
		args := append([]string{"bench", "search", "-n", "300", "-rounds", "1", "-batch", "100", "-engines", "postgres",
			"-pg", pgURL, "-pg-schema", schema}, extra...)
		if code := run(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("exit %d, stderr %s", code, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var res []result
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || len(res) != 1 {
			t.Fatalf("last line is not the JSON summary of one engine: %v\n%s", err, out.String())
		}
		i := strings.Index(out.String(), "| `invo` |")
		if i < 0 {
			t.Fatalf("no per-query table:\n%s", out.String())
		}
		row, _, _ := strings.Cut(out.String()[i:], "\n")
		return res[0], row[strings.LastIndex(row, "("):]
	}
	first, firstHits := runOnce()
	again, againHits := runOnce("-reuse")
	if first.DocsPerSec <= 0 || again.DocsPerSec != 0 || again.SizeBytes != first.SizeBytes || againHits != firstHits {
		t.Errorf("first run %+v %s, reused %+v %s", first, firstHits, again, againHits)
	}
}
