package sync

import (
	"context"
	"slices"
	"testing"

	"tidings/internal/testenv"
	"tidings/models"
)

// TestOriginalOfKeepsNamesThatDoNotParseBack: the display columns hold
// names unquoted ("Müller, Eva <eva@…>"), which net/mail cannot parse
// back; replies built from the stored participant rows keep everyone.
func TestOriginalOfKeepsNamesThatDoNotParseBack(t *testing.T) {
	for _, eng := range testenv.Engines(t) {
		t.Run(string(eng.Name), func(t *testing.T) {
			ctx := context.Background()
			store := eng.Open(t)
			tenantID, mailboxID := testenv.Mailbox(t, store)
			na := func(name, addr string) models.NameAddr { return models.NameAddr{Name: name, Address: addr} }
			w := models.MessageWrite{
				Message:  models.Message{GmailID: "g1", GmailThreadID: "g1", Subject: "Offer", RFCMessageID: "offer@tyrell.example"},
				LabelIDs: []string{"INBOX"},
				Participants: models.Participants{
					From: []models.NameAddr{na(`Jansen, Peter "PJ"`, "Peter@Tyrell.example")},
					To:   []models.NameAddr{na("", "box@acme.example"), na("Müller, Eva", "eva@wayne.example")},
					Cc:   []models.NameAddr{na("Legal <team>", "legal@tyrell.example")},
				},
			}
			stored, err := store.UpsertMessages(ctx, tenantID, mailboxID, []models.MessageWrite{w})
			if err != nil {
				t.Fatal(err)
			}
			o, err := OriginalOf(ctx, store, tenantID, &stored[0])
			if err != nil {
				t.Fatal(err)
			}
			if o.From.Name != `Jansen, Peter "PJ"` || o.From.Address != "peter@tyrell.example" {
				t.Errorf("From = %+v", o.From)
			}
			var to, cc []string
			for _, a := range o.To {
				to = append(to, a.Name+"|"+a.Address)
			}
			for _, a := range o.Cc {
				cc = append(cc, a.Name+"|"+a.Address)
			}
			slices.Sort(to)
			if want := []string{"Müller, Eva|eva@wayne.example", "|box@acme.example"}; !slices.Equal(to, want) {
				t.Errorf("To = %q, want %q", to, want)
			}
			if want := []string{"Legal <team>|legal@tyrell.example"}; !slices.Equal(cc, want) {
				t.Errorf("Cc = %q, want %q", cc, want)
			}
			if o.MessageID != "offer@tyrell.example" || o.Subject != "Offer" {
				t.Errorf("MessageID, Subject = %q, %q", o.MessageID, o.Subject)
			}
		})
	}
}
