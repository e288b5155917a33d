package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migration is one numbered, forward-only schema change. Each runs in its
// own transaction together with the version bump, so a failure leaves the
// schema at the previous version. Migrations only add: nothing here drops a
// table or column, so no data is ever lost silently.
type migration struct {
	version     int
	description string
	up          func(tx *gorm.DB, engine Engine) error
}

// migrations is the project's schema history. Append only; never edit a
// migration that has shipped.
var migrations = []migration{
	{1, "baseline: tenants, users, CRM records, mailboxes and mail", func(tx *gorm.DB, _ Engine) error {
		// The baseline is created from the model structs; later changes are
		// explicit migrations below (AddColumn/CreateIndex guarded by
		// HasColumn/HasIndex, so a fresh database that already got them from
		// the baseline passes through).
		return tx.Migrator().AutoMigrate(allModels()...)
	}},
	{2, "messages: (mailbox_id, date) index for mailbox timelines", func(tx *gorm.DB, _ Engine) error {
		if tx.Migrator().HasIndex(&Message{}, "ix_messages_mailbox_date") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_messages_mailbox_date ON messages (mailbox_id, date DESC)").Error
	}},
	{3, "messages: (mailbox_id, gmail_thread_id) index for thread counters", func(tx *gorm.DB, _ Engine) error {
		if tx.Migrator().HasIndex(&Message{}, "ix_messages_mailbox_thread") {
			return nil
		}
		return tx.Exec("CREATE INDEX ix_messages_mailbox_thread ON messages (mailbox_id, gmail_thread_id)").Error
	}},
}

// SchemaVersion is the version this build's code expects.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// ErrSchemaTooNew is returned when the database was migrated by a newer
// tidings: running older code on it could corrupt data.
var ErrSchemaTooNew = errors.New("models: database schema is newer than this build")

// schemaMigration records applied migrations.
type schemaMigration struct {
	Version     int `gorm:"primaryKey;autoIncrement:false"`
	Description string
	AppliedAt   time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// Migrate brings the schema up to SchemaVersion. It is idempotent and safe
// to call at every start-up.
func Migrate(ctx context.Context, db *gorm.DB, engine Engine) (applied int, err error) {
	db = db.WithContext(ctx)
	if engine == Postgres {
		// Web and worker processes start together in the scale setup; an
		// advisory lock on one connection makes them migrate one at a time.
		err = db.Connection(func(conn *gorm.DB) error {
			if err := conn.Exec("SELECT pg_advisory_lock(?)", migrationLockKey).Error; err != nil {
				return fmt.Errorf("models: migration lock: %w", err)
			}
			defer conn.Exec("SELECT pg_advisory_unlock(?)", migrationLockKey)
			applied, err = migrate(conn, engine)
			return err
		})
		return applied, err
	}
	return migrate(db, engine)
}

// migrationLockKey is the Postgres advisory lock id for migrations.
const migrationLockKey = 0x7469646e // "tidn"

func migrate(db *gorm.DB, engine Engine) (applied int, err error) {
	ctx := db.Statement.Context
	if err := db.AutoMigrate(&schemaMigration{}); err != nil {
		return 0, fmt.Errorf("models: create schema_migrations: %w", err)
	}
	current, err := CurrentVersion(ctx, db)
	if err != nil {
		return 0, err
	}
	if current > SchemaVersion() {
		return 0, fmt.Errorf("%w: database at %d, code at %d", ErrSchemaTooNew, current, SchemaVersion())
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := m.up(tx, engine); err != nil {
				return err
			}
			return tx.Create(&schemaMigration{Version: m.version, Description: m.description, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return applied, fmt.Errorf("models: migration %d (%s): %w", m.version, m.description, err)
		}
		applied++
	}
	return applied, nil
}

// CurrentVersion returns the highest applied migration, 0 for a new database.
func CurrentVersion(ctx context.Context, db *gorm.DB) (int, error) {
	var v *int
	if err := db.WithContext(ctx).Model(&schemaMigration{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("models: read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}
