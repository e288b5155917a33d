package search

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite" (FTS5 compiled in)
)

// FTSIndex is the embedded backend on SQLite FTS5, in a database file of
// its own in the data directory.
//
// Layout: the table docs keeps each Document (JSON) by message id, with
// its tenant, mailbox and content hash; the contentless FTS5 table fts
// holds the folded text (foldText) and keyword tokens for tenant, mailbox,
// links, labels and attachments. The FTS5 rowid is a key in date order
// (rowKey), so "newest first" is ORDER BY rowid DESC LIMIT n, which FTS5
// answers by walking its doclists backwards and stopping when the page is
// full, however many messages match; counting stops at MaxTotal+1. The
// prefix indexes serve word prefixes of two and three characters.
type FTSIndex struct {
	db   *sql.DB
	lock *os.File
	log  *slog.Logger
}

var _ Index = (*FTSIndex)(nil)

// FTS5 columns; the first seven are the text fields a free word searches.
var ftsColumns = []string{"subject", "sender", "torcpt", "ccrcpt", "bccrcpt", "body", "filename", "addr", "tags"}

const ftsTextColumns = "{subject sender torcpt ccrcpt bccrcpt body filename}"

var ftsField = map[string]string{FieldFrom: "sender", FieldTo: "torcpt", FieldCc: "ccrcpt", FieldBcc: "bccrcpt",
	FieldSubject: "subject", FieldFilename: "filename"}

var ftsAddrRole = map[string]string{FieldFrom: "f", FieldTo: "t", FieldCc: "c", FieldBcc: "b"}

// OpenFTS opens (creating when absent) the FTS5 index in the file path. Like
// the bleve index it belongs to one process: a second opener gets an
// *IndexLockedError naming the holder.
func OpenFTS(path string, logger *slog.Logger) (*FTSIndex, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("search: create index dir: %w", err)
	}
	lock, err := lockIndex(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_pragma=cache_size(-32000)")
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	// One connection: SQLite has one writer, and the index is this
	// process's alone; reads are short (a page and a bounded count).
	db.SetMaxOpenConns(1)
	x := &FTSIndex{db: db, lock: lock, log: logger}
	if err := x.setup(); err != nil {
		_ = x.Close()
		return nil, err
	}
	return x, nil
}

func (x *FTSIndex) setup() error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, rk INTEGER NOT NULL UNIQUE, tenant INTEGER NOT NULL,
			mailbox INTEGER NOT NULL, hash TEXT NOT NULL, doc BLOB NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS docs_tenant_mailbox ON docs (tenant, mailbox)`,
		`CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(` + strings.Join(ftsColumns, ", ") +
			`, content='', tokenize='unicode61 remove_diacritics 0', prefix='2 3')`,
	}
	for _, s := range stmts {
		if _, err := x.db.Exec(s); err != nil {
			return fmt.Errorf("search: fts schema: %w", err)
		}
	}
	return nil
}

// Close closes the index.
func (x *FTSIndex) Close() error {
	err := x.db.Close()
	_ = x.lock.Close()
	if err != nil {
		return fmt.Errorf("search: close fts index: %w", err)
	}
	return nil
}

// rowKey orders documents by date: the Unix second in the high bits and
// the low 20 bits of the id below, so ranges of dates are ranges of keys.
func rowKey(date time.Time, id int64) int64 { return date.Unix()<<20 | id&0xFFFFF }

func dateKey(t time.Time) int64 { return t.Unix() << 20 }

// tag tokens: tenant, mailbox, contact, account and case ids, labels, and
// attachments. Labels are hex-encoded so that "projects-alpha" stays one token.
func tagTenant(id int64) string  { return "t" + strconv.FormatInt(id, 10) }
func tagMailbox(id int64) string { return "m" + strconv.FormatInt(id, 10) }
func tagContact(id int64) string { return "c" + strconv.FormatInt(id, 10) }
func tagAccount(id int64) string { return "a" + strconv.FormatInt(id, 10) }
func tagCase(id int64) string    { return "k" + strconv.FormatInt(id, 10) }
func tagLabel(l string) string   { return "l" + hex.EncodeToString([]byte(l)) }

const tagAttachment = "att"

// addrToken is a participant's full lower-cased address under its role,
// hex-encoded so that a prefix of the address is a prefix of the token.
func addrToken(role, addr string) string { return role + hex.EncodeToString([]byte(addr)) }

// ftsValues are the FTS5 column values of d, in ftsColumns order.
func ftsValues(d *Document) []any {
	tags := []string{tagTenant(d.TenantID), tagMailbox(d.MailboxID)}
	for _, id := range d.ContactIDs {
		tags = append(tags, tagContact(id))
	}
	for _, id := range d.AccountIDs {
		tags = append(tags, tagAccount(id))
	}
	for _, id := range d.CaseIDs {
		tags = append(tags, tagCase(id))
	}
	for _, l := range labelTerms(d.LabelIDs, d.LabelNames) {
		tags = append(tags, tagLabel(l))
	}
	if d.HasAttachment {
		tags = append(tags, tagAttachment)
	}
	var addrs []string
	for _, r := range []struct {
		role string
		list []Address
	}{{"f", []Address{d.From}}, {"t", d.To}, {"c", d.Cc}, {"b", d.Bcc}} {
		for _, a := range addrSpecs(r.list...) {
			addrs = append(addrs, addrToken(r.role, a))
		}
	}
	join := func(l []Address) string { return foldText(strings.Join(displayAddresses(l), ", ")) }
	return []any{foldText(d.Subject), foldText(d.From.String()), join(d.To), join(d.Cc), join(d.Bcc), foldText(d.Body),
		foldText(strings.Join(d.Filenames, " ")), strings.Join(addrs, " "), strings.Join(tags, " ")}
}

var (
	ftsInsert = `INSERT INTO fts (rowid, ` + strings.Join(ftsColumns, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(ftsColumns)) + `)`
	ftsDelete = `INSERT INTO fts (fts, rowid, ` + strings.Join(ftsColumns, ", ") + `) VALUES ('delete', ?` + strings.Repeat(", ?", len(ftsColumns)) + `)`
)

// Index upserts docs in one transaction.
func (x *FTSIndex) Index(ctx context.Context, docs []Document) error {
	if len(docs) == 0 {
		return nil
	}
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("search: index: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	w, err := x.prepare(ctx, tx)
	if err != nil {
		return err
	}
	defer w.close()
	for i := range docs {
		if err := validateDoc(&docs[i]); err != nil {
			return err
		}
		if err := w.upsert(ctx, &docs[i]); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: index batch of %d: %w", len(docs), err)
	}
	return nil
}

// ftsWriter holds the prepared statements of one write transaction.
type ftsWriter struct {
	get, putDoc, delDoc, insert, remove *sql.Stmt
}

func (x *FTSIndex) prepare(ctx context.Context, tx *sql.Tx) (*ftsWriter, error) {
	w := &ftsWriter{}
	for _, s := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&w.get, `SELECT rk, tenant, doc FROM docs WHERE id = ?`},
		{&w.putDoc, `INSERT INTO docs (id, rk, tenant, mailbox, hash, doc) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET rk = excluded.rk, tenant = excluded.tenant, mailbox = excluded.mailbox,
			hash = excluded.hash, doc = excluded.doc`},
		{&w.delDoc, `DELETE FROM docs WHERE id = ?`},
		{&w.insert, ftsInsert},
		{&w.remove, ftsDelete},
	} {
		st, err := tx.PrepareContext(ctx, s.sql)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("search: prepare: %w", err)
		}
		*s.dst = st
	}
	return w, nil
}

func (w *ftsWriter) close() {
	for _, s := range []*sql.Stmt{w.get, w.putDoc, w.delDoc, w.insert, w.remove} {
		if s != nil {
			_ = s.Close()
		}
	}
}

// stored loads the stored document with id; ok is false when absent.
func (w *ftsWriter) stored(ctx context.Context, id int64) (rk, tenant int64, d Document, ok bool, err error) {
	var blob []byte
	err = w.get.QueryRowContext(ctx, id).Scan(&rk, &tenant, &blob)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, d, false, nil
	}
	if err != nil {
		return 0, 0, d, false, fmt.Errorf("search: load document %d: %w", id, err)
	}
	if err := json.Unmarshal(blob, &d); err != nil {
		return 0, 0, d, false, fmt.Errorf("search: stored document %d: %w", id, err)
	}
	return rk, tenant, d, true, nil
}

// unindex removes a stored document's FTS5 entry: a contentless table is
// told the exact values it indexed, which foldText recomputes.
func (w *ftsWriter) unindex(ctx context.Context, rk int64, d *Document) error {
	if _, err := w.remove.ExecContext(ctx, append([]any{rk}, ftsValues(d)...)...); err != nil {
		return fmt.Errorf("search: unindex document %d: %w", d.ID, err)
	}
	return nil
}

func (w *ftsWriter) upsert(ctx context.Context, d *Document) error {
	oldRK, _, old, ok, err := w.stored(ctx, d.ID)
	if err != nil {
		return err
	}
	rk := rowKey(d.Date, d.ID)
	if ok {
		if err := w.unindex(ctx, oldRK, &old); err != nil {
			return err
		}
		if oldRK>>20 == rk>>20 {
			rk = oldRK // same second: keep the key
		}
	}
	blob, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("search: encode document %d: %w", d.ID, err)
	}
	// Two documents of the same second whose ids agree in the low bits
	// want the same key: step down to a free one.
	for tries := 0; ; tries++ {
		_, err = w.putDoc.ExecContext(ctx, d.ID, rk, d.TenantID, d.MailboxID, d.Hash(), blob)
		if err == nil || tries > 64 || !strings.Contains(err.Error(), "docs.rk") {
			break
		}
		rk--
	}
	if err != nil {
		return fmt.Errorf("search: store document %d: %w", d.ID, err)
	}
	if _, err := w.insert.ExecContext(ctx, append([]any{rk}, ftsValues(d)...)...); err != nil {
		return fmt.Errorf("search: index document %d: %w", d.ID, err)
	}
	return nil
}

// Delete removes the tenant's documents among ids.
func (x *FTSIndex) Delete(ctx context.Context, tenantID int64, ids []int64) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	if len(ids) == 0 {
		return nil
	}
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("search: delete: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	w, err := x.prepare(ctx, tx)
	if err != nil {
		return err
	}
	defer w.close()
	for _, id := range ids {
		rk, tenant, d, ok, err := w.stored(ctx, id)
		if err != nil {
			return err
		}
		if !ok || tenant != tenantID {
			continue
		}
		if err := w.unindex(ctx, rk, &d); err != nil {
			return err
		}
		if _, err := w.delDoc.ExecContext(ctx, id); err != nil {
			return fmt.Errorf("search: delete document %d: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: delete %d documents: %w", len(ids), err)
	}
	return nil
}

// UpdateLabels re-indexes one stored document with new labels.
func (x *FTSIndex) UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error {
	var blob []byte
	err := x.db.QueryRowContext(ctx, `SELECT doc FROM docs WHERE id = ? AND tenant = ?`, id, tenantID).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("search: update labels of %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("search: update labels of %d: %w", id, err)
	}
	var d Document
	if err := json.Unmarshal(blob, &d); err != nil {
		return fmt.Errorf("search: stored document %d: %w", id, err)
	}
	d.LabelIDs, d.LabelNames = labelIDs, labelNames
	return x.Index(ctx, []Document{d})
}

func scopeSQL(tenantID, mailboxID int64) (string, []any) {
	if mailboxID != 0 {
		return `tenant = ? AND mailbox = ?`, []any{tenantID, mailboxID}
	}
	return `tenant = ?`, []any{tenantID}
}

// Count counts the tenant's documents.
func (x *FTSIndex) Count(ctx context.Context, tenantID, mailboxID int64) (int64, error) {
	if tenantID <= 0 {
		return 0, ErrNoTenant
	}
	where, args := scopeSQL(tenantID, mailboxID)
	var n int64
	if err := x.db.QueryRowContext(ctx, `SELECT count(*) FROM docs WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("search: count: %w", err)
	}
	return n, nil
}

// Hashes maps the tenant's document ids to their content hashes.
func (x *FTSIndex) Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	where, args := scopeSQL(tenantID, mailboxID)
	rows, err := x.db.QueryContext(ctx, `SELECT id, hash FROM docs WHERE `+where, args...)
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
