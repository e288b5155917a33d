package search

// FailInClaimForTest makes x's claimed drains (the Postgres index) fail
// after their index writes and before their commit, as a process killed
// at that moment would.
func FailInClaimForTest(x *Indexer, err error) { x.failInClaim = func() error { return err } }

// PGTermsForTest computes a document's Postgres row values (tsvector
// literal, JSON, hash) as PGIndex.Index does.
func PGTermsForTest(d *Document) (string, string) { return pgTerms(d), d.Hash() }
