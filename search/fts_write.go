package search

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// storedDoc is the stored copy of a Document in the docs table: JSON with
// one-letter keys, zstd-compressed (docCodec). It holds everything a
// Document has except what the docs row keeps in columns (id, tenant,
// mailbox), so a label update can re-index the document and a hit can be
// shown and highlighted without the database.
type storedDoc struct {
	GmailID    string       `json:"g,omitempty"`
	ThreadID   string       `json:"t,omitempty"`
	Subject    string       `json:"s,omitempty"`
	From       storedAddr   `json:"f,omitempty"`
	To         []storedAddr `json:"to,omitempty"`
	Cc         []storedAddr `json:"cc,omitempty"`
	Bcc        []storedAddr `json:"bc,omitempty"`
	Body       string       `json:"b,omitempty"`
	LabelIDs   []string     `json:"l,omitempty"`
	LabelNames []string     `json:"ln,omitempty"`
	Date       int64        `json:"d"` // Unix nanoseconds, UTC
	HasAtt     bool         `json:"a,omitempty"`
	Filenames  []string     `json:"fn,omitempty"`
	ContactIDs []int64      `json:"c,omitempty"`
	AccountIDs []int64      `json:"ac,omitempty"`
	CaseIDs    []int64      `json:"k,omitempty"`
}

// storedAddr is an Address with short keys.
type storedAddr struct {
	N string `json:"n,omitempty"`
	A string `json:"a,omitempty"`
}

func toStored(l []Address) []storedAddr {
	if len(l) == 0 {
		return nil
	}
	out := make([]storedAddr, len(l))
	for i, a := range l {
		out[i] = storedAddr{N: a.Name, A: a.Address}
	}
	return out
}

func fromStored(l []storedAddr) []Address {
	if len(l) == 0 {
		return nil
	}
	out := make([]Address, len(l))
	for i, a := range l {
		out[i] = Address{Name: a.N, Address: a.A}
	}
	return out
}

// docCodec compresses stored documents. zstd's encoder and decoder are
// safe for concurrent EncodeAll/DecodeAll calls.
type docCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newDocCodec() (*docCodec, error) {
	// No checksum: SQLite's pages are the unit of integrity here, and the
	// four bytes per document add up at a million documents. The fastest
	// level: on the benchmark corpus (documents of ~900 bytes) the default
	// level saved 3 % of the size for 30 % more time.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
	if err != nil {
		return nil, fmt.Errorf("search: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("search: zstd decoder: %w", err)
	}
	return &docCodec{enc: enc, dec: dec}, nil
}

func (c *docCodec) close() {
	_ = c.enc.Close()
	c.dec.Close()
}

func (c *docCodec) encode(d *Document) ([]byte, error) {
	b, err := json.Marshal(storedDoc{GmailID: d.GmailID, ThreadID: d.ThreadID, Subject: d.Subject,
		From: storedAddr{N: d.From.Name, A: d.From.Address}, To: toStored(d.To), Cc: toStored(d.Cc), Bcc: toStored(d.Bcc), Body: d.Body, LabelIDs: d.LabelIDs, LabelNames: d.LabelNames,
		Date: d.Date.UnixNano(), HasAtt: d.HasAttachment, Filenames: d.Filenames,
		ContactIDs: d.ContactIDs, AccountIDs: d.AccountIDs, CaseIDs: d.CaseIDs})
	if err != nil {
		return nil, fmt.Errorf("search: encode document %d: %w", d.ID, err)
	}
	return c.enc.EncodeAll(b, nil), nil
}

// decode rebuilds the Document of a docs row.
func (c *docCodec) decode(id, tenant, mailbox int64, blob []byte) (Document, error) {
	b, err := c.dec.DecodeAll(blob, nil)
	if err != nil {
		return Document{}, fmt.Errorf("search: stored document %d: %w", id, err)
	}
	var s storedDoc
	if err := json.Unmarshal(b, &s); err != nil {
		return Document{}, fmt.Errorf("search: stored document %d: %w", id, err)
	}
	return Document{ID: id, TenantID: tenant, MailboxID: mailbox, GmailID: s.GmailID, ThreadID: s.ThreadID,
		Subject: s.Subject, From: Address{Name: s.From.N, Address: s.From.A},
		To: fromStored(s.To), Cc: fromStored(s.Cc), Bcc: fromStored(s.Bcc), Body: s.Body,
		LabelIDs: s.LabelIDs, LabelNames: s.LabelNames, Date: time.Unix(0, s.Date).UTC(),
		HasAttachment: s.HasAtt, Filenames: s.Filenames,
		ContactIDs: s.ContactIDs, AccountIDs: s.AccountIDs, CaseIDs: s.CaseIDs}, nil
}

// ftsRow is a document ready to write: its FTS5 column values, content
// hash and stored copy.
type ftsRow struct {
	d    *Document
	vals []any
	hash string
	blob []byte
}

// prepChunk is the number of documents a preparing goroutine takes at a
// time: small enough that the writer starts soon, large enough that
// handing chunks over costs nothing.
const prepChunk = 32

// Index upserts docs in one transaction.
//
// The documents are put in row-key order first (keyOrder). Then
// goroutines fold, hash and compress them (prepareRow) chunk by chunk in
// that order while this goroutine writes the chunks already prepared:
// SQLite has a single writer, and the Go side of indexing runs beside it
// on the other cores instead of before it.
func (x *FTSIndex) Index(ctx context.Context, docs []Document) error {
	if len(docs) == 0 {
		return nil
	}
	var errs []error
	for i := range docs {
		if err := validateDoc(&docs[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	order := keyOrder(docs)
	p := x.prepare(order)
	defer p.stop()
	return x.write(ctx, func(sctx context.Context, w *ftsWriter) error {
		old, err := w.storedKeys(sctx, order)
		if err != nil {
			return err
		}
		for c := range p.ready {
			rows, err := p.wait(ctx, c)
			if err != nil {
				return err
			}
			for i := range rows {
				if err := w.upsert(sctx, &rows[i], old); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// keyOrder keeps the last of each document id and orders them by row key.
// FTS5 buffers a transaction's writes in memory only while rowids ascend
// and writes a segment to disk whenever one does not
// (sqlite3Fts5IndexBeginWrite), so documents in arbitrary date order would
// each become a segment of their own, to be merged again at great cost.
func keyOrder(docs []Document) []*Document {
	last := make(map[int64]int, len(docs))
	for i := range docs {
		last[docs[i].ID] = i
	}
	out := make([]*Document, 0, len(last))
	for i := range docs {
		if last[docs[i].ID] == i {
			out = append(out, &docs[i])
		}
	}
	slices.SortStableFunc(out, func(a, b *Document) int {
		return cmp.Compare(rowKey(a.Date, a.ID), rowKey(b.Date, b.ID))
	})
	return out
}

// prepareRow computes the row of a valid document.
func (x *FTSIndex) prepareRow(d *Document) (ftsRow, error) {
	blob, err := x.codec.encode(d)
	return ftsRow{d: d, vals: ftsValues(d), hash: d.Hash(), blob: blob}, err
}

// rowPrep is the preparation of one batch's rows, chunk by chunk in
// order; ready[c] is closed once chunk c is done.
type rowPrep struct {
	rows    []ftsRow
	errs    []error // per chunk
	ready   []chan struct{}
	stopped atomic.Bool
	wg      sync.WaitGroup
}

// prepare starts preparing the rows of docs, in that order, on up to
// GOMAXPROCS goroutines (a single chunk is prepared at once, here).
func (x *FTSIndex) prepare(docs []*Document) *rowPrep {
	n := len(docs)
	chunks := (n + prepChunk - 1) / prepChunk
	p := &rowPrep{rows: make([]ftsRow, n), errs: make([]error, chunks), ready: make([]chan struct{}, chunks)}
	for c := range p.ready {
		p.ready[c] = make(chan struct{})
	}
	run := func(c int) {
		if !p.stopped.Load() {
			for i := c * prepChunk; i < min(n, (c+1)*prepChunk) && p.errs[c] == nil; i++ {
				p.rows[i], p.errs[c] = x.prepareRow(docs[i])
			}
		}
		close(p.ready[c])
	}
	if chunks == 1 {
		run(0)
		return p
	}
	// Workers take chunks in ascending order, so the chunk the writer
	// waits for is always being prepared or done.
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), chunks) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for c := int(next.Add(1) - 1); c < chunks; c = int(next.Add(1) - 1) {
				run(c)
			}
		}()
	}
	return p
}

// wait returns chunk c's rows once they are prepared.
func (p *rowPrep) wait(ctx context.Context, c int) ([]ftsRow, error) {
	select {
	case <-p.ready[c]:
	case <-ctx.Done():
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("search: index write: %w", err)
	}
	if p.errs[c] != nil {
		return nil, p.errs[c]
	}
	return p.rows[c*prepChunk : min(len(p.rows), (c+1)*prepChunk)], nil
}

// stop skips the chunks not started yet and waits for the workers.
func (p *rowPrep) stop() {
	p.stopped.Store(true)
	p.wg.Wait()
}

// write runs fn in one transaction with the prepared statements. fn runs
// its statements under sctx, which is ctx without its cancellation: the
// driver watches a cancellable context with a goroutine and a progress
// handler per statement (1.4 % of indexing CPU in a profile at 200,000
// documents, before the garbage those goroutines leave). fn checks ctx
// between chunks instead, and the transaction still ends when ctx does.
func (x *FTSIndex) write(ctx context.Context, fn func(sctx context.Context, w *ftsWriter) error) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("search: begin index write: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	sctx := context.WithoutCancel(ctx)
	w, err := x.prepareWriter(sctx, tx)
	if err != nil {
		return err
	}
	defer w.close()
	if err := fn(sctx, w); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: commit index write: %w", err)
	}
	x.addShards(w.created)
	x.expand.written(slices.Collect(maps.Keys(w.insert)))
	return nil
}

var ftsInsertColumns = `(rowid, ` + strings.Join(ftsColumns, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(ftsColumns)) + `)`

// ftsWriter holds the prepared statements of one write transaction.
type ftsWriter struct {
	x                   *FTSIndex
	tx                  *sql.Tx
	get, putDoc, delDoc *sql.Stmt
	insert, remove      map[shard]*sql.Stmt
	created             []shard // shards created in this transaction
}

func (x *FTSIndex) prepareWriter(ctx context.Context, tx *sql.Tx) (*ftsWriter, error) {
	w := &ftsWriter{x: x, tx: tx, insert: map[shard]*sql.Stmt{}, remove: map[shard]*sql.Stmt{}}
	for _, s := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&w.get, `SELECT rk, tenant FROM docs WHERE id = ?`},
		{&w.putDoc, `INSERT INTO docs (id, rk, tenant, mailbox, hash, doc) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET rk = excluded.rk, tenant = excluded.tenant, mailbox = excluded.mailbox,
			hash = excluded.hash, doc = excluded.doc`},
		{&w.delDoc, `DELETE FROM docs WHERE id = ?`},
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
	for _, s := range []*sql.Stmt{w.get, w.putDoc, w.delDoc} {
		if s != nil {
			_ = s.Close()
		}
	}
	for _, m := range []map[shard]*sql.Stmt{w.insert, w.remove} {
		for _, s := range m {
			_ = s.Close()
		}
	}
}

// shard returns the insert and delete statements of shard s, creating
// the shard when it does not exist yet.
func (w *ftsWriter) shard(ctx context.Context, s shard) (insert, remove *sql.Stmt, err error) {
	if st, ok := w.insert[s]; ok {
		return st, w.remove[s], nil
	}
	if !w.x.hasShard(s) && !slices.Contains(w.created, s) {
		for _, q := range shardStatements(s) {
			if _, err := w.tx.ExecContext(ctx, q); err != nil {
				return nil, nil, fmt.Errorf("search: create shard %s: %w", s.table(), err)
			}
		}
		w.created = append(w.created, s)
	}
	t := s.table()
	if insert, err = w.tx.PrepareContext(ctx, `INSERT INTO `+t+` `+ftsInsertColumns); err != nil {
		return nil, nil, fmt.Errorf("search: prepare: %w", err)
	}
	// contentless_delete=1: a row goes by its rowid alone.
	if remove, err = w.tx.PrepareContext(ctx, `DELETE FROM `+t+` WHERE rowid = ?`); err != nil {
		_ = insert.Close()
		return nil, nil, fmt.Errorf("search: prepare: %w", err)
	}
	w.insert[s], w.remove[s] = insert, remove
	return insert, remove, nil
}

// stored returns the row key and tenant of a stored document; ok is false
// when absent.
func (w *ftsWriter) stored(ctx context.Context, id int64) (rk, tenant int64, ok bool, err error) {
	err = w.get.QueryRowContext(ctx, id).Scan(&rk, &tenant)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("search: load document %d: %w", id, err)
	}
	return rk, tenant, true, nil
}

// storedKey is where a stored document is indexed.
type storedKey struct{ rk, tenant int64 }

// storedKeys looks up the row keys and tenants of those of docs that are
// stored, a few hundred ids per statement instead of one each.
func (w *ftsWriter) storedKeys(ctx context.Context, docs []*Document) (map[int64]storedKey, error) {
	const perQuery = 500 // well under SQLite's 32,766 parameters
	out := make(map[int64]storedKey)
	args := make([]any, 0, perQuery)
	for len(docs) > 0 {
		part := docs[:min(perQuery, len(docs))]
		docs = docs[len(part):]
		args = args[:0]
		for _, d := range part {
			args = append(args, d.ID)
		}
		rows, err := w.tx.QueryContext(ctx, `SELECT id, rk, tenant FROM docs WHERE id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("search: load stored documents: %w", err)
		}
		for rows.Next() {
			var id int64
			var k storedKey
			if err := rows.Scan(&id, &k.rk, &k.tenant); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("search: load stored documents: %w", err)
			}
			out[id] = k
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("search: load stored documents: %w", err)
		}
		_ = rows.Close()
	}
	return out, nil
}

func (w *ftsWriter) unindex(ctx context.Context, id, tenant, rk int64) error {
	_, remove, err := w.shard(ctx, shardOf(tenant, rk))
	if err != nil {
		return err
	}
	if _, err := remove.ExecContext(ctx, rk); err != nil {
		return fmt.Errorf("search: unindex document %d: %w", id, err)
	}
	return nil
}

func (w *ftsWriter) upsert(ctx context.Context, r *ftsRow, old map[int64]storedKey) error {
	d := r.d
	prev, ok := old[d.ID]
	oldRK, oldTenant := prev.rk, prev.tenant
	rk := rowKey(d.Date, d.ID)
	var err error
	if ok {
		if err := w.unindex(ctx, d.ID, oldTenant, oldRK); err != nil {
			return err
		}
		if oldRK>>20 == rk>>20 {
			rk = oldRK // same second: keep the key
		}
	}
	// Two documents of the same second whose ids agree in the low bits
	// want the same key: step down to a free one.
	for tries := 0; ; tries++ {
		_, err = w.putDoc.ExecContext(ctx, d.ID, rk, d.TenantID, d.MailboxID, r.hash, r.blob)
		if err == nil || tries > 64 || !strings.Contains(err.Error(), "docs.rk") {
			break
		}
		rk--
	}
	if err != nil {
		return fmt.Errorf("search: store document %d: %w", d.ID, err)
	}
	insert, _, err := w.shard(ctx, shardOf(d.TenantID, rk))
	if err != nil {
		return err
	}
	if _, err := insert.ExecContext(ctx, append([]any{rk}, r.vals...)...); err != nil {
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
	return x.write(ctx, func(sctx context.Context, w *ftsWriter) error {
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("search: delete: %w", err)
			}
			ctx := sctx
			rk, tenant, ok, err := w.stored(ctx, id)
			if err != nil {
				return err
			}
			if !ok || tenant != tenantID {
				continue
			}
			if err := w.unindex(ctx, id, tenant, rk); err != nil {
				return err
			}
			if _, err := w.delDoc.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("search: delete document %d: %w", id, err)
			}
		}
		return nil
	})
}

// UpdateLabels re-indexes one stored document with new labels.
func (x *FTSIndex) UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error {
	var mailbox int64
	var blob []byte
	err := x.db.QueryRowContext(ctx, `SELECT mailbox, doc FROM docs WHERE id = ? AND tenant = ?`, id, tenantID).Scan(&mailbox, &blob)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("search: update labels of %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("search: update labels of %d: %w", id, err)
	}
	d, err := x.codec.decode(id, tenantID, mailbox, blob)
	if err != nil {
		return err
	}
	d.LabelIDs, d.LabelNames = labelIDs, labelNames
	return x.Index(ctx, []Document{d})
}
