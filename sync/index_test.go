package sync

import (
	"context"
	"slices"
	"testing"

	"tidings/internal/testenv"
	"tidings/search"
)

// TestStoreSourceMatchesSyncedDocuments: the documents `tidings reindex`
// rebuilds from the store equal what the sync indexed.
func TestStoreSourceMatchesSyncedDocuments(t *testing.T) {
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	generated(t, e, 120)
	if err := e.run(e.syncer(func(d *Deps) { d.ContactPolicy = ContactsAll }), false); err != nil {
		t.Fatal(err)
	}
	var docs []search.Document
	err := search.StoreSource{Store: store, BatchSize: 50}.Documents(context.Background(), e.tenantID, func(b []search.Document) error {
		docs = append(docs, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 120 {
		t.Fatalf("%d documents, want 120", len(docs))
	}
	withNames, withContacts := 0, 0
	for _, d := range docs {
		synced, ok := e.index.docs[d.ID]
		if !ok {
			t.Fatalf("document %d was never indexed by the sync", d.ID)
		}
		if d.GmailID != synced.GmailID || d.Subject != synced.Subject || !slices.Equal(d.LabelIDs, synced.LabelIDs) ||
			!slices.Equal(d.LabelNames, synced.LabelNames) || !slices.Equal(d.ContactIDs, synced.ContactIDs) ||
			!slices.Equal(d.Filenames, synced.Filenames) || d.Body != synced.Body || !d.Date.Equal(synced.Date) {
			t.Errorf("document %d differs:\nstore %+v\nsync  %+v", d.ID, d, synced)
		}
		if len(d.LabelNames) > 0 {
			withNames++
		}
		if len(d.ContactIDs) > 0 {
			withContacts++
		}
	}
	if withNames == 0 || withContacts == 0 {
		t.Errorf("no document carries user label names (%d) or contact links (%d)", withNames, withContacts)
	}
}
