package search_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"tidings/internal/testenv"
	"tidings/models"
	"tidings/search"
)

func openFTS(t *testing.T, _ *models.Store) search.Index {
	idx, err := search.OpenFTS(t.TempDir()+"/mail.fts", nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestIndexerSettlesWhenIdle: messages indexed in several drains leave
// the FTS5 shard with a segment per commit; the indexer's background loop,
// once it has drained the outbox, merges them into one, and the messages
// are still found.
func TestIndexerSettlesWhenIdle(t *testing.T) {
	eng := testenv.Engines(t)[0]
	f := newFixture(t, eng, indexBackend{"fts5", openFTS})
	for i := range 5 {
		f.msgs = append(f.msgs, f.store1(f.mb1, fmt.Sprintf("s%d", i), fmt.Sprintf("Settle %d", i), "jan@tyrell.example")...)
		f.drain()
	}
	x := f.idx.(*search.FTSIndex)
	segs, err := search.SegmentsForTest(x, f.tenantID)
	if err != nil || len(segs) != 1 || segs[0] < 4 {
		t.Fatalf("segments before = %v, %v; want one shard with a segment per drain", segs, err)
	}
	want := f.find(search.Request{Query: "jan"})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); f.ix.Run(ctx, 10*time.Millisecond) }()
	defer func() { cancel(); <-stopped }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		segs, err = search.SegmentsForTest(x, f.tenantID)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(segs, []int{1}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("segments = %v after the indexer went idle, want [1]", segs)
		}
	}
	if got := f.find(search.Request{Query: "jan"}); !slices.Equal(got, want) || len(got) != 7 {
		t.Errorf("jan after settling: %v, before %v (want 7 hits)", got, want)
	}
}
