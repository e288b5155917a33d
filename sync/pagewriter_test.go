package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// The page writer keeps the order of writes, and after a failed write it
// skips the rest (a page's checkpoint queued behind its failed messages
// is never written), cancels the run with the failure as the cause and
// reports it to every later caller.
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
			w := newPageWriter(cancel)
			boom := errors.New("store failed")
			var ran []int
			var queueErr error
			for i := range 8 {
				err := w.do(ctx, func() error {
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
