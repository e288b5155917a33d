package emulator

import (
	"bytes"
	"testing"
	"time"
)

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"from:alice after:2024/01/02", `-in:inbox label:"My Label" subject:"a b"`, "newer_than:3d is:unread", "older_than:1y before:1700000000", "x:y", "-", `"unterminated`} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mb := newMailbox(testUser, 1, now, time.Hour)
	m := mb.addMessage(now, []byte("From: a@b.example\r\nSubject: hi\r\n\r\nx"), []string{"INBOX"}, now.UnixMilli(), 0)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseQuery(s, now)
		if err != nil {
			return
		}
		mb.resolveQueryLabels(q)
		_ = q.match(mb, m)
	})
}

func FuzzReadInnerRequest(f *testing.F) {
	f.Add([]byte("GET /gmail/v1/users/me/profile\r\n\r\n"))
	f.Add([]byte("POST /gmail/v1/users/me/messages/1/modify HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{}"))
	f.Add([]byte("\n\nGET http://x/gmail/v1/users/me/labels HTTP/1.1\nAuthorization: Bearer t\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := readInnerRequest(b)
		if err == nil && req.URL == nil {
			t.Fatal("request without URL")
		}
	})
}

func FuzzContentRangeAndMbox(f *testing.F) {
	f.Add("bytes 0-9/10", []byte("From a\nx\n>From b\nFrom c\ny"))
	f.Add("bytes */*", []byte("no separator"))
	f.Add("bytes 5-1/3", []byte("From \r\n\r\n"))
	f.Fuzz(func(t *testing.T, cr string, mbox []byte) {
		if start, end, total, ok := parseContentRange(cr); ok && start >= 0 && (end < start || total < -1) {
			t.Fatalf("%q -> %d-%d/%d", cr, start, end, total)
		}
		for _, m := range splitMbox(mbox) {
			if len(m) > len(mbox) {
				t.Fatal("message larger than mbox")
			}
		}
		// One message per "From " separator line at most; text before the
		// first separator is not a message.
		seps := 0
		for _, line := range bytes.Split(mbox, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("From ")) {
				seps++
			}
		}
		if n := len(splitMbox(mbox)); n > seps {
			t.Fatalf("%d messages from %d separators in %q", n, seps, mbox)
		}
	})
}
