package models

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"gorm.io/gorm"
)

// A page of a full sync (a few hundred messages) used to reach Postgres as
// multi-row INSERT ... VALUES statements built by gorm: one bind parameter
// per column per row, 5,000 and more per statement, and a statement text
// that changed with the page's size. The server parsed, analyzed and
// planned each one anew and copied expression lists of that length
// (parse, plan and executor start-up were about a fifth of its CPU in a
// 20,000-message sync), and gorm spent a tenth of tidings' CPU building
// them. Here a table's rows travel as one array per column, expanded by
// unnest(): the statement text is fixed, so pgx prepares it once per
// connection, and the arrays go in pgx's binary format. SQLite keeps the
// gorm statements (it has no arrays, and its statements are cheap to
// prepare).

// pgArray is v as a one-dimensional Postgres array parameter. (gorm would
// expand a plain slice into a list of parameters.)
func pgArray[T any](v []T) pgtype.Array[T] {
	a := pgtype.Array[T]{Elements: v, Valid: true}
	if len(v) > 0 {
		a.Dims = []pgtype.ArrayDimension{{Length: int32(len(v)), LowerBound: 1}}
	}
	return a
}

// pgMessageInsert lists the columns a page upsert writes, in the order of
// its arrays; pgUpsertMessagesSQL is built from it and messageColumns.
var pgMessageInsert = []struct{ col, typ string }{
	{"gmail_id", "text"}, {"gmail_thread_id", "text"}, {"rfc_message_id", "text"}, {"in_reply_to", "text"},
	{"subject", "text"}, {`"from"`, "text"}, {"from_address", "text"}, {`"to"`, "text"}, {"cc", "text"},
	{"bcc", "text"}, {"date", "timestamptz"}, {"internal_date", "timestamptz"}, {"snippet", "text"},
	{"size", "bigint"}, {"text", "text"}, {"html", "text"}, {"warnings", "text"}, {"decode_error", "text"},
	{"raw_ref", "text"}, {"bulk", "boolean"}, {"has_attachments", "boolean"}, {"history_id", "bigint"},
}

// pgUpsertMessagesSQL upserts a page of messages by (mailbox, Gmail id)
// and returns every row's id: ON CONFLICT DO UPDATE returns updated rows
// too, so no second lookup is needed.
var pgUpsertMessagesSQL = func() string {
	cols := make([]string, len(pgMessageInsert))
	arrays := make([]string, len(pgMessageInsert))
	for i, c := range pgMessageInsert {
		cols[i] = c.col
		arrays[i] = "?::" + c.typ + "[]"
	}
	set := make([]string, len(messageColumns))
	for i, c := range messageColumns {
		set[i] = fmt.Sprintf("%q = excluded.%q", c, c)
	}
	return "INSERT INTO messages (tenant_id, mailbox_id, " + strings.Join(cols, ", ") + ", created_at, updated_at) " +
		"SELECT ?::bigint, ?::bigint, u.*, ?::timestamptz, ?::timestamptz FROM unnest(" + strings.Join(arrays, ", ") + ") AS u " +
		"ON CONFLICT (mailbox_id, gmail_id) DO UPDATE SET " + strings.Join(set, ", ") +
		" RETURNING id, gmail_id"
}()

// pgUpsertMessages stores msgs (rows of one mailbox, distinct Gmail ids)
// and returns their database ids by Gmail id.
func pgUpsertMessages(tx *gorm.DB, tenantID, mailboxID int64, msgs []Message) (map[string]int64, error) {
	n := len(msgs)
	var (
		strs  = make([][]string, 0, 17)
		times = [2][]time.Time{make([]time.Time, n), make([]time.Time, n)}
		sizes = make([]int64, n)
		hist  = make([]int64, n)
		bulk  = make([]bool, n)
		atts  = make([]bool, n)
	)
	col := func() []string {
		s := make([]string, n)
		strs = append(strs, s)
		return s
	}
	gid, thread, rfc, reply, subject, from, fromAddr, to, cc, bcc := col(), col(), col(), col(), col(), col(), col(), col(), col(), col()
	snippet, text, html, warnings, decodeErr, rawRef := col(), col(), col(), col(), col(), col()
	for i := range msgs {
		m := &msgs[i]
		gid[i], thread[i], rfc[i], reply[i], subject[i] = m.GmailID, m.GmailThreadID, m.RFCMessageID, m.InReplyTo, m.Subject
		from[i], fromAddr[i], snippet[i], text[i], html[i] = m.From, m.FromAddress, m.Snippet, m.Text, m.HTML
		decodeErr[i], rawRef[i] = m.DecodeError, m.RawRef
		for _, l := range []struct {
			dst  []string
			list StringList
		}{{to, m.To}, {cc, m.Cc}, {bcc, m.Bcc}, {warnings, m.Warnings}} {
			v, err := l.list.Value()
			if err != nil {
				return nil, err
			}
			l.dst[i] = v.(string)
		}
		times[0][i], times[1][i] = m.Date, m.InternalDate
		if m.HistoryID > math.MaxInt64 { // a bigint column, as with gorm's statements
			return nil, fmt.Errorf("models: message %s: history id %d does not fit a bigint", m.GmailID, m.HistoryID)
		}
		sizes[i], hist[i] = m.Size, int64(m.HistoryID)
		bulk[i], atts[i] = m.Bulk, m.HasAttachments
	}
	now := time.Now().UTC()
	// Tenant, mailbox, created_at and updated_at, then the arrays.
	args := []any{tenantID, mailboxID, now, now,
		pgArray(gid), pgArray(thread), pgArray(rfc), pgArray(reply), pgArray(subject), pgArray(from),
		pgArray(fromAddr), pgArray(to), pgArray(cc), pgArray(bcc), pgArray(times[0]), pgArray(times[1]),
		pgArray(snippet), pgArray(sizes), pgArray(text), pgArray(html), pgArray(warnings), pgArray(decodeErr),
		pgArray(rawRef), pgArray(bulk), pgArray(atts), pgArray(hist)}
	// Rows, not Scan: gorm's Scan renders the statement with its
	// arguments (the page's bodies) for its trace recorder whether or not
	// anything logs it.
	rows, err := tx.Raw(pgUpsertMessagesSQL, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("models: upsert messages: %w", err)
	}
	defer rows.Close()
	ids := make(map[string]int64, n)
	for rows.Next() {
		var (
			id  int64
			gid string
		)
		if err := rows.Scan(&id, &gid); err != nil {
			return nil, fmt.Errorf("models: upsert messages: %w", err)
		}
		ids[gid] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("models: upsert messages: %w", err)
	}
	return ids, nil
}

// pgWriteDependentRows is writeDependentRows with one statement per table
// and arrays for parameters; raw bytes (rare: only messages that needed
// repair) still go through gorm.
func pgWriteDependentRows(tx *gorm.DB, tenantID, mailboxID int64, rows pageRows) error {
	if err := tx.Exec(`DELETE FROM message_labels WHERE +tenant_id = ? AND message_id = ANY (?::bigint[])`,
		tenantID, pgArray(rows.ids)).Error; err != nil {
		return fmt.Errorf("models: clear labels: %w", err)
	}
	if len(rows.labels) > 0 {
		mids, lids := make([]int64, len(rows.labels)), make([]string, len(rows.labels))
		for i, l := range rows.labels {
			mids[i], lids[i] = l.MessageID, l.LabelID
		}
		if err := tx.Exec(`INSERT INTO message_labels (tenant_id, message_id, label_id)
			SELECT ?::bigint, u.* FROM unnest(?::bigint[], ?::text[]) AS u`, tenantID, pgArray(mids), pgArray(lids)).Error; err != nil {
			return fmt.Errorf("models: store labels: %w", err)
		}
	}
	if err := pgStoreAddresses(tx, tenantID, rows.addrs); err != nil {
		return err
	}
	if err := pgStoreAttachments(tx, tenantID, rows.atts); err != nil {
		return err
	}
	if len(rows.raws) > 0 {
		if err := tx.Clauses(upsertOn([]string{"mailbox_id", "gmail_id"}, []string{"data"})).Create(&rows.raws).Error; err != nil {
			return fmt.Errorf("models: store raw messages: %w", err)
		}
	}
	return pgRefreshThreads(tx, tenantID, mailboxID, rows.threads)
}

func pgStoreAddresses(tx *gorm.DB, tenantID int64, addrs []MessageAddress) error {
	if len(addrs) == 0 {
		return nil
	}
	n := len(addrs)
	mids := make([]int64, n)
	role, addr, domain, name := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, a := range addrs {
		mids[i], role[i], addr[i], domain[i], name[i] = a.MessageID, a.Role, a.Address, a.Domain, a.Name
	}
	err := tx.Exec(`INSERT INTO message_addresses (tenant_id, message_id, role, address, domain, name)
		SELECT ?::bigint, u.* FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[]) AS u
		ON CONFLICT (message_id, role, address) DO NOTHING`,
		tenantID, pgArray(mids), pgArray(role), pgArray(addr), pgArray(domain), pgArray(name)).Error
	if err != nil {
		return fmt.Errorf("models: store addresses: %w", err)
	}
	return nil
}

func pgStoreAttachments(tx *gorm.DB, tenantID int64, atts []Attachment) error {
	if len(atts) == 0 {
		return nil
	}
	n := len(atts)
	mids, sizes, inline := make([]int64, n), make([]int64, n), make([]bool, n)
	part, file, ctype, cid := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, a := range atts {
		mids[i], part[i], file[i], ctype[i], cid[i], sizes[i], inline[i] = a.MessageID, a.PartID, a.Filename, a.ContentType, a.ContentID, a.Size, a.Inline
	}
	err := tx.Exec(`INSERT INTO attachments (tenant_id, message_id, part_id, filename, content_type, content_id, size, inline)
		SELECT ?::bigint, u.* FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::boolean[]) AS u
		ON CONFLICT (message_id, part_id) DO UPDATE SET filename = excluded.filename, content_type = excluded.content_type,
			content_id = excluded.content_id, size = excluded.size, inline = excluded.inline`,
		tenantID, pgArray(mids), pgArray(part), pgArray(file), pgArray(ctype), pgArray(cid), pgArray(sizes), pgArray(inline)).Error
	if err != nil {
		return fmt.Errorf("models: store attachments: %w", err)
	}
	return nil
}

// pgRefreshThreads is refreshThreads in one statement: each touched
// thread is inserted with its counters already counted from its messages
// (the page's are written by now), or, when it exists, gets them
// recounted; a new thread is thus written once, not inserted and then
// updated. Every thread here has at least one message (the page's), so
// none becomes empty.
func pgRefreshThreads(tx *gorm.DB, tenantID, mailboxID int64, threads map[string]Thread) error {
	if len(threads) == 0 {
		return nil
	}
	keys, subjects, last := make([]string, 0, len(threads)), make([]string, 0, len(threads)), make([]time.Time, 0, len(threads))
	for k, t := range threads {
		keys, subjects, last = append(keys, k), append(subjects, t.Subject), append(last, t.LastMessageAt)
	}
	err := tx.Exec(`INSERT INTO threads (tenant_id, mailbox_id, gmail_thread_id, subject, last_message_at, message_count)
		SELECT ?::bigint, ?::bigint, u.t, u.s, COALESCE(c.last, u.d), c.n
		FROM unnest(?::text[], ?::text[], ?::timestamptz[]) AS u(t, s, d)
		CROSS JOIN LATERAL (SELECT COUNT(*) AS n, MAX(m.date) AS last FROM messages m
			WHERE m.mailbox_id = ?::bigint AND m.gmail_thread_id = u.t) c
		ON CONFLICT (mailbox_id, gmail_thread_id) DO UPDATE SET
			message_count = excluded.message_count,
			last_message_at = COALESCE(excluded.last_message_at, threads.last_message_at)`,
		tenantID, mailboxID, pgArray(keys), pgArray(subjects), pgArray(last), mailboxID).Error
	if err != nil {
		return fmt.Errorf("models: upsert threads: %w", err)
	}
	return nil
}
