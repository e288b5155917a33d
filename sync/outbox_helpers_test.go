package sync

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"

	"tidings/models"
)

// process runs ProcessOutbox until the item is done (as retried tasks
// would), at most n times.
func (e *env) process(s *Syncer, id int64, n int) *models.OutboxItem {
	e.t.Helper()
	ctx := context.Background()
	for range n {
		err := s.ProcessOutbox(ctx, e.tenantID, id)
		it, gerr := e.store.GetOutboxItem(ctx, e.tenantID, id)
		if gerr != nil {
			e.t.Fatal(gerr)
		}
		if it.State.Done() {
			return it
		}
		if err == nil && !it.State.Done() && it.State != models.OutboxSending {
			e.t.Fatalf("item %d not processed: state %s", id, it.State)
		}
	}
	it, _ := e.store.GetOutboxItem(ctx, e.tenantID, id)
	e.t.Fatalf("item %d not done after %d attempts: %s %q", id, n, it.State, it.LastError)
	return nil
}

func (e *env) submit(s *Syncer, sub Submission) *models.OutboxItem {
	e.t.Helper()
	sub.TenantID, sub.MailboxID, sub.UserID = e.tenantID, e.mailboxID, 1
	if sub.Kind == "" {
		sub.Kind = models.OutboxSend
	}
	it, _, err := s.Submit(context.Background(), sub)
	if err != nil {
		e.t.Fatal(err)
	}
	return it
}

// byMessageID returns the raw bytes of every message in the emulator
// whose Message-ID is id: "exactly once" is len == 1.
func (e *env) byMessageID(id string) [][]byte {
	e.t.Helper()
	var out [][]byte
	for gid := range e.emu.Snapshot(e.email) {
		raw, err := e.emu.Raw(e.email, gid)
		if err != nil {
			continue
		}
		env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
		if err != nil {
			continue
		}
		if strings.Trim(env.GetHeader("Message-ID"), "<> ") == id {
			out = append(out, raw)
		}
	}
	return out
}

func mustEnvelope(t testing.TB, raw []byte) *enmime.Envelope {
	t.Helper()
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

func encodeRaw(b []byte) string { return base64.URLEncoding.EncodeToString(b) }

func decodeRaw(s string) ([]byte, error) {
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return b, nil
}
