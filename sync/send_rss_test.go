package sync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tidings/emulator"
	"tidings/models"
)

// TestHelperSendWorker is not a test: BenchmarkResumableSend35MB runs the
// test binary again as a worker process that carries out one outbox item,
// so its memory can be measured (and the process killed) on its own.
func TestHelperSendWorker(t *testing.T) {
	if os.Getenv("TIDINGS_SEND_WORKER") == "" {
		t.Skip("helper process for BenchmarkResumableSend35MB")
	}
	ctx := context.Background()
	key, _ := base64.StdEncoding.DecodeString(os.Getenv("TIDINGS_SEND_KEY"))
	cipher, err := models.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	db, engine, err := models.Open(ctx, models.OpenOptions{SQLitePath: os.Getenv("TIDINGS_SEND_DB")})
	if err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db, engine, cipher)
	s, err := New(Deps{Store: store, ClientID: "c", ClientSecret: "s", GmailEndpoint: os.Getenv("TIDINGS_SEND_ENDPOINT"),
		HTTPClient: &http.Client{Timeout: 5 * time.Minute}, Quota: Quota{UnitsPerMinute: -1}, OutboxLease: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tenant, _ := strconv.ParseInt(os.Getenv("TIDINGS_SEND_TENANT"), 10, 64)
	item, _ := strconv.ParseInt(os.Getenv("TIDINGS_SEND_ITEM"), 10, 64)
	runtime.GC()
	idle, _ := procStatus("VmRSS:")
	fmt.Printf("IDLE %d\n", idle)
	var perr error
	for range 10 {
		if perr = s.ProcessOutbox(ctx, tenant, item); perr == nil {
			break
		}
	}
	peak, _ := procStatus("VmHWM:")
	fmt.Printf("PEAK %d\n", peak)
	fmt.Printf("DONE %v\n", perr)
}

// procStatus reads a size field (in bytes) of /proc/self/status.
func procStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// BenchmarkResumableSend35MB sends a message just under Gmail's 35 MB
// limit through a resumable upload from a worker process, kills that
// worker (SIGKILL) once part of the upload is in, and lets a second worker
// process resume the stored session. It checks the message arrived once
// and byte-identical, and reports the second worker's peak RSS above its
// idle RSS (the first worker's too, composing included).
//
//	go test ./sync -run '^$' -bench BenchmarkResumableSend35MB -benchtime 1x
func BenchmarkResumableSend35MB(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchResumableSend(b)
	}
}

func benchResumableSend(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	cipher, _ := models.NewCipher(key)
	dbPath := filepath.Join(dir, "tidings.db")
	db, engine, err := models.Open(ctx, models.OpenOptions{SQLitePath: dbPath})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := models.Migrate(ctx, db, engine); err != nil {
		b.Fatal(err)
	}
	store := models.NewStore(db, engine, cipher)
	emu := emulator.NewServer()
	b.Cleanup(emu.Close)
	if _, err := emu.AddUser(testEmail); err != nil {
		b.Fatal(err)
	}
	tenant, _, err := store.SignUp(ctx, "Big", "admin@big.example", "A", "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	mb := &models.Mailbox{Email: testEmail}
	if err := store.CreateMailbox(ctx, tenant.ID, mb); err != nil {
		b.Fatal(err)
	}
	tok, _ := emu.Token(testEmail)
	if err := store.SaveToken(ctx, tenant.ID, mb.ID, tok); err != nil {
		b.Fatal(err)
	}
	s, err := New(Deps{Store: store, GmailEndpoint: emu.URL, ClientID: "c", ClientSecret: "s"})
	if err != nil {
		b.Fatal(err)
	}
	// 26.5 MB of random bytes: about 36.2 MB once base64-encoded.
	payload := make([]byte, 26_500_000)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range payload {
		payload[i] = byte(r.UintN(256))
	}
	it, _, err := s.Submit(ctx, Submission{TenantID: tenant.ID, UserID: 1, MailboxID: mb.ID, Kind: models.OutboxSend,
		Spec:  SendSpec{To: "big@customer.example", Subject: "35 MB", Text: "the data"},
		Files: Uploads(Upload{Filename: "data.bin", Body: bytes.NewReader(payload)})})
	if err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "TIDINGS_SEND_WORKER=1", "TIDINGS_SEND_DB="+dbPath,
		"TIDINGS_SEND_KEY="+base64.StdEncoding.EncodeToString(key), "TIDINGS_SEND_ENDPOINT="+emu.URL,
		"TIDINGS_SEND_TENANT="+strconv.FormatInt(tenant.ID, 10), "TIDINGS_SEND_ITEM="+strconv.FormatInt(it.ID, 10))
	worker := func(kill bool) (idle, peak int64) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSendWorker$", "-test.v")
		cmd.Env = env
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if kill {
			go func() {
				for {
					cur, err := store.GetOutboxItem(ctx, tenant.ID, it.ID)
					if err == nil && cur.UploadOffset > 0 {
						_ = cmd.Process.Signal(syscall.SIGKILL)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "IDLE "); ok {
				idle, _ = strconv.ParseInt(v, 10, 64)
			}
			if v, ok := strings.CutPrefix(line, "PEAK "); ok {
				peak, _ = strconv.ParseInt(v, 10, 64)
			}
			if v, ok := strings.CutPrefix(line, "DONE "); ok && v != "<nil>" {
				b.Errorf("worker: %s", v)
			}
		}
		_ = cmd.Wait()
		return idle, peak
	}
	start := time.Now()
	worker(true)
	mid, _ := store.GetOutboxItem(ctx, tenant.ID, it.ID)
	if mid.UploadURI == "" || mid.State != models.OutboxSending {
		b.Fatalf("after the kill: session %q offset %d state %s", mid.UploadURI, mid.UploadOffset, mid.State)
	}
	time.Sleep(1100 * time.Millisecond) // the dead worker's lease runs out
	idle, peak := worker(false)
	el := time.Since(start)
	done, _ := store.GetOutboxItem(ctx, tenant.ID, it.ID)
	if done.State != models.OutboxSent {
		b.Fatalf("state %s: %s", done.State, done.LastError)
	}
	var copies int
	for gid := range emu.Snapshot(testEmail) {
		raw, _ := emu.Raw(testEmail, gid)
		if bytes.Contains(raw[:min(len(raw), 4096)], []byte("<"+done.RFCMessageID+">")) {
			copies++
			env := mustEnvelope(b, raw)
			if len(env.Attachments) != 1 || !bytes.Equal(env.Attachments[0].Content, payload) {
				b.Error("attachment differs after the resumed upload")
			}
		}
	}
	if copies != 1 {
		b.Fatalf("%d copies in Gmail", copies)
	}
	b.ReportMetric(float64(done.Size)/(1<<20), "message-MB")
	b.ReportMetric(float64(peak-idle)/(1<<20), "resumed-worker-peak-RSS-above-idle-MB")
	b.ReportMetric(float64(peak)/(1<<20), "resumed-worker-peak-RSS-MB")
	b.Logf("%d-byte message: killed at offset %d of the resumable upload, resumed; worker idle RSS %d MB, peak %d MB (+%d MB), %s in all",
		done.Size, mid.UploadOffset, idle>>20, peak>>20, (peak-idle)>>20, el.Round(time.Millisecond))
}
