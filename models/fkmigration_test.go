package models

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The SQLite half of the foreign-key migration rebuilds tables (SQLite
// cannot add a constraint to an existing table), so its text must repeat
// the schema as the migrations before it left it: every column, default,
// index and trigger of each rebuilt table. It is therefore derived, not
// hand-written: TestForeignKeyMigrationMatchesSchema builds the schema at
// the version before the migration, renders the rebuild from sqlite_master
// and compares it with the file. When a migration lands before it (the
// file is renumbered to the next free number), rerun with
//
//	TIDINGS_WRITE_FK_MIGRATION=1 go test -run TestForeignKeyMigrationMatchesSchema ./models
//
// to write the file anew. The generator lives in a test so it never ships.

// fkRef is one foreign key of a rebuilt table.
type fkRef struct {
	column, parent string
	setNull        bool // ON DELETE SET NULL (an optional link) instead of CASCADE
}

// fkTables lists the rebuilt tables, parents before children: a table is
// dropped only after every table that refers to it with a foreign key has
// not yet been rebuilt (with foreign_keys on, dropping a referenced table
// would cascade).
var fkTables = []struct {
	table string
	refs  []fkRef
	// add are indexes the migration adds: the foreign key's column not
	// yet leading an index (a parent's delete looks it up).
	add []string
}{
	{"memberships", []fkRef{{column: "tenant_id", parent: "tenants"}, {column: "user_id", parent: "users"}}, []string{"CREATE INDEX `idx_memberships_user_id` ON `memberships`(`user_id`)"}},
	{"api_tokens", []fkRef{{column: "tenant_id", parent: "tenants"}, {column: "user_id", parent: "users"}}, nil},
	{"sessions", []fkRef{{column: "user_id", parent: "users"}, {column: "tenant_id", parent: "tenants"}}, nil},
	{"invitations", []fkRef{{column: "tenant_id", parent: "tenants"}, {column: "invited_by", parent: "users"}, {column: "accepted_by", parent: "users", setNull: true}}, nil},
	{"accounts", []fkRef{{column: "tenant_id", parent: "tenants"}}, nil},
	{"account_domains", []fkRef{{column: "account_id", parent: "accounts"}}, nil},
	{"contacts", []fkRef{{column: "tenant_id", parent: "tenants"}, {column: "account_id", parent: "accounts", setNull: true}}, nil},
	{"contact_emails", []fkRef{{column: "contact_id", parent: "contacts"}}, nil},
	{"mailboxes", []fkRef{{column: "tenant_id", parent: "tenants"}}, nil},
	{"threads", []fkRef{{column: "mailbox_id", parent: "mailboxes"}}, nil},
	{"labels", []fkRef{{column: "mailbox_id", parent: "mailboxes"}}, nil},
	{"raw_messages", []fkRef{{column: "mailbox_id", parent: "mailboxes"}}, nil},
	{"messages", []fkRef{{column: "mailbox_id", parent: "mailboxes"}}, nil},
	{"message_addresses", []fkRef{{column: "message_id", parent: "messages"}}, nil},
	{"message_labels", []fkRef{{column: "message_id", parent: "messages"}}, nil},
	{"attachments", []fkRef{{column: "message_id", parent: "messages"}}, nil},
	{"cases", []fkRef{{column: "tenant_id", parent: "tenants"}, {column: "assignee_id", parent: "users", setNull: true}, {column: "account_id", parent: "accounts", setNull: true}, {column: "contact_id", parent: "contacts", setNull: true}}, nil},
	{"case_messages", []fkRef{{column: "case_id", parent: "cases"}, {column: "message_id", parent: "messages"}}, nil},
}

const fkMigrationHeader = `-- Foreign keys with ON DELETE CASCADE (or SET NULL for optional links)
-- wherever a row belongs to a parent, so that deleting a mailbox, message,
-- contact, account, case, user or organization removes what hangs off it
-- in the same statement and a write that races a delete fails instead of
-- leaving an orphan.
-- Never edit a shipped migration: add a new numbered file instead.

--
-- SQLite cannot add a constraint to an existing table, so each table is
-- rebuilt as https://www.sqlite.org/lang_altertable.html#otheralter
-- describes: create the new table, copy the rows, drop the old one, rename,
-- recreate its indexes. Triggers are dropped before and recreated after
-- all rebuilds (SQLite checks every trigger's body on a rename). Tables
-- are rebuilt parents first, so no table is dropped while a rebuilt one
-- refers to it (with foreign_keys on, dropping a referenced table would
-- cascade). Orphans left by earlier releases are not copied (rows) or have
-- their optional link cleared (SET NULL). AUTOINCREMENT counters carry
-- over, so no id is ever handed out twice. The migration runs in one
-- transaction: a failure keeps the old tables.
--
-- Generated from the schema of the migrations before it by
-- models/fkmigration_test.go (TIDINGS_WRITE_FK_MIGRATION=1); do not edit
-- by hand.
`

var fkMigrationName = regexp.MustCompile(`^(\d{4})_foreign_keys\.sqlite\.sql$`)

// fkMigrationFile finds the SQLite foreign-key migration and its version.
func fkMigrationFile(t *testing.T) (string, int) {
	t.Helper()
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if m := fkMigrationName.FindStringSubmatch(e.Name()); m != nil {
			v, _ := strconv.Atoi(m[1])
			return e.Name(), v
		}
	}
	t.Fatal("no NNNN_foreign_keys.sqlite.sql migration")
	return "", 0
}

func TestForeignKeyMigrationMatchesSchema(t *testing.T) {
	name, version := fkMigrationFile(t)
	db, _, err := Open(context.Background(), OpenOptions{SQLitePath: filepath.Join(t.TempDir(), "fk.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if _, err := migrate(db, SQLite, version-1); err != nil {
		t.Fatal(err)
	}
	type master struct{ Type, Name, TblName, SQL string }
	var rows []master
	if err := db.Raw("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	var triggers []master
	for _, r := range rows {
		if r.Type == "trigger" {
			triggers = append(triggers, r)
		}
	}
	var b strings.Builder
	b.WriteString(fkMigrationHeader)
	if len(triggers) > 0 {
		// A trigger's body may name a table being rebuilt, and SQLite
		// checks every trigger when a table is renamed (the dropped
		// original would be missing then), so all triggers are dropped
		// first and recreated, unchanged, once every table is back.
		b.WriteString("\n")
		for _, tr := range triggers {
			fmt.Fprintf(&b, "DROP TRIGGER %s;\n", tr.Name)
		}
	}
	for _, ft := range fkTables {
		var create string
		var extras []string // indexes in name order
		for _, r := range rows {
			if r.TblName != ft.table {
				continue
			}
			switch r.Type {
			case "table":
				create = r.SQL
			case "index":
				extras = append(extras, r.SQL)
			}
		}
		if create == "" {
			t.Fatalf("table %s does not exist at version %d", ft.table, version-1)
		}
		var cols []string
		if err := db.Raw("SELECT name FROM pragma_table_info(?) ORDER BY cid", ft.table).Scan(&cols).Error; err != nil {
			t.Fatal(err)
		}
		sql, err := rebuildSQL(ft.table, create, cols, ft.refs, append(extras, ft.add...))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(sql)
	}
	if len(triggers) > 0 {
		b.WriteString("\n")
		for _, tr := range triggers {
			b.WriteString(strings.TrimSpace(tr.SQL) + ";\n")
		}
	}
	got := b.String()
	path := filepath.Join("migrations", name)
	if os.Getenv("TIDINGS_WRITE_FK_MIGRATION") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s does not match the schema at version %d; regenerate it with TIDINGS_WRITE_FK_MIGRATION=1 go test -run %s ./models", path, version-1, t.Name())
	}
}

var createTablePrefix = regexp.MustCompile("^CREATE TABLE [`\"]?([a-z_]+)[`\"]? *\\(")

// rebuildSQL renders the rebuild of one table: the table's own CREATE
// statement under a new name plus the foreign keys, the copy of every row
// with a parent, the AUTOINCREMENT counter, the swap, and the table's
// indexes as they were.
func rebuildSQL(table, create string, cols []string, refs []fkRef, extras []string) (string, error) {
	create = strings.TrimSpace(create)
	m := createTablePrefix.FindStringSubmatch(create)
	if m == nil || m[1] != table || !strings.HasSuffix(create, ")") {
		return "", fmt.Errorf("unexpected CREATE TABLE of %s: %s", table, create)
	}
	q := func(s string) string { return "`" + s + "`" }
	newName := table + "__new"
	body := create[len(m[0]) : len(create)-1]
	var fks, where []string
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = q(c)
	}
	for _, r := range refs {
		action := "CASCADE"
		if r.setNull {
			action = "SET NULL"
		}
		fks = append(fks, fmt.Sprintf("FOREIGN KEY (%s) REFERENCES %s(`id`) ON DELETE %s", q(r.column), q(r.parent), action))
		found := false
		for i, c := range cols {
			if c != r.column {
				continue
			}
			found = true
			if r.setNull {
				sel[i] = fmt.Sprintf("CASE WHEN %s IN (SELECT `id` FROM %s) THEN %s END", q(c), q(r.parent), q(c))
			} else {
				where = append(where, fmt.Sprintf("%s IN (SELECT `id` FROM %s)", q(c), q(r.parent)))
			}
		}
		if !found {
			return "", fmt.Errorf("table %s has no column %s", table, r.column)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nCREATE TABLE %s (%s,%s);\n", q(newName), body, strings.Join(fks, ","))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = q(c)
	}
	fmt.Fprintf(&b, "INSERT INTO %s (%s) SELECT %s FROM %s", q(newName), strings.Join(quoted, ","), strings.Join(sel, ","), q(table))
	if len(where) > 0 {
		fmt.Fprintf(&b, " WHERE %s", strings.Join(where, " AND "))
	}
	b.WriteString(";\n")
	if strings.Contains(strings.ToUpper(create), "AUTOINCREMENT") {
		fmt.Fprintf(&b, "INSERT INTO sqlite_sequence (name, seq) SELECT '%[2]s', seq FROM sqlite_sequence WHERE name = '%[1]s' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '%[2]s');\n", table, newName)
		fmt.Fprintf(&b, "UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = '%[1]s') WHERE name = '%[2]s' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = '%[1]s');\n", table, newName)
	}
	fmt.Fprintf(&b, "DROP TABLE %s;\n", q(table))
	fmt.Fprintf(&b, "ALTER TABLE %s RENAME TO %s;\n", q(newName), q(table))
	for _, e := range extras {
		b.WriteString(strings.TrimSpace(e) + ";\n")
	}
	return b.String(), nil
}
