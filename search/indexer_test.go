package search_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
	"tidings/search"
)

// fixture is one tenant with two mailboxes in a real database, a real
// index and the indexer between them.
type fixture struct {
	t        *testing.T
	store    *models.Store
	idx      search.Index
	ix       *search.Indexer
	tenantID int64
	mb1, mb2 int64
	msgs     []models.Message // mb1: 0..2, mb2: 3
}

// indexBackend opens an index for a fixture's store.
type indexBackend struct {
	name string
	open func(t *testing.T, store *models.Store) search.Index
}

func openBleveShards(t *testing.T, _ *models.Store) search.Index {
	idx, err := search.OpenBleveShards(t.TempDir()+"/mail.bleve-shards", nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func openBleve(t *testing.T, _ *models.Store) search.Index {
	idx, err := search.OpenBleve(t.TempDir()+"/mail.bleve", nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// openPostgresIndex opens the Postgres index in the store's database.
func openPostgresIndex(t *testing.T, store *models.Store) search.Index {
	db, err := store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := search.OpenPostgres(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// engineBackend is a database engine and an index the indexer contract
// runs against on it.
type engineBackend struct {
	eng testenv.Engine
	be  indexBackend
}

// engineBackends: the embedded index on every engine, and the Postgres
// index (the one every process shares) on Postgres.
func engineBackends(t *testing.T) []engineBackend {
	var out []engineBackend
	for _, eng := range testenv.Engines(t) {
		out = append(out, engineBackend{eng, indexBackend{"bleve", openBleve}})
		out = append(out, engineBackend{eng, indexBackend{"bleve-shards", openBleveShards}})
		if eng.Name == models.Postgres {
			out = append(out, engineBackend{eng, indexBackend{"postgres", openPostgresIndex}})
		}
	}
	return out
}

func newFixture(t *testing.T, eng testenv.Engine, backends ...indexBackend) *fixture {
	ctx := context.Background()
	store := eng.Open(t)
	tenant, _, err := store.SignUp(ctx, "Acme", "admin@acme.example", "Admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: store, tenantID: tenant.ID}
	for i, p := range []*int64{&f.mb1, &f.mb2} {
		mb := &models.Mailbox{Email: fmt.Sprintf("box%d@acme.example", i)}
		if err := store.CreateMailbox(ctx, tenant.ID, mb); err != nil {
			t.Fatal(err)
		}
		*p = mb.ID
	}
	open := openBleve
	if len(backends) > 0 {
		open = backends[0].open
	}
	f.idx = open(t, store)
	t.Cleanup(func() { _ = f.idx.Close() })
	f.ix = search.NewIndexer(store, f.idx, nil)
	f.msgs = append(f.msgs, f.store1(f.mb1, "m1", "Invoice 1", "jan@tyrell.example")...)
	f.msgs = append(f.msgs, f.store1(f.mb1, "m2", "Invoice 2", "jan@tyrell.example")...)
	f.msgs = append(f.msgs, f.store1(f.mb1, "m3", "Roadmap", "eva@wayne.example")...)
	f.msgs = append(f.msgs, f.store1(f.mb2, "m4", "Invoice 4", "eva@wayne.example")...)
	f.drain()
	return f
}

func (f *fixture) store1(mailboxID int64, gmailID, subject, from string) []models.Message {
	f.t.Helper()
	domain := from[slices.Index([]byte(from), '@')+1:]
	w := models.MessageWrite{
		Message: models.Message{GmailID: gmailID, GmailThreadID: gmailID, Subject: subject, From: from,
			FromAddress: from, Date: time.Date(2026, 11, 1, 0, 0, len(f.msgs), 0, time.UTC), Text: "body of " + subject},
		LabelIDs:  []string{"INBOX"},
		Addresses: []models.MessageAddress{{Role: "from", Address: from, Domain: domain}},
	}
	out, err := f.store.UpsertMessages(context.Background(), f.tenantID, mailboxID, []models.MessageWrite{w})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) drain() {
	f.t.Helper()
	if _, err := f.ix.Drain(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

// find searches through the indexer (which applies pending work first)
// and returns the hit ids in order.
func (f *fixture) find(req search.Request) []int64 {
	f.t.Helper()
	res, err := f.ix.Search(context.Background(), f.tenantID, req)
	if err != nil {
		f.t.Fatal(err)
	}
	var ids []int64
	for _, h := range res.Hits {
		ids = append(ids, h.ID)
	}
	slices.Sort(ids)
	return ids
}

func (f *fixture) ids(is ...int) []int64 {
	var out []int64
	for _, i := range is {
		out = append(out, f.msgs[i].ID)
	}
	slices.Sort(out)
	return out
}

func TestIndexerFollowsTheDatabase(t *testing.T) {
	for _, eb := range engineBackends(t) {
		eng, be := eb.eng, eb.be
		t.Run(eng.String()+"/"+be.name, func(t *testing.T) {
			newFixture := func(t *testing.T, eng testenv.Engine) *fixture { return newFixture(t, eng, be) }
			ctx := context.Background()
			t.Run("disconnected mailbox is gone from search", func(t *testing.T) {
				f := newFixture(t, eng)
				if got := f.find(search.Request{Query: "invo"}); !slices.Equal(got, f.ids(0, 1, 3)) {
					t.Fatalf("before: %v", got)
				}
				if _, err := f.store.DeleteMailbox(ctx, f.tenantID, f.mb1); err != nil {
					t.Fatal(err)
				}
				if got := f.find(search.Request{Query: "invo"}); !slices.Equal(got, f.ids(3)) {
					t.Errorf("after disconnect: %v, want only the other mailbox's %v", got, f.ids(3))
				}
				if h, err := f.idx.Hashes(ctx, f.tenantID, f.mb1); err != nil || len(h) != 0 {
					t.Errorf("index still holds %d documents of the mailbox (%v)", len(h), err)
				}
			})
			t.Run("case link is searchable at once", func(t *testing.T) {
				f := newFixture(t, eng)
				c := &models.Case{Subject: "Billing"}
				if err := f.store.CreateCase(ctx, f.tenantID, c); err != nil {
					t.Fatal(err)
				}
				if err := f.store.LinkMessage(ctx, f.tenantID, c.ID, f.msgs[2].ID); err != nil {
					t.Fatal(err)
				}
				if got := f.find(search.Request{CaseIDs: []int64{c.ID}}); !slices.Equal(got, f.ids(2)) {
					t.Errorf("case_id filter = %v, want %v", got, f.ids(2))
				}
			})
			t.Run("contact moved to another account", func(t *testing.T) {
				f := newFixture(t, eng)
				a, b := &models.Account{Name: "Tyrell"}, &models.Account{Name: "Wayne"}
				for _, acc := range []*models.Account{a, b} {
					if err := f.store.CreateAccount(ctx, f.tenantID, acc); err != nil {
						t.Fatal(err)
					}
				}
				c := &models.Contact{FirstName: "Jan", AccountID: &a.ID, Emails: []models.ContactEmail{{Address: "jan@tyrell.example"}}}
				if err := f.store.CreateContact(ctx, f.tenantID, c); err != nil {
					t.Fatal(err)
				}
				if got := f.find(search.Request{ContactIDs: []int64{c.ID}}); !slices.Equal(got, f.ids(0, 1)) {
					t.Errorf("contact filter = %v, want %v", got, f.ids(0, 1))
				}
				if got := f.find(search.Request{AccountIDs: []int64{a.ID}}); !slices.Equal(got, f.ids(0, 1)) {
					t.Errorf("account filter = %v, want %v", got, f.ids(0, 1))
				}
				c.AccountID = &b.ID
				c.LastName = "Renamed"
				if err := f.store.UpdateContact(ctx, f.tenantID, c); err != nil {
					t.Fatal(err)
				}
				if got := f.find(search.Request{AccountIDs: []int64{b.ID}}); !slices.Equal(got, f.ids(0, 1)) {
					t.Errorf("new account filter = %v, want %v", got, f.ids(0, 1))
				}
				if got := f.find(search.Request{AccountIDs: []int64{a.ID}}); len(got) != 0 {
					t.Errorf("old account filter still finds %v", got)
				}
				// The contact's address changes: its link follows.
				c.Emails = []models.ContactEmail{{Address: "eva@wayne.example"}}
				if err := f.store.UpdateContact(ctx, f.tenantID, c); err != nil {
					t.Fatal(err)
				}
				if got := f.find(search.Request{ContactIDs: []int64{c.ID}}); !slices.Equal(got, f.ids(2, 3)) {
					t.Errorf("contact filter after address change = %v, want %v", got, f.ids(2, 3))
				}
			})
			t.Run("crash between commit and index write", func(t *testing.T) {
				f := newFixture(t, eng)
				// A worker stores and deletes, then dies before touching the index.
				added := f.store1(f.mb1, "m5", "Invoice 5", "jan@tyrell.example")
				if _, err := f.store.DeleteMessages(ctx, f.tenantID, f.mb1, []string{"m1"}); err != nil {
					t.Fatal(err)
				}
				// An index write that fails half-way leaves the work queued too.
				failing := search.NewIndexer(f.store, failingIndex{f.idx}, nil)
				if be.name == "postgres" {
					// The Postgres index is written in the transaction that
					// claims the marks: the process dies after writing the
					// documents, before the commit.
					failing = search.NewIndexer(f.store, f.idx, nil)
					search.FailInClaimForTest(failing, errors.New("injected: killed before commit"))
				}
				if _, err := failing.Drain(ctx); err == nil {
					t.Fatal("drain into a failing index reported success")
				}
				if h, err := f.idx.Hashes(ctx, f.tenantID, f.mb1); err != nil || h[added[0].ID] != "" || h[f.msgs[0].ID] == "" {
					t.Fatalf("a failed drain changed the index: %v (%v)", h, err)
				}
				if n, err := f.store.CountIndexWork(ctx, f.tenantID); err != nil || n != 2 {
					t.Fatalf("queued index work = %d (%v), want 2", n, err)
				}
				// The next pass, by any process, repairs the index.
				f.drain()
				res, err := f.idx.Search(ctx, f.tenantID, search.Request{Query: "invo"})
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, h := range res.Hits {
					got = append(got, h.ID)
				}
				slices.Sort(got)
				want := []int64{f.msgs[1].ID, f.msgs[3].ID, added[0].ID}
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("after repair: %v, want %v (added one found, deleted one gone)", got, want)
				}
				if n, _ := f.store.CountIndexWork(ctx, f.tenantID); n != 0 {
					t.Errorf("%d marks left after a successful drain", n)
				}
			})
			t.Run("check reports changed content", func(t *testing.T) {
				f := newFixture(t, eng)
				src := search.StoreSource{Store: f.store, MailboxID: f.mb1}
				d, err := search.Check(ctx, f.idx, f.tenantID, f.mb1, src, nil)
				if err != nil || !d.InSync() || d.DBCount != 3 || d.IndexCount != 3 {
					t.Fatalf("fresh index: %+v, %v", d, err)
				}
				// The index holds an old version of message 2.
				stale := f.msgs[1]
				docs, err := search.BuildDocuments(ctx, f.store, f.tenantID, []models.Message{stale})
				if err != nil {
					t.Fatal(err)
				}
				docs[0].Subject = "Invoice 2 (old)"
				if err := f.idx.Index(ctx, docs); err != nil {
					t.Fatal(err)
				}
				d, err = search.Check(ctx, f.idx, f.tenantID, f.mb1, src, func(ids []int64) error {
					if err := f.store.MarkForIndex(ctx, f.tenantID, ids); err != nil {
						return err
					}
					_, err := f.ix.Drain(ctx)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(d.Changed, f.ids(1)) || len(d.Missing)+len(d.Extra) != 0 || !d.Repaired {
					t.Errorf("Check = %+v, want message %d changed and repaired", d, f.msgs[1].ID)
				}
				if d, _ := search.Check(ctx, f.idx, f.tenantID, f.mb1, src, nil); !d.InSync() {
					t.Errorf("after repair: %+v", d)
				}
			})
		})
	}
}

// failingIndex fails every write, as a crashed or unreachable index would.
type failingIndex struct{ inner search.Index }

func (x failingIndex) Search(ctx context.Context, tenantID int64, req search.Request) (*search.Result, error) {
	return x.inner.Search(ctx, tenantID, req)
}

func (x failingIndex) Count(ctx context.Context, tenantID, mailboxID int64) (int64, error) {
	return x.inner.Count(ctx, tenantID, mailboxID)
}

func (x failingIndex) Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error) {
	return x.inner.Hashes(ctx, tenantID, mailboxID)
}

func (x failingIndex) UpdateLabels(context.Context, int64, int64, []string, []string) error {
	return errors.New("injected: index write failed")
}

func (x failingIndex) Close() error { return nil }

func (failingIndex) Index(context.Context, []search.Document) error {
	return errors.New("injected: index write failed")
}

func (failingIndex) Delete(context.Context, int64, []int64) error {
	return errors.New("injected: index delete failed")
}

// TestIndexerFillsAnEmptyIndex: a new index (another engine, a lost
// directory) is filled from the database instead of answering empty.
func TestIndexerFillsAnEmptyIndex(t *testing.T) {
	eng := testenv.Engines(t)[0]
	f := newFixture(t, eng)
	ctx := context.Background()
	fresh, err := search.OpenFTS(t.TempDir()+"/mail.fts", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	ix := search.NewIndexer(f.store, fresh, nil)
	if n, err := ix.Fill(ctx); err != nil || n != 4 {
		t.Fatalf("Fill = %d, %v; want 4 messages queued", n, err)
	}
	if _, err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := fresh.Count(ctx, f.tenantID, 0); err != nil || n != 4 {
		t.Errorf("filled index holds %d (%v), want 4", n, err)
	}
	if n, err := ix.Fill(ctx); err != nil || n != 0 {
		t.Errorf("second Fill = %d, %v; want nothing queued", n, err)
	}
}

// TestPostgresConcurrentDrains: processes draining the shared outbox at
// once into the Postgres index take disjoint marks; every message is
// indexed exactly once and no mark is left.
func TestPostgresConcurrentDrains(t *testing.T) {
	var eng testenv.Engine
	for _, e := range testenv.Engines(t) {
		if e.Name == models.Postgres {
			eng = e
		}
	}
	if eng.Open == nil {
		t.Skip("TIDINGS_TEST_DATABASE_URL not set")
	}
	ctx := context.Background()
	f := newFixture(t, eng, indexBackend{"postgres", openPostgresIndex})
	var writes []models.MessageWrite
	for i := range 1200 {
		writes = append(writes, models.MessageWrite{Message: models.Message{GmailID: fmt.Sprintf("c%d", i), GmailThreadID: "c",
			Subject: fmt.Sprintf("Concurrent %d", i), Date: time.Date(2026, 11, 2, 0, 0, i, 0, time.UTC)}, LabelIDs: []string{"INBOX"}})
	}
	if _, err := f.store.UpsertMessages(ctx, f.tenantID, f.mb2, writes); err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = search.NewIndexer(f.store, f.idx, nil).Drain(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range counts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		total += counts[i]
	}
	if total != len(writes) {
		t.Errorf("drains applied %d marks in all (%v), want each of %d once", total, counts, len(writes))
	}
	if n, err := f.idx.Count(ctx, f.tenantID, f.mb2); err != nil || n != int64(len(writes))+1 {
		t.Errorf("index holds %d of mailbox 2 (%v), want %d", n, err, len(writes)+1)
	}
	if n, _ := f.store.CountIndexWork(ctx, 0); n != 0 {
		t.Errorf("%d marks left", n)
	}
}
