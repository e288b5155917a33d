package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"
)

// On one lane the page writer keeps the order of writes; after a failed
// write it skips the rest (a page's checkpoint queued behind its failed
// messages is never written), cancels the run with the failure as the
// cause and reports it to every later caller.
func TestPageWriterOrderAndFailure(t *testing.T) {
	tests := []struct {
		name   string
		failAt int // -1: none
		want   []int
	}{
		{"all succeed", -1, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"third fails", 2, []int{0, 1, 2}},
		{"first fails", 0, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			w := newPageWriter(cancel, 1)
			boom := errors.New("store failed")
			var ran []int
			var queueErr error
			for i := range 8 {
				err := w.do(ctx, 0, func() error {
					ran = append(ran, i)
					if i == tt.failAt {
						return fmt.Errorf("write %d: %w", i, boom)
					}
					return nil
				})
				if err != nil && queueErr == nil {
					queueErr = err
				}
			}
			err := w.close()
			if !slices.Equal(ran, tt.want) {
				t.Errorf("ran %v, want %v", ran, tt.want)
			}
			if tt.failAt < 0 {
				if err != nil || queueErr != nil || ctx.Err() != nil {
					t.Errorf("close %v, queue %v, ctx %v; want no error", err, queueErr, ctx.Err())
				}
				return
			}
			if !errors.Is(err, boom) {
				t.Errorf("close: %v, want the write's error", err)
			}
			if !errors.Is(context.Cause(ctx), boom) {
				t.Errorf("run cancelled with %v, want the write's error", context.Cause(ctx))
			}
			if queueErr != nil && !errors.Is(queueErr, boom) {
				t.Errorf("a later write was refused with %v", queueErr)
			}
		})
	}
}

// With several lanes, a barrier (a page's checkpoint) runs only after
// every write queued before it has finished, on every lane, and
// barriers run in the order they were queued; a failed write keeps every
// later barrier from running.
func TestPageWriterLanesAndBarriers(t *testing.T) {
	for _, failAt := range []int{-1, 13} {
		t.Run(fmt.Sprintf("fail at %d", failAt), func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			w := newPageWriter(cancel, 3)
			var (
				finished atomic.Int64
				mu       stdsync.Mutex
				barriers []int
			)
			queued := 0
			for page := range 6 {
				for i := range 5 {
					n := queued
					queued++
					err := w.do(ctx, page+i, func() error {
						// Uneven durations, so lanes drift apart.
						time.Sleep(time.Duration((n*7)%5) * time.Millisecond)
						if n == failAt {
							return errors.New("store failed")
						}
						finished.Add(1)
						return nil
					})
					if err != nil {
						break
					}
				}
				before := int64(queued)
				err := w.barrier(ctx, func() error {
					if got := finished.Load(); got < before {
						return fmt.Errorf("checkpoint %d ran after %d of the %d writes before it", page, got, before)
					}
					mu.Lock()
					barriers = append(barriers, page)
					mu.Unlock()
					return nil
				})
				if err != nil {
					break
				}
			}
			err := w.close()
			if failAt < 0 {
				if err != nil || !slices.Equal(barriers, []int{0, 1, 2, 3, 4, 5}) {
					t.Fatalf("close %v, checkpoints %v; want all six in order", err, barriers)
				}
				return
			}
			if err == nil || err.Error() != "store failed" {
				t.Fatalf("close: %v, want the failed write's error", err)
			}
			// Write 13 is on page 2: checkpoints 0 and 1 may run, no later one.
			if len(barriers) > 2 || !slices.Equal(barriers, []int{0, 1}[:len(barriers)]) {
				t.Fatalf("checkpoints %v ran around a failed write on page 2", barriers)
			}
		})
	}
}
