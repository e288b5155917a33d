package retry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestDelayGrowsWithinBounds(t *testing.T) {
	cases := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 150 * time.Millisecond},
		{1, 100 * time.Millisecond, 300 * time.Millisecond},
		{3, 400 * time.Millisecond, 1200 * time.Millisecond},
		{10, 500 * time.Millisecond, 1500 * time.Millisecond}, // capped at max
		{1000, 500 * time.Millisecond, 1500 * time.Millisecond},
	}
	for _, c := range cases {
		for range 50 {
			if d := Delay(100*time.Millisecond, time.Second, c.attempt); d < c.min || d > c.max {
				t.Fatalf("Delay(attempt %d) = %s, want in [%s, %s]", c.attempt, d, c.min, c.max)
			}
		}
	}
}

func TestWaitRetriesUntilSuccessOrCancel(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	calls := 0
	err := Wait(context.Background(), log, "test", time.Millisecond, 5*time.Millisecond, func(context.Context) error {
		if calls++; calls < 4 {
			return errors.New("down")
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("Wait = %v after %d calls, want success on the 4th", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = Wait(ctx, log, "test", time.Millisecond, time.Millisecond, func(context.Context) error {
		if calls++; calls == 3 {
			cancel()
		}
		return errors.New("still down")
	})
	if err == nil {
		t.Fatal("Wait succeeded though op never did")
	}
}
