package search_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
	"tidings/search"
)

// TestBuildDocumentsParticipants checks that documents carry the
// participants as the store holds them (structured, from the decoded
// headers), not as display strings parsed again.
func TestBuildDocumentsParticipants(t *testing.T) {
	for _, eng := range testenv.Engines(t) {
		t.Run(string(eng.Name), func(t *testing.T) {
			ctx := context.Background()
			store := eng.Open(t)
			tenantID, mailboxID := testenv.Mailbox(t, store)
			na := func(name, addr string) models.NameAddr { return models.NameAddr{Name: name, Address: addr} }
			cases := []struct {
				name        string
				p           models.Participants
				from        search.Address
				to, cc, bcc []search.Address
			}{
				{
					name: "names and mixed-case addresses",
					p: models.Participants{
						From: []models.NameAddr{na("Jan <Boss>, \"Tyrell\"", "Jan@Tyrell.Example")},
						To:   []models.NameAddr{na("", "zed@b.example"), na("Ann Ärger", "ann@a.example")},
						Cc:   []models.NameAddr{na("Müller, Eva", "eva@wayne.example")},
						Bcc:  []models.NameAddr{na("", "hidden@c.example")},
					},
					from: search.Address{Name: "Jan <Boss>, \"Tyrell\"", Address: "jan@tyrell.example"},
					to:   []search.Address{{Name: "Ann Ärger", Address: "ann@a.example"}, {Address: "zed@b.example"}},
					cc:   []search.Address{{Name: "Müller, Eva", Address: "eva@wayne.example"}},
					bcc:  []search.Address{{Address: "hidden@c.example"}},
				},
				{
					// RFC 5322 section 3.6.2: From may list several
					// mailboxes; the sender is the first one.
					name: "several From mailboxes",
					p:    models.Participants{From: []models.NameAddr{na("Zoe", "zoe@z.example"), na("Abe", "abe@a.example")}},
					from: search.Address{Name: "Zoe", Address: "zoe@z.example"},
				},
				{
					name: "no usable address keeps the text",
					p: models.Participants{
						From: []models.NameAddr{na("Mail Delivery System", "")},
						To:   []models.NameAddr{na("undisclosed-recipients", "")},
					},
					from: search.Address{Name: "Mail Delivery System"},
					to:   []search.Address{{Name: "undisclosed-recipients"}},
				},
			}
			var ws []models.MessageWrite
			for i, c := range cases {
				ws = append(ws, models.MessageWrite{
					Message: models.Message{GmailID: c.name, GmailThreadID: c.name, Subject: c.name,
						Date: time.Date(2026, 11, 1, 0, 0, i, 0, time.UTC)},
					LabelIDs: []string{"INBOX"}, Participants: c.p,
				})
			}
			stored, err := store.UpsertMessages(ctx, tenantID, mailboxID, ws)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := search.BuildDocuments(ctx, store, tenantID, stored)
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != len(cases) {
				t.Fatalf("got %d documents, want %d", len(docs), len(cases))
			}
			for i, c := range cases {
				d := docs[i]
				if d.From != c.from {
					t.Errorf("%s: From = %+v, want %+v", c.name, d.From, c.from)
				}
				for _, l := range []struct {
					role      string
					got, want []search.Address
				}{{"To", d.To, c.to}, {"Cc", d.Cc, c.cc}, {"Bcc", d.Bcc, c.bcc}} {
					if !slices.Equal(l.got, l.want) {
						t.Errorf("%s: %s = %+v, want %+v", c.name, l.role, l.got, l.want)
					}
				}
			}
		})
	}
}
