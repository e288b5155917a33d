// Package retry is tidings' one backoff policy, on
// github.com/cenkalti/backoff: exponential growth with jitter, so that
// many clients failing together (workers after a Redis restart, mailboxes
// after a Gmail outage) spread their retries out instead of stampeding.
// Task retries, Gmail call retries and the start-up wait for Postgres and
// Redis all use it.
package retry

import (
	"context"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// newBackOff is the shared policy: delays double from base up to max, each
// randomized by ±50 %.
func newBackOff(base, max time.Duration) *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = base, max
	b.Multiplier, b.RandomizationFactor = 2, 0.5
	b.Reset()
	return b
}

// Delay is the wait before retry number attempt (0 = the first retry)
// under the shared policy; it never exceeds 1.5 × max.
func Delay(base, max time.Duration, attempt int) time.Duration {
	b := newBackOff(base, max)
	var d time.Duration
	for range min(attempt, 62) + 1 {
		d = b.NextBackOff()
	}
	return d
}

// Permanent marks an error op returns to Wait as final: Wait stops
// retrying and returns it (unwrapped).
func Permanent(err error) error { return backoff.Permanent(err) }

// Wait calls op until it succeeds or ctx ends, backing off between tries
// from base up to max and logging every failure at WARN with what was
// being waited for. It is how processes start while Postgres or Redis are
// still (or again) unreachable: they wait instead of exiting.
func Wait(ctx context.Context, logger *slog.Logger, what string, base, max time.Duration, op func(context.Context) error) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, op(ctx)
	},
		backoff.WithBackOff(newBackOff(base, max)),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, next time.Duration) {
			logger.Warn("waiting for "+what, slog.Duration("retry_in", next), slog.Any("err", err))
		}))
	return err
}
