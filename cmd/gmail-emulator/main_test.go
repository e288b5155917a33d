package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tidings/emulator"
)

type emu struct {
	base   string
	tokens map[string]string
	done   chan error
	cancel context.CancelFunc
}

// start runs the command in-process and waits for its "ready" line.
func start(t *testing.T, args ...string) *emu {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	e := &emu{tokens: map[string]string{}, done: make(chan error, 1), cancel: cancel}
	go func() {
		err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.CloseWithError(io.EOF)
		e.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("no graceful shutdown within 10s")
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "base_url":
			e.base = f[1]
		case len(f) == 4 && f[0] == "user" && f[2] == "access_token":
			e.tokens[f[1]] = f[3]
		case len(f) > 0 && f[0] == "ready":
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			return e
		}
	}
	t.Fatalf("command exited before ready: %v", <-e.done)
	return nil
}

func (e *emu) get(t *testing.T, user, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.base+"/gmail/v1/users/me/"+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateProfile(t *testing.T) {
	e := start(t, "-generate", "1000", "-seed", "1", "-user", "a@example.com", "-user", "b@example.com")
	for _, u := range []string{"a@example.com", "b@example.com"} {
		var p struct {
			EmailAddress  string `json:"emailAddress"`
			MessagesTotal int    `json:"messagesTotal"`
			HistoryID     string `json:"historyId"`
		}
		e.get(t, u, "profile", &p)
		if p.EmailAddress != u || p.MessagesTotal != 1000 || p.HistoryID == "" {
			t.Errorf("profile %+v", p)
		}
	}
}

// seedDir copies testdata/seed and adds a Maildir (built here because
// Maildir file names contain ':', which module zips do not allow).
func seedDir(t *testing.T) (dir string, flagged []byte) {
	t.Helper()
	dir = t.TempDir()
	ents, err := os.ReadDir(filepath.Join("testdata", "seed"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("testdata", "seed", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flagged = []byte("From: carol@example.org\r\nSubject: seen and flagged\r\n\r\nhi\r\n")
	files := map[string][]byte{
		"Maildir/cur/1700000000.1.host:2,FS": flagged,
		"Maildir/new/1700000001.2.host":      []byte("From: dave@example.org\r\nSubject: new\r\n\r\nhello\r\n"),
		"Maildir/tmp/1700000002.3.host":      []byte("From: partial delivery, must be skipped\r\n\r\n"),
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, flagged
}

func TestSeedDirByteForByte(t *testing.T) {
	dir, flagged := seedDir(t)
	e := start(t, "-seed-dir", dir, "-user", "me@example.com")
	const u = "me@example.com"
	var list struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	e.get(t, u, "messages?includeSpamTrash=true&maxResults=500", &list)
	if len(list.Messages) != 6 { // 2 .eml + 2 in the mbox + 2 in the Maildir
		t.Fatalf("%d messages loaded, want 6", len(list.Messages))
	}
	var raws [][]byte
	labels := map[string][]string{}
	for _, m := range list.Messages {
		var msg struct {
			Raw      string   `json:"raw"`
			LabelIDs []string `json:"labelIds"`
		}
		e.get(t, u, "messages/"+m.ID+"?format=raw", &msg)
		b, err := base64.URLEncoding.DecodeString(msg.Raw)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, b)
		labels[string(b)] = msg.LabelIDs
	}
	for _, name := range []string{"a-simple.eml", "b-multipart.eml"} {
		want, err := os.ReadFile(filepath.Join("testdata", "seed", name))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(raws, func(b []byte) bool { return bytes.Equal(b, want) }) {
			t.Errorf("%s not served byte for byte", name)
		}
	}
	mbox1 := []byte("From: alice@example.org\nSubject: mbox one\n\nFrom the start of a line\n")
	if !slices.ContainsFunc(raws, func(b []byte) bool { return bytes.Equal(b, mbox1) }) {
		t.Errorf("mbox message with >From unquoting not found")
	}
	if got := labels[string(flagged)]; !slices.Equal(got, []string{"INBOX", "STARRED"}) {
		t.Errorf("Maildir S,F flags -> labels %v", got)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-faults", "2"}, {"-fault-kinds", "nope"}, {"-user", "not-an-address"}, {"-seed-dir", "testdata/does-not-exist"}} {
		if err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, io.Discard); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}

// TestGenerateLargeAttachments: -attachment-mb serves the generator's
// mailbox with 1 % of the messages carrying an attachment of that size,
// the same messages a GeneratorOptions.WithLargeAttachments generator
// builds in-process (the ingest benchmark's Maildir for notmuch and mu).
// TestGenerateLargeAttachments serves a mailbox of 1 MiB attachments
// as generated per request and, with -render-dir, from the spill file,
// which is gone after shutdown.
func TestGenerateLargeAttachments(t *testing.T) {
	for _, rendered := range []bool{false, true} {
		t.Run(fmt.Sprintf("rendered=%v", rendered), func(t *testing.T) {
			args := []string{"-generate", "400", "-seed", "3", "-attachment-mb", "1"}
			if rendered {
				dir := t.TempDir()
				t.Cleanup(func() { // runs after the emulator's shutdown
					if left, _ := os.ReadDir(dir); len(left) > 0 {
						t.Errorf("render dir not empty after shutdown: %v", left)
					}
				})
				args = append(args, "-render-dir", dir)
			}
			testLargeAttachments(t, start(t, args...), rendered)
		})
	}
}

func testLargeAttachments(t *testing.T, e *emu, raw bool) {
	const n = 400
	g := emulator.NewGenerator(3, emulator.GeneratorOptions{Owner: "me@example.com"}.WithLargeAttachments(1))
	var want []int
	for i := range n {
		if len(g.Message(i)) > 1<<20 {
			want = append(want, len(g.Message(i)))
		}
	}
	if len(want) == 0 {
		t.Fatal("the generator gave no message a 1 MiB attachment; pick another seed")
	}
	var list struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	e.get(t, "me@example.com", fmt.Sprintf("messages?includeSpamTrash=true&maxResults=%d", n), &list)
	format := "minimal"
	if raw {
		format = "raw"
	}
	var got []int
	for _, m := range list.Messages {
		var msg struct {
			SizeEstimate int    `json:"sizeEstimate"`
			Raw          string `json:"raw"`
		}
		e.get(t, "me@example.com", "messages/"+m.ID+"?format="+format, &msg)
		if b, err := base64.URLEncoding.DecodeString(msg.Raw); raw && (err != nil || len(b) != msg.SizeEstimate) {
			t.Fatalf("raw of %s: %d bytes (%v), sizeEstimate %d", m.ID, len(b), err, msg.SizeEstimate)
		}
		if msg.SizeEstimate > 1<<20 {
			got = append(got, msg.SizeEstimate)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(list.Messages) != n || !slices.Equal(got, want) {
		t.Fatalf("%d messages listed; large ones served %v, generated %v", len(list.Messages), got, want)
	}
}
