// Package search owns full-text search over synced email: the Gmail-style
// query language (ParseQuery) and its contract (newest first by default,
// totals exact up to MaxTotal, cursor paging), the Index interface every
// caller uses, and its backends with the same semantics — SQLite FTS5 in
// the data directory (the embedded default, OpenFTS), bleve (OpenBleve) and
// Elasticsearch (when a URL is configured). It also owns the mapping from
// stored rows to documents (BuildDocuments) and index maintenance driven
// from the database: the Indexer drains the search outbox that database
// triggers fill in the writing transaction, Reindex rebuilds a tenant's
// index from a Source and Check compares content hashes and reports drift.
//
// Every read and write is scoped by tenant at this boundary; there is no call
// that searches without a tenant id.
package search
