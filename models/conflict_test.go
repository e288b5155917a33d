package models_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/gorm"

	"tidings/internal/testenv"
	"tidings/models"
)

// TestConflictsAreTypedAndQuiet (finding 6): a unique-key conflict — two
// syncs creating the same contact at once — comes back as ErrConflict
// wrapping gorm's translated ErrDuplicatedKey, and is not logged as an
// error by the database layer (its caller decides whether it is one).
func TestConflictsAreTypedAndQuiet(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	db, engine, err := models.Open(context.Background(), models.OpenOptions{SQLitePath: filepath.Join(t.TempDir(), "t.db"), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.Migrate(context.Background(), db, engine); err != nil {
		t.Fatal(err)
	}
	stores := map[string]*models.Store{"sqlite-logged": models.NewStore(db, engine, testenv.Cipher(t))}
	for _, e := range testenv.Engines(t) {
		stores[string(e.Name)] = e.Open(t)
	}
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tenant := newTenant(t, s, "quiet-"+name+"@example.com")
			mk := func() error {
				return s.CreateContact(ctx, tenant, &models.Contact{FirstName: "Ann", Emails: []models.ContactEmail{{Address: "ann@customer.example"}}})
			}
			if err := mk(); err != nil {
				t.Fatal(err)
			}
			err := mk()
			if !errors.Is(err, models.ErrConflict) || !errors.Is(err, gorm.ErrDuplicatedKey) {
				t.Fatalf("second contact with the same address = %v, want ErrConflict wrapping gorm.ErrDuplicatedKey", err)
			}
			// A link to a case that does not exist is a typed error too.
			if err := s.LinkMessage(ctx, tenant, 424242, 1); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("link to a missing case = %v, want ErrNotFound", err)
			}
		})
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("handled conflicts were logged as errors:\n%s", logs.String())
	}
}
