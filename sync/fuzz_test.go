package sync

import (
	"net/http"
	"testing"
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

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"", 0}, {"3", 3 * time.Second}, {"-4", 0}, {"x", 0}, {"Wed, 21 Oct 2015 07:28:00 GMT", 0}} {
		h := http.Header{}
		h.Set("Retry-After", tc.in)
		if got := retryAfter(h); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
