package mail

import (
	"bytes"
	"errors"
	"fmt"
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
	eachFixture(t, func(name string, raw []byte) { cases[name] = raw })
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
					if err := compareStreamed(raw, mk, withDate, internal); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzDecodeReader: on any input, streaming gives what Decode gives.
// Seeds: the .eml fixtures.
func FuzzDecodeReader(f *testing.F) {
	for _, raw := range streamCases(f) {
		f.Add(raw, uint8(7))
	}
	internal := time.Unix(1700000000, 0).UTC()
	f.Fuzz(func(t *testing.T, raw []byte, chunk uint8) {
		mk := func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }
		if chunk%2 == 0 {
			mk = func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }
		}
		if err := compareStreamed(raw, mk, chunk%3 == 0, internal); err != nil {
			t.Fatal(err)
		}
	})
}

// compareStreamed decodes raw whole and from mk's reader, with or
// without the internal date, and reports how the results differ.
// chardet breaks ties between equally likely charsets at random (the
// detected charset of 8-bit bytes without a declared one can differ
// between two Decode calls of the same bytes: chardet runs its recognizers
// in goroutines and sorts their results unstably), so a difference must
// persist over 20 tries to count.
func compareStreamed(raw []byte, mk func([]byte) io.Reader, withDate bool, internal time.Time) error {
	opts := Options{}
	if withDate {
		opts.InternalDate = internal
	}
	var diff error
	for range 20 {
		got, err := DecodeReader(mk(raw), Options{})
		if err != nil {
			return fmt.Errorf("DecodeReader: %w", err)
		}
		if withDate {
			got.UseInternalDate(internal)
		}
		if diff = sameMessage(got, Decode(raw, opts)); diff == nil {
			return nil
		}
	}
	return fmt.Errorf("internal date %v: %w", withDate, diff)
}

func sameMessage(got, want *Message) error {
	g, w := *got, *want
	if g.Err != nil || w.Err != nil {
		if (g.Err == nil) != (w.Err == nil) || g.Err.Error() != w.Err.Error() {
			return fmt.Errorf("Err = %v, want %v", g.Err, w.Err)
		}
		g.Err, w.Err = nil, nil
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Errorf("\n got %+v\nwant %+v", g, w)
	}
	return nil
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

// eachFixture calls fn with the file name and bytes of every .eml message
// in testdata, in name order.
func eachFixture(t testing.TB, fn func(name string, raw []byte)) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fn(filepath.Base(p), raw)
	}
}
