package models

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
)

// Postgres plans the sync's lookups (which of a page's Gmail ids are
// stored, their database ids, the labels to replace) from table
// statistics. Autovacuum refreshes those at most once per
// autovacuum_naptime (a minute by default), so a table that grows quickly
// — above all a new mailbox's first full sync, which fills empty tables at
// thousands of rows a second — is planned as if it were still empty: the
// planner then prefers an index on mailbox_id alone and filters every
// message of the mailbox for the 500 ids of a lookup. Measured on a
// 20,000-message sync, the server spent 0.6–0.9 ms of CPU per message
// instead of 0.2. So the store analyzes its hot tables itself when they
// have changed much since their last ANALYZE, checking the server's own
// counters (pg_stat_user_tables) every planCheckEvery messages written.

const (
	// planCheckEvery is how many messages this process writes between two
	// looks at the tables' change counters (one catalog query).
	planCheckEvery = 2000
	// A table is analyzed when the rows changed since its last ANALYZE
	// exceed planStaleRows plus its size then (planStaleShare), or when
	// it was never analyzed. The share keeps the number of ANALYZEs of a
	// growing table logarithmic in its size.
	planStaleRows  = 2000
	planStaleShare = 1.0
)

// planTables are the tables whose statistics decide the plans of the sync's
// per-page statements.
var planTables = []string{"messages", "message_labels", "message_addresses", "threads"}

// planStats counts the messages written since the tables were last
// checked; it is shared by a Store and the copies in() makes of it.
type planStats struct {
	written atomic.Int64
	busy    atomic.Bool
}

// noteMessagesWritten records n stored messages and, on Postgres, every
// planCheckEvery of them analyzes the hot tables whose statistics are
// stale. Only one check runs at a time per process; across processes,
// an advisory lock lets one of them analyze and the others skip.
func (s *Store) noteMessagesWritten(ctx context.Context, n int) error {
	if s.engine != Postgres || s.plan == nil {
		return nil
	}
	if s.plan.written.Add(int64(n)) < planCheckEvery || !s.plan.busy.CompareAndSwap(false, true) {
		return nil
	}
	defer s.plan.busy.Store(false)
	s.plan.written.Store(0)
	return s.analyzeStale(ctx)
}

// staleTables returns the tables of planTables (in the current schema)
// whose statistics are stale.
func (s *Store) staleTables(ctx context.Context) ([]string, error) {
	type row struct {
		Relname          string
		Reltuples        float64
		NModSinceAnalyze int64
	}
	var rows []row
	err := s.db.WithContext(ctx).Raw(`SELECT st.relname, c.reltuples, st.n_mod_since_analyze
		FROM pg_stat_user_tables st JOIN pg_class c ON c.oid = st.relid
		WHERE st.relid = ANY (ARRAY[` + regclasses(planTables) + `])`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: table statistics: %w", err)
	}
	var stale []string
	for _, r := range rows {
		// reltuples is -1 until the first VACUUM or ANALYZE.
		if r.Reltuples < 0 || float64(r.NModSinceAnalyze) > planStaleRows+planStaleShare*r.Reltuples {
			stale = append(stale, r.Relname)
		}
	}
	return stale, nil
}

// analyzeStale runs ANALYZE on the stale tables of planTables, unless
// another process holds the advisory lock (it is analyzing them now).
func (s *Store) analyzeStale(ctx context.Context) error {
	stale, err := s.staleTables(ctx)
	if err != nil || len(stale) == 0 {
		return err
	}
	tx := s.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return fmt.Errorf("models: analyze: %w", tx.Error)
	}
	defer tx.Rollback()
	var locked bool
	if err := tx.Raw(`SELECT pg_try_advisory_xact_lock(hashtext('tidings.analyze'))`).Scan(&locked).Error; err != nil {
		return fmt.Errorf("models: analyze lock: %w", err)
	}
	if !locked {
		return nil
	}
	// The names come from planTables, never from input.
	if err := tx.Exec(`ANALYZE ` + strings.Join(stale, ", ")).Error; err != nil {
		return fmt.Errorf("models: analyze %v: %w", stale, err)
	}
	if err := tx.Commit().Error; err != nil {
		return fmt.Errorf("models: analyze %v: %w", stale, err)
	}
	return nil
}

// regclasses renders table names as to_regclass calls of literals (they
// resolve in the connection's search_path, like the statements do).
func regclasses(tables []string) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = "to_regclass('" + t + "')::oid"
	}
	return strings.Join(parts, ", ")
}
