package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// renderedPair starts two emulators with the same seed, user and
// generated mailbox, the second rendering it into dir (WithRenderDir):
// every answer of the second must be the bytes of the first's.
func renderedPair(t *testing.T, dir string, n int, opts GeneratorOptions) (plain, rendered *Server, tokens [2]string) {
	t.Helper()
	created := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	g := NewGenerator(7, opts)
	var srvs [2]*Server
	for k, opts := range [][]Option{nil, {WithRenderDir(dir)}} {
		srv := NewServer(append(opts, WithSeed(3))...)
		t.Cleanup(srv.Close)
		if _, err := srv.AddUserAt(testUser, created); err != nil {
			t.Fatal(err)
		}
		if err := srv.AddGenerated(testUser, g, n); err != nil {
			t.Fatal(err)
		}
		srvs[k] = srv
	}
	for k, srv := range srvs {
		tok, err := srv.IssueAccessToken(testUser, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tokens[k] = tok
	}
	return srvs[0], srvs[1], tokens
}

type rawAnswer struct {
	status int
	header http.Header
	body   []byte
}

func getRaw(t *testing.T, base, token, id string) rawAnswer {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/gmail/v1/users/me/messages/"+id+"?format=raw", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: body}
}

func sameAnswer(t *testing.T, what string, want, got rawAnswer) {
	t.Helper()
	if got.status != want.status || !bytes.Equal(got.body, want.body) {
		t.Fatalf("%s: rendered answer %d (%d bytes) differs from regenerated %d (%d bytes):\n%.300s\n%.300s", what, got.status, len(got.body), want.status, len(want.body), got.body, want.body)
	}
	for _, h := range []string{"Content-Type", "Content-Length"} {
		if got.header.Get(h) != want.header.Get(h) {
			t.Fatalf("%s: %s %q, want %q", what, h, got.header.Get(h), want.header.Get(h))
		}
	}
}

func TestRenderedMailboxAnswersAreTheRegeneratedBytes(t *testing.T) {
	dir := t.TempDir()
	// A spill file of a crashed emulator (a process id that cannot be
	// running) is removed by the next rendering; the running process's
	// own are kept.
	stale := filepath.Join(dir, spillPrefix+"2147483646.123"+spillSuffix)
	own := filepath.Join(dir, spillPrefix+strconv.Itoa(os.Getpid())+".keep"+spillSuffix)
	for _, f := range []string{stale, own} {
		if err := os.WriteFile(f, []byte("stale"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const n = 400
	// Every structure: plain and alternative bodies, one and two
	// attachments (empty, small, over the inline threshold), all the
	// malformations.
	plain, rendered, tok := renderedPair(t, dir, n, GeneratorOptions{Owner: testUser, AttachmentRate: 0.3, AttachmentSizes: []int{0, 2 << 10, 70 << 10}, MalformedRate: 0.25, MalformedLabel: "Malformed"})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale spill file of a dead process kept: %v", err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("spill file of a running process removed: %v", err)
	}

	// The same changes on both: labels, a deletion, a message added
	// after the generated ones (served from its bytes, not the file).
	ids := slices.Sorted(maps.Keys(plain.Snapshot(testUser)))
	if len(ids) != n {
		t.Fatalf("%d messages, want %d", len(ids), n)
	}
	for _, srv := range []*Server{plain, rendered} {
		if err := srv.ModifyLabels(testUser, ids[1], []string{"STARRED"}, []string{"INBOX", "UNREAD"}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Delete(testUser, ids[2]); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Deliver(testUser, []byte("Subject: later\r\nFrom: a@example.com\r\n\r\nadded <later> & \"quoted\"\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	ids = slices.Sorted(maps.Keys(plain.Snapshot(testUser)))
	ids = append(ids, formatID(1)) // an unknown id: the same 404
	var structures = map[string]bool{}
	for _, id := range ids {
		want := getRaw(t, plain.URL, tok[0], id)
		got := getRaw(t, rendered.URL, tok[1], id)
		sameAnswer(t, id, want, got)
		if want.status == 200 {
			var m apiMessage
			if err := json.Unmarshal(got.body, &m); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			raw, _ := decodeRaw(m.Raw)
			structures[fmt.Sprintf("%s attachments=%v", parseMessage(raw).mimeType, bytes.Contains(raw, []byte("attachment;")))] = true
		}
	}
	if len(structures) < 4 {
		t.Errorf("only %d message structures compared: %v", len(structures), structures)
	}

	// Through the batch endpoint (a recorder, no sendfile) and with the
	// ghost-label fault, which changes the answer's labels.
	paths := make([]string, 0, 20)
	for _, id := range ids[:20] {
		paths = append(paths, "/gmail/v1/users/me/messages/"+id+"?format=raw")
	}
	_, wantParts := doBatch(t, batchRequest(t, plain.URL, tok[0], paths))
	_, gotParts := doBatch(t, batchRequest(t, rendered.URL, tok[1], paths))
	if len(gotParts) != len(paths) || len(wantParts) != len(paths) {
		t.Fatalf("batch: %d and %d parts, want %d", len(gotParts), len(wantParts), len(paths))
	}
	for i := range paths {
		if !bytes.Equal(gotParts[i].body, wantParts[i].body) {
			t.Fatalf("batch part %d differs:\n%.300s\n%.300s", i, gotParts[i].body, wantParts[i].body)
		}
	}
	for _, srv := range []*Server{plain, rendered} {
		srv.SetFaults(Faults{Rate: 1, Kinds: []FaultKind{FaultGhostLabel}})
	}
	for _, id := range ids[:20] {
		sameAnswer(t, "ghost label "+id, getRaw(t, plain.URL, tok[0], id), getRaw(t, rendered.URL, tok[1], id))
	}

	// Close removes the spill file.
	rendered.Close()
	left, _ := filepath.Glob(filepath.Join(dir, spillPrefix+"*"))
	if !slices.Equal(left, []string{own}) {
		t.Errorf("after Close the render dir holds %v, want only %v", left, own)
	}
}

func TestFormatIDIsSixteenHexDigits(t *testing.T) {
	for _, id := range []uint64{0, 1, 0xabc, 0x18f2a3b4c5d6e7f8, 1<<64 - 1} {
		if got, want := formatID(id), fmt.Sprintf("%016x", id); got != want {
			t.Errorf("formatID(%#x) = %q, want %q", id, got, want)
		}
		if back, ok := parseID(formatID(id)); !ok || back != id {
			t.Errorf("parseID(formatID(%#x)) = %#x, %v", id, back, ok)
		}
	}
}

// TestRenderedLargeAttachments covers messages rendered alone, in a
// buffer of their own (attachments over largeRender).
func TestRenderedLargeAttachments(t *testing.T) {
	const n = 30
	opts := GeneratorOptions{Owner: testUser, AttachmentRate: 0.15, AttachmentSizes: []int{largeRender + 1<<20}}
	plain, rendered, tok := renderedPair(t, t.TempDir(), n, opts)
	g := NewGenerator(7, opts)
	large := 0
	for i := range n {
		if g.attachmentBytes(i) > largeRender {
			large++
		}
	}
	if large == 0 {
		t.Fatal("no large message generated; pick another seed")
	}
	for _, id := range slices.Sorted(maps.Keys(plain.Snapshot(testUser))) {
		sameAnswer(t, id, getRaw(t, plain.URL, tok[0], id), getRaw(t, rendered.URL, tok[1], id))
	}
}

// TestRenderDirUnusable: a render dir that cannot be created fails
// AddGenerated with the reason, and leaves the mailbox as it was.
func TestRenderDirUnusable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, _ := setup(t, WithRenderDir(file))
	err := srv.AddGenerated(testUser, NewGenerator(1, GeneratorOptions{Owner: testUser}), 10)
	if err == nil || !strings.Contains(err.Error(), "render dir") {
		t.Fatalf("AddGenerated into an unusable render dir: %v", err)
	}
	if c := srv.MessageCount(testUser); c != 0 {
		t.Errorf("%d messages after the failed AddGenerated", c)
	}
}
