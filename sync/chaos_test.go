package sync

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	stdsync "sync"
	"testing"
	"time"

	"tidings/emulator"
	"tidings/models"
)

// chaosFaults are the transport and Gmail faults the chaos test injects.
// FaultGhostLabel is left out on purpose: it makes messages.get report a
// label the message does not have, so no client could end up equal to
// Snapshot; FaultSlow only adds wall time.
var chaosFaults = []emulator.FaultKind{
	emulator.FaultServerError, emulator.FaultUnavailable, emulator.FaultRateLimit, emulator.FaultConnReset,
	emulator.FaultTruncated, emulator.FaultEmptyHistoryPage, emulator.FaultPhantomHistoryMessage,
}

// chaosSeed is TIDINGS_CHAOS_SEED when set, so a failing run can be
// replayed, else a fresh one. The seed drives the mutations, the kill
// points and the emulator's faults; goroutine timing stays the scheduler's.
func chaosSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("TIDINGS_CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("TIDINGS_CHAOS_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with TIDINGS_CHAOS_SEED=%d)", seed, seed)
	return seed
}

// TestChaos: while the mailbox is mutated (deliveries, label changes,
// trash, deletions, one history expiry) and the emulator fails 15 % of
// calls, syncs are killed at random points and restarted with a fresh
// Syncer. At the end one sync must succeed and the store must equal Gmail.
func TestChaos(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		seed := chaosSeed(t)
		rng := rand.New(rand.NewPCG(seed, 1))
		e := newEnv(t, store, emulator.WithSeed(seed))
		generated(t, e, 300)
		userLabel, err := e.emu.CreateLabel(e.email, "Deals")
		if err != nil {
			t.Fatal(err)
		}
		e.emu.SetFaults(emulator.Faults{Rate: 0.15, Kinds: chaosFaults})

		const deliveries, relabels, removals = 1000, 400, 150
		mutCtx, stopMut := context.WithCancel(context.Background())
		defer stopMut()
		var wg stdsync.WaitGroup
		mutDone := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(mutDone)
			mrng := rand.New(rand.NewPCG(seed, 2))
			ops := make([]int, 0, deliveries+relabels+removals)
			for range deliveries {
				ops = append(ops, 0)
			}
			for range relabels {
				ops = append(ops, 1)
			}
			for range removals {
				ops = append(ops, 2)
			}
			mrng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
			labels := []string{"INBOX", "UNREAD", "STARRED", "IMPORTANT", userLabel}
			var ids []string
			expired := false
			for n, op := range ops {
				if mutCtx.Err() != nil {
					return
				}
				// Spread the mutations over several seconds so that they
				// interleave with many syncs.
				time.Sleep(4 * time.Millisecond)
				if !expired && n == len(ops)/2 {
					expired = true
					if err := e.emu.ExpireHistory(e.email); err != nil {
						t.Error(err)
					}
				}
				switch {
				case op == 0 || len(ids) == 0:
					ls := []string{"INBOX"}
					if mrng.IntN(3) == 0 {
						ls = append(ls, userLabel)
					}
					id, err := e.emu.Deliver(e.email, rawMessage(10000+n, "Chaos", ""), ls...)
					if err != nil {
						t.Error(err)
						return
					}
					ids = append(ids, id)
				case op == 1:
					id := ids[mrng.IntN(len(ids))]
					l := labels[mrng.IntN(len(labels))]
					var err error
					if mrng.IntN(2) == 0 {
						err = e.emu.ModifyLabels(e.email, id, []string{l}, nil)
					} else {
						err = e.emu.ModifyLabels(e.email, id, nil, []string{l})
					}
					if err != nil && !errors.Is(err, emulator.ErrNotFound) {
						t.Error(err)
					}
				default:
					i := mrng.IntN(len(ids))
					var err error
					if mrng.IntN(3) == 0 {
						err = e.emu.Trash(e.email, ids[i])
					} else {
						err = e.emu.Delete(e.email, ids[i])
						ids = slices.Delete(ids, i, i+1)
					}
					if err != nil && !errors.Is(err, emulator.ErrNotFound) {
						t.Error(err)
					}
				}
			}
		}()

		mod := func(d *Deps) { d.PageSize = 100 }
		kills, runs := 0, 0
		for mutating := true; mutating; {
			select {
			case <-mutDone:
				mutating = false
			default:
			}
			// Mostly short-lived runs killed at a random point; now and
			// then one long enough to finish.
			life := time.Duration(5+rng.IntN(300)) * time.Millisecond
			if rng.IntN(5) == 0 {
				life = 3 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), life)
			err := e.syncer(mod).Run(ctx, e.tenantID, e.mailboxID, rng.IntN(10) == 0, nil)
			cancel()
			runs++
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				kills++
			}
			if errors.Is(err, ErrNeedsReauth) {
				t.Fatalf("chaos led to needs-reauth: %v", err)
			}
		}
		wg.Wait()
		// Quiesced mailbox, faults still on: syncs must converge.
		var err2 error
		for attempt := 0; attempt < 20; attempt++ {
			if err2 = e.run(e.syncer(mod), false); err2 == nil {
				break
			}
			t.Logf("final sync attempt %d: %v", attempt, err2)
		}
		if err2 != nil {
			t.Fatalf("sync never converged: %v", err2)
		}
		t.Logf("%d runs, %d killed, %d messages in Gmail, %d resyncs, %d requests", runs, kills, e.emu.MessageCount(e.email), e.mailbox().Resyncs, e.counter.total.Load())
		if kills == 0 {
			t.Error("no sync was killed: the test did not exercise resumption")
		}
		e.assertExact()
	})
}
