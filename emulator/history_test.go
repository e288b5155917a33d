package emulator

import (
	"encoding/base64"
	"slices"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"
)

func allHistory(t *testing.T, svc *gmail.Service, start uint64, call func(*gmail.UsersHistoryListCall) *gmail.UsersHistoryListCall) []*gmail.History {
	t.Helper()
	var out []*gmail.History
	c := svc.Users.History.List("me").StartHistoryId(start).MaxResults(2)
	if call != nil {
		c = call(c)
	}
	if err := c.Pages(t.Context(), func(r *gmail.ListHistoryResponse) error {
		out = append(out, r.History...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHistorySemantics(t *testing.T) {
	srv, svc := setup(t)
	p, err := svc.Users.GetProfile("me").Do()
	if err != nil {
		t.Fatal(err)
	}
	start := p.HistoryId
	a := deliver(t, srv, fixture(t, "simple.eml"))
	if err := srv.ModifyLabels(testUser, a, []string{"STARRED"}, []string{"UNREAD"}); err != nil {
		t.Fatal(err)
	}
	b := deliver(t, srv, fixture(t, "reply.eml"))
	if err := srv.Delete(testUser, b); err != nil {
		t.Fatal(err)
	}
	hs := allHistory(t, svc, start, nil)
	type ev struct {
		kind, id string
		labels   []string
	}
	var got []ev
	var prev uint64 = start
	contiguous := true
	for _, h := range hs {
		if h.Id <= prev {
			t.Errorf("history id %d not increasing after %d", h.Id, prev)
		}
		if h.Id != prev+1 {
			contiguous = false
		}
		prev = h.Id
		for _, x := range h.MessagesAdded {
			got = append(got, ev{"added", x.Message.Id, nil})
		}
		for _, x := range h.MessagesDeleted {
			got = append(got, ev{"deleted", x.Message.Id, nil})
		}
		for _, x := range h.LabelsAdded {
			got = append(got, ev{"labelAdded", x.Message.Id, x.LabelIds})
		}
		for _, x := range h.LabelsRemoved {
			got = append(got, ev{"labelRemoved", x.Message.Id, x.LabelIds})
		}
	}
	want := []ev{{"added", a, nil}, {"labelAdded", a, []string{"STARRED"}}, {"labelRemoved", a, []string{"UNREAD"}}, {"added", b, nil}, {"deleted", b, nil}}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i].kind != want[i].kind || got[i].id != want[i].id || !slices.Equal(got[i].labels, want[i].labels) {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if contiguous {
		t.Error("history ids are contiguous; Gmail's are not and clients must not rely on it")
	}
	// historyTypes and labelId filters.
	if n := len(allHistory(t, svc, start, func(c *gmail.UsersHistoryListCall) *gmail.UsersHistoryListCall {
		return c.HistoryTypes("messageAdded")
	})); n != 2 {
		t.Errorf("messageAdded records: %d, want 2", n)
	}
	if n := len(allHistory(t, svc, start, func(c *gmail.UsersHistoryListCall) *gmail.UsersHistoryListCall {
		return c.LabelId("STARRED")
	})); n != 2 {
		// labelsAdded STARRED, then labelsRemoved UNREAD of the starred message.
		t.Errorf("STARRED records: %d, want 2", n)
	}
	// From the current id there is nothing new, and the response carries it.
	r, err := svc.Users.History.List("me").StartHistoryId(srv.HistoryID(testUser)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.History) != 0 || r.HistoryId != srv.HistoryID(testUser) {
		t.Errorf("tail page: %d records, historyId %d", len(r.History), r.HistoryId)
	}
}

func TestHistoryExpiry404(t *testing.T) {
	clk := newFakeClock()
	srv, svc := setup(t, WithClock(clk), WithHistoryRetention(time.Hour), WithAccessTokenTTL(24*time.Hour))
	h0 := srv.HistoryID(testUser)
	deliver(t, srv, fixture(t, "simple.eml"))
	h1 := srv.HistoryID(testUser)
	if _, err := svc.Users.History.List("me").StartHistoryId(h0).Do(); err != nil {
		t.Fatalf("fresh id: %v", err)
	}
	clk.Advance(2 * time.Hour)
	deliver(t, srv, fixture(t, "reply.eml"))
	_, err := svc.Users.History.List("me").StartHistoryId(h0).Do()
	if code, reason := apiCode(err); code != 404 || reason != "notFound" {
		t.Fatalf("expired id: code %d reason %q err %v", code, reason, err)
	}
	r, err := svc.Users.History.List("me").StartHistoryId(h1).Do()
	if err != nil || len(r.History) != 1 {
		t.Fatalf("id at the retention edge: %v, %d records", err, len(r.History))
	}
	if err := srv.ExpireHistory(testUser); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Users.History.List("me").StartHistoryId(h1).Do(); err == nil {
		t.Fatal("ExpireHistory: want 404")
	}
	if _, err := svc.Users.History.List("me").StartHistoryId(srv.HistoryID(testUser)).Do(); err != nil {
		t.Fatalf("current id after ExpireHistory: %v", err)
	}
}

func TestThreads(t *testing.T) {
	srv, svc := setup(t)
	a := deliver(t, srv, fixture(t, "simple.eml"))
	b := deliver(t, srv, fixture(t, "reply.eml"))
	c := deliver(t, srv, fixture(t, "multipart.eml"))
	// Same References but a different subject: Gmail starts a new thread.
	d := deliver(t, srv, []byte("Subject: Something else\r\nIn-Reply-To: <simple-1@example.org>\r\n\r\nx"))
	snap := srv.Snapshot(testUser)
	if snap[a].ThreadID != snap[b].ThreadID || snap[a].ThreadID == snap[c].ThreadID || snap[d].ThreadID == snap[a].ThreadID {
		t.Fatalf("threading: %+v", snap)
	}
	lt, err := svc.Users.Threads.List("me").MaxResults(2).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Threads) != 2 || lt.NextPageToken == "" {
		t.Fatalf("threads page 1: %d, token %q", len(lt.Threads), lt.NextPageToken)
	}
	lt2, err := svc.Users.Threads.List("me").MaxResults(2).PageToken(lt.NextPageToken).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(lt2.Threads) != 1 || lt2.NextPageToken != "" || lt2.Threads[0].Id != snap[a].ThreadID {
		t.Fatalf("threads page 2: %+v", lt2)
	}
	th, err := svc.Users.Threads.Get("me", snap[a].ThreadID).Format("metadata").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Messages) != 2 || th.Messages[0].Id != a || th.Messages[1].Id != b || th.Messages[0].Payload == nil {
		t.Fatalf("thread get: %+v", th)
	}
	if _, err := svc.Users.Threads.Modify("me", snap[a].ThreadID, &gmail.ModifyThreadRequest{AddLabelIds: []string{"STARRED"}}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Users.Threads.Trash("me", snap[c].ThreadID).Do(); err != nil {
		t.Fatal(err)
	}
	snap = srv.Snapshot(testUser)
	if !slices.Contains(snap[a].LabelIDs, "STARRED") || !slices.Contains(snap[b].LabelIDs, "STARRED") || !slices.Contains(snap[c].LabelIDs, "TRASH") {
		t.Errorf("after thread modify/trash: %+v", snap)
	}
	if _, err := svc.Users.Threads.Untrash("me", snap[c].ThreadID).Do(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Users.Threads.Delete("me", snap[a].ThreadID).Do(); err != nil {
		t.Fatal(err)
	}
	if n := srv.MessageCount(testUser); n != 2 {
		t.Errorf("after thread delete: %d messages", n)
	}
}

func TestDrafts(t *testing.T) {
	srv, svc := setup(t)
	raw := []byte("From: bob@example.com\r\nTo: alice@example.org\r\nSubject: draft\r\n\r\nv1")
	d, err := svc.Users.Drafts.Create("me", &gmail.Draft{Message: &gmail.Message{Raw: base64.URLEncoding.EncodeToString(raw)}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if d.Id == "" || d.Message == nil || !slices.Equal(d.Message.LabelIds, []string{"DRAFT"}) {
		t.Fatalf("create: %+v", d)
	}
	raw2 := []byte("From: bob@example.com\r\nTo: alice@example.org\r\nSubject: draft\r\n\r\nv2")
	u, err := svc.Users.Drafts.Update("me", d.Id, &gmail.Draft{Id: d.Id}).Media(bytesReader(raw2)).Do()
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.Users.Drafts.Get("me", d.Id).Format("raw").Do()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := base64.URLEncoding.DecodeString(g.Message.Raw); string(b) != string(raw2) || g.Message.Id != u.Message.Id {
		t.Errorf("get after update: %q", b)
	}
	l, err := svc.Users.Drafts.List("me").Do()
	if err != nil || len(l.Drafts) != 1 || l.Drafts[0].Id != d.Id {
		t.Fatalf("list: %v %+v", err, l)
	}
	sent, err := svc.Users.Drafts.Send("me", &gmail.Draft{Id: d.Id}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sent.LabelIds, []string{"SENT"}) {
		t.Errorf("sent labels %v", sent.LabelIds)
	}
	if _, err := svc.Users.Drafts.Get("me", d.Id).Do(); err == nil {
		t.Error("sent draft still exists")
	}
	d2, err := svc.Users.Drafts.Create("me", &gmail.Draft{Message: &gmail.Message{Raw: base64.URLEncoding.EncodeToString(raw)}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Users.Drafts.Delete("me", d2.Id).Do(); err != nil {
		t.Fatal(err)
	}
	if n := srv.MessageCount(testUser); n != 1 {
		t.Errorf("%d messages, want only the sent one", n)
	}
}

func TestLabelsCRUD(t *testing.T) {
	srv, svc := setup(t)
	ls, err := svc.Users.Labels.List("me").Do()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range ls.Labels {
		ids[l.Id] = l.Type == "system"
	}
	for _, want := range []string{"INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT", "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES", "CATEGORY_FORUMS"} {
		if !ids[want] {
			t.Errorf("system label %s missing", want)
		}
	}
	l, err := svc.Users.Labels.Create("me", &gmail.Label{Name: "Clients/ACME", LabelListVisibility: "labelShow", MessageListVisibility: "show"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Users.Labels.Create("me", &gmail.Label{Name: "clients/acme"}).Do(); err == nil {
		t.Error("duplicate name accepted")
	} else if code, _ := apiCode(err); code != 409 {
		t.Errorf("duplicate: code %d", code)
	}
	id := deliver(t, srv, fixture(t, "simple.eml"), "INBOX", "UNREAD", l.Id)
	g, err := svc.Users.Labels.Get("me", l.Id).Do()
	if err != nil {
		t.Fatal(err)
	}
	if g.MessagesTotal != 1 || g.MessagesUnread != 1 || g.ThreadsTotal != 1 {
		t.Errorf("counts %+v", g)
	}
	p, err := svc.Users.Labels.Patch("me", l.Id, &gmail.Label{Name: "Clients/ACME Corp"}).Do()
	if err != nil || p.Name != "Clients/ACME Corp" || p.LabelListVisibility != "labelShow" {
		t.Fatalf("patch: %v %+v", err, p)
	}
	u, err := svc.Users.Labels.Update("me", l.Id, &gmail.Label{Id: l.Id, Name: "ACME"}).Do()
	if err != nil || u.Name != "ACME" || u.LabelListVisibility != "" {
		t.Fatalf("update: %v %+v", err, u)
	}
	if _, err := svc.Users.Labels.Patch("me", "INBOX", &gmail.Label{Name: "x"}).Do(); err == nil {
		t.Error("system label renamed")
	}
	if err := svc.Users.Labels.Delete("me", l.Id).Do(); err != nil {
		t.Fatal(err)
	}
	snap := srv.Snapshot(testUser)
	if slices.Contains(snap[id].LabelIDs, l.Id) {
		t.Error("deleted label still on message")
	}
	if _, err := svc.Users.Labels.Get("me", l.Id).Do(); err == nil {
		t.Error("deleted label still served")
	}
}
