package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestSimpleMediaUploadAndResumableProtocol(t *testing.T) {
	srv, _ := setup(t)
	tok, err := srv.IssueAccessToken(testUser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	raw := fixture(t, "simple.eml")
	post := func(url, ctype string, body []byte, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", ctype)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	// uploadType=media: the body is the message itself.
	resp := post(srv.URL+"/upload/gmail/v1/users/me/messages?uploadType=media", "message/rfc822", raw, nil)
	var m struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("media upload: %d %v", resp.StatusCode, err)
	}
	if got, _ := srv.Raw(testUser, m.ID); !bytes.Equal(got, raw) {
		t.Errorf("media upload stored %q", got)
	}
	// uploadType on the non-upload path is refused.
	if resp := post(srv.URL+"/gmail/v1/users/me/messages?uploadType=media", "message/rfc822", raw, nil); resp.StatusCode != 400 {
		t.Errorf("uploadType on /gmail/v1: %d", resp.StatusCode)
	}
	// Resumable, by hand: initiate, send a chunk, resend it (the server
	// answers 308 with the Range it has), then the final chunk.
	resp = post(srv.URL+"/upload/gmail/v1/users/me/messages/import?uploadType=resumable", "application/json", []byte(`{"labelIds":["INBOX"]}`),
		map[string]string{"X-Upload-Content-Type": "message/rfc822", "X-Upload-Content-Length": strconv.Itoa(len(raw))})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 200 || loc == "" {
		t.Fatalf("initiate: %d location %q", resp.StatusCode, loc)
	}
	half := len(raw) / 2
	chunk := func(from, to int) *http.Response {
		return post(loc, "message/rfc822", raw[from:to], map[string]string{"Content-Range": "bytes " + strconv.Itoa(from) + "-" + strconv.Itoa(to-1) + "/" + strconv.Itoa(len(raw))})
	}
	for range 2 {
		r := chunk(0, half)
		if r.StatusCode != 308 || r.Header.Get("Range") != "bytes=0-"+strconv.Itoa(half-1) {
			t.Fatalf("partial chunk: %d range %q", r.StatusCode, r.Header.Get("Range"))
		}
	}
	r := chunk(half, len(raw))
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || json.Unmarshal(b, &m) != nil {
		t.Fatalf("final chunk: %d %s", r.StatusCode, b)
	}
	if got, _ := srv.Raw(testUser, m.ID); !bytes.Equal(got, raw) {
		t.Errorf("resumable upload stored %q", got)
	}
	// A completed session answers any later request, a status query
	// included, with its final response (the outcome of a lost answer).
	var again struct{ ID string }
	if r := chunk(0, half); r.StatusCode != 200 || json.NewDecoder(r.Body).Decode(&again) != nil || again.ID != m.ID {
		t.Errorf("completed session: %d %q, want 200 %q", r.StatusCode, again.ID, m.ID)
	}
	// Declared size over the limit is refused at initiation.
	resp = post(srv.URL+"/upload/gmail/v1/users/me/messages/send?uploadType=resumable", "application/json", []byte(`{}`),
		map[string]string{"X-Upload-Content-Length": strconv.Itoa(MaxUploadBytes + 1)})
	if resp.StatusCode != 413 {
		t.Errorf("oversized resumable: %d", resp.StatusCode)
	}
}
