package models_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"tidings/models"
)

func TestOutboxIdempotencyTransitionsAndStreams(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		tid := newTenant(t, s, "out@example.com")
		other := newTenant(t, s, "other@example.com")
		key := "req-1"
		a := &models.OutboxItem{MailboxID: 1, UserID: 1, Kind: models.OutboxSend, State: models.OutboxScheduled, IdempotencyKey: &key, SendAt: time.Now()}
		if created, err := s.CreateOutboxItem(ctx, tid, a); err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
		b := &models.OutboxItem{MailboxID: 1, UserID: 1, Kind: models.OutboxSend, State: models.OutboxScheduled, IdempotencyKey: &key}
		if created, err := s.CreateOutboxItem(ctx, tid, b); err != nil || created || b.ID != a.ID {
			t.Fatalf("same key: created %v id %d (first %d) %v", created, b.ID, a.ID, err)
		}
		// The same key in another tenant is another item.
		c := &models.OutboxItem{MailboxID: 2, UserID: 2, Kind: models.OutboxSend, State: models.OutboxQueued, IdempotencyKey: &key}
		if created, err := s.CreateOutboxItem(ctx, other, c); err != nil || !created || c.ID == a.ID {
			t.Fatalf("other tenant: %v %v", created, err)
		}
		if _, err := s.GetOutboxItem(ctx, other, a.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("other tenant reads item: %v", err)
		}
		// Compare-and-set: a cancel after sending started loses.
		if err := s.TransitionOutbox(ctx, tid, a.ID, []models.OutboxState{models.OutboxScheduled, models.OutboxQueued}, models.OutboxSending, nil); err != nil {
			t.Fatal(err)
		}
		err := s.TransitionOutbox(ctx, tid, a.ID, []models.OutboxState{models.OutboxScheduled, models.OutboxQueued}, models.OutboxCancelled, nil)
		if !errors.Is(err, models.ErrOutboxState) {
			t.Fatalf("cancel while sending: %v", err)
		}
		// Streams: 2.5 chunks written, read back whole and from an offset.
		data := make([]byte, models.OutboxChunkSize*5/2)
		for i := range data {
			data[i] = byte(i % 251)
		}
		w, err := s.WriteOutboxStream(ctx, tid, a.ID, "message")
		if err != nil {
			t.Fatal(err)
		}
		for p := data; len(p) > 0; p = p[min(len(p), 70000):] {
			if _, err := w.Write(p[:min(len(p), 70000)]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if n, err := s.OutboxStreamSize(ctx, tid, a.ID, "message"); err != nil || n != int64(len(data)) {
			t.Fatalf("size %d %v", n, err)
		}
		for _, off := range []int64{0, 1, models.OutboxChunkSize, models.OutboxChunkSize*2 + 17} {
			got, err := io.ReadAll(s.OpenOutboxStream(ctx, tid, a.ID, "message", off))
			if err != nil || !bytes.Equal(got, data[off:]) {
				t.Errorf("read from %d: %d bytes, %v", off, len(got), err)
			}
		}
		if got, _ := io.ReadAll(s.OpenOutboxStream(ctx, other, a.ID, "message", 0)); len(got) != 0 {
			t.Errorf("other tenant read %d bytes", len(got))
		}
		due, err := s.DueOutboxItems(ctx, time.Now().Add(time.Hour), time.Minute, 10)
		if err != nil || len(due) != 2 {
			t.Errorf("due items: %d %v", len(due), err)
		}
	})
}
