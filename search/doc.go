// Package search owns full-text search over synced email: the Gmail-style
// query language (ParseQuery), the Index interface every caller uses, and
// its two backends with the same semantics — an embedded bleve index in the
// data directory (the default) and Elasticsearch (when a URL is configured).
// It also owns index maintenance driven from the database: Reindex rebuilds a
// tenant's index from a Source and Check reports and repairs drift.
//
// Every read and write is scoped by tenant at this boundary; there is no call
// that searches without a tenant id.
package search
