package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"tidings/emulator"
	"tidings/models"
	mailsync "tidings/sync"
)

// outboxEnv is a server whose Outbox is the real sync.Syncer talking to
// an emulator that holds the seeded mailbox.
type outboxEnv struct {
	*env
	fix    tenantFix
	emu    *emulator.Server
	syncer *mailsync.Syncer
}

func newOutboxEnv(t *testing.T, store *models.Store) *outboxEnv {
	t.Helper()
	fix := seedTenant(t, store, "alpha")
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	mb, err := store.GetMailbox(context.Background(), fix.TenantID, fix.MailboxID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.AddUser(mb.Email); err != nil {
		t.Fatal(err)
	}
	tok, err := emu.Token(mb.Email)
	if err != nil {
		t.Fatal(err)
	}
	must(t, store.SaveToken(context.Background(), fix.TenantID, mb.ID, tok))
	s, err := mailsync.New(mailsync.Deps{Store: store, GmailEndpoint: emu.URL, ClientID: "c", ClientSecret: "s",
		Quota: mailsync.Quota{UnitsPerMinute: -1}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store, func(d *Deps) { d.Outbox = s; d.UndoWindow = time.Hour })
	return &outboxEnv{env: e, fix: fix, emu: emu, syncer: s}
}

func (o *outboxEnv) process(id int64) map[string]any {
	o.t.Helper()
	for range 3 {
		_ = o.syncer.ProcessOutbox(context.Background(), o.fix.TenantID, id)
	}
	_, body := o.call("GET", fmt.Sprintf("/api/outbox/%d", id), o.fix.Token, "")
	return decode(o.t, body)
}

func multipartSend(t *testing.T, message string, files map[string]string) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormField("message")
	io.WriteString(w, message)
	for name, content := range files {
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(fw, content)
	}
	mw.Close()
	return mw.FormDataContentType(), &b
}

func TestOutboxAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		o := newOutboxEnv(t, store)
		f := o.fix
		base := fmt.Sprintf("/api/mailboxes/%d/outbox", f.MailboxID)

		// Multipart send with an attachment: 202 + the item, then sent.
		ctype, body := multipartSend(t, `{"to":"ann@customer.example","bcc":"boss@alpha.example","subject":"Offer","text":"Hi Ann"}`,
			map[string]string{"offer.txt": "the offer"})
		req, _ := http.NewRequest("POST", o.ts.URL+base, body)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+f.Token)
		req.Header.Set("Idempotency-Key", "offer-1")
		resp, err := o.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Content-Type") != halType {
			t.Fatalf("send: %d %s", resp.StatusCode, rb)
		}
		item := decode(t, rb)
		id := int64(item["id"].(float64))
		if got := o.process(id); got["state"] != "sent" || got["message_id_header"] == "" {
			t.Fatalf("after processing: %v", got)
		}
		raw := gmailCopies(t, o.emu, f, item["message_id_header"].(string))
		if len(raw) != 1 || !bytes.Contains(raw[0], []byte("Bcc: <boss@alpha.example>")) || !bytes.Contains(raw[0], []byte(`Content-Disposition: attachment; filename=offer.txt`)) {
			t.Fatalf("Gmail has %d copies: %.600s", len(raw), raw)
		}
		// The same Idempotency-Key is the same item.
		resp, rb = o.call("POST", base, f.Token, `{"to":"ann@customer.example","text":"again"}`, "Idempotency-Key", "offer-1")
		if resp.StatusCode != 200 || int64(decode(t, rb)["id"].(float64)) != id {
			t.Errorf("repeated key: %d %s", resp.StatusCode, rb)
		}
		// Undo: the send waits the window and can be cancelled.
		resp, rb = o.call("POST", base, f.Token, `{"to":"ann@customer.example","text":"undo me","undo":true}`)
		undo := decode(t, rb)
		if resp.StatusCode != 202 || undo["state"] != "scheduled" {
			t.Fatalf("undo send: %d %s", resp.StatusCode, rb)
		}
		cancel := undo["_links"].(map[string]any)["cancel"].(map[string]any)["href"].(string)
		if resp, rb = o.call("POST", cancel, f.Token, ""); resp.StatusCode != 200 || decode(t, rb)["state"] != "cancelled" {
			t.Fatalf("cancel: %d %s", resp.StatusCode, rb)
		}
		if resp, _ = o.call("POST", cancel, f.Token, ""); resp.StatusCode != 409 {
			t.Errorf("second cancel: %d", resp.StatusCode)
		}
		// Problems a client can act on.
		for _, c := range []struct {
			path, body string
			status     int
		}{
			{base, `{"to":"not an address <","text":"x"}`, 422},
			{base, `{"text":"nobody"}`, 422},
			{base, `{"to":"a@b.example","reply_to":999999}`, 422},
			{base, `{"to":"a@b.example","case_id":999999}`, 422},
			{base, `{"to":"a@b.example","bogus":1}`, 400},
			{fmt.Sprintf("/api/messages/%d/actions", f.MessageID), `{"action":"label","label":"No such label"}`, 422},
			{fmt.Sprintf("/api/messages/%d/actions", f.MessageID), `{"action":"explode"}`, 422},
			{fmt.Sprintf("/api/messages/%d/actions", f.MessageID), `{"action":"delete"}`, 403},
			{fmt.Sprintf("/api/mailboxes/%d/actions", f.MailboxID), `{"action":"star","message_ids":[]}`, 400},
			{fmt.Sprintf("/api/mailboxes/%d/actions", f.MailboxID), `{"action":"star","message_ids":[999999]}`, 422},
		} {
			resp, rb := o.call("POST", c.path, f.Token, c.body)
			if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), problemType) {
				t.Errorf("POST %s %s: %d %s, want %d problem", c.path, c.body, resp.StatusCode, rb, c.status)
			}
		}
		// Another tenant sees none of it.
		b := seedTenant(t, store, "beta")
		if resp, _ := o.call("GET", fmt.Sprintf("/api/outbox/%d", id), b.Token, ""); resp.StatusCode != 404 {
			t.Errorf("other tenant reads the item: %d", resp.StatusCode)
		}
		resp, rb = o.call("GET", "/api/outbox?state=sent", f.Token, "")
		if resp.StatusCode != 200 || decode(t, rb)["count"].(float64) != 1 {
			t.Errorf("list sent: %d %s", resp.StatusCode, rb)
		}
		// A star on a batch: 202, carried out in Gmail by a worker.
		resp, rb = o.call("POST", fmt.Sprintf("/api/mailboxes/%d/actions", f.MailboxID), f.Token,
			fmt.Sprintf(`{"action":"star","message_ids":[%d,%d]}`, f.MessageID, f.OtherMessageID))
		if resp.StatusCode != 202 || decode(t, rb)["kind"] != "action" {
			t.Errorf("batch star: %d %s", resp.StatusCode, rb)
		}
	})
}

func gmailCopies(t *testing.T, emu *emulator.Server, f tenantFix, msgID string) [][]byte {
	t.Helper()
	email := "inbox@alpha.example"
	var out [][]byte
	for gid := range emu.Snapshot(email) {
		raw, err := emu.Raw(email, gid)
		if err == nil && bytes.Contains(raw, []byte("<"+msgID+">")) {
			out = append(out, raw)
		}
	}
	return out
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
