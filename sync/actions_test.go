package sync

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"slices"
	"strings"
	"testing"

	"tidings/models"
)

func TestChangeLabelsReachesGmailStoreAndIndex(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		a, err := e.emu.Deliver(e.email, rawMessage(1, "Quote", ""), "INBOX", "UNREAD")
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.emu.Deliver(e.email, rawMessage(2, "Quote", ""), "INBOX", "UNREAD")
		if err != nil {
			t.Fatal(err)
		}
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		ids, err := store.MessageIDsByGmailID(ctx, e.tenantID, e.mailboxID, []string{a})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ChangeLabels(ctx, e.tenantID, ids[a], []string{"STARRED"}, []string{"UNREAD"}); err != nil {
			t.Fatal(err)
		}
		snap := e.emu.Snapshot(e.email)
		if !slices.Contains(snap[a].LabelIDs, "STARRED") || slices.Contains(snap[a].LabelIDs, "UNREAD") {
			t.Fatalf("Gmail labels of %s = %v", a, snap[a].LabelIDs)
		}
		if !slices.Contains(snap[b].LabelIDs, "UNREAD") {
			t.Fatalf("the other message lost UNREAD in Gmail: %v", snap[b].LabelIDs)
		}
		e.assertExact()
		if doc := e.index.docs[ids[a]]; !slices.Contains(doc.LabelIDs, "STARRED") {
			t.Fatalf("index labels = %v", doc.LabelIDs)
		}
		// The next incremental sync sees the change in history: no drift.
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.assertExact()
		// Another tenant cannot change this message.
		if err := s.ChangeLabels(ctx, e.tenantID+99, ids[a], []string{"TRASH"}, nil); err == nil {
			t.Fatal("cross-tenant label change succeeded")
		}
	})
}

func TestFetchAttachmentLazily(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := newEnv(t, store)
		big := bytes.Repeat([]byte("tidings attachment payload "), 20000) // > the emulator's inline threshold
		raw := "From: Ann <ann@acme.example>\r\nTo: " + e.email + "\r\nSubject: Contract\r\nMessage-ID: <att@acme.example>\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
			"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=contract.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			wrap64(big) + "--b\r\nContent-Type: text/plain; name=small.txt\r\nContent-Disposition: attachment; filename=small.txt\r\n\r\nsmall one\r\n--b--\r\n"
		if _, err := e.emu.Deliver(e.email, []byte(raw), "INBOX"); err != nil {
			t.Fatal(err)
		}
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		msgs, _, err := store.ListMessages(ctx, e.tenantID, models.MessageFilter{})
		if err != nil || len(msgs) != 1 {
			t.Fatalf("messages = %v, %v", msgs, err)
		}
		full, err := store.GetMessage(ctx, e.tenantID, msgs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]byte{"contract.bin": big, "small.txt": []byte("small one")}
		if len(full.Attachments) != 2 {
			t.Fatalf("attachments = %+v", full.Attachments)
		}
		for _, att := range full.Attachments {
			rc, err := s.FetchAttachment(ctx, e.tenantID, &att)
			if err != nil {
				t.Fatalf("%s: %v", att.Filename, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s: read: %v", att.Filename, err)
			}
			if !bytes.Equal(bytes.TrimRight(got, "\r\n"), want[att.Filename]) {
				t.Errorf("%s: got %d bytes, want %d", att.Filename, len(got), len(want[att.Filename]))
			}
		}
	})
}

func wrap64(b []byte) string {
	var sb strings.Builder
	enc := base64Std(b)
	for len(enc) > 76 {
		sb.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	sb.WriteString(enc + "\r\n")
	return sb.String()
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
