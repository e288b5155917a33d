package emulator

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	gmail "google.golang.org/api/gmail/v1"
)

func rawMsg(msgID, subject, extra string) string {
	return "From: bob@example.com\r\nTo: ann@example.org\r\nBcc: carl@example.net\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + msgID + ">\r\n" + extra + "\r\nhello\r\n"
}

func sendRaw(svc *gmail.Service, raw, thread string) (*gmail.Message, error) {
	return svc.Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString([]byte(raw)), ThreadId: thread}).Do()
}

func findByMsgID(t *testing.T, svc *gmail.Service, id string) []*gmail.Message {
	t.Helper()
	l, err := svc.Users.Messages.List("me").Q("rfc822msgid:" + id).IncludeSpamTrash(true).Do()
	if err != nil {
		t.Fatal(err)
	}
	return l.Messages
}

func TestSendFailAfterStoreIsFoundByRFC822MsgID(t *testing.T) {
	srv, svc := setup(t)
	srv.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{FaultFailAfterStore}})
	_, err := sendRaw(svc, rawMsg("one@tidings.test", "Quote", ""), "")
	if err == nil {
		t.Fatal("send with fail-after-store succeeded")
	}
	srv.SetFaults(Faults{})
	got := findByMsgID(t, svc, "one@tidings.test")
	if len(got) != 1 {
		t.Fatalf("rfc822msgid: found %d messages, want the 1 stored before the failure", len(got))
	}
	m, err := svc.Users.Messages.Get("me", got[0].Id).Format("minimal").Do()
	if err != nil || !strings.Contains(strings.Join(m.LabelIds, ","), "SENT") {
		t.Fatalf("stored send: %v %v", m, err)
	}
	// Angle brackets are accepted too; other ids do not match.
	if n := len(findByMsgID(t, svc, "<one@tidings.test>")); n != 1 {
		t.Errorf("with brackets: %d", n)
	}
	if n := len(findByMsgID(t, svc, "two@tidings.test")); n != 0 {
		t.Errorf("unknown id matched %d", n)
	}
}

func TestSendThreadsOnlyWithMatchingSubject(t *testing.T) {
	_, svc := setup(t)
	first, err := sendRaw(svc, rawMsg("a@x", "Offer", ""), "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, subject, extra string
		thread               string
		same                 bool
	}{
		{"threadId and Re: subject", "Re: Offer", "In-Reply-To: <a@x>\r\nReferences: <a@x>\r\n", first.ThreadId, true},
		{"threadId, other subject", "Something else", "", first.ThreadId, false},
		{"headers only", "RE: Offer", "In-Reply-To: <a@x>\r\n", "", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := sendRaw(svc, rawMsg(fmt.Sprintf("r%d@x", i), c.subject, c.extra), c.thread)
			if err != nil {
				t.Fatal(err)
			}
			if (m.ThreadId == first.ThreadId) != c.same {
				t.Errorf("thread %s vs %s, want same=%v", m.ThreadId, first.ThreadId, c.same)
			}
		})
	}
}

func TestPermanentDeleteNeedsFullScope(t *testing.T) {
	srv, svc := setup(t)
	m, err := sendRaw(svc, rawMsg("d@x", "Del", ""), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetScope(testUser, ScopeModify); err != nil {
		t.Fatal(err)
	}
	err = svc.Users.Messages.Delete("me", m.Id).Do()
	if code, reason := apiCode(err); code != 403 || reason != "insufficientPermissions" {
		t.Fatalf("delete with gmail.modify: %d %q (%v)", code, reason, err)
	}
	if _, err := svc.Users.Messages.Trash("me", m.Id).Do(); err != nil {
		t.Fatalf("trash with gmail.modify: %v", err)
	}
	if err := srv.SetScope(testUser, ScopeModify+" "+ScopeMessagesDelete); err != nil {
		t.Fatal(err)
	}
	if err := svc.Users.Messages.Delete("me", m.Id).Context(context.Background()).Do(); err != nil {
		t.Fatalf("delete with gmail.messages.delete: %v", err)
	}
}

func TestSendQuotaCostsAndDraftSendFailAfterStore(t *testing.T) {
	for _, m := range []struct {
		name string
		cost int
	}{{"messages.send", 100}, {"drafts.send", 100}, {"drafts.create", 10}, {"drafts.update", 15}, {"drafts.delete", 10}, {"messages.batchModify", 50}} {
		if Cost(m.name) != m.cost {
			t.Errorf("Cost(%s) = %d, want %d", m.name, Cost(m.name), m.cost)
		}
	}
	srv, svc := setup(t)
	d, err := svc.Users.Drafts.Create("me", &gmail.Draft{Message: &gmail.Message{Raw: base64.URLEncoding.EncodeToString([]byte(rawMsg("dr@x", "Draft", "Cc: dan@example.com\r\n")))}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{FaultFailAfterStore}})
	if _, err := svc.Users.Drafts.Send("me", &gmail.Draft{Id: d.Id}).Do(); err == nil {
		t.Fatal("drafts.send with fail-after-store succeeded")
	}
	srv.SetFaults(Faults{})
	if n := len(findByMsgID(t, svc, "dr@x")); n != 1 {
		t.Fatalf("sent draft found %d times", n)
	}
	if _, err := svc.Users.Drafts.Get("me", d.Id).Do(); err == nil {
		t.Error("draft still exists after drafts.send stored it")
	}
}
