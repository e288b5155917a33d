package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"tidings/models"
)

func TestThreadSummariesFiltersAndCounts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "ws@own.example")
		mb := &models.Mailbox{Email: "me@own.example"}
		if err := s.CreateMailbox(ctx, tn, mb); err != nil {
			t.Fatal(err)
		}
		at := func(h int) time.Time { return time.Date(2026, 3, 1, h, 0, 0, 0, time.UTC) }
		w1 := sampleWrite("a1", "t1", "INBOX", "UNREAD", "Label_1")
		w1.Message.Date, w1.Message.Snippet = at(1), "first"
		w2 := sampleWrite("a2", "t1", "SENT")
		w2.Message.Date, w2.Message.Snippet = at(2), "my reply"
		w2.Message.From, w2.Message.FromAddress = "Me Myself <me@own.example>", "me@own.example"
		w2.Attachments = nil
		w3 := sampleWrite("b1", "t2", "INBOX")
		w3.Message.Date, w3.Message.Snippet = at(3), "other"
		w3.Message.From, w3.Message.FromAddress = "bob@globex.example", "bob@globex.example"
		w3.Attachments = nil
		w4 := sampleWrite("c1", "t3", "SPAM")
		w4.Message.Date = at(4)
		if _, err := s.UpsertMessages(ctx, tn, mb.ID, []models.MessageWrite{w1, w2, w3, w4}); err != nil {
			t.Fatal(err)
		}
		all, total, err := s.ListThreadSummaries(ctx, tn, mb.ID, mb.Email, models.ThreadFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 || len(all) != 2 {
			t.Fatalf("all mail: %d threads (%d rows), want 2: spam-only thread must be left out", total, len(all))
		}
		// Newest first: t2 (03:00), then t1 (02:00).
		if all[0].GmailThreadID != "t2" || all[1].GmailThreadID != "t1" {
			t.Fatalf("order = %s, %s", all[0].GmailThreadID, all[1].GmailThreadID)
		}
		t1 := all[1]
		if got := fmt.Sprint(t1.Participants); got != "[Ann me]" {
			t.Errorf("participants = %s", got)
		}
		if t1.Snippet != "my reply" || !t1.Unread || !t1.HasAttachments {
			t.Errorf("t1 summary = %+v", t1)
		}
		if got := fmt.Sprint(t1.LabelIDs); got != "[INBOX Label_1 SENT UNREAD]" {
			t.Errorf("t1 labels = %s", got)
		}
		if all[0].Unread || all[0].HasAttachments || fmt.Sprint(all[0].Participants) != "[bob]" {
			t.Errorf("t2 summary = %+v", all[0])
		}
		spam, total, err := s.ListThreadSummaries(ctx, tn, mb.ID, mb.Email, models.ThreadFilter{LabelID: "SPAM"})
		if err != nil || total != 1 || spam[0].GmailThreadID != "t3" {
			t.Fatalf("spam filter: %v %d %+v", err, total, spam)
		}
		page, total, err := s.ListThreadSummaries(ctx, tn, mb.ID, mb.Email, models.ThreadFilter{LabelID: "INBOX", Page: models.Page{Limit: 1, Offset: 1}})
		if err != nil || total != 2 || len(page) != 1 || page[0].GmailThreadID != "t1" {
			t.Fatalf("inbox page 2: %v %d %+v", err, total, page)
		}
		counts, err := s.ThreadCountsByLabel(ctx, tn, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c := counts["INBOX"]; c.Threads != 2 || c.Unread != 1 {
			t.Errorf("inbox count = %+v", c)
		}
		if c := counts["Label_1"]; c.Threads != 1 || c.Unread != 1 {
			t.Errorf("Label_1 count = %+v", c)
		}
		other := newTenant(t, s, "other@own.example")
		if _, n, _ := s.ListThreadSummaries(ctx, other, mb.ID, "", models.ThreadFilter{}); n != 0 {
			t.Errorf("another tenant sees %d threads", n)
		}
	})
}

func TestContactsLinkToAccountsByDomainAndSortNaturally(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "crm@own.example")
		// A contact created before its company's account joins it when the
		// account gets the domain.
		early := &models.Contact{Emails: []models.ContactEmail{{Address: "user11@acme.example"}}}
		if err := s.CreateContact(ctx, tn, early); err != nil {
			t.Fatal(err)
		}
		acme := &models.Account{Name: "Acme", Domains: []models.AccountDomain{{Domain: "acme.example"}}}
		if err := s.CreateAccount(ctx, tn, acme); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetContact(ctx, tn, early.ID)
		if err != nil || got.AccountID == nil || *got.AccountID != acme.ID {
			t.Fatalf("existing contact not linked to the new account: %+v %v", got, err)
		}
		// One created by hand after the account is linked at once.
		for _, a := range []string{"user101@acme.example", "user2@acme.example", "zed@other.example"} {
			c := &models.Contact{Emails: []models.ContactEmail{{Address: a}}}
			if err := s.CreateContact(ctx, tn, c); err != nil {
				t.Fatal(err)
			}
			linked := c.AccountID != nil && *c.AccountID == acme.ID
			if want := a != "zed@other.example"; linked != want {
				t.Errorf("%s linked to acme = %v, want %v", a, linked, want)
			}
		}
		list, _, err := s.ListContacts(ctx, tn, models.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, c := range list {
			order = append(order, c.Emails[0].Address)
		}
		if got := fmt.Sprint(order); got != "[user2@acme.example user11@acme.example user101@acme.example zed@other.example]" {
			t.Errorf("order = %s", got)
		}
		found, n, err := s.ListContacts(ctx, tn, models.Page{Query: "OTHER.example"})
		if err != nil || n != 1 || found[0].Emails[0].Address != "zed@other.example" {
			t.Errorf("filter by address: %v %d %+v", err, n, found)
		}
	})
}

func TestNaturalCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"user2", "user11", -1},
		{"user11", "user101", -1},
		{"user101", "user11", 1},
		{"a", "a", 0},
		{"a1b2", "a1b10", -1},
		{"file007", "file7", 0},
		{"anna", "bert", -1},
		{"x", "x1", -1},
	} {
		if got := models.NaturalCompare(c.a, c.b); got != c.want {
			t.Errorf("NaturalCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestOwnersByAddressAndDomain checks the two lookups the mail pages use
// to link people: addresses and domains are matched however they are
// written, keyed by their normalized form, within the tenant only.
func TestOwnersByAddressAndDomain(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "owners@own.example")
		other := newTenant(t, s, "owners@other.example")
		a := &models.Account{Name: "Globex", Domains: []models.AccountDomain{{Domain: "globex.example"}}}
		if err := s.CreateAccount(ctx, tn, a); err != nil {
			t.Fatal(err)
		}
		c := &models.Contact{FirstName: "Bob", Emails: []models.ContactEmail{{Address: "bob@globex.example"}}}
		if err := s.CreateContact(ctx, tn, c); err != nil {
			t.Fatal(err)
		}
		contacts, err := s.ContactsByAddress(ctx, tn, []string{"Bob@Globex.example", "nobody@globex.example"})
		if err != nil {
			t.Fatal(err)
		}
		if len(contacts) != 1 || contacts["bob@globex.example"].ID != c.ID {
			t.Errorf("ContactsByAddress = %v, want bob@globex.example → contact %d only", contacts, c.ID)
		}
		accounts, err := s.AccountsByDomain(ctx, tn, []string{"GLOBEX.example", "initech.example"})
		if err != nil {
			t.Fatal(err)
		}
		if len(accounts) != 1 || accounts["globex.example"].ID != a.ID || accounts["globex.example"].Name != "Globex" {
			t.Errorf("AccountsByDomain = %v, want globex.example → account %d only", accounts, a.ID)
		}
		if got, err := s.ContactsByAddress(ctx, other, []string{"bob@globex.example"}); err != nil || len(got) != 0 {
			t.Errorf("another tenant's ContactsByAddress = %v, %v; want none", got, err)
		}
		if got, err := s.AccountsByDomain(ctx, other, nil); err != nil || len(got) != 0 {
			t.Errorf("AccountsByDomain of nothing = %v, %v", got, err)
		}
	})
}
