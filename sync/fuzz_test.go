package sync

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "1", "120", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("Retry-After", v)
		if d := retryAfter(h); d < 0 {
			t.Errorf("retryAfter(%q) = %s, negative", v, d)
		}
	})
}

// TestRetryAfter runs in a synctest bubble, whose clock starts at
// 2000-01-01 00:00:00 UTC, so an HTTP date gives an exact delay.
func TestRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if now := time.Now().UTC(); !now.Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("bubble clock = %s", now)
		}
		for _, tc := range []struct {
			in   string
			want time.Duration
		}{
			{"", 0},
			{"3", 3 * time.Second},
			{"-4", 0},
			{"x", 0},
			// RFC 9110 §10.2.3: an HTTP-date in each form §5.6.7 accepts.
			{"Sat, 01 Jan 2000 00:01:30 GMT", 90 * time.Second},
			{"Saturday, 01-Jan-00 00:02:00 GMT", 2 * time.Minute},
			{"Sat Jan  1 01:00:00 2000", time.Hour},
			// A date already past means no wait.
			{"Fri, 31 Dec 1999 23:59:00 GMT", 0},
		} {
			h := http.Header{}
			h.Set("Retry-After", tc.in)
			if got := retryAfter(h); got != tc.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tc.in, got, tc.want)
			}
		}
	})
}
