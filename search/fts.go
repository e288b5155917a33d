package search

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite" (FTS5 compiled in)
)

// FTSIndex is the embedded backend on SQLite FTS5, in a database file of
// its own in the data directory.
//
// Layout (ftsLayout):
//   - The FTS5 rowid is a key in date order (rowKey), so "newest first" is
//     ORDER BY rowid DESC LIMIT n, which FTS5 answers by walking its
//     doclists backwards and stopping when the page is full, however many
//     messages match; counting stops at MaxTotal+1.
//   - The text is split by date into shards (shardOf: 2^23 seconds, about
//     three months, each), one contentless FTS5 table per shard, searched
//     newest first until the page is full and MaxTotal+1 are counted. FTS5
//     answers a word prefix by merging the doclists of every term it
//     begins before it returns the first row; a shard bounds that merge
//     (`invo` over a million messages otherwise merges 420,000 entries per
//     query), and date conditions skip whole shards.
//   - Each shard table holds the folded text (foldText) and keyword tokens
//     for tenant, mailbox, links, labels and attachments, and nothing else:
//     contentless_delete=1 deletes a row by rowid alone.
//   - The table docs keeps, per message id, the row key, tenant, mailbox,
//     content hash and a compact zstd-compressed copy of the document
//     (storedDoc): what a hit shows, what highlighting reads for the
//     page's hits, and what a label update re-indexes.
type FTSIndex struct {
	db    *sql.DB
	lock  *os.File
	log   *slog.Logger
	codec *docCodec
	// expand caches word prefixes' terms per shard (fts_expand.go).
	expand    *expandCache
	expandMax int // at most this many terms per prefix and shard; 0 = no expansion

	mu     sync.RWMutex
	shards map[int64][]int64 // tenant → spans of its existing shard tables, ascending
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
	codec, err := newDocCodec()
	if err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, err
	}
	x := &FTSIndex{db: db, lock: lock, log: logger, codec: codec, expand: newExpandCache(), expandMax: ftsExpandMax}
	if err := x.setup(); err != nil {
		_ = x.Close()
		return nil, err
	}
	return x, nil
}

// ftsLayout names the on-disk layout; an index file of another layout
// (an older release's) is emptied and rebuilt from the database by the
// Indexer (Indexer.Fill queues a tenant whose index holds nothing).
const ftsLayout = "2"

// ftsTuning is the FTS5 configuration of each shard
// (https://sqlite.org/fts5.html, options automerge and crisismerge): merge 8 segments of a
// level at a time instead of FTS5's default 4, so that each row is
// rewritten by fewer levels of merging. Every commit adds a small segment
// to each shard it touches, and at 200,000 messages merging was 19 % of
// indexing CPU; with 8 indexing took 8.5 % less CPU and the query mix the
// same CPU (16 took 14 % less but queries up to twice the CPU, from the
// extra segments). Shards created before keep the value they were
// created with.
var ftsTuning = []struct {
	key   string
	value int
}{{"automerge", 8}, {"crisismerge", 32}}

// shardBits is the time span of a shard: 2^23 seconds, about 97 days.
const shardBits = 23

// shard is one FTS5 table: one tenant's documents of one time span, so
// tenant scope is the table itself and no query term has to intersect
// every document of the tenant.
type shard struct{ tenant, span int64 }

// shardOf is the shard of a tenant's row key; span s holds the keys
// [s<<(20+shardBits), (s+1)<<(20+shardBits)).
func shardOf(tenant, rk int64) shard { return shard{tenant, rk >> (20 + shardBits)} }

func (s shard) keyRange() (lo, hi int64) {
	return s.span << (20 + shardBits), (s.span + 1) << (20 + shardBits)
}

// table is the shard's FTS5 table.
func (s shard) table() string {
	span := strconv.FormatInt(s.span, 10)
	if s.span < 0 {
		span = "m" + strconv.FormatInt(-s.span, 10)
	}
	return "fts_" + strconv.FormatInt(s.tenant, 10) + "_" + span
}

func (x *FTSIndex) setup() error {
	for _, s := range []string{
		`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS shards (tenant INTEGER NOT NULL, span INTEGER NOT NULL, PRIMARY KEY (tenant, span))`,
	} {
		if _, err := x.db.Exec(s); err != nil {
			return fmt.Errorf("search: fts schema: %w", err)
		}
	}
	var layout string
	err := x.db.QueryRow(`SELECT coalesce((SELECT value FROM meta WHERE key = 'layout'),
		(SELECT '1' FROM sqlite_schema WHERE name = 'docs'), '')`).Scan(&layout)
	if err != nil {
		return fmt.Errorf("search: fts layout: %w", err)
	}
	if layout != ftsLayout {
		// "1" is the first layout: one table fts, no meta table.
		if err := x.dropAll(); err != nil {
			return err
		}
	}
	for _, s := range []string{
		`CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, rk INTEGER NOT NULL UNIQUE, tenant INTEGER NOT NULL,
			mailbox INTEGER NOT NULL, hash TEXT NOT NULL, doc BLOB NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS docs_tenant_mailbox ON docs (tenant, mailbox)`,
		`INSERT INTO meta (key, value) VALUES ('layout', '` + ftsLayout + `') ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
	} {
		if _, err := x.db.Exec(s); err != nil {
			return fmt.Errorf("search: fts schema: %w", err)
		}
	}
	if layout != "" && layout != ftsLayout {
		x.log.Warn("search: index layout changed; it is rebuilt from the database", slog.String("from", layout), slog.String("to", ftsLayout))
	}
	return x.loadShards()
}

// dropAll empties an index of another layout.
func (x *FTSIndex) dropAll() error {
	stmts := []string{`DROP TABLE IF EXISTS fts`, `DROP TABLE IF EXISTS docs`}
	if err := x.loadShards(); err != nil {
		return err
	}
	for tenant, spans := range x.shards {
		for _, s := range spans {
			stmts = append(stmts, `DROP TABLE IF EXISTS `+shard{tenant, s}.table())
		}
	}
	stmts = append(stmts, `DELETE FROM shards`)
	for _, s := range stmts {
		if _, err := x.db.Exec(s); err != nil {
			return fmt.Errorf("search: drop old index: %w", err)
		}
	}
	x.shards = map[int64][]int64{}
	return nil
}

func (x *FTSIndex) loadShards() error {
	rows, err := x.db.Query(`SELECT tenant, span FROM shards ORDER BY tenant, span`)
	if err != nil {
		return fmt.Errorf("search: list shards: %w", err)
	}
	defer rows.Close()
	out := map[int64][]int64{}
	for rows.Next() {
		var s shard
		if err := rows.Scan(&s.tenant, &s.span); err != nil {
			return fmt.Errorf("search: list shards: %w", err)
		}
		out[s.tenant] = append(out[s.tenant], s.span)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search: list shards: %w", err)
	}
	x.mu.Lock()
	x.shards = out
	x.mu.Unlock()
	return nil
}

// shardStatements create shard s.
func shardStatements(s shard) []string {
	t := s.table()
	stmts := []string{
		`CREATE VIRTUAL TABLE IF NOT EXISTS ` + t + ` USING fts5(` + strings.Join(ftsColumns, ", ") +
			`, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0')`,
		fmt.Sprintf(`INSERT OR IGNORE INTO shards (tenant, span) VALUES (%d, %d)`, s.tenant, s.span),
	}
	for _, c := range ftsTuning {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO %s (%s, rank) VALUES ('%s', %d)`, t, t, c.key, c.value))
	}
	return stmts
}

// addShards records shards created by a committed write.
func (x *FTSIndex) addShards(created []shard) {
	if len(created) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range created {
		spans := x.shards[s.tenant]
		if i, found := slices.BinarySearch(spans, s.span); !found {
			x.shards[s.tenant] = slices.Insert(spans, i, s.span)
		}
	}
}

// shardsIn lists the tenant's shards that can hold keys in [lo, hi),
// oldest first.
func (x *FTSIndex) shardsIn(tenant, lo, hi int64) []shard {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []shard
	for _, span := range x.shards[tenant] {
		s := shard{tenant, span}
		if l, h := s.keyRange(); h > lo && l < hi {
			out = append(out, s)
		}
	}
	return out
}

func (x *FTSIndex) hasShard(s shard) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, found := slices.BinarySearch(x.shards[s.tenant], s.span)
	return found
}

// Close closes the index.
func (x *FTSIndex) Close() error {
	err := x.db.Close()
	x.codec.close()
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

// tagLike reports whether a token that begins with tok could be one of the
// addr or tags columns' tokens: a letter of tagTenant … tagLabel or of the
// address roles followed by hex digits (ids are decimal, a subset), or a
// prefix of tagAttachment or of "none0" (ftsNone). Query words that cannot
// be need no column filter to keep them out of those columns; FTS5 checks
// a filter on every row, so leaving it out is cheaper (fts_query.go).
func tagLike(tok string) bool {
	if tok == "" || strings.HasPrefix(tagAttachment, tok) || strings.HasPrefix("none0", tok) {
		return true
	}
	if !strings.ContainsRune("tmcaklfb", rune(tok[0])) {
		return false
	}
	for i := 1; i < len(tok); i++ {
		if c := tok[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

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
	return sqlCount(ctx, x.db, `SELECT count(*) FROM docs WHERE `+where, args...)
}

// Hashes maps the tenant's document ids to their content hashes.
func (x *FTSIndex) Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	where, args := scopeSQL(tenantID, mailboxID)
	return sqlHashes(ctx, x.db, `SELECT id, hash FROM docs WHERE `+where, args...)
}
