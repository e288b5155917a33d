// Package chaos holds the multi-process chaos test of the scale setup
// (chaos_test.go): private Postgres and Redis servers, the web process and
// three cmd/worker processes as separate OS processes, killed with SIGKILL
// at random while Redis and Postgres restart and the Gmail emulator's
// mailboxes change; at the end every stored mailbox must equal Gmail's
// within a bounded time, and the search index inside Postgres that all
// processes share (fed only through the search outbox, which every process
// drains while being killed) must hold exactly the stored messages
// (search_test.go). It has no code of its own: the processes under test
// are the real binaries.
package chaos
