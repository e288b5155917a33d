package sync

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"tidings/emulator"
	"tidings/internal/testenv"
	"tidings/models"
)

// TestHelperEmulatorProcess is not a test: BenchmarkPeakRSS runs the test
// binary again with TIDINGS_EMULATOR_CHILD set, so that the emulator's
// memory is not counted in the syncing process's RSS.
func TestHelperEmulatorProcess(t *testing.T) {
	if os.Getenv("TIDINGS_EMULATOR_CHILD") == "" {
		t.Skip("helper process for BenchmarkPeakRSS")
	}
	n, _ := strconv.Atoi(os.Getenv("TIDINGS_EMULATOR_N"))
	rate, _ := strconv.ParseFloat(os.Getenv("TIDINGS_EMULATOR_ATTACH_RATE"), 64)
	size, _ := strconv.Atoi(os.Getenv("TIDINGS_EMULATOR_ATTACH_SIZE"))
	srv, err := emulator.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.AddUser(testEmail); err != nil {
		t.Fatal(err)
	}
	g := emulator.NewGenerator(11, emulator.GeneratorOptions{Owner: testEmail, AttachmentRate: rate, AttachmentSizes: []int{size}})
	if err := srv.AddGenerated(testEmail, g, n); err != nil {
		t.Fatal(err)
	}
	tok, err := srv.Token(testEmail)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"url": srv.URL, "token": tok})
	fmt.Println("EMULATOR " + string(b))
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
}

// peakRSS reads the process's resident-set high-water mark (VmHWM).
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// BenchmarkPeakRSS syncs a mailbox containing 25 MB attachments from an
// emulator in another process and reports the syncing process's peak RSS
// (reset just before the sync through /proc/self/clear_refs).
//
//	go test ./sync -run '^$' -bench BenchmarkPeakRSS -benchtime 1x -timeout 60m
//
// TIDINGS_BENCH_RSS_N (default 2000) and TIDINGS_BENCH_RSS_CONCURRENCY
// (default 16) size it.
func BenchmarkPeakRSS(b *testing.B) {
	n := envInt("TIDINGS_BENCH_RSS_N", 2000)
	conc := envInt("TIDINGS_BENCH_RSS_CONCURRENCY", 16)
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEmulatorProcess$", "-test.v")
		cmd.Env = append(os.Environ(), "TIDINGS_EMULATOR_CHILD=1", "TIDINGS_EMULATOR_N="+strconv.Itoa(n),
			"TIDINGS_EMULATOR_ATTACH_RATE=0.01", "TIDINGS_EMULATOR_ATTACH_SIZE="+strconv.Itoa(25<<20))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
		var info struct {
			URL   string        `json:"url"`
			Token *oauth2.Token `json:"token"`
		}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if j, ok := strings.CutPrefix(sc.Text(), "EMULATOR "); ok {
				if err := json.Unmarshal([]byte(j), &info); err != nil {
					b.Fatal(err)
				}
				break
			}
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		if info.URL == "" {
			b.Fatal("emulator process did not start")
		}
		store := testenv.OpenSQLite(b)
		tenant, _, err := store.SignUp(b.Context(), "RSS", "admin@rss.example", "A", "correct horse battery")
		if err != nil {
			b.Fatal(err)
		}
		mb := &models.Mailbox{Email: testEmail}
		if err := store.CreateMailbox(b.Context(), tenant.ID, mb); err != nil {
			b.Fatal(err)
		}
		if err := store.SaveToken(b.Context(), tenant.ID, mb.ID, info.Token); err != nil {
			b.Fatal(err)
		}
		s, err := New(Deps{Store: store, ClientID: "c", ClientSecret: "s", GmailEndpoint: info.URL,
			HTTPClient: &http.Client{Timeout: 5 * time.Minute}, Quota: Quota{UnitsPerMinute: -1, MaxConcurrency: conc}})
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			b.Logf("cannot reset the RSS high-water mark: %v", err)
		}
		before, _ := peakRSS()
		start := time.Now()
		if err := s.Run(b.Context(), tenant.ID, mb.ID, false, nil); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		peak, err := peakRSS()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
		b.ReportMetric(float64(n)/el.Seconds(), "msg/s")
		b.Logf("%d messages (1%% with a 25 MB attachment), concurrency %d: peak RSS %d MB (%d MB at start) in %s",
			n, conc, peak>>20, before>>20, el.Round(time.Millisecond))
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
