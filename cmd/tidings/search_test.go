package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
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
