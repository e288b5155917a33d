package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tidings/search"
)

// The pg_trgm baseline of `tidings bench search`: one table of the
// corpus in Postgres, GIN trigram indexes, queries as ILIKE ordered by date.

// sbTotal reads the "id, count(*) OVER ()" rows of a benchmark query (from
// database/sql or pgx) and returns the count.
func sbTotal(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}) (int64, error) {
	var total int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &total); err != nil {
			return 0, err
		}
	}
	return total, rows.Err()
}

func sbFirst(ids []int64) any {
	if len(ids) == 0 {
		return nil
	}
	return ids[0]
}

// sbLabels returns the normalised labels (ids and names, as label: sees
// them) and whether the message is in trash or spam.
func sbLabels(d search.Document) ([]string, bool) {
	var out []string
	trash := false
	for _, l := range append(slices.Clone(d.LabelIDs), d.LabelNames...) {
		l = strings.ToLower(strings.NewReplacer(" ", "-", "/", "-").Replace(l))
		out = append(out, l)
		trash = trash || l == "trash" || l == "spam"
	}
	return out, trash
}

// sbJoin is the display form of the recipients, as one text column.
func sbJoin(lists ...[]search.Address) string {
	var out []string
	for _, l := range lists {
		for _, a := range l {
			out = append(out, a.String())
		}
	}
	return strings.Join(out, ", ")
}

// runPg measures the pg_trgm baseline: load, index, query.
func (b *searchBench) runPg(ctx context.Context) (sbResult, error) {
	r := sbResult{engine: "Postgres pg_trgm"}
	if b.pgURL == "" {
		return r, errors.New("no Postgres URL: pass -pg or set TIDINGS_BENCH_DATABASE_URL")
	}
	conn, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return r, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	// A table of this process's own, so runs sharing a database do not
	// drop each other's.
	t := "bench_messages_" + strconv.Itoa(os.Getpid())
	defer func() {
		if _, err := conn.Exec(context.Background(), `DROP TABLE IF EXISTS `+t); err != nil {
			b.log.Warn("pg: drop bench table", slog.Any("err", err))
		}
	}()
	var pid string
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()::text`).Scan(&pid); err != nil {
		return r, err
	}
	start := time.Now()
	if err := b.pgTrgmLoad(ctx, conn, t); err != nil {
		return r, err
	}
	if err := b.pgTrgmIndex(ctx, conn, t); err != nil {
		return r, err
	}
	r.indexDur = time.Since(start)
	r.docsPerSec = float64(b.n) / r.indexDur.Seconds()
	r.rssIndex = sbRSS(pid)
	if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size('`+t+`')`).Scan(&r.sizeBytes); err != nil {
		return r, err
	}
	b.log.Info("pg_trgm: querying")
	r.lat, r.all, r.rounds, err = b.measure(ctx, "pg_trgm", func(ctx context.Context, q sbQuery) (int64, error) {
		stmt := `SELECT m.id, count(*) OVER () FROM ` + t + ` m WHERE m.tenant_id = 1 AND NOT m.trash_or_spam AND ` +
			q.pgWhere + ` ORDER BY m.date DESC LIMIT 20`
		rows, err := conn.Query(ctx, stmt)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		return sbTotal(rows)
	})
	r.rssQuery = sbRSS(pid)
	r.rssNote = "Postgres backend process (shared buffers excluded)"
	if r.rssIndex == 0 {
		r.rssNote = "Postgres backend process (not readable from here)"
	}
	return r, err
}

// pgTrgmLoad creates the table and copies the corpus into it.
func (b *searchBench) pgTrgmLoad(ctx context.Context, conn *pgx.Conn, t string) error {
	for _, stmt := range []string{
		`CREATE EXTENSION IF NOT EXISTS pg_trgm`,
		`DROP TABLE IF EXISTS ` + t,
		`CREATE TABLE ` + t + ` (id bigint PRIMARY KEY, tenant_id bigint NOT NULL, mailbox_id bigint NOT NULL,
			contact_id bigint, date timestamptz NOT NULL, labels text[] NOT NULL, has_attachment boolean NOT NULL,
			trash_or_spam boolean NOT NULL, subject text NOT NULL, from_ text NOT NULL, to_ text NOT NULL,
			body text NOT NULL, filenames text NOT NULL)`,
		`SET maintenance_work_mem = '512MB'`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(stmt)[0], err)
		}
	}
	b.log.Info("pg_trgm: loading", slog.Int("n", b.n))
	cols := []string{"id", "tenant_id", "mailbox_id", "contact_id", "date", "labels", "has_attachment", "trash_or_spam",
		"subject", "from_", "to_", "body", "filenames"}
	err := b.generate(func(docs []search.Document) error {
		rows := make([][]any, len(docs))
		for i, d := range docs {
			labels, trash := sbLabels(d)
			rows[i] = []any{d.ID, d.TenantID, d.MailboxID, sbFirst(d.ContactIDs), d.Date, labels, d.HasAttachment, trash,
				d.Subject, d.From.String(), sbJoin(d.To, d.Cc), d.Body, strings.Join(d.Filenames, " ")}
		}
		_, err := conn.CopyFrom(ctx, pgx.Identifier{t}, cols, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// pgTrgmIndex builds the trigram and b-tree indexes the queries use.
func (b *searchBench) pgTrgmIndex(ctx context.Context, conn *pgx.Conn, t string) error {
	b.log.Info("pg_trgm: building indexes")
	for _, stmt := range []string{
		`CREATE INDEX ON ` + t + ` USING gin (subject gin_trgm_ops)`,
		`CREATE INDEX ON ` + t + ` USING gin (from_ gin_trgm_ops)`,
		`CREATE INDEX ON ` + t + ` USING gin (to_ gin_trgm_ops)`,
		`CREATE INDEX ON ` + t + ` USING gin (body gin_trgm_ops)`,
		`CREATE INDEX ON ` + t + ` USING gin (filenames gin_trgm_ops)`,
		`CREATE INDEX ON ` + t + ` (tenant_id, date)`,
		`CREATE INDEX ON ` + t + ` (tenant_id, contact_id)`,
		`CREATE INDEX ON ` + t + ` (tenant_id, mailbox_id)`,
		`VACUUM ANALYZE ` + t,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}
