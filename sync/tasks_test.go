package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
			Concurrency: 4, Queues: Queues(),
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
	if err := s.Enqueue(ctx, e.tenantID, e.mailboxID, KindIncremental); err != nil {
		t.Fatal(err)
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

// pendingTasks lists the pending tasks of a queue as "type mailbox-id".
func pendingTasks(t *testing.T, insp *asynq.Inspector, queue string) []string {
	t.Helper()
	infos, err := insp.ListPendingTasks(queue)
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	var out []string
	for _, info := range infos {
		var p payload
		if err := json.Unmarshal(info.Payload, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d", info.Type, p.MailboxID))
	}
	slices.Sort(out)
	return out
}

// TestEnqueueDeduplicates: with no worker running, enqueuing a sync of a
// kind already queued for the mailbox adds no task; another kind does.
func TestEnqueueDeduplicates(t *testing.T) {
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	client, _, insp := startQueue(t)
	s := e.syncer(func(d *Deps) { d.Queue = client })
	ctx := context.Background()
	for _, k := range []Kind{KindIncremental, KindIncremental, KindFull, KindFull, KindLabels, KindLabels} {
		if err := s.Enqueue(ctx, e.tenantID, e.mailboxID, k); err != nil {
			t.Fatalf("enqueue %s = %v, want nil (a duplicate is not an error)", k.taskType(), err)
		}
	}
	id := e.mailboxID
	if got, want := pendingTasks(t, insp, QueueDefault), []string{fmt.Sprintf("%s %d", TypeFullSync, id), fmt.Sprintf("%s %d", TypeIncrementalSync, id)}; !slices.Equal(got, want) {
		t.Errorf("default queue = %v, want %v", got, want)
	}
	if got, want := pendingTasks(t, insp, QueueLow), []string{fmt.Sprintf("%s %d", TypeLabelSync, id)}; !slices.Equal(got, want) {
		t.Errorf("low queue = %v, want %v", got, want)
	}
}

// TestScheduleTaskEnqueuesEveryMailbox: the periodic task enqueues one
// incremental sync per mailbox that can sync (not one waiting for
// re-authorization), and running it again while they wait adds none.
func TestScheduleTaskEnqueuesEveryMailbox(t *testing.T) {
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	ctx := context.Background()
	second := &models.Mailbox{Email: "second@tidings.example"}
	revoked := &models.Mailbox{Email: "revoked@tidings.example"}
	for _, mb := range []*models.Mailbox{second, revoked} {
		if err := store.CreateMailbox(ctx, e.tenantID, mb); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.UpdateMailbox(ctx, e.tenantID, revoked.ID, map[string]any{"needs_reauth": true}); err != nil {
		t.Fatal(err)
	}
	client, _, insp := startQueue(t)
	s := e.syncer(func(d *Deps) { d.Queue = client })
	for range 2 {
		if err := s.handleSchedule(ctx, asynq.NewTask(TypeScheduleSyncs, nil)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{fmt.Sprintf("%s %d", TypeIncrementalSync, e.mailboxID), fmt.Sprintf("%s %d", TypeIncrementalSync, second.ID)}
	slices.Sort(want)
	if got := pendingTasks(t, insp, QueueDefault); !slices.Equal(got, want) {
		t.Errorf("pending = %v, want %v", got, want)
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
		Queues: Queues()})
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
