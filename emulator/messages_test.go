package emulator

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gmail "google.golang.org/api/gmail/v1"
)

func TestProfileCountsAndHistoryID(t *testing.T) {
	srv, svc := setup(t)
	p0, err := svc.Users.GetProfile("me").Do()
	if err != nil {
		t.Fatal(err)
	}
	if p0.EmailAddress != testUser || p0.MessagesTotal != 0 || p0.HistoryId == 0 {
		t.Fatalf("empty profile = %+v", p0)
	}
	deliver(t, srv, fixture(t, "simple.eml"))
	deliver(t, srv, fixture(t, "reply.eml"))
	deliver(t, srv, fixture(t, "multipart.eml"))
	p, err := svc.Users.GetProfile(testUser).Do() // users/<email> works like users/me
	if err != nil {
		t.Fatal(err)
	}
	if p.MessagesTotal != 3 || p.ThreadsTotal != 2 {
		t.Errorf("totals = %d messages, %d threads; want 3, 2", p.MessagesTotal, p.ThreadsTotal)
	}
	if p.HistoryId <= p0.HistoryId || p.HistoryId != srv.HistoryID(testUser) {
		t.Errorf("historyId %d, before %d, emulator %d", p.HistoryId, p0.HistoryId, srv.HistoryID(testUser))
	}
	if _, err := svc.Users.GetProfile("someone@else.example").Do(); err == nil {
		t.Error("profile of another user: want 403")
	} else if code, _ := apiCode(err); code != 403 {
		t.Errorf("other user: code %d, want 403", code)
	}
}

func TestListPaginationAndFilters(t *testing.T) {
	clk := newFakeClock()
	srv, svc := setup(t, WithClock(clk))
	work, err := srv.CreateLabel(testUser, "Work Stuff")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 25 {
		raw := fmt.Sprintf("From: sender%d@example.org\r\nTo: bob@example.com\r\nSubject: msg %d\r\n\r\nbody %d\r\n", i%3, i, i)
		labels := []string{"INBOX"}
		if i%5 == 0 {
			labels = append(labels, work)
		}
		ids = append(ids, deliver(t, srv, []byte(raw), labels...))
		clk.Advance(time.Hour)
	}
	if err := srv.Trash(testUser, ids[3]); err != nil {
		t.Fatal(err)
	}
	// All pages, newest first, no duplicates, trash excluded.
	var got []string
	pages := 0
	err = svc.Users.Messages.List("me").MaxResults(10).Pages(t.Context(), func(r *gmail.ListMessagesResponse) error {
		pages++
		for _, m := range r.Messages {
			got = append(got, m.Id)
			if m.ThreadId == "" {
				t.Errorf("message %s without threadId", m.Id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := len(ids) - 1; i >= 0; i-- {
		if i != 3 {
			want = append(want, ids[i])
		}
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("pages=%d got %d ids, want %d in newest-first order", pages, len(got), len(want))
	}
	start := clk.Now().Add(-25 * time.Hour)
	tests := []struct {
		name   string
		call   func() *gmail.UsersMessagesListCall
		expect int
	}{
		{"labelIds", func() *gmail.UsersMessagesListCall { return svc.Users.Messages.List("me").LabelIds(work) }, 5},
		{"label: by name", func() *gmail.UsersMessagesListCall { return svc.Users.Messages.List("me").Q("label:work-stuff") }, 5},
		{"in:trash", func() *gmail.UsersMessagesListCall { return svc.Users.Messages.List("me").Q("in:trash") }, 1},
		{"includeSpamTrash", func() *gmail.UsersMessagesListCall { return svc.Users.Messages.List("me").IncludeSpamTrash(true) }, 25},
		{"from:", func() *gmail.UsersMessagesListCall { return svc.Users.Messages.List("me").Q("from:sender1@") }, 8},
		{"after: epoch", func() *gmail.UsersMessagesListCall {
			return svc.Users.Messages.List("me").Q(fmt.Sprintf("after:%d", start.Add(20*time.Hour).Unix()))
		}, 5},
		{"newer_than + negation", func() *gmail.UsersMessagesListCall {
			return svc.Users.Messages.List("me").Q("newer_than:1d -from:sender0")
		}, 16},
		{"before: date", func() *gmail.UsersMessagesListCall { return svc.Users.Messages.List("me").Q("before:2026/03/09") }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.call().MaxResults(500).Do()
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Messages) != tc.expect {
				t.Errorf("got %d messages, want %d", len(r.Messages), tc.expect)
			}
		})
	}
	if _, err := svc.Users.Messages.List("me").Q("has:attachment-ish:x").Do(); err == nil {
		t.Error("unsupported operator: want 400")
	} else if code, _ := apiCode(err); code != 400 {
		t.Errorf("unsupported operator: code %d", code)
	}
}

func TestGetFormats(t *testing.T) {
	srv, svc := setup(t, WithAttachmentThreshold(1024))
	raw := fixture(t, "multipart.eml")
	id := deliver(t, srv, raw, "INBOX", "UNREAD")

	t.Run("minimal", func(t *testing.T) {
		m, err := svc.Users.Messages.Get("me", id).Format("minimal").Do()
		if err != nil {
			t.Fatal(err)
		}
		if m.Id != id || m.Payload != nil || m.Raw != "" || m.HistoryId == 0 || m.InternalDate == 0 || m.SizeEstimate != int64(len(raw)) {
			t.Errorf("minimal = %+v", m)
		}
		if !slices.Equal(m.LabelIds, []string{"INBOX", "UNREAD"}) {
			t.Errorf("labels %v", m.LabelIds)
		}
	})
	t.Run("raw", func(t *testing.T) {
		m, err := svc.Users.Messages.Get("me", id).Format("raw").Do()
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.URLEncoding.DecodeString(m.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, raw) {
			t.Error("raw bytes differ from delivered bytes")
		}
		if !strings.HasPrefix(m.Snippet, "Grüße aus München") {
			t.Errorf("snippet %q", m.Snippet)
		}
	})
	t.Run("metadata", func(t *testing.T) {
		m, err := svc.Users.Messages.Get("me", id).Format("metadata").MetadataHeaders("Subject", "from").Do()
		if err != nil {
			t.Fatal(err)
		}
		if m.Payload == nil || len(m.Payload.Headers) != 2 || m.Payload.Parts != nil {
			t.Fatalf("payload %+v", m.Payload)
		}
		if m.Payload.Headers[0].Name != "From" || m.Payload.Headers[1].Value != "=?ISO-8859-1?Q?Gr=FC=DFe?= with report" {
			t.Errorf("headers %+v", m.Payload.Headers)
		}
	})
	t.Run("full", func(t *testing.T) {
		m, err := svc.Users.Messages.Get("me", id).Format("full").Do()
		if err != nil {
			t.Fatal(err)
		}
		p := m.Payload
		if p.PartId != "" || p.MimeType != "multipart/mixed" || len(p.Parts) != 2 {
			t.Fatalf("top part %q %q %d parts", p.PartId, p.MimeType, len(p.Parts))
		}
		alt, att := p.Parts[0], p.Parts[1]
		if alt.PartId != "0" || alt.MimeType != "multipart/alternative" || len(alt.Parts) != 2 {
			t.Fatalf("alternative part %+v", alt)
		}
		if alt.Parts[0].PartId != "0.0" || alt.Parts[1].PartId != "0.1" || alt.Parts[1].MimeType != "text/html" {
			t.Errorf("grandchildren ids %q %q", alt.Parts[0].PartId, alt.Parts[1].PartId)
		}
		text, err := base64.URLEncoding.DecodeString(alt.Parts[0].Body.Data)
		if err != nil {
			t.Fatal(err)
		}
		// Transfer-decoded, charset left as declared (ISO-8859-1).
		if string(text) != "Gr\xfc\xdfe aus M\xfcnchen" {
			t.Errorf("text body %q", text)
		}
		if att.PartId != "1" || att.Filename != "data.bin" || att.Body.AttachmentId == "" || att.Body.Data != "" || att.Body.Size != 256*300 {
			t.Fatalf("attachment part %+v body %+v", att, att.Body)
		}
		a, err := svc.Users.Messages.Attachments.Get("me", id, att.Body.AttachmentId).Do()
		if err != nil {
			t.Fatal(err)
		}
		data, err := base64.URLEncoding.DecodeString(a.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, bytes.Repeat(func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), 300)) || a.Size != int64(len(data)) {
			t.Errorf("attachment data: %d bytes, size %d", len(data), a.Size)
		}
	})
	t.Run("bad format", func(t *testing.T) {
		_, err := svc.Users.Messages.Get("me", id).Format("bogus").Do()
		if code, _ := apiCode(err); code != 400 {
			t.Errorf("code %d, want 400", code)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := svc.Users.Messages.Get("me", "00000000deadbeef").Do()
		if code, reason := apiCode(err); code != 404 || reason != "notFound" {
			t.Errorf("code %d reason %q", code, reason)
		}
	})
}

func TestMalformedMessagesAreServed(t *testing.T) {
	srv, svc := setup(t)
	for _, raw := range [][]byte{fixture(t, "malformed.eml"), {}, []byte("no header at all"), []byte("\r\n\r\nbody only"), []byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n")} {
		id := deliver(t, srv, raw)
		for _, f := range []string{"minimal", "metadata", "full", "raw"} {
			m, err := svc.Users.Messages.Get("me", id).Format(f).Do()
			if err != nil {
				t.Fatalf("%q format %s: %v", raw, f, err)
			}
			if f == "raw" {
				b, _ := base64.URLEncoding.DecodeString(m.Raw)
				if !bytes.Equal(b, raw) {
					t.Errorf("raw of malformed message changed")
				}
			}
		}
	}
}

func TestModifyTrashDeleteAndBatch(t *testing.T) {
	srv, svc := setup(t)
	a := deliver(t, srv, fixture(t, "simple.eml"))
	b := deliver(t, srv, fixture(t, "multipart.eml"))
	c := deliver(t, srv, []byte("Subject: third\r\n\r\nx"))
	m, err := svc.Users.Messages.Modify("me", a, &gmail.ModifyMessageRequest{AddLabelIds: []string{"STARRED"}, RemoveLabelIds: []string{"UNREAD"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.LabelIds, []string{"INBOX", "STARRED"}) {
		t.Errorf("after modify: %v", m.LabelIds)
	}
	if _, err := svc.Users.Messages.Modify("me", a, &gmail.ModifyMessageRequest{AddLabelIds: []string{"Label_404"}}).Do(); err == nil {
		t.Error("unknown label accepted")
	} else if code, _ := apiCode(err); code != 400 {
		t.Errorf("unknown label: code %d", code)
	}
	if m, err = svc.Users.Messages.Trash("me", b).Do(); err != nil || !slices.Contains(m.LabelIds, "TRASH") {
		t.Fatalf("trash: %v %v", err, m)
	}
	if m, err = svc.Users.Messages.Untrash("me", b).Do(); err != nil || slices.Contains(m.LabelIds, "TRASH") {
		t.Fatalf("untrash: %v %v", err, m)
	}
	if err := svc.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: []string{a, b, c}, AddLabelIds: []string{"IMPORTANT"}}).Do(); err != nil {
		t.Fatal(err)
	}
	snap := srv.Snapshot(testUser)
	for _, id := range []string{a, b, c} {
		if !slices.Contains(snap[id].LabelIDs, "IMPORTANT") {
			t.Errorf("%s labels %v", id, snap[id].LabelIDs)
		}
	}
	if err := svc.Users.Messages.Delete("me", a).Do(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Users.Messages.BatchDelete("me", &gmail.BatchDeleteMessagesRequest{Ids: []string{b, c}}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Users.Messages.Get("me", a).Do(); err == nil {
		t.Error("deleted message still served")
	}
	if n := srv.MessageCount(testUser); n != 0 {
		t.Errorf("%d messages left", n)
	}
}

func TestInsertImportSendWithMediaUploads(t *testing.T) {
	srv, svc := setup(t)
	if _, err := srv.AddUser("carol@example.com"); err != nil {
		t.Fatal(err)
	}
	raw := fixture(t, "simple.eml")
	// JSON raw.
	ins, err := svc.Users.Messages.Insert("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString(raw), LabelIds: []string{"INBOX"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	// uploadType=multipart (small media).
	imp, err := svc.Users.Messages.Import("me", &gmail.Message{}).Media(bytes.NewReader(raw)).Do()
	if err != nil {
		t.Fatal(err)
	}
	// uploadType=resumable: 600 KiB in 256 KiB chunks.
	big := append(bytes.Clone(raw), bytes.Repeat([]byte("0123456789abcdef\r\n"), 600<<10/18)...)
	res, err := svc.Users.Messages.Insert("me", &gmail.Message{LabelIds: []string{"INBOX"}}).
		ResumableMedia(t.Context(), bytes.NewReader(big), int64(len(big)), "message/rfc822").Do()
	if err != nil {
		t.Fatal(err)
	}
	sendRaw := []byte("From: bob@example.com\r\nTo: carol@example.com\r\nSubject: hi carol\r\n\r\nhello\r\n")
	sent, err := svc.Users.Messages.Send("me", &gmail.Message{}).Media(bytes.NewReader(sendRaw)).Do()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id     string
		want   []byte
		labels []string
	}{
		{ins.Id, raw, []string{"INBOX"}},
		{imp.Id, raw, []string{"INBOX", "UNREAD"}},
		{res.Id, big, []string{"INBOX"}},
		{sent.Id, sendRaw, []string{"SENT"}},
	}
	for _, tc := range tests {
		m, err := svc.Users.Messages.Get("me", tc.id).Format("raw").Do()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := base64.URLEncoding.DecodeString(m.Raw)
		if !bytes.Equal(b, tc.want) || !slices.Equal(m.LabelIds, tc.labels) {
			t.Errorf("%s: %d bytes (want %d), labels %v want %v", tc.id, len(b), len(tc.want), m.LabelIds, tc.labels)
		}
	}
	// import with internalDateSource=dateHeader (default) takes the Date header.
	m, err := svc.Users.Messages.Get("me", imp.Id).Format("minimal").Do()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixMilli(); m.InternalDate != want {
		t.Errorf("import internalDate %d, want %d", m.InternalDate, want)
	}
	// Local delivery to carol.
	if n := srv.MessageCount("carol@example.com"); n != 1 {
		t.Errorf("carol has %d messages, want 1", n)
	}
	if _, err := svc.Users.Messages.Send("me", &gmail.Message{Raw: base64.URLEncoding.EncodeToString([]byte("Subject: nobody\r\n\r\nx"))}).Do(); err == nil {
		t.Error("send without recipients accepted")
	}
}

func TestUploadTooLarge(t *testing.T) {
	_, svc := setup(t)
	big := bytes.Repeat([]byte("x"), MaxUploadBytes+1)
	_, err := svc.Users.Messages.Insert("me", &gmail.Message{}).Media(bytes.NewReader(big)).Do()
	if code, _ := apiCode(err); code != 413 {
		t.Errorf("code %d (%v), want 413", code, err)
	}
}
