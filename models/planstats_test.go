package models_test

import (
	"context"
	"fmt"
	"testing"

	"tidings/internal/testenv"
	"tidings/models"
)

// postgresMailbox opens a fresh Postgres schema with one mailbox.
func postgresMailbox(t *testing.T) (*models.Store, int64, int64) {
	t.Helper()
	s := testenv.OpenPostgres(t)
	tid := newTenant(t, s, "plan@own.example")
	mb := &models.Mailbox{Email: "me@own.example"}
	if err := s.CreateMailbox(context.Background(), tid, mb); err != nil {
		t.Fatal(err)
	}
	return s, tid, mb.ID
}

// A page stored in one transaction marks each message once in the search
// outbox, however many of its tables it writes; a later transaction
// bumps the mark again, so the indexer still sees every committed change.
func TestSearchOutboxMarkedOncePerTransaction(t *testing.T) {
	s, tid, mb := postgresMailbox(t)
	ctx := context.Background()
	db := models.DBForTest(s)
	versions := func() map[int64]int64 {
		t.Helper()
		var rows []struct{ MessageID, Version int64 }
		if err := db.Raw(`SELECT message_id, version FROM search_outbox ORDER BY message_id`).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		out := map[int64]int64{}
		for _, r := range rows {
			out[r.MessageID] = r.Version
		}
		return out
	}
	page := []models.MessageWrite{
		sampleWrite("o1", "t1", "INBOX", "UNREAD"),
		sampleWrite("o2", "t1", "INBOX"),
		sampleWrite("o3", "t2", "SENT"),
	}
	stored, err := s.UpsertMessages(ctx, tid, mb, page)
	if err != nil {
		t.Fatal(err)
	}
	first := versions()
	if len(first) != len(stored) {
		t.Fatalf("outbox has %d marks for %d messages: %v", len(first), len(stored), first)
	}
	for _, m := range stored {
		if first[m.ID] != 1 {
			t.Errorf("message %s: version %d after one transaction, want 1", m.GmailID, first[m.ID])
		}
	}
	if _, err := s.UpsertMessages(ctx, tid, mb, page[:2]); err != nil {
		t.Fatal(err)
	}
	second := versions()
	for _, m := range stored {
		want := int64(1)
		if m.GmailID != "o3" {
			want = 2
		}
		if second[m.ID] != want {
			t.Errorf("message %s: version %d after a second transaction, want %d", m.GmailID, second[m.ID], want)
		}
	}
}

// Tables filled faster than autovacuum looks at them are analyzed by the
// store itself, so their plans are made from real statistics.
func TestFastGrowingTablesAreAnalyzed(t *testing.T) {
	s, tid, mb := postgresMailbox(t)
	ctx := context.Background()
	db := models.DBForTest(s)
	analyzed := func(table string) (count int64, tuples float64) {
		t.Helper()
		row := db.Raw(`SELECT st.analyze_count, c.reltuples FROM pg_stat_user_tables st
			JOIN pg_class c ON c.oid = st.relid WHERE st.relid = to_regclass(?)`, table).Row()
		if err := row.Scan(&count, &tuples); err != nil {
			t.Fatalf("statistics of %s: %v", table, err)
		}
		return count, tuples
	}
	if n, _ := analyzed("messages"); n != 0 {
		t.Fatalf("a new schema's messages table was analyzed %d times", n)
	}
	const total = 2 * models.PlanCheckEvery
	for start := 0; start < total; start += 250 {
		page := make([]models.MessageWrite, 0, 250)
		for i := start; i < start+250; i++ {
			page = append(page, sampleWrite(fmt.Sprintf("p%05d", i), fmt.Sprintf("t%d", i/3), "INBOX"))
		}
		if _, err := s.UpsertMessages(ctx, tid, mb, page); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"messages", "message_labels", "message_addresses", "threads"} {
		n, tuples := analyzed(table)
		if n == 0 || tuples <= 0 {
			t.Errorf("%s after %d messages: analyzed %d times, %v tuples in the statistics", table, total, n, tuples)
		}
	}
	// The columns lookups use have statistics; bodies and display
	// headers, which no plan uses, are not sampled (migration 0016).
	var cols []string
	if err := db.Raw(`SELECT attname FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'messages'
		ORDER BY attname`).Scan(&cols).Error; err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[c] = true
	}
	for _, c := range []string{"mailbox_id", "gmail_id", "gmail_thread_id", "date", "from_address", "rfc_message_id"} {
		if !have[c] {
			t.Errorf("messages.%s has no statistics after ANALYZE (have %v)", c, cols)
		}
	}
	for _, c := range []string{"text", "html", "subject", "snippet", "to"} {
		if have[c] {
			t.Errorf("ANALYZE sampled messages.%s, a body or display column no plan uses", c)
		}
	}
}
