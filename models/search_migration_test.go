package models_test

import (
	"context"
	"slices"
	"testing"

	"tidings/internal/testenv"
	"tidings/models"
)

// TestSearchDocumentsGetDateTags: migration 0014 adds the date tags of
// search.PGIndex (search/pgindex_dates.go, whose TestPGDateTagsFormat pins
// the same format) to the documents an earlier release indexed, by their
// UTC date, and leaves their words and stored copy as they were.
func TestSearchDocumentsGetDateTags(t *testing.T) {
	if testenv.PostgresURL(t) == "" {
		t.Skip("TIDINGS_TEST_DATABASE_URL not set")
	}
	ctx := context.Background()
	db := testenv.EmptyPostgres(t)
	if err := models.MigrateToForTest(db, models.Postgres, 13); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO search_documents (id, tenant_id, mailbox_id, date, hash, terms, doc) VALUES
		(1, 1, 1, '2026-03-01 00:30:00+01', 'h1', '''budget'':1 ''#l:inbox''', '{"id":1}'),
		(2, 1, 1, '1999-12-31 23:59:59+00', 'h2', '''notes'':3', '{"id":2}')`).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := models.Migrate(ctx, db, models.Postgres); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int][]string{
		1: {"#d:2026-02-28", "#l:inbox", "#mo:2026-02", "#y:2026", "budget"},
		2: {"#d:1999-12-31", "#mo:1999-12", "#y:1999", "notes"},
	} {
		var lexemes []string
		if err := db.Raw(`SELECT lexeme FROM search_documents, unnest(terms) WHERE id = ? ORDER BY lexeme COLLATE "C"`, id).Scan(&lexemes).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(lexemes, want) {
			t.Errorf("document %d: lexemes after the upgrade = %q, want %q", id, lexemes, want)
		}
	}
	var phrase bool
	if err := db.Raw(`SELECT terms @@ 'budget'::tsquery AND doc = '{"id":1}'::bytea FROM search_documents WHERE id = 1`).Scan(&phrase).Error; err != nil || !phrase {
		t.Errorf("document 1 after the upgrade: word and stored copy kept = %v, %v", phrase, err)
	}
}
