package search

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/blevesearch/bleve/v2/analysis"
)

type analysisTokens = []string

type analyzerAdapter struct{ a analysis.Analyzer }

func (a analyzerAdapter) Analyze(b []byte) []string {
	ts := a.a.Analyze(b)
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, string(t.Term))
	}
	return out
}

// labelTerms are the label keywords of a document: every label id and
// every user label name, normalised as the query parser normalises label:.
func labelTerms(ids, names []string) []string {
	out := make([]string, 0, len(ids)+len(names))
	seen := make(map[string]bool, len(ids)+len(names))
	for _, l := range append(append([]string{}, ids...), names...) {
		if n := normLabel(l); n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// cursor is the opaque Result.Next: the sort it belongs to and the sort
// values of the last hit, as in Elasticsearch's search_after.
type cursor struct {
	Sort   string   `json:"s"`
	Values []string `json:"v"`
}

func encodeCursor(s Sort, values []string) string {
	b, _ := json.Marshal(cursor{Sort: s.String(), Values: values}) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor validates a cursor for sort s: [score,] RFC 3339 date, id.
func decodeCursor(c string, s Sort) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	var cur cursor
	if err := json.Unmarshal(raw, &cur); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	want := 2
	if s == Relevance {
		want = 3
	}
	if cur.Sort != s.String() || len(cur.Values) != want {
		return nil, fmt.Errorf("%w: made for sort %q, used with %q", ErrBadCursor, cur.Sort, s)
	}
	v := cur.Values
	if s == Relevance {
		if f, err := strconv.ParseFloat(v[0], 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: bad score", ErrBadCursor)
		}
		v = v[1:]
	}
	if _, err := time.Parse(time.RFC3339Nano, v[0]); err != nil {
		return nil, fmt.Errorf("%w: bad date", ErrBadCursor)
	}
	if id, err := strconv.ParseInt(v[1], 10, 64); err != nil || id <= 0 {
		return nil, fmt.Errorf("%w: bad id", ErrBadCursor)
	}
	return cur.Values, nil
}
