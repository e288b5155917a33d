package models

import (
	"fmt"

	"gorm.io/gorm"
)

// DBForTest exposes the store's handle to the package's external tests.
func DBForTest(s *Store) *gorm.DB { return s.db }

// MigrateToForTest migrates db up to version only, building the schema an
// older release left behind.
func MigrateToForTest(db *gorm.DB, engine Engine, version int) error {
	_, err := migrate(db, engine, version)
	return err
}

// modelTables lists every struct stored in a table of its own.
func modelTables() []any {
	return []any{
		&Tenant{}, &User{}, &Membership{}, &Account{}, &AccountDomain{},
		&Contact{}, &ContactEmail{}, &Case{}, &CaseMessage{}, &Mailbox{},
		&Thread{}, &Message{}, &RawMessage{}, &MessageAddress{}, &Label{},
		&MessageLabel{}, &Attachment{}, &APIToken{}, &Session{}, &Invitation{}, &SearchOutbox{},
		&OutboxItem{}, &OutboxChunk{},
	}
}

// SchemaGapsForTest lists struct fields without a column. The schema is
// written out in migrations/, so a field added to a struct needs a
// migration too; this is how a test notices one that was forgotten.
func SchemaGapsForTest(db *gorm.DB) ([]string, error) {
	var gaps []string
	for _, m := range modelTables() {
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(m); err != nil {
			return nil, fmt.Errorf("parse %T: %w", m, err)
		}
		if !db.Migrator().HasTable(m) {
			gaps = append(gaps, "table "+stmt.Schema.Table)
			continue
		}
		for _, f := range stmt.Schema.Fields {
			if f.DBName == "" || f.IgnoreMigration {
				continue
			}
			if !db.Migrator().HasColumn(m, f.DBName) {
				gaps = append(gaps, stmt.Schema.Table+"."+f.DBName)
			}
		}
	}
	return gaps, nil
}

// MigrationSQLForTest returns the SQL of one migration for engine.
func MigrationSQLForTest(version int, engine Engine) string {
	return migrations[version-1].sql[engine]
}

// PlanCheckEvery is how many written messages apart the store looks at its
// tables' statistics.
const PlanCheckEvery = planCheckEvery

// SetGormPagesForTest makes a Postgres store write pages of messages
// through gorm's statements (as SQLite does) instead of pgpage.go's.
func SetGormPagesForTest(s *Store, on bool) { s.gormPages = on }
