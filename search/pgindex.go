package search

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PGIndex is the search index inside Postgres: the table search_documents
// (migration 0011_search_documents) in the application's own database. It
// is the backend whenever the database is Postgres and no Elasticsearch is
// configured, so that the web process and any number of workers, on any
// number of machines, search and write one index with only Postgres and
// Redis: there is no per-process copy that could be empty or stale.
//
// Layout (chosen by measurement, BENCHMARKS.md "Postgres search backend"):
// one row per document with its tenant, mailbox, date, content hash, the
// Document as JSON (for hits and highlights) and a tsvector of tokens made
// in Go (pgTerms) with the embedded engine's folding and tokenizer, so a
// word folds identically in the index, in queries and in every backend.
// The tsvector is searched through a GIN index with prefix queries
// ('invo':*), phrases (<->) and the boolean operators; it needs no
// extension. Newest-first pages come from the GIN matches sorted by date
// when a query matches at most MaxTotal documents, and from walking the
// (tenant_id, date, id) index, testing each row, when it matches more:
// then matches are dense and a page is found after a few rows.
type PGIndex struct {
	db  *sql.DB
	log *slog.Logger
	// walkFactor is walkFactor (pgindex_query.go); tests make it small.
	walkFactor int
}

var _ Index = (*PGIndex)(nil)

// OpenPostgres returns the index in the database db (the store's pool;
// the index does not close it). The table must exist: migrations create it.
func OpenPostgres(ctx context.Context, db *sql.DB, logger *slog.Logger) (*PGIndex, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var ok bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('search_documents') IS NOT NULL`).Scan(&ok); err != nil {
		return nil, fmt.Errorf("search: postgres index: %w", err)
	}
	if !ok {
		return nil, errors.New("search: postgres index: table search_documents is missing (the database is not migrated to this build)")
	}
	return &PGIndex{db: db, log: logger, walkFactor: walkFactor}, nil
}

// Close releases nothing: the connection pool is the store's.
func (x *PGIndex) Close() error { return nil }

// execer is what writes need: the pool, or the transaction of a drain
// (ClaimIndexWork) so that documents and outbox marks commit together.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Index upserts docs by id.
func (x *PGIndex) Index(ctx context.Context, docs []Document) error {
	return x.indexIn(ctx, x.db, docs)
}

// pgBatch bounds the rows of one INSERT (the arrays are sent as parameters).
const pgBatch = 500

func (x *PGIndex) indexIn(ctx context.Context, db execer, docs []Document) error {
	for start := 0; start < len(docs); start += pgBatch {
		chunk := docs[start:min(start+pgBatch, len(docs))]
		n := len(chunk)
		ids, tenants, mailboxes := make([]int64, n), make([]int64, n), make([]int64, n)
		dates, hashes, terms := make([]time.Time, n), make([]string, n), make([]string, n)
		blobs := make([][]byte, n)
		for i := range chunk {
			d := &chunk[i]
			if err := validateDoc(d); err != nil {
				return err
			}
			// JSON, not the FTS5 index's zstd copy (half the size): a row
			// is moved to TOAST only when it exceeds ~2 KB
			// (TOAST_TUPLE_THRESHOLD; toast_tuple_target only sets how far
			// it is then shrunk), and with the smaller copy a quarter of
			// the rows stayed whole in the heap, which grew 2.5 times and
			// made every match cost more pages (BENCHMARKS.md).
			blob, err := json.Marshal(d)
			if err != nil {
				return fmt.Errorf("search: encode document %d: %w", d.ID, err)
			}
			ids[i], tenants[i], mailboxes[i] = d.ID, d.TenantID, d.MailboxID
			dates[i], hashes[i], terms[i], blobs[i] = d.Date.UTC(), d.Hash(), pgTerms(d), blob
		}
		if dup := firstDuplicate(ids); dup != 0 {
			return fmt.Errorf("search: document %d twice in one batch", dup)
		}
		// An unchanged document (same hash) is not rewritten: outbox marks
		// for links that did not change a document cost no index churn.
		_, err := db.ExecContext(ctx, `INSERT INTO search_documents (id, tenant_id, mailbox_id, date, hash, terms, doc)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[], $6::text[]::tsvector[], $7::bytea[])
			ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, mailbox_id = excluded.mailbox_id,
				date = excluded.date, hash = excluded.hash, terms = excluded.terms, doc = excluded.doc
			WHERE search_documents.hash <> excluded.hash OR search_documents.tenant_id <> excluded.tenant_id`,
			ids, tenants, mailboxes, dates, hashes, terms, blobs)
		if err != nil {
			return fmt.Errorf("search: index %d documents: %w", n, err)
		}
	}
	return nil
}

func firstDuplicate(ids []int64) int64 {
	s := slices.Clone(ids)
	slices.Sort(s)
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return s[i]
		}
	}
	return 0
}

// Delete removes the tenant's documents among ids.
func (x *PGIndex) Delete(ctx context.Context, tenantID int64, ids []int64) error {
	return x.deleteIn(ctx, x.db, tenantID, ids)
}

func (x *PGIndex) deleteIn(ctx context.Context, db execer, tenantID int64, ids []int64) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM search_documents WHERE tenant_id = $1 AND id = ANY($2)`, tenantID, ids); err != nil {
		return fmt.Errorf("search: delete %d documents: %w", len(ids), err)
	}
	return nil
}

// UpdateLabels re-indexes one stored document with new labels.
func (x *PGIndex) UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	var blob []byte
	err := x.db.QueryRowContext(ctx, `SELECT doc FROM search_documents WHERE id = $1 AND tenant_id = $2`, id, tenantID).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("search: update labels of %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("search: update labels of %d: %w", id, err)
	}
	d, err := x.decode(id, blob)
	if err != nil {
		return err
	}
	d.LabelIDs, d.LabelNames = labelIDs, labelNames
	return x.Index(ctx, []Document{d})
}

// decode rebuilds a stored document.
func (x *PGIndex) decode(id int64, blob []byte) (Document, error) {
	var d Document
	if err := json.Unmarshal(blob, &d); err != nil {
		return Document{}, fmt.Errorf("search: stored document %d: %w", id, err)
	}
	return d, nil
}

func pgScope(tenantID, mailboxID int64) (string, []any) {
	if mailboxID != 0 {
		return `tenant_id = $1 AND mailbox_id = $2`, []any{tenantID, mailboxID}
	}
	return `tenant_id = $1`, []any{tenantID}
}

// Count counts the tenant's documents, in one mailbox or all (0).
func (x *PGIndex) Count(ctx context.Context, tenantID, mailboxID int64) (int64, error) {
	if tenantID <= 0 {
		return 0, ErrNoTenant
	}
	where, args := pgScope(tenantID, mailboxID)
	return sqlCount(ctx, x.db, `SELECT count(*) FROM search_documents WHERE `+where, args...)
}

// Hashes maps the tenant's document ids to their content hashes.
func (x *PGIndex) Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	where, args := pgScope(tenantID, mailboxID)
	return sqlHashes(ctx, x.db, `SELECT id, hash FROM search_documents WHERE `+where, args...)
}

// Lexemes of the tsvector. Words are runs of letters, digits and marks
// (wordsTokenizer), so no word contains '~', '@', '#' or ':': the tagged
// forms below cannot collide with a word of the text.
const (
	pgMaxPos       = 16383 // tsvector positions end here (MAXENTRYPOS)
	pgMaxPositions = 255   // positions kept per lexeme (MAXNUMPOS is 256)
	pgMaxLexeme    = 2046  // bytes per lexeme (MAXSTRLEN)
	pgMaxLexemes   = 900 << 10
)

// pgFieldCode tags a word with the field it came from: "f~jansen".
var pgFieldCode = map[string]string{FieldSubject: "s~", FieldFrom: "f~", FieldTo: "t~", FieldCc: "c~", FieldBcc: "b~", FieldFilename: "n~"}

func pgAddr(role, addr string) string { return "@" + role + ":" + addr }
func pgTag(kind, v string) string     { return "#" + kind + ":" + v }

const pgAttachment = "#att"

// pgTerms is the tsvector literal of d: every word of every text field at
// its position (fields separated by a gap, so a phrase never spans two),
// once plain and once tagged with its field; the participants' whole
// addresses by role; labels, attachments and links as tags.
func pgTerms(d *Document) string {
	lex := map[string][]int{}
	size := 0
	add := func(l string, pos int) {
		if len(l) > pgMaxLexeme {
			return
		}
		ps, ok := lex[l]
		if !ok {
			if size+len(l) > pgMaxLexemes {
				return // a tsvector holds at most 1 MB of lexemes
			}
			size += len(l)
		}
		switch {
		case pos == 0: // a tag: no position
			lex[l] = ps
		case len(ps) < pgMaxPositions && (len(ps) == 0 || ps[len(ps)-1] != pos):
			lex[l] = append(ps, pos)
		}
	}
	pos := 0
	for _, f := range []struct {
		field string
		text  string
	}{
		{FieldSubject, d.Subject}, {FieldFrom, d.From.String()}, {FieldTo, strings.Join(displayAddresses(d.To), ", ")},
		{FieldCc, strings.Join(displayAddresses(d.Cc), ", ")}, {FieldBcc, strings.Join(displayAddresses(d.Bcc), ", ")},
		{FieldFilename, strings.Join(d.Filenames, " ")}, {FieldAny, d.Body},
	} {
		pos += 2
		code := pgFieldCode[f.field]
		for _, t := range queryTokens(f.text) {
			pos = min(pos+1, pgMaxPos)
			add(t, pos)
			if code != "" {
				add(code+t, pos)
			}
		}
	}
	for _, r := range []struct {
		role string
		list []Address
	}{{"f", []Address{d.From}}, {"t", d.To}, {"c", d.Cc}, {"b", d.Bcc}} {
		for _, a := range addrSpecs(r.list...) {
			add(pgAddr(r.role, a), 0)
		}
	}
	for _, l := range labelTerms(d.LabelIDs, d.LabelNames) {
		add(pgTag("l", l), 0)
	}
	if d.HasAttachment {
		add(pgAttachment, 0)
	}
	add(pgTag("m", strconv.FormatInt(d.MailboxID, 10)), 0)
	for _, t := range pgDateTags(d.Date) {
		add(t, 0)
	}
	for _, t := range []struct {
		kind string
		ids  []int64
	}{{"c", d.ContactIDs}, {"a", d.AccountIDs}, {"k", d.CaseIDs}} {
		for _, id := range t.ids {
			add(pgTag(t.kind, strconv.FormatInt(id, 10)), 0)
		}
	}
	keys := make([]string, 0, len(lex))
	for l := range lex {
		keys = append(keys, l)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, l := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(pgQuote(l))
		for j, p := range lex[l] {
			if j == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
	}
	return b.String()
}

// pgQuote writes a lexeme as a quoted tsvector/tsquery value: the text
// search input functions take a backslash or a doubled quote as escapes.
func pgQuote(l string) string {
	if strings.ContainsAny(l, `\'`) {
		l = pgEscaper.Replace(l)
	}
	return "'" + l + "'"
}

var pgEscaper = strings.NewReplacer(`\`, `\\`, `'`, `''`)
