package models_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
)

// pageWrites is a varied page: participants, attachments, labels, raw
// bytes, warnings, a decode error, empty and non-UTF-8-looking values,
// threads shared between messages, and a Gmail history id above int32.
func pageWrites(page int) []models.MessageWrite {
	var ws []models.MessageWrite
	for i := range 7 {
		gid := fmt.Sprintf("m%02d", page*4+i) // pages overlap by three messages
		w := models.MessageWrite{
			Message: models.Message{
				GmailID: gid, GmailThreadID: fmt.Sprintf("t%d", (page*4+i)%3), RFCMessageID: "<" + gid + "@x.example>",
				InReplyTo: "<parent@x.example>", Subject: fmt.Sprintf("Grüße %d/%d", page, i),
				Date:         time.Date(2026, 1, 2+i, 3, 4, 5, 6000, time.UTC),
				InternalDate: time.Date(2026, 1, 2+i, 3, 4, 5, 0, time.UTC),
				Snippet:      "snip " + gid, Size: int64(1000*i + page), Text: fmt.Sprintf("text %d", page),
				HTML: "<p>" + gid + "</p>", HistoryID: 1<<40 + uint64(page), Bulk: i%2 == 0,
			},
			LabelIDs: []string{"INBOX", fmt.Sprintf("Label_%d", page), "UNREAD"}[:1+(i+page)%3],
			Participants: models.Participants{
				From: []models.NameAddr{{Name: "Ann Ö", Address: "Ann@Acme.example"}},
				To:   []models.NameAddr{{Address: "me@own.example"}, {Name: "Bob", Address: fmt.Sprintf("bob%d@globex.example", page)}},
			},
		}
		switch i {
		case 1:
			w.Message.Warnings = models.StringList{"charset mislabelled", fmt.Sprintf("page %d", page)}
			w.Raw = []byte("raw bytes of " + gid)
		case 2:
			w.Message.DecodeError = "not MIME"
			w.Raw = []byte{0xff, 0xfe, byte(page)}
			w.Participants = models.Participants{}
		case 3:
			w.Participants.Cc = []models.NameAddr{{Name: "Cé", Address: "ce@initech.example"}}
			w.Participants.Bcc = []models.NameAddr{{Address: "hidden@umbrella.example"}}
			w.Attachments = []models.Attachment{
				{PartID: "2", Filename: fmt.Sprintf("report-%d.pdf", page), ContentType: "application/pdf", Size: 12345},
				{PartID: "3", Filename: "logo.png", ContentType: "image/png", ContentID: "<logo>", Size: 77, Inline: true},
			}
		case 4:
			w.Message.Date = time.Time{} // no usable Date header
			w.Message.GmailThreadID = ""
		}
		ws = append(ws, w)
	}
	return ws
}

// mailboxRows renders what is stored for a mailbox, table by table, with
// database ids replaced by Gmail ids so that two mailboxes compare.
func mailboxRows(t *testing.T, s *models.Store, mailboxID int64) map[string][]string {
	t.Helper()
	queries := map[string]string{
		"messages": `SELECT (to_jsonb(m) - 'id' - 'mailbox_id' - 'created_at' - 'updated_at')::text FROM messages m
			WHERE mailbox_id = ? ORDER BY gmail_id`,
		"labels": `SELECT m.gmail_id || ' ' || l.label_id || ' ' || l.tenant_id FROM message_labels l JOIN messages m ON m.id = l.message_id
			WHERE m.mailbox_id = ? ORDER BY 1`,
		"addresses": `SELECT m.gmail_id || ' ' || (to_jsonb(a) - 'message_id')::text FROM message_addresses a JOIN messages m ON m.id = a.message_id
			WHERE m.mailbox_id = ? ORDER BY 1`,
		"attachments": `SELECT m.gmail_id || ' ' || (to_jsonb(a) - 'id' - 'message_id')::text FROM attachments a JOIN messages m ON m.id = a.message_id
			WHERE m.mailbox_id = ? ORDER BY 1`,
		"threads": `SELECT (to_jsonb(t) - 'id' - 'mailbox_id')::text FROM threads t WHERE mailbox_id = ? ORDER BY gmail_thread_id`,
		"raw":     `SELECT gmail_id || ' ' || encode(data, 'hex') || ' ' || tenant_id FROM raw_messages WHERE mailbox_id = ? ORDER BY gmail_id`,
		"search marks": `SELECT m.gmail_id || ' ' || o.tenant_id FROM search_outbox o JOIN messages m ON m.id = o.message_id
			WHERE m.mailbox_id = ? ORDER BY 1`,
	}
	out := map[string][]string{}
	for name, q := range queries {
		var rows []string
		if err := models.DBForTest(s).Raw(q, mailboxID).Scan(&rows).Error; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(rows) == 0 {
			t.Fatalf("%s: nothing stored, the comparison would prove nothing", name)
		}
		out[name] = rows
	}
	return out
}

// Postgres stores pages with arrays and fixed statements (pgpage.go);
// what it stores, and what UpsertMessages returns, must be exactly what
// the gorm statements SQLite uses store on the same server — on first
// write and when overlapping pages rewrite messages with new labels,
// participants and attachments.
func TestPostgresPageWritesMatchGormWrites(t *testing.T) {
	if testenv.PostgresURL(t) == "" {
		t.Skip("TIDINGS_TEST_DATABASE_URL not set")
	}
	ctx := context.Background()
	s := testenv.OpenPostgres(t)
	tid := newTenant(t, s, "pages@own.example")
	var mailboxes [2]int64
	var returned [2][][]models.Message
	for k, gormPages := range []bool{false, true} {
		mb := &models.Mailbox{Email: fmt.Sprintf("me%d@own.example", k)}
		if err := s.CreateMailbox(ctx, tid, mb); err != nil {
			t.Fatal(err)
		}
		mailboxes[k] = mb.ID
		models.SetGormPagesForTest(s, gormPages)
		for page := range 3 {
			msgs, err := s.UpsertMessages(ctx, tid, mb.ID, pageWrites(page))
			if err != nil {
				t.Fatalf("gorm pages %v, page %d: %v", gormPages, page, err)
			}
			for i := range msgs {
				if msgs[i].ID == 0 {
					t.Fatalf("gorm pages %v: message %s returned without its id", gormPages, msgs[i].GmailID)
				}
				msgs[i].ID, msgs[i].MailboxID, msgs[i].CreatedAt, msgs[i].UpdatedAt = 0, 0, time.Time{}, time.Time{}
				for j := range msgs[i].Labels {
					msgs[i].Labels[j].MessageID = 0
				}
			}
			returned[k] = append(returned[k], msgs)
		}
	}
	models.SetGormPagesForTest(s, false)
	if !reflect.DeepEqual(returned[0], returned[1]) {
		t.Errorf("UpsertMessages returned different messages:\narrays %+v\ngorm   %+v", returned[0], returned[1])
	}
	arrays, gormRows := mailboxRows(t, s, mailboxes[0]), mailboxRows(t, s, mailboxes[1])
	for table := range gormRows {
		if !reflect.DeepEqual(arrays[table], gormRows[table]) {
			t.Errorf("%s differ:\narrays %q\ngorm   %q", table, arrays[table], gormRows[table])
		}
	}
	if n := len(gormRows["messages"]); n != 15 {
		t.Errorf("%d messages stored, want 15 (three pages of 7 overlapping by 3)", n)
	}
}
