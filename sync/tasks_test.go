package sync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"tidings/internal/testenv"
	"tidings/models"
)

// startQueue runs asynq on miniredis: a client for the Syncer and a
// server processing the Syncer's handlers.
func startQueue(t *testing.T) (*asynq.Client, func(*Syncer) *asynq.Server, *asynq.Inspector) {
	t.Helper()
	mr := miniredis.RunT(t)
	opt := asynq.RedisClientOpt{Addr: mr.Addr()}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { insp.Close() })
	start := func(s *Syncer) *asynq.Server {
		srv := asynq.NewServer(opt, asynq.Config{
			Concurrency: 4, Queues: map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1},
			LogLevel: asynq.ErrorLevel, RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 50 * time.Millisecond },
		})
		mux := asynq.NewServeMux()
		s.Register(mux)
		if err := srv.Start(mux); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		return srv
	}
	return client, start, insp
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTasksRunOnAsynq(t *testing.T) {
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	generated(t, e, 60)
	client, start, insp := startQueue(t)
	s := e.syncer(func(d *Deps) { d.Queue = client })
	ctx := context.Background()
	// Enqueuing twice while the first is pending is deduplicated.
	if err := s.Enqueue(ctx, e.tenantID, e.mailboxID, KindIncremental); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, e.tenantID, e.mailboxID, KindIncremental); err != nil {
		t.Fatalf("duplicate enqueue = %v, want nil (deduplicated)", err)
	}
	start(s)
	waitFor(t, "the first sync", func() bool {
		mb := e.mailbox()
		return mb.SyncState == models.SyncIdle && mb.HistoryID != 0
	})
	e.assertExact()

	// A push notification triggers an immediate incremental sync.
	id, err := e.emu.Deliver(e.email, rawMessage(1, "Pushed", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.HandlePush(ctx, strings.ToUpper(e.email)); err != nil {
		t.Fatalf("push: %v", err)
	}
	waitFor(t, "the pushed message", func() bool { _, ok := e.mustStates(id)[id]; return ok })
	waitFor(t, "the mailbox to settle", func() bool { return e.mailbox().SyncState == models.SyncIdle })
	e.assertExact()

	// The periodic task enqueues every mailbox (the scheduler's job).
	if err := s.handleSchedule(ctx, asynq.NewTask(TypeScheduleSyncs, nil)); err != nil {
		t.Fatal(err)
	}
	// A revoked grant: the task fails once, is not retried, and the
	// mailbox leaves the schedule.
	if err := e.emu.RevokeRefreshToken(e.email); err != nil {
		t.Fatal(err)
	}
	if _, err := e.emu.Deliver(e.email, rawMessage(2, "After revoke", "")); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, e.tenantID, e.mailboxID, KindFull); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "needs re-authorization", func() bool { return e.mailbox().NeedsReauth })
	var archived []*asynq.TaskInfo
	waitFor(t, "the failed task to be archived", func() bool {
		archived, _ = insp.ListArchivedTasks(QueueDefault)
		return len(archived) > 0
	})
	for _, a := range archived {
		if a.Retried != 0 {
			t.Errorf("%s was retried %d times after invalid_grant, want none", a.Type, a.Retried)
		}
	}
}

func TestHandlePush(t *testing.T) {
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	s := e.syncer()
	if err := s.HandlePush(t.Context(), "not an address"); !errors.Is(err, ErrBadNotification) {
		t.Errorf("no address: %v", err)
	}
	// An unknown address is acknowledged: nothing to sync.
	if err := s.HandlePush(t.Context(), "nobody@else.example"); err != nil {
		t.Errorf("unknown address: %v", err)
	}
}

// TestScheduleEnqueuesEveryMailbox: with no task ever enqueued by hand
// (as after losing the queue), the periodic task finds the mailbox in the
// database and a worker syncs it.
func TestScheduleEnqueuesEveryMailbox(t *testing.T) {
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	generated(t, e, 30)
	mr := miniredis.RunT(t)
	opt := asynq.RedisClientOpt{Addr: mr.Addr()}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	s := e.syncer(func(d *Deps) { d.Queue = client })
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 2, LogLevel: asynq.ErrorLevel,
		Queues: map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}})
	mux := asynq.NewServeMux()
	s.Register(mux)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	sched := asynq.NewScheduler(opt, &asynq.SchedulerOpts{LogLevel: asynq.ErrorLevel})
	if err := s.Schedule(sched, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sched.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sched.Shutdown)
	waitFor(t, "the scheduled sync", func() bool {
		mb := e.mailbox()
		return mb.SyncState == models.SyncIdle && mb.HistoryID != 0
	})
	e.assertExact()
}
