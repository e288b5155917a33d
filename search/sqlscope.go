package search

import (
	"context"
	"database/sql"
	"fmt"
)

// The two indexes kept in SQL (FTS5 and Postgres) answer Count and Hashes
// with the same statements over their own tables.

// sqlCount runs a count(*) query.
func sqlCount(ctx context.Context, db *sql.DB, query string, args ...any) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("search: count: %w", err)
	}
	return n, nil
}

// sqlHashes runs a query of (id, hash) rows into a map.
func sqlHashes(ctx context.Context, db *sql.DB, query string, args ...any) (map[int64]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search: list documents: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, fmt.Errorf("search: list documents: %w", err)
		}
		out[id] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: list documents: %w", err)
	}
	return out, nil
}
