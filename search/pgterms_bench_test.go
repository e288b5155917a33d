package search_test

import (
	"testing"

	"tidings/search"
	"tidings/search/searchbench"
)

// BenchmarkPGTermsCorpus measures what the Postgres index computes per
// document in Go before a write (tokens, JSON, hash).
func BenchmarkPGTermsCorpus(b *testing.B) {
	c := searchbench.NewCorpus(searchbench.DefaultCorpus())
	docs := make([]search.Document, 1000)
	for i := range docs {
		docs[i] = c.Doc(i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		search.PGTermsForTest(&docs[i%len(docs)])
	}
}
