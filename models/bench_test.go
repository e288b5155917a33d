package models_test

import (
	"context"
	"fmt"
	"testing"

	"tidings/internal/testenv"
	"tidings/models"
)

// BenchmarkStoreWriteRead measures the database driver under the store's
// own queries: one write transaction (a contact and its address), one read
// by primary key, and one page of a listing, per iteration. It exists to
// compare SQLite drivers (BENCHMARKS.md), so it runs on every configured
// engine:
//
//	go test ./models -run '^$' -bench BenchmarkStoreWriteRead -benchtime 2000x
func BenchmarkStoreWriteRead(b *testing.B) {
	for _, eng := range testenv.Engines(b) {
		b.Run(string(eng.Name), func(b *testing.B) {
			ctx := context.Background()
			s := eng.Open(b)
			tn, _, err := s.SignUp(ctx, "Bench Org", "bench@example.com", "Admin", "correct horse battery")
			if err != nil {
				b.Fatal(err)
			}
			b.Run("write", func(b *testing.B) {
				for i := range b.N {
					c := models.Contact{FirstName: "Ada", LastName: fmt.Sprint(i),
						Emails: []models.ContactEmail{{Address: fmt.Sprintf("w%d-%d@example.com", b.N, i)}}}
					if err := s.CreateContact(ctx, tn.ID, &c); err != nil {
						b.Fatal(err)
					}
				}
			})
			first := models.Contact{FirstName: "Read", Emails: []models.ContactEmail{{Address: "read@example.com"}}}
			if err := s.CreateContact(ctx, tn.ID, &first); err != nil {
				b.Fatal(err)
			}
			b.Run("get", func(b *testing.B) {
				for range b.N {
					c, err := s.GetContact(ctx, tn.ID, first.ID)
					if err != nil || len(c.Emails) != 1 {
						b.Fatalf("get contact: %v, %+v", err, c)
					}
				}
			})
			b.Run("list", func(b *testing.B) {
				for range b.N {
					cs, _, err := s.ListContacts(ctx, tn.ID, models.Page{Limit: 50})
					if err != nil || len(cs) == 0 {
						b.Fatalf("list contacts: %v, %d rows", err, len(cs))
					}
				}
			})
		})
	}
}
