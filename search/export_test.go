package search

import "context"

// FailInClaimForTest makes x's claimed drains (the Postgres index) fail
// after their index writes and before their commit, as a process killed
// at that moment would.
func FailInClaimForTest(x *Indexer, err error) { x.failInClaim = func() error { return err } }

// PGTermsForTest computes a document's Postgres row values (tsvector
// literal, JSON, hash) as PGIndex.Index does.
func PGTermsForTest(d *Document) (string, string) { return pgTerms(d), d.Hash() }

// SegmentsForTest lists the FTS5 segment count of each of a tenant's
// shards, oldest first.
func SegmentsForTest(x *FTSIndex, tenantID int64) ([]int, error) {
	var out []int
	for _, s := range x.shardsIn(tenantID, -1<<62, 1<<62) {
		seg, err := x.segments(context.Background(), s)
		if err != nil {
			return nil, err
		}
		out = append(out, seg.count)
	}
	return out, nil
}
