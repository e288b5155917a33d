package app_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// peakRSS is this process's peak resident set (VmHWM), in MiB.
func peakRSS(tb testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	tb.Skip("no VmHWM")
	return 0
}

// BenchmarkLogin100 runs the real web process (RunWeb, embedded default)
// and fires 100 concurrent logins per iteration, each from its own
// loopback address (so the per-IP limit does not hide the hashing bound)
// with a mix of unknown and known addresses and wrong passwords. It
// reports the process's peak RSS; the bound is 300 MB.
//
//	go test ./internal/app -run '^$' -bench BenchmarkLogin100 -benchtime 3x
func BenchmarkLogin100(b *testing.B) {
	base := startWeb(b, nil)
	client := func(i int) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/250), byte(1+i%250))}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	form := url.Values{"org": {"Bench"}, "email": {"known@bench.example"}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}}
	if resp, err := client(999).PostForm(base+"/signup", form); err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign-up: %v %v", resp, err)
	}
	before := peakRSS(b)
	statuses := map[int]int{}
	var mu sync.Mutex
	b.ResetTimer()
	for n := range b.N {
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				email := fmt.Sprintf("nobody%d-%d@bench.example", n, i)
				if i%4 == 0 {
					email = "known@bench.example"
				}
				resp, err := client(i).PostForm(base+"/login", url.Values{"email": {email}, "password": {"wrong password " + strconv.Itoa(i)}})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					statuses[0]++
					return
				}
				resp.Body.Close()
				statuses[resp.StatusCode]++
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	peak := peakRSS(b)
	b.ReportMetric(peak, "peak-rss-MiB")
	b.ReportMetric(before, "rss-before-MiB")
	b.Logf("answers: %v", statuses)
	if statuses[0] > 0 || statuses[http.StatusInternalServerError] > 0 {
		b.Errorf("failed logins: %v", statuses)
	}
	if peak > 300*1e6/(1<<20) {
		b.Errorf("peak RSS %.0f MiB exceeds 300 MB", peak)
	}
}
