package sync

import (
	"context"
	"testing"

	"tidings/internal/testenv"
	"tidings/models"
)

func TestIsFreeMailDomain(t *testing.T) {
	for _, tc := range []struct {
		domain string
		want   bool
	}{
		{"gmail.com", true}, {"GMail.com", true}, {"yahoo.co.uk", true}, {"hotmail.fr", true},
		{"outlook.com", true}, {"acme.example", false}, {"notgmail.com", false}, {"yahoo", false},
		{"mail.acme.example", false},
	} {
		if got := IsFreeMailDomain(tc.domain); got != tc.want {
			t.Errorf("IsFreeMailDomain(%q) = %v, want %v", tc.domain, got, tc.want)
		}
	}
}

func TestSplitName(t *testing.T) {
	for _, tc := range []struct{ in, first, last string }{
		{"Jane Doe", "Jane", "Doe"}, {"Doe, Jane", "Jane", "Doe"}, {"Cher", "Cher", ""},
		{"", "", ""}, {"jane@x.example", "", ""}, {`"Anna Maria Smith"`, "Anna Maria", "Smith"},
	} {
		f, l := splitName(tc.in)
		if f != tc.first || l != tc.last {
			t.Errorf("splitName(%q) = %q, %q; want %q, %q", tc.in, f, l, tc.first, tc.last)
		}
	}
}

func TestContactPolicies(t *testing.T) {
	sent := func(to string) []byte {
		return []byte("From: Owner <" + testEmail + ">\r\nTo: " + to + "\r\nSubject: Offer\r\nMessage-ID: <s" + to + ">\r\n\r\nHi\r\n")
	}
	received := []byte("From: Rick Sender <rick@supplier.example>\r\nTo: " + testEmail + "\r\nSubject: Hi\r\n\r\nHello\r\n")
	bulk := []byte("From: News <news@shop.example>\r\nTo: " + testEmail + "\r\nList-Unsubscribe: <mailto:u@shop.example>\r\nSubject: Sale\r\n\r\nBuy\r\n")
	for _, tc := range []struct {
		policy   ContactPolicy
		contacts []string // addresses that must become contacts
		none     []string // addresses that must not
	}{
		{ContactsNone, nil, []string{"jane.doe@customer.example", "rick@supplier.example"}},
		{ContactsCorrespondents, []string{"jane.doe@customer.example", "pat@gmail.com"}, []string{"rick@supplier.example", "news@shop.example", "colleague@tidings.example", "noreply@customer.example"}},
		{ContactsAll, []string{"jane.doe@customer.example", "rick@supplier.example"}, []string{"news@shop.example", "colleague@tidings.example"}},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			ctx := context.Background()
			store := testenv.OpenSQLite(t)
			e := newEnv(t, store)
			for _, raw := range [][]byte{
				sent("Jane Doe <jane.doe@customer.example>, colleague@tidings.example, noreply@customer.example"),
				sent("Pat <pat@gmail.com>"), received, bulk,
			} {
				labels := []string{"INBOX"}
				if string(raw[:11]) == "From: Owner" {
					labels = []string{"SENT"}
				}
				if _, err := e.emu.Deliver(e.email, raw, labels...); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.run(e.syncer(func(d *Deps) { d.ContactPolicy = tc.policy }), false); err != nil {
				t.Fatal(err)
			}
			for _, a := range tc.contacts {
				c, err := store.ContactByEmail(ctx, e.tenantID, a)
				if err != nil {
					t.Errorf("no contact for %s: %v", a, err)
					continue
				}
				if !c.AutoCreated {
					t.Errorf("%s: not marked auto-created", a)
				}
			}
			for _, a := range tc.none {
				if _, err := store.ContactByEmail(ctx, e.tenantID, a); err == nil {
					t.Errorf("contact created for %s", a)
				}
			}
			if tc.policy == ContactsNone {
				return
			}
			// Company domain → account; free mail and own domain → none.
			acc, err := store.AccountByDomain(ctx, e.tenantID, "customer.example")
			if err != nil {
				t.Fatalf("no account for customer.example: %v", err)
			}
			jane, _ := store.ContactByEmail(ctx, e.tenantID, "jane.doe@customer.example")
			if jane.AccountID == nil || *jane.AccountID != acc.ID || jane.FirstName != "Jane" || jane.LastName != "Doe" {
				t.Errorf("jane = %+v, want Jane Doe linked to account %d", jane, acc.ID)
			}
			for _, d := range []string{"gmail.com", "tidings.example"} {
				if _, err := store.AccountByDomain(ctx, e.tenantID, d); err == nil {
					t.Errorf("account created for %s", d)
				}
			}
			// Search documents carry the links.
			msgs, _, err := store.ListMessages(ctx, e.tenantID, models.MessageFilter{ContactID: jane.ID})
			if err != nil || len(msgs) != 1 {
				t.Fatalf("messages of jane = %d, %v", len(msgs), err)
			}
			doc := e.index.docs[msgs[0].ID]
			if len(doc.ContactIDs) == 0 || len(doc.AccountIDs) == 0 || doc.AccountIDs[0] != acc.ID {
				t.Errorf("document links: contacts %v accounts %v", doc.ContactIDs, doc.AccountIDs)
			}
		})
	}
}
