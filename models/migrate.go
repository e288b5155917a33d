package models

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// migration is one numbered, forward-only schema change, written out as SQL
// in migrations/NNNN_description[.ENGINE].sql: a file without an engine in
// its name serves both engines, otherwise each engine has its own file.
// Each migration runs in its own transaction together with the version
// bump, so a failure leaves the schema at the previous version. The schema
// is never generated from today's structs at run time: editing a struct
// changes no shipped migration.
type migration struct {
	version     int
	description string
	sql         map[Engine]string
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations is the project's schema history, read from migrationFiles.
// Append only; never edit a migration that has shipped.
var migrations = mustLoadMigrations(migrationFiles)

// mustLoadMigrations parses the embedded migration files. A malformed set
// (a gap in the numbering, a version with SQL for only one engine) is a
// build defect, so it panics at start-up and in every test.
func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return ms
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("models: list migrations: %w", err)
	}
	byVersion := map[int]*migration{}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, rest, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("models: migration file %s: name must be NNNN_description[.engine].sql", name)
		}
		desc, engine := rest, Engine("")
		if i := strings.LastIndexByte(rest, '.'); i >= 0 {
			desc, engine = rest[:i], Engine(rest[i+1:])
			if engine != Postgres && engine != SQLite {
				return nil, fmt.Errorf("models: migration file %s: unknown engine %q", name, engine)
			}
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("models: read %s: %w", name, err)
		}
		m := byVersion[version]
		if m == nil {
			m = &migration{version: version, description: strings.ReplaceAll(desc, "_", " "), sql: map[Engine]string{}}
			byVersion[version] = m
		}
		for _, e := range []Engine{Postgres, SQLite} {
			if engine != "" && engine != e {
				continue
			}
			if _, dup := m.sql[e]; dup {
				return nil, fmt.Errorf("models: migration %d has two files for %s", version, e)
			}
			m.sql[e] = string(body)
		}
	}
	out := make([]migration, 0, len(byVersion))
	for v := 1; v <= len(byVersion); v++ {
		m := byVersion[v]
		if m == nil {
			return nil, fmt.Errorf("models: migrations are not numbered 1..%d without gaps (missing %d)", len(byVersion), v)
		}
		if len(m.sql) != 2 {
			return nil, fmt.Errorf("models: migration %d lacks SQL for one engine", v)
		}
		out = append(out, *m)
	}
	if len(out) == 0 {
		return nil, errors.New("models: no migrations embedded")
	}
	return out, nil
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
			applied, err = migrate(conn, engine, SchemaVersion())
			return err
		})
		return applied, err
	}
	return migrate(db, engine, SchemaVersion())
}

// migrationLockKey is the Postgres advisory lock id for migrations.
const migrationLockKey = 0x7469646e // "tidn"

// migrate applies the migrations after the database's version up to and
// including target (tests stop early to build an older release's schema).
func migrate(db *gorm.DB, engine Engine, target int) (applied int, err error) {
	ctx := db.Statement.Context
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, description text, applied_at timestamp)`).Error; err != nil {
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
		if m.version <= current || m.version > target {
			continue
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(m.sql[engine]).Error; err != nil {
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

// Migrate brings the store's schema up to SchemaVersion (see Migrate).
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	return Migrate(ctx, s.db, s.engine)
}
