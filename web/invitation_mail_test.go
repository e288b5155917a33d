package web

import (
	"bytes"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tidings/mail"
	"tidings/models"
)

var inviteLinkRe = regexp.MustCompile(`<code id="invite-link">([^<]+)</code>`)

// invitationItems are the outbox items that carry an invitation.
func (o *outboxEnv) invitationItems() []int64 {
	o.t.Helper()
	_, body := o.call("GET", "/api/outbox?limit=100", o.fix.Token, "")
	var ids []int64
	for _, it := range decode(o.t, body)["_embedded"].(map[string]any)["outbox"].([]any) {
		m := it.(map[string]any)
		if strings.HasPrefix(fmt.Sprint(m["subject"]), "Invitation to join") {
			ids = append(ids, int64(m["id"].(float64)))
		}
	}
	return ids
}

// TestInvitationSentFromAdminsMailbox: an admin with one connected mailbox
// gets "send the invitation from it" checked; the invitation goes through
// the outbox and arrives in the mailbox's SENT in Gmail with the link,
// which the admin still sees.
func TestInvitationSentFromAdminsMailbox(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		o := newOutboxEnv(t, store)
		f := o.fix
		b := o.loginAs(f)
		_, page := b.get("/settings")
		if !strings.Contains(page, `name="send" value="1" checked> Send the invitation from inbox@alpha.example`) {
			t.Fatalf("settings does not offer sending from the admin's one mailbox:\n%s", page)
		}
		resp, page := b.post("/settings/invitations", url.Values{"email": {"newbie@newbie.example"}, "role": {"member"},
			"send": {"1"}, "send_from": {fmt.Sprint(f.MailboxID)}})
		m := inviteLinkRe.FindStringSubmatch(page)
		if resp.StatusCode != 200 || m == nil || !strings.Contains(page, "queued for sending from inbox@alpha.example") {
			t.Fatalf("invite and send: %d\n%s", resp.StatusCode, page)
		}
		link := html.UnescapeString(m[1])
		ids := o.invitationItems()
		if len(ids) != 1 {
			t.Fatalf("invitation outbox items: %v", ids)
		}
		if got := o.process(ids[0]); got["state"] != "sent" {
			t.Fatalf("invitation item after processing: %v", got)
		}
		var found int
		for gid, st := range o.emu.Snapshot("inbox@alpha.example") {
			raw, err := o.emu.Raw("inbox@alpha.example", gid)
			if err != nil || !bytes.Contains(raw, []byte("newbie@newbie.example")) {
				continue
			}
			found++
			msg := mail.Decode(raw, mail.Options{})
			if !slices.Contains(st.LabelIDs, "SENT") || !strings.Contains(msg.Text, link) || msg.HTML != "" {
				t.Errorf("the invitation in Gmail: labels %v, link %s, HTML %q\n%s", st.LabelIDs, link, msg.HTML, raw)
			}
		}
		if found != 1 {
			t.Errorf("messages to the invitee in Gmail: %d, want 1", found)
		}

		// Unchecked: the link only. Another tenant's mailbox: refused,
		// the link still shown, nothing queued.
		if _, page = b.post("/settings/invitations", url.Values{"email": {"quiet@newbie.example"}, "role": {"member"}}); inviteLinkRe.FindString(page) == "" {
			t.Error("no link without sending")
		}
		other := seedTenant(t, store, "beta")
		resp, page = b.post("/settings/invitations", url.Values{"email": {"third@newbie.example"}, "role": {"member"},
			"send": {"1"}, "send_from": {fmt.Sprint(other.MailboxID)}})
		if resp.StatusCode != 200 || inviteLinkRe.FindString(page) == "" || !strings.Contains(page, "could not be sent") {
			t.Errorf("send from another tenant's mailbox: %d\n%s", resp.StatusCode, page)
		}
		if ids := o.invitationItems(); len(ids) != 1 {
			t.Errorf("invitation items after the unsent ones: %v", ids)
		}
	})
}
