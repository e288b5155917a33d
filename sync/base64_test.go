package sync

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// checkDecodeRawURL fails when decodeRawURL and encoding/base64 disagree
// on src: the count of bytes decoded, those bytes or the error. (What
// either leaves in dst beyond the count is unspecified.)
func checkDecodeRawURL(t *testing.T, src []byte) {
	t.Helper()
	n := base64.RawURLEncoding.DecodedLen(len(src))
	got, want := make([]byte, n), make([]byte, n)
	gn, gerr := decodeRawURL(got, src)
	wn, werr := base64.RawURLEncoding.Decode(want, src)
	if gn != wn || !bytes.Equal(got[:gn], want[:wn]) || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("decodeRawURL of %d bytes (%.60q...) = %d, %v; encoding/base64: %d, %v", len(src), src, gn, gerr, wn, werr)
	}
}

// TestDecodeRawURLMatchesStdlib covers what the vector path can meet:
// lengths around its 32-character blocks, each kind of bad character at
// each position of a block, and the standard alphabet's + and / (valid in
// base64, not in base64url).
func TestDecodeRawURLMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 2, 3, 44, 45, 46, 47, 48, 63, 64, 65, 95, 96, 97, 1000, 4099, 1 << 16} {
		plain := make([]byte, size)
		for i := range plain {
			plain[i] = byte(rng.Uint32())
		}
		enc := []byte(base64.RawURLEncoding.EncodeToString(plain))
		t.Run("valid", func(t *testing.T) { checkDecodeRawURL(t, enc) })
		if len(enc) == 0 {
			continue
		}
		for _, bad := range []byte{'+', '/', '=', '\n', '\r', ' ', '"', 0, 0x80, 0xff, '.'} {
			for _, at := range []int{0, 1, len(enc) / 2, len(enc) - 1, min(31, len(enc)-1), min(32, len(enc)-1), min(45, len(enc)-1)} {
				src := bytes.Clone(enc)
				src[at] = bad
				t.Run("bad", func(t *testing.T) { checkDecodeRawURL(t, src) })
			}
		}
		t.Run("truncated quantum", func(t *testing.T) { checkDecodeRawURL(t, append(bytes.Clone(enc), 'Q')) })
	}
}

func FuzzDecodeRawURL(f *testing.F) {
	f.Add([]byte(base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("tidings \xff\x00"), 20))))
	f.Add([]byte("SGVsbG8gV29ybGQ"))
	f.Add([]byte("SGVsbG8+V29ybGQ/"))
	f.Add([]byte("SGVsbG8\nV29ybGQ"))
	f.Add([]byte("SGVsbG8gV29ybGQ=="))
	f.Fuzz(func(t *testing.T, src []byte) {
		checkDecodeRawURL(t, src)
		// The same input inside a block the vector path decodes.
		long := append([]byte(base64.RawURLEncoding.EncodeToString(make([]byte, 48))), src...)
		checkDecodeRawURL(t, long)
	})
}

// BenchmarkDecodeRawURL compares decodeRawURL with encoding/base64 on a
// 32 KiB chunk, the size the raw field reaches the decoder in.
func BenchmarkDecodeRawURL(b *testing.B) {
	plain := make([]byte, 24<<10)
	for i := range plain {
		plain[i] = byte(i * 7)
	}
	src := []byte(base64.RawURLEncoding.EncodeToString(plain))
	dst := make([]byte, len(plain))
	for _, c := range []struct {
		name string
		fn   func(dst, src []byte) (int, error)
	}{{"asm", decodeRawURL}, {"stdlib", base64.RawURLEncoding.Decode}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for range b.N {
				if _, err := c.fn(dst, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
