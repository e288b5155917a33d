package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"

	"tidings/internal/retry"
	mailsync "tidings/sync"
)

// WorkerOptions configure RunWorker.
type WorkerOptions struct {
	// Handler processes tasks (the sync package's mux).
	Handler asynq.Handler
	// Schedule registers periodic tasks on the scheduler.
	Schedule func(*asynq.Scheduler) error
	// Queues maps the queue names to their weights (the sync package's
	// Queues).
	Queues map[string]int
}

// RunWorker runs the asynq server and scheduler until ctx is cancelled,
// then shuts both down gracefully: in-flight tasks get ShutdownTimeout to
// finish and are otherwise re-queued by asynq.
func (a *App) RunWorker(ctx context.Context, opts WorkerOptions) error {
	if a.Redis == nil {
		return fmt.Errorf("run worker: the queue was not opened")
	}
	logger := a.Logger.With(slog.String("component", "worker"))
	srv := asynq.NewServer(a.Redis, asynq.Config{
		Concurrency:    a.Config.WorkerConcurrency,
		Queues:         opts.Queues,
		RetryDelayFunc: RetryDelay,
		// A mailbox busy in another worker is not a failure: the task is
		// retried when the lease may be free, without using up retries.
		IsFailure:       func(err error) bool { return !errors.Is(err, mailsync.ErrBusy) },
		ShutdownTimeout: 20 * time.Second,
		Logger:          asynqLogger{logger},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, task *asynq.Task, err error) {
			if errors.Is(err, mailsync.ErrBusy) {
				logger.Debug("task deferred", slog.String("type", task.Type()), slog.Any("reason", err))
				return
			}
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			logger.Warn("task failed", slog.String("type", task.Type()), slog.Int("retry", retried), slog.Int("max_retry", maxRetry), slog.Any("err", err))
		}),
	})
	if err := srv.Start(opts.Handler); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	sched := asynq.NewScheduler(a.Redis, &asynq.SchedulerOpts{Logger: asynqLogger{logger}, Location: time.UTC})
	if opts.Schedule != nil {
		if err := opts.Schedule(sched); err != nil {
			srv.Shutdown()
			return fmt.Errorf("register periodic tasks: %w", err)
		}
	}
	if err := sched.Start(); err != nil {
		srv.Shutdown()
		return fmt.Errorf("start scheduler: %w", err)
	}
	logger.Info("worker started", slog.Int("concurrency", a.Config.WorkerConcurrency))
	<-ctx.Done()
	logger.Info("worker stopping")
	sched.Shutdown()
	srv.Shutdown()
	return nil
}

// RetryDelay is the project's backoff (package retry) from 5 s up to 10
// minutes: retries of many mailboxes that failed together spread out
// instead of stampeding Gmail again at the same instant. A busy mailbox is
// retried when its lease expires instead.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if d, ok := mailsync.RetryDelay(err); ok {
		return d
	}
	return retry.Delay(5*time.Second, 10*time.Minute, n)
}

// asynqLogger adapts slog to asynq.Logger.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }

// Fatal honours asynq.Logger's contract: log, then exit with status 1.
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...))
	os.Exit(1)
}
