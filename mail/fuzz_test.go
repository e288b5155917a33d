package mail

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecode checks Decode's contract on arbitrary input: it returns a
// non-nil message, does not panic (Decode recovers, so a recovered panic is
// detected through its Err text), and every string is valid UTF-8 without
// NUL. Seeds: the .eml fixtures plus testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range fixtures {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Decode(raw, Options{InternalDate: time.Unix(1700000000, 0)})
		if m == nil {
			t.Fatal("Decode returned nil")
		}
		if m.Err != nil && isInternalError(m.Err) {
			t.Fatalf("decoder panicked: %v", m.Err)
		}
		if bad := invalidStrings(m); len(bad) > 0 {
			t.Fatalf("invalid strings in result: %v", bad)
		}
		if m.Size != len(raw) {
			t.Fatalf("Size = %d, want %d", m.Size, len(raw))
		}
		if !m.Date.IsZero() && m.DateSource == "" {
			t.Fatalf("Date %v set without DateSource", m.Date)
		}
	})
}
