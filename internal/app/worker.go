package app

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/hibiken/asynq"
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
		Concurrency:     a.Config.WorkerConcurrency,
		Queues:          opts.Queues,
		RetryDelayFunc:  RetryDelay,
		ShutdownTimeout: 20 * time.Second,
		Logger:          asynqLogger{logger},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, task *asynq.Task, err error) {
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

// RetryDelay is exponential backoff with full jitter, capped at 10 minutes:
// retries of many mailboxes that failed together spread out instead of
// stampeding Gmail again at the same instant.
func RetryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	base := 5 * time.Second
	ceiling := 10 * time.Minute
	d := base << min(n, 10)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
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
