// Package sync owns tidings' Gmail synchronization: connecting a mailbox
// through OAuth (tokens sealed at rest, also after every refresh), the
// resumable full sync, the incremental sync over users.history.list, the
// bounded reconcile-resync when a history id has expired, label sync,
// linking participants to CRM contacts and accounts, feeding the search
// index, and running all of it as asynq tasks with at most one sync per
// mailbox at a time. It also owns the way back to Gmail, the outbox
// (outbox*.go, send.go, actions.go): sending, drafts and mailbox actions,
// each carried out exactly once; and the sync's Prometheus metrics
// (metrics.go).
//
// The invariant everything here protects: after any sync returns nil, the
// stored mailbox (message ids, label sets, thread ids) equals Gmail's as
// of the stored history id. Cursors and checkpoints only move after what
// precedes them is committed, every write is an idempotent upsert, and a
// failed call never advances anything, so a sync killed at any point and
// run again converges instead of losing or duplicating mail.
//
// Elsewhere in the tree the package is imported as mailsync "tidings/sync"
// so that it does not shadow the standard library's sync.
package sync
