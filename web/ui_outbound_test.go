package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tidings/models"
)

// TestSendLaterInUserZone: "Send later" is a wall-clock time in the user's
// time zone, as every date the UI shows; the outbox shows it back there.
func TestSendLaterInUserZone(t *testing.T) {
	now := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		zone, sendAt string
		status       int
		wantUTC      time.Time
		shown        string
	}{
		{"Asia/Tokyo", "2026-12-01T09:00", http.StatusSeeOther, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "2026-12-01 09:00 (Asia/Tokyo)"},
		{"America/New_York", "2026-12-01T09:00", http.StatusSeeOther, time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), "2026-12-01 09:00 (America/New_York)"},
		{"", "2026-12-01T09:00", http.StatusSeeOther, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), "2026-12-01 09:00 (UTC)"},
		// 14:00 in Tokyo is 05:00 UTC, an hour ago: refused, though
		// read as UTC it would be in the future.
		{"Asia/Tokyo", "2026-11-30T14:00", http.StatusUnprocessableEntity, time.Time{}, "that time has passed"},
	} {
		t.Run(c.zone+"/"+c.sendAt, func(t *testing.T) {
			store := openSQLite(t)
			e := newEnv(t, store, func(d *Deps) { d.Now = func() time.Time { return now } })
			a := seedTenant(t, store, "alpha")
			if c.zone != "" {
				must(t, store.SetUserTimeZone(t.Context(), a.UserID, c.zone))
			}
			b := e.loginAs(a)
			if _, page := b.get(fmt.Sprintf("/compose?mailbox_id=%d", a.MailboxID)); !strings.Contains(page, `id="send-at-zone">`+or(c.zone, "UTC")+`<`) {
				t.Errorf("compose does not name the zone %q", c.zone)
			}
			resp, page := b.post("/compose", url.Values{"mailbox_id": {fmt.Sprint(a.MailboxID)}, "to": {"ann@customer.example"},
				"subject": {"Later " + c.zone}, "text": {"hi"}, "send_at": {c.sendAt}, "do": {"send"}})
			if resp.StatusCode != c.status {
				t.Fatalf("POST /compose: %d, want %d: %.300s", resp.StatusCode, c.status, page)
			}
			if c.status != http.StatusSeeOther {
				if !strings.Contains(page, c.shown) {
					t.Errorf("refusal does not say %q", c.shown)
				}
				return
			}
			items, _, err := store.ListOutboxItems(t.Context(), a.TenantID, models.OutboxFilter{States: []models.OutboxState{models.OutboxScheduled}})
			if err != nil || len(items) != 1 {
				t.Fatalf("%d scheduled items (%v)", len(items), err)
			}
			if got := items[0].SendAt; !got.Equal(c.wantUTC) {
				t.Errorf("send_at = %s, want %s", got.UTC(), c.wantUTC)
			}
			_, outbox := b.get(resp.Header.Get("Location"))
			if !strings.Contains(outbox, "at "+c.shown) {
				t.Errorf("undo notice does not show %q", c.shown)
			}
		})
	}
}

// TestDeleteForeverNeedsScope: the confirmation says, before anything is
// done, when the mailbox's grant does not allow permanent delete, and
// offers the button only when it does.
func TestDeleteForeverNeedsScope(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	a := seedTenant(t, store, "alpha")
	b := e.loginAs(a)
	path := fmt.Sprintf("/messages/%d/delete", a.MessageID)
	for _, c := range []struct {
		scopes  string
		allowed bool
	}{
		{"https://www.googleapis.com/auth/gmail.modify", false},
		{"", false},
		{"https://mail.google.com/", true},
		{"https://www.googleapis.com/auth/gmail.modify https://www.googleapis.com/auth/gmail.messages.delete", true},
	} {
		must(t, store.UpdateMailbox(t.Context(), a.TenantID, a.MailboxID, map[string]any{"scopes": c.scopes}))
		resp, page := b.get(path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		blocked := strings.Contains(page, `id="confirm-blocked"`) && strings.Contains(page, "TIDINGS_GMAIL_FULL_ACCESS")
		button := strings.Contains(page, `id="confirm"`)
		if blocked == c.allowed || button != c.allowed {
			t.Errorf("scopes %q: blocked notice %v, confirm button %v; want allowed=%v", c.scopes, blocked, button, c.allowed)
		}
	}
}

// TestMessagePageOneWayToAct: the message page offers the outbox-backed
// toggle buttons and no other form that changes labels.
func TestMessagePageOneWayToAct(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	a := seedTenant(t, store, "alpha")
	b := e.loginAs(a)
	_, page := b.get(fmt.Sprintf("/messages/%d", a.MessageID))
	for _, want := range []string{`id="action-star"`, `id="action-archive"`, `id="delete-forever"`} {
		if strings.Count(page, want) != 1 {
			t.Errorf("message page has %d %s", strings.Count(page, want), want)
		}
	}
	if strings.Contains(page, "/labels\"") || strings.Count(page, ">Archive<") != 1 || strings.Count(page, ">Star<") != 1 {
		t.Errorf("message page still has another label form")
	}
	if resp, _ := b.post(fmt.Sprintf("/messages/%d/labels", a.MessageID), url.Values{"add": {"STARRED"}}); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("old label form endpoint answers %d", resp.StatusCode)
	}
}
