package models_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"tidings/internal/testenv"
	"tidings/models"
)

// releaseVersion is the schema version of the release before foreign keys
// and the fenced lease (migrations 1-3).
const releaseVersion = 3

// TestUpgradeFromRelease builds the database the previous release left
// (migrations 1-3, rows from testdata/release-0003.sql including orphans),
// migrates it to this build's schema, and checks that every row with a
// parent survived unchanged, orphans are gone, ids are never reused, and
// the new foreign keys cascade.
func TestUpgradeFromRelease(t *testing.T) {
	fixture, err := os.ReadFile("testdata/release-0003.sql")
	if err != nil {
		t.Fatal(err)
	}
	engines := map[models.Engine]func(testing.TB) *gorm.DB{models.SQLite: testenv.EmptySQLite}
	if testenv.PostgresURL(t) != "" {
		engines[models.Postgres] = testenv.EmptyPostgres
	}
	for engine, open := range engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			if err := models.MigrateToForTest(db, engine, releaseVersion); err != nil {
				t.Fatal(err)
			}
			if err := db.Exec(string(fixture)).Error; err != nil {
				t.Fatalf("load fixture: %v", err)
			}
			if engine == models.Postgres {
				// Explicit ids bypass bigserial; a real release's sequences
				// stand past every id it handed out (5 was deleted).
				for table, next := range map[string]int{
					"tenants": 1, "users": 1, "memberships": 2, "api_tokens": 1, "accounts": 1, "contacts": 2, "mailboxes": 1,
					"threads": 2, "labels": 2, "messages": 5, "attachments": 2, "cases": 2,
				} {
					if err := db.Exec("SELECT setval(pg_get_serial_sequence(?, 'id'), ?)", table, next).Error; err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := models.Migrate(ctx, db, engine); err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			if v, err := models.CurrentVersion(ctx, db); err != nil || v != models.SchemaVersion() {
				t.Fatalf("version after upgrade = %d, %v; want %d", v, err, models.SchemaVersion())
			}
			count := func(sql string) int64 {
				t.Helper()
				var n int64
				if err := db.Raw(sql).Scan(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			want := map[string]int64{
				"SELECT COUNT(*) FROM memberships":                                  1,
				"SELECT COUNT(*) FROM api_tokens":                                   1,
				"SELECT COUNT(*) FROM account_domains":                              1,
				"SELECT COUNT(*) FROM contacts":                                     2,
				"SELECT COUNT(*) FROM contacts WHERE id = 2 AND account_id IS NULL": 1,
				"SELECT COUNT(*) FROM contact_emails":                               1,
				"SELECT COUNT(*) FROM threads":                                      1,
				"SELECT COUNT(*) FROM labels":                                       1,
				"SELECT COUNT(*) FROM messages":                                     2,
				"SELECT COUNT(*) FROM message_labels":                               3,
				"SELECT COUNT(*) FROM message_addresses":                            1,
				"SELECT COUNT(*) FROM attachments":                                  1,
				"SELECT COUNT(*) FROM raw_messages":                                 1,
				"SELECT COUNT(*) FROM cases":                                        2,
				"SELECT COUNT(*) FROM cases WHERE id = 2 AND assignee_id IS NULL AND account_id IS NULL AND contact_id IS NULL": 1,
				"SELECT COUNT(*) FROM case_messages": 1,
			}
			for q, n := range want {
				if got := count(q); got != n {
					t.Errorf("%s = %d, want %d", q, got, n)
				}
			}

			store := models.NewStore(db, engine, testenv.Cipher(t))
			msg, err := store.GetMessage(ctx, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Subject != "Hello" || msg.HTML != "<p>Hi there</p>" || len(msg.To) != 1 || !msg.HasAttachments || len(msg.Labels) != 2 || len(msg.Attachments) != 1 {
				t.Errorf("message 1 after upgrade: %+v", msg)
			}
			mb, err := store.GetMailbox(ctx, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if mb.HistoryID != 42 || mb.SyncState != models.SyncFull || mb.Resyncs != 1 || mb.LeaseOwner != "" || mb.LeaseGeneration != 0 {
				t.Errorf("mailbox after upgrade: %+v", mb)
			}
			c, err := store.GetCase(ctx, 1, 1)
			if err != nil || c.Subject != "Renewal" || c.AccountID == nil || *c.AccountID != 1 || c.ContactID == nil || *c.ContactID != 1 {
				t.Errorf("case after upgrade: %+v, %v", c, err)
			}
			// Ids stay unique: message 5 existed once, so a new message
			// gets a larger id.
			stored, err := store.UpsertMessages(ctx, 1, 1, []models.MessageWrite{sampleWrite("g6", "t1", "INBOX")})
			if err != nil {
				t.Fatal(err)
			}
			if stored[0].ID <= 5 {
				t.Errorf("new message got id %d, an id the release already used", stored[0].ID)
			}
			// The foreign keys cascade: disconnecting the mailbox leaves
			// nothing of it, and deleting the account unlinks the case.
			if err := store.DeleteAccount(ctx, 1, 1); err != nil {
				t.Fatal(err)
			}
			if c, err := store.GetCase(ctx, 1, 1); err != nil || c.AccountID != nil {
				t.Errorf("case after its account was deleted: %+v, %v", c, err)
			}
			if _, err := store.DeleteMailbox(ctx, 1, 1); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"messages", "threads", "labels", "raw_messages", "message_labels", "message_addresses", "attachments", "case_messages", "account_domains"} {
				if n := count("SELECT COUNT(*) FROM " + table); n != 0 {
					t.Errorf("%d rows left in %s", n, table)
				}
			}
		})
	}
}

// TestMigrationsKeepIndexesAndTriggers: on SQLite, adding foreign keys
// rebuilds tables (the foreign_keys migration), and a rebuilt table loses its indexes
// and triggers unless the migration recreates them. Every index and
// trigger an earlier migration made must still exist at the end, unless a
// later migration drops it by name.
func TestMigrationsKeepIndexesAndTriggers(t *testing.T) {
	ctx := context.Background()
	db := testenv.EmptySQLite(t)
	names := func() map[string]bool {
		t.Helper()
		var rows []string
		if err := db.Raw("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger') AND name NOT LIKE 'sqlite_autoindex_%'").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, n := range rows {
			out[n] = true
		}
		return out
	}
	seen := map[string]bool{}
	for v := 1; v <= models.SchemaVersion(); v++ {
		if err := models.MigrateToForTest(db, models.SQLite, v); err != nil {
			t.Fatal(err)
		}
		now := names()
		sql := strings.ToLower(models.MigrationSQLForTest(v, models.SQLite))
		for n := range seen {
			dropped := strings.Contains(sql, "drop index if exists "+strings.ToLower(n)) || strings.Contains(sql, "drop index "+strings.ToLower(n)) ||
				strings.Contains(sql, "drop trigger if exists "+strings.ToLower(n)) || strings.Contains(sql, "drop trigger "+strings.ToLower(n))
			if !now[n] && !dropped {
				t.Errorf("migration %d lost %s (made by an earlier migration)", v, n)
			}
			if dropped {
				delete(seen, n)
			}
		}
		for n := range now {
			seen[n] = true
		}
	}
	if _, err := models.Migrate(ctx, db, models.SQLite); err != nil {
		t.Fatal(err)
	}
}

// TestSessionsAndInvitationsCascade: sessions and invitations belong to
// their user and organization; deleting either removes them, and an
// invitation accepted by a deleted user keeps its record.
func TestSessionsAndInvitationsCascade(t *testing.T) {
	stores := map[string]func(testing.TB) *models.Store{"sqlite": testenv.OpenSQLite}
	if testenv.PostgresURL(t) != "" {
		stores["postgres"] = testenv.OpenPostgres
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			db := models.DBForTest(store)
			now := time.Now().UTC()
			tenant, admin, _, err := store.CreateOrganization(ctx, "Acme", "admin@acme.example", "Ada", "a long enough password")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := store.CreateSession(ctx, admin.ID, tenant.ID, time.Hour, "test", "127.0.0.1", now); err != nil {
				t.Fatal(err)
			}
			if _, _, err := store.CreateInvitation(ctx, tenant.ID, admin.ID, "bob@acme.example", models.RoleMember, now); err != nil {
				t.Fatal(err)
			}
			count := func(table string) int64 {
				t.Helper()
				var n int64
				if err := db.Table(table).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			if count("sessions") != 1 || count("invitations") != 1 {
				t.Fatalf("before: %d sessions, %d invitations", count("sessions"), count("invitations"))
			}
			if err := db.Exec("DELETE FROM users WHERE id = ?", admin.ID).Error; err != nil {
				t.Fatal(err)
			}
			if n := count("sessions"); n != 0 {
				t.Errorf("%d sessions left after their user was deleted", n)
			}
			if n := count("invitations"); n != 0 {
				t.Errorf("%d invitations left after their inviter was deleted", n)
			}
			if err := db.Exec("INSERT INTO sessions (token_hash, user_id, tenant_id, csrf, expires_at) VALUES (?, ?, ?, 'x', ?)", []byte("h"), admin.ID, tenant.ID, now).Error; err == nil {
				t.Error("a session of a deleted user was stored")
			}
		})
	}
}
