package models_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
)

// forEachEngine runs fn on a fresh store on every configured engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, s *models.Store)) {
	for _, e := range testenv.Engines(t) {
		t.Run(string(e.Name), func(t *testing.T) {
			fn(t, e.Open(t))
		})
	}
}

func newTenant(t *testing.T, s *models.Store, email string) int64 {
	t.Helper()
	tn, _, err := s.SignUp(context.Background(), "Org of "+email, email, "Admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func TestMigrateIsIdempotentAndRefusesNewerSchema(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		db := models.DBForTest(s)
		applied, err := models.Migrate(ctx, db, s.Engine())
		if err != nil {
			t.Fatal(err)
		}
		if applied != 0 {
			t.Fatalf("second migrate applied %d migrations, want 0", applied)
		}
		v, err := models.CurrentVersion(ctx, db)
		if err != nil || v != models.SchemaVersion() {
			t.Fatalf("version = %d, %v; want %d", v, err, models.SchemaVersion())
		}
		if err := db.Exec("INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, 'from the future', ?)", v+1, time.Now()).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := models.Migrate(ctx, db, s.Engine()); !errors.Is(err, models.ErrSchemaTooNew) {
			t.Fatalf("migrate on newer schema: err = %v, want ErrSchemaTooNew", err)
		}
	})
}

func TestMigrationsCoverEveryModelField(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		gaps, err := models.SchemaGapsForTest(models.DBForTest(s))
		if err != nil {
			t.Fatal(err)
		}
		if len(gaps) > 0 {
			t.Fatalf("fields without a column (add a migration in models/migrations): %v", gaps)
		}
	})
}

func TestAccountCRUD(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tid := newTenant(t, s, "a@own.example")
		a := &models.Account{Name: "Acme", Website: "https://acme.example", Domains: []models.AccountDomain{{Domain: "ACME.example"}, {Domain: "www.acme.io"}}}
		if err := s.CreateAccount(ctx, tid, a); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetAccount(ctx, tid, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Acme" || len(got.Domains) != 2 {
			t.Fatalf("got %+v", got)
		}
		byDomain, err := s.AccountByDomain(ctx, tid, "acme.io")
		if err != nil || byDomain.ID != a.ID {
			t.Fatalf("AccountByDomain = %v, %v", byDomain, err)
		}
		got.Name = "Acme Corp"
		got.Domains = []models.AccountDomain{{Domain: "acme.example"}}
		if err := s.UpdateAccount(ctx, tid, got); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AccountByDomain(ctx, tid, "acme.io"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("removed domain still resolves: %v", err)
		}
		list, total, err := s.ListAccounts(ctx, tid, models.Page{Query: "corp"})
		if err != nil || total != 1 || list[0].Name != "Acme Corp" {
			t.Fatalf("list = %v, %d, %v", list, total, err)
		}
		// A domain belongs to one account per tenant.
		dup := &models.Account{Name: "Other", Domains: []models.AccountDomain{{Domain: "acme.example"}}}
		if err := s.CreateAccount(ctx, tid, dup); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("duplicate domain: err = %v, want ErrConflict", err)
		}
		if err := s.DeleteAccount(ctx, tid, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetAccount(ctx, tid, a.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
	})
}

func TestContactAndCaseCRUD(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tid := newTenant(t, s, "b@own.example")
		acct := &models.Account{Name: "Initech"}
		if err := s.CreateAccount(ctx, tid, acct); err != nil {
			t.Fatal(err)
		}
		c := &models.Contact{FirstName: "Peter", LastName: "Gibbons", AccountID: &acct.ID,
			Emails: []models.ContactEmail{{Address: "Peter@Initech.example"}, {Address: "pg@home.example"}}}
		if err := s.CreateContact(ctx, tid, c); err != nil {
			t.Fatal(err)
		}
		found, err := s.ContactByEmail(ctx, tid, "peter@initech.EXAMPLE")
		if err != nil || found.ID != c.ID || found.Name() != "Peter Gibbons" {
			t.Fatalf("ContactByEmail = %+v, %v", found, err)
		}
		if err := s.CreateContact(ctx, tid, &models.Contact{FirstName: "X", Emails: []models.ContactEmail{{Address: "not-an-address"}}}); err == nil {
			t.Fatal("contact with invalid address was accepted")
		}
		found.LastName = "G."
		found.Emails = []models.ContactEmail{{Address: "pg@home.example"}}
		if err := s.UpdateContact(ctx, tid, found); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ContactByEmail(ctx, tid, "peter@initech.example"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("removed address still resolves: %v", err)
		}
		kase := &models.Case{Subject: "TPS reports", AccountID: &acct.ID, ContactID: &c.ID}
		if err := s.CreateCase(ctx, tid, kase); err != nil {
			t.Fatal(err)
		}
		if kase.Status != models.CaseNew || kase.Priority != models.PriorityNormal {
			t.Fatalf("defaults: %+v", kase)
		}
		kase.Status = "bogus"
		if err := s.UpdateCase(ctx, tid, kase); err == nil {
			t.Fatal("unknown status accepted")
		}
		kase.Status = models.CaseOpen
		kase.Priority = models.PriorityHigh
		if err := s.UpdateCase(ctx, tid, kase); err != nil {
			t.Fatal(err)
		}
		cases, total, err := s.ListCases(ctx, tid, models.CaseFilter{Status: models.CaseOpen, AccountID: acct.ID})
		if err != nil || total != 1 || cases[0].Priority != models.PriorityHigh {
			t.Fatalf("ListCases = %+v, %d, %v", cases, total, err)
		}
		if err := s.DeleteContact(ctx, tid, c.ID); err != nil {
			t.Fatal(err)
		}
		after, err := s.GetCase(ctx, tid, kase.ID)
		if err != nil || after.ContactID != nil {
			t.Fatalf("case after contact delete: %+v, %v", after, err)
		}
		if err := s.DeleteCase(ctx, tid, kase.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCase(ctx, tid, kase.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func sampleWrite(gid, thread string, labels ...string) models.MessageWrite {
	return models.MessageWrite{
		Message: models.Message{GmailID: gid, GmailThreadID: thread, Subject: "Subject " + gid,
			From: "Ann <ann@acme.example>", FromAddress: "ann@acme.example", To: models.StringList{"me@own.example"},
			Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Text: "hello " + gid},
		LabelIDs:    labels,
		Addresses:   []models.MessageAddress{{Role: "from", Address: "ann@acme.example", Domain: "acme.example", Name: "Ann"}},
		Attachments: []models.Attachment{{PartID: "1", Filename: "a.pdf", ContentType: "application/pdf", Size: 10}},
	}
}

func TestMessageUpsertIsIdempotentAndLabelChangesAreExact(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tid := newTenant(t, s, "c@own.example")
		mb := &models.Mailbox{Email: "me@own.example"}
		if err := s.CreateMailbox(ctx, tid, mb); err != nil {
			t.Fatal(err)
		}
		ws := []models.MessageWrite{
			sampleWrite("m1", "t1", "INBOX", "UNREAD"),
			sampleWrite("m2", "t1", "INBOX", "UNREAD", "Label_1"),
			sampleWrite("m3", "t2", "SENT"),
		}
		ws[2].Raw = []byte("raw bytes of m3")
		first, err := s.UpsertMessages(ctx, tid, mb.ID, ws)
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.UpsertMessages(ctx, tid, mb.ID, ws)
		if err != nil {
			t.Fatal(err)
		}
		for i := range first {
			if first[i].ID != again[i].ID || first[i].ID == 0 {
				t.Fatalf("upsert changed id of %s: %d → %d", first[i].GmailID, first[i].ID, again[i].ID)
			}
		}
		state, err := mailboxState(ctx, s, tid, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]models.MessageState{
			"m1": {ThreadID: "t1", LabelIDs: []string{"INBOX", "UNREAD"}},
			"m2": {ThreadID: "t1", LabelIDs: []string{"INBOX", "Label_1", "UNREAD"}},
			"m3": {ThreadID: "t2", LabelIDs: []string{"SENT"}},
		}
		if !reflect.DeepEqual(state, want) {
			t.Fatalf("state = %v\nwant %v", state, want)
		}
		threads, total, err := s.ListThreads(ctx, tid, mb.ID, models.Page{})
		if err != nil || total != 2 {
			t.Fatalf("threads = %v, %d, %v", threads, total, err)
		}
		for _, th := range threads {
			if th.GmailThreadID == "t1" && th.MessageCount != 2 {
				t.Fatalf("thread t1 count = %d, want 2", th.MessageCount)
			}
		}
		// Removing UNREAD from one message leaves the other alone.
		_, labels, err := s.ChangeLabels(ctx, tid, mb.ID, "m1", nil, []string{"UNREAD"})
		if err != nil || !slices.Equal(labels, []string{"INBOX"}) {
			t.Fatalf("ChangeLabels = %v, %v", labels, err)
		}
		state, _ = mailboxState(ctx, s, tid, mb.ID)
		if !slices.Equal(state["m2"].LabelIDs, []string{"INBOX", "Label_1", "UNREAD"}) {
			t.Fatalf("m2 labels changed: %v", state["m2"].LabelIDs)
		}
		if _, _, err := s.ChangeLabels(ctx, tid, mb.ID, "missing", []string{"X"}, nil); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("ChangeLabels on missing: %v", err)
		}
		raw, err := s.RawMessageOf(ctx, tid, mb.ID, "m3")
		if err != nil || string(raw) != "raw bytes of m3" {
			t.Fatalf("raw = %q, %v", raw, err)
		}
		msg, err := s.GetMessage(ctx, tid, first[0].ID)
		if err != nil || len(msg.Attachments) != 1 || msg.Attachments[0].Filename != "a.pdf" || !msg.HasAttachments {
			t.Fatalf("GetMessage = %+v, %v", msg, err)
		}
		deleted, err := s.DeleteMessages(ctx, tid, mb.ID, []string{"m1", "m2", "nope"})
		if err != nil || len(deleted) != 2 {
			t.Fatalf("DeleteMessages = %v, %v", deleted, err)
		}
		ids, _ := s.GmailIDs(ctx, tid, mb.ID)
		if !slices.Equal(ids, []string{"m3"}) {
			t.Fatalf("remaining = %v", ids)
		}
		_, total, _ = s.ListThreads(ctx, tid, mb.ID, models.Page{})
		if total != 1 {
			t.Fatalf("empty thread kept: %d threads", total)
		}
	})
}

func TestLabelsUpsertFollowsGmail(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tid := newTenant(t, s, "d@own.example")
		mb := &models.Mailbox{Email: "me@own.example"}
		if err := s.CreateMailbox(ctx, tid, mb); err != nil {
			t.Fatal(err)
		}
		step := func(labels []models.Label, want []string) {
			t.Helper()
			if err := s.UpsertLabels(ctx, tid, mb.ID, labels); err != nil {
				t.Fatal(err)
			}
			got, err := s.ListLabels(ctx, tid, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, l := range got {
				names = append(names, l.GmailID+"="+l.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Fatalf("labels = %v, want %v", names, want)
			}
		}
		step([]models.Label{{GmailID: "INBOX", Name: "INBOX", Type: models.LabelSystem}, {GmailID: "Label_1", Name: "Deals", Type: models.LabelUser}},
			[]string{"INBOX=INBOX", "Label_1=Deals"})
		step([]models.Label{{GmailID: "INBOX", Name: "INBOX", Type: models.LabelSystem}, {GmailID: "Label_1", Name: "Deals 2026", Type: models.LabelUser}, {GmailID: "Label_2", Name: "VIP", Type: models.LabelUser}},
			[]string{"INBOX=INBOX", "Label_1=Deals 2026", "Label_2=VIP"})
		step([]models.Label{{GmailID: "INBOX", Name: "INBOX", Type: models.LabelSystem}},
			[]string{"INBOX=INBOX"})
	})
}

func TestTenantScoping(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "owner@a.example")
		b := newTenant(t, s, "owner@b.example")
		acct := &models.Account{Name: "A's account"}
		if err := s.CreateAccount(ctx, a, acct); err != nil {
			t.Fatal(err)
		}
		contact := &models.Contact{FirstName: "A's contact"}
		if err := s.CreateContact(ctx, a, contact); err != nil {
			t.Fatal(err)
		}
		kase := &models.Case{Subject: "A's case"}
		if err := s.CreateCase(ctx, a, kase); err != nil {
			t.Fatal(err)
		}
		mb := &models.Mailbox{Email: "a@a.example"}
		if err := s.CreateMailbox(ctx, a, mb); err != nil {
			t.Fatal(err)
		}
		msgs, err := s.UpsertMessages(ctx, a, mb.ID, []models.MessageWrite{sampleWrite("g1", "t1", "INBOX")})
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := s.GetMessage(ctx, a, msgs[0].ID)
		threads, _, _ := s.ListThreads(ctx, a, mb.ID, models.Page{})

		reads := map[string]func(tenant int64) error{
			"account":    func(tn int64) error { _, err := s.GetAccount(ctx, tn, acct.ID); return err },
			"contact":    func(tn int64) error { _, err := s.GetContact(ctx, tn, contact.ID); return err },
			"case":       func(tn int64) error { _, err := s.GetCase(ctx, tn, kase.ID); return err },
			"mailbox":    func(tn int64) error { _, err := s.GetMailbox(ctx, tn, mb.ID); return err },
			"message":    func(tn int64) error { _, err := s.GetMessage(ctx, tn, msgs[0].ID); return err },
			"thread":     func(tn int64) error { _, err := s.GetThread(ctx, tn, threads[0].ID); return err },
			"attachment": func(tn int64) error { _, err := s.GetAttachment(ctx, tn, msg.Attachments[0].ID); return err },
			"update account": func(tn int64) error {
				return s.UpdateAccount(ctx, tn, &models.Account{ID: acct.ID, Name: "hijacked"})
			},
			"update case": func(tn int64) error {
				return s.UpdateCase(ctx, tn, &models.Case{ID: kase.ID, Subject: "hijacked"})
			},
			"update mailbox": func(tn int64) error {
				return s.UpdateMailbox(ctx, tn, mb.ID, map[string]any{"last_error": "hijacked"})
			},
			"link message":   func(tn int64) error { return s.LinkMessage(ctx, tn, kase.ID, msgs[0].ID) },
			"delete contact": func(tn int64) error { return s.DeleteContact(ctx, tn, contact.ID) },
			"delete case":    func(tn int64) error { return s.DeleteCase(ctx, tn, kase.ID) },
		}
		for name, read := range reads {
			if err := read(b); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("tenant B %s of tenant A's id: err = %v, want ErrNotFound", name, err)
			}
		}
		// Tenant A still sees everything unchanged.
		got, err := s.GetAccount(ctx, a, acct.ID)
		if err != nil || got.Name != "A's account" {
			t.Fatalf("tenant A account = %+v, %v", got, err)
		}
		if list, total, _ := s.ListCases(ctx, b, models.CaseFilter{}); total != 0 || len(list) != 0 {
			t.Fatalf("tenant B lists %d cases", total)
		}
		if _, total, _ := s.ListMessages(ctx, b, models.MessageFilter{}); total != 0 {
			t.Fatalf("tenant B lists %d messages", total)
		}
	})
}

func TestTokenIsEncryptedAtRest(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tid := newTenant(t, s, "e@own.example")
		mb := &models.Mailbox{Email: "me@own.example"}
		if err := s.CreateMailbox(ctx, tid, mb); err != nil {
			t.Fatal(err)
		}
		other := &models.Mailbox{Email: "other@own.example"}
		if err := s.CreateMailbox(ctx, tid, other); err != nil {
			t.Fatal(err)
		}
		type token struct{ AccessToken, RefreshToken string }
		in := token{"ya29.secret-access", "1//secret-refresh"}
		if err := s.SaveToken(ctx, tid, mb.ID, in); err != nil {
			t.Fatal(err)
		}
		stored, _ := s.GetMailbox(ctx, tid, mb.ID)
		if len(stored.TokenCiphertext) == 0 || bytes.Contains(stored.TokenCiphertext, []byte("secret-refresh")) || bytes.Contains(stored.TokenCiphertext, []byte("ya29")) {
			t.Fatalf("stored token is not sealed: %q", stored.TokenCiphertext)
		}
		var out token
		if err := s.LoadToken(ctx, tid, mb.ID, &out); err != nil || out != in {
			t.Fatalf("LoadToken = %+v, %v", out, err)
		}
		// A sealed token moved to another row does not open there.
		if err := s.UpdateMailbox(ctx, tid, other.ID, map[string]any{"token_ciphertext": stored.TokenCiphertext}); err != nil {
			t.Fatal(err)
		}
		if err := s.LoadToken(ctx, tid, other.ID, &out); !errors.Is(err, models.ErrDecrypt) {
			t.Fatalf("moved token opened: %v", err)
		}
		if err := s.LoadToken(ctx, tid+1000, mb.ID, &out); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("other tenant loaded token: %v", err)
		}
	})
}

func TestCipherRotation(t *testing.T) {
	oldKey := bytes.Repeat([]byte{1}, 32)
	newKey := bytes.Repeat([]byte{2}, 32)
	oldC, _ := models.NewCipher(oldKey)
	sealed, err := oldC.Seal([]byte("refresh-token"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := models.NewCipher(newKey, oldKey)
	pt, err := rotated.Open(sealed, []byte("ad"))
	if err != nil || string(pt) != "refresh-token" {
		t.Fatalf("rotated cipher cannot open old value: %q, %v", pt, err)
	}
	resealed, _ := rotated.Seal(pt, []byte("ad"))
	newOnly, _ := models.NewCipher(newKey)
	if _, err := newOnly.Open(resealed, []byte("ad")); err != nil {
		t.Fatalf("resealed value needs the old key: %v", err)
	}
	if _, err := newOnly.Open(sealed, []byte("ad")); !errors.Is(err, models.ErrDecrypt) {
		t.Fatalf("retired key still opens: %v", err)
	}
	tampered := slices.Clone(resealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := newOnly.Open(tampered, []byte("ad")); !errors.Is(err, models.ErrDecrypt) {
		t.Fatalf("tampered value opened: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	good := "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	cases := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{good, 1, false},
		{good + "," + "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=", 2, false},
		{"", 0, true},
		{"not base64!!", 0, true},
		{"AQEB", 0, true}, // 3 bytes
	}
	for _, c := range cases {
		keys, err := models.ParseKeys(c.in)
		if (err != nil) != c.wantErr || len(keys) != c.want {
			t.Errorf("ParseKeys(%q) = %d keys, %v", c.in, len(keys), err)
		}
	}
}

func TestPasswordHashAndAuthenticate(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tid := newTenant(t, s, "Login@Own.example")
		u, err := s.Authenticate(ctx, "login@own.example", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		if m, err := s.Membership(ctx, tid, u.ID); err != nil || m.Role != models.RoleAdmin {
			t.Fatalf("membership = %+v, %v", m, err)
		}
		if _, err := s.Authenticate(ctx, "login@own.example", "wrong password!"); !errors.Is(err, models.ErrPasswordMismatch) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := s.Authenticate(ctx, "nobody@own.example", "whatever123"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		if _, _, err := s.SignUp(ctx, "Again", "login@own.example", "x", "another password"); !errors.Is(err, models.ErrSignUpRefused) {
			t.Fatalf("sign-up with a taken address and another password: %v", err)
		}
		plain, _, err := s.CreateAPIToken(ctx, tid, u.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.APITokenByPlaintext(ctx, plain)
		if err != nil || tok.UserID != u.ID || tok.TenantID != tid {
			t.Fatalf("token lookup = %+v, %v", tok, err)
		}
		if bytes.Contains(tok.Hash, []byte(plain)) {
			t.Fatal("token stored in plaintext")
		}
		if _, err := s.APITokenByPlaintext(ctx, plain+"x"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("altered token accepted: %v", err)
		}
	})
}

// mailboxState is every stored message of a mailbox with its thread and
// sorted label set, keyed by Gmail id.
func mailboxState(ctx context.Context, s *models.Store, tenantID, mailboxID int64) (map[string]models.MessageState, error) {
	ids, err := s.GmailIDs(ctx, tenantID, mailboxID)
	if err != nil {
		return nil, err
	}
	return s.MessageStates(ctx, tenantID, mailboxID, ids)
}
