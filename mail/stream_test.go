package mail

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

// streamCases are the .eml fixtures plus inputs that exercise the edges
// of reading from a stream: no header, a header without a final line
// ending, an empty input.
func streamCases(t testing.TB) map[string][]byte {
	cases := map[string][]byte{
		"empty":            nil,
		"no header":        []byte("just some words\nno colon anywhere\n"),
		"header only":      []byte("Subject: hi\r\nFrom: a@b.example"),
		"header only LF":   []byte("Subject: hi\nDate: nonsense"),
		"bad date":         []byte("Subject: x\r\nDate: yesterday-ish\r\n\r\nbody\r\n"),
		"no date":          []byte("Subject: x\r\n\r\nbody\r\n"),
		"header only date": []byte("Subject: x\r\nDate: Mon, 2 Jan 2006 15:04:05 -0700"),
	}
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range fixtures {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(p)] = raw
	}
	return cases
}

// TestDecodeReaderMatchesDecode: streaming a message, in chunks of any
// size, gives what decoding it whole gives, and UseInternalDate after
// the stream gives what Options.InternalDate gives.
func TestDecodeReaderMatchesDecode(t *testing.T) {
	internal := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	readers := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
	}
	for name, raw := range streamCases(t) {
		for rname, mk := range readers {
			t.Run(name+"/"+rname, func(t *testing.T) {
				for _, withDate := range []bool{false, true} {
					opts := Options{}
					if withDate {
						opts.InternalDate = internal
					}
					want := Decode(raw, opts)
					got, err := DecodeReader(mk(raw), Options{})
					if err != nil {
						t.Fatalf("DecodeReader: %v", err)
					}
					if withDate {
						got.UseInternalDate(internal)
					}
					if want.Err != nil || got.Err != nil {
						if (want.Err == nil) != (got.Err == nil) || want.Err.Error() != got.Err.Error() {
							t.Fatalf("Err = %v, want %v", got.Err, want.Err)
						}
						want.Err, got.Err = nil, nil
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("internal date %v:\n got %+v\nwant %+v", withDate, got, want)
					}
				}
			})
		}
	}
}

// TestDecodeReaderReadError: a stream that fails is reported as such, not
// decoded into a message that looks complete.
func TestDecodeReaderReadError(t *testing.T) {
	cut := errors.New("connection reset")
	raw := streamCases(t)["no date"]
	r := io.MultiReader(bytes.NewReader(raw[:10]), iotest.ErrReader(cut))
	if _, err := DecodeReader(r, Options{}); !errors.Is(err, cut) {
		t.Fatalf("err = %v, want %v", err, cut)
	}
}

// TestDecodeReaderDrains: the stream is read to its end even when the
// decoder stops early (past MaxParts), so what follows it can be read.
func TestDecodeReaderDrains(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 50 {
		b.WriteString("--b\r\nContent-Type: text/plain\r\n\r\npart\r\n")
	}
	b.WriteString("--b--\r\n")
	r := bytes.NewReader(b.Bytes())
	m, err := DecodeReader(r, Options{MaxParts: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 || m.Size != b.Len() {
		t.Fatalf("left %d bytes unread, Size %d of %d", r.Len(), m.Size, b.Len())
	}
}
