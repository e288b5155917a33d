package search

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sliceSource serves documents from memory, in batches of 3.
type sliceSource []Document

func (s sliceSource) Documents(_ context.Context, tenantID int64, fn func([]Document) error) error {
	var batch []Document
	for _, d := range s {
		if d.TenantID != tenantID {
			continue
		}
		batch = append(batch, d)
		if len(batch) == 3 {
			if err := fn(batch); err != nil {
				return err
			}
			batch = nil
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

func TestEmbeddedReindexAndCheck(t *testing.T) {
	for name, open := range blevesByName {
		t.Run(name, func(t *testing.T) {
			idx, err := open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer idx.Close()
			testReindexAndCheck(t, idx)
		})
	}
}

func testReindexAndCheck(t *testing.T, idx Index) {
	ctx := context.Background()
	docs := loadFixture(t)
	if err := idx.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}

	// The database lost message 3 and changed message 4's subject.
	var db []Document
	for _, d := range docs {
		if d.ID == 3 {
			continue
		}
		if d.ID == 4 {
			d.Subject = "Weekly zeppelin tips"
		}
		db = append(db, d)
	}
	var dbIDs []int64
	for _, d := range db {
		if d.TenantID == 1 {
			dbIDs = append(dbIDs, d.ID)
		}
	}
	drift, err := Check(ctx, idx, 1, 0, sliceSource(db), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Message 4 is in both with the same id: only its content hash tells.
	if !slices.Equal(drift.Extra, []int64{3}) || len(drift.Missing) != 0 || !slices.Equal(drift.Changed, []int64{4}) ||
		drift.Repaired || drift.IndexCount != 9 || drift.DBCount != 8 {
		t.Errorf("Check = %+v, want extra [3], changed [4]", drift)
	}

	var last int64
	if err := Reindex(ctx, idx, 1, sliceSource(db), func(n int64) { last = n }); err != nil {
		t.Fatal(err)
	}
	if last != 8 {
		t.Errorf("progress ended at %d, want 8", last)
	}
	hashes, err := idx.Hashes(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for id := range hashes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, dbIDs) {
		t.Errorf("IDs after reindex = %v, want %v", ids, dbIDs)
	}
	res, err := idx.Search(ctx, 1, Request{Query: "zepp"})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != 4 {
		t.Errorf("changed subject not searchable after reindex: %+v, %v", res, err)
	}
	if n, _ := idx.Count(ctx, 2, 0); n != 1 {
		t.Errorf("tenant 2 count = %d after reindexing tenant 1, want 1", n)
	}

	// Drift the other way: the index lost message 9; repair re-adds it.
	if err := idx.Delete(ctx, 1, []int64{9}); err != nil {
		t.Fatal(err)
	}
	var mailbox12 sliceSource
	for _, d := range db {
		if d.MailboxID == 12 {
			mailbox12 = append(mailbox12, d)
		}
	}
	drift, err = Check(ctx, idx, 1, 12, mailbox12, func(missing []int64) error {
		var batch []Document
		for _, d := range db {
			if slices.Contains(missing, d.ID) {
				batch = append(batch, d)
			}
		}
		return idx.Index(ctx, batch)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(drift.Missing, []int64{9}) || len(drift.Changed)+len(drift.Extra) != 0 || !drift.Repaired {
		t.Errorf("Check = %+v, want missing [9] repaired", drift)
	}
	if n, err := idx.Count(ctx, 1, 12); err != nil || n != 3 {
		t.Errorf("Count(mailbox 12) = %d, %v, want 3", n, err)
	}
}

// TestEmbeddedIndexLockedNamesHolder: a second opener fails at once and
// says who holds the index, instead of waiting on it.
func TestEmbeddedIndexLockedNamesHolder(t *testing.T) {
	for name, open := range blevesByName {
		t.Run(name, func(t *testing.T) { testLockedNamesHolder(t, open) })
	}
}

func testLockedNamesHolder(t *testing.T, open func(dir string) (Index, error)) {
	dir := t.TempDir()
	idx, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = open(dir)
	var locked *IndexLockedError
	if !errors.As(err, &locked) || !errors.Is(err, ErrIndexLocked) {
		t.Fatalf("second OpenBleve = %v, want *IndexLockedError", err)
	}
	if want := "pid " + strconv.Itoa(os.Getpid()); !strings.Contains(locked.Holder, want) {
		t.Errorf("holder = %q, want it to name %q", locked.Holder, want)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := open(dir)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	_ = again.Close()
}
