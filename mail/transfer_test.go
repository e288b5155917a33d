package mail

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// countBase64Table is the table-driven countBase64 that the SWAR version
// replaced (as it was before 2026-11-30), kept as the reference it must
// equal on every input.
func countBase64Table(b []byte) int64 {
	var n int64
	for len(b) >= 8 {
		_ = b[7]
		n += int64(base64Count[b[0]] + base64Count[b[1]] + base64Count[b[2]] + base64Count[b[3]] +
			base64Count[b[4]] + base64Count[b[5]] + base64Count[b[6]] + base64Count[b[7]])
		b = b[8:]
	}
	for _, c := range b {
		n += int64(base64Count[c])
	}
	return n
}

// base64Count is base64Alphabet as counts, for countBase64Table.
var base64Count = func() (t [256]uint8) {
	for c, ok := range base64Alphabet {
		if ok {
			t[c] = 1
		}
	}
	return t
}()

// countBase64Impls are the implementations countBase64 chooses from on
// this machine, each held to countBase64Table.
func countBase64Impls() map[string]func([]byte) int64 {
	impls := map[string]func([]byte) int64{"countBase64": countBase64, "SWAR": countBase64SWAR}
	if haveCountAVX2 {
		impls["AVX2"] = func(b []byte) int64 {
			k := len(b) &^ 31
			return int64(countBase64AVX2(b[:k])) + countBase64Table(b[k:])
		}
	}
	return impls
}

// TestCountBase64EveryByte checks every byte value at every position of a
// 64-byte block (the SWAR loop, two AVX2 blocks), of a 32-byte block and
// of an 8-byte word (the SWAR tail), with every other position holding one
// fill byte, in the alphabet or not, so that a carry or borrow leaking
// between bytes would show.
func TestCountBase64EveryByte(t *testing.T) {
	for name, count := range countBase64Impls() {
		for _, size := range []int{64, 32, 8} {
			for _, fill := range []byte{'A', '+', '/', 'z', 0x00, 0x7f, 0x80, 0xff, '=', '\n'} {
				block := bytes.Repeat([]byte{fill}, size)
				for pos := range size {
					for c := range 256 {
						block[pos] = byte(c)
						if got, want := count(block), countBase64Table(block); got != want {
							t.Fatalf("%s: %d bytes of %#x, byte %#x at %d: %d, table says %d", name, size, fill, c, pos, got, want)
						}
					}
					block[pos] = fill
				}
			}
		}
	}
}

// TestCountBase64MatchesTable compares each implementation with the table
// on random inputs of every length up to 300 (covering the 32-, 16-, 8-
// and 1-byte loops), from three byte distributions: uniform bytes, base64
// text with line breaks, and bytes near the alphabet's range edges.
func TestCountBase64MatchesTable(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 2026))
	edges := []byte("@AZ[`az{/09:+,.*-_= \r\n\t\x00\x7f\x80\xc0\xff\xaf\xb0\xda\xfa\xab\xc1\xe1")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	gens := map[string]func() byte{
		"uniform": func() byte { return byte(r.Uint32()) },
		"base64": func() byte {
			if r.IntN(40) == 0 {
				return "\r\n="[r.IntN(3)]
			}
			return alphabet[r.IntN(len(alphabet))]
		},
		"edges": func() byte { return edges[r.IntN(len(edges))] },
	}
	impls := countBase64Impls()
	for name, gen := range gens {
		for n := 0; n <= 300; n++ {
			for range 20 {
				b := make([]byte, n)
				for i := range b {
					b[i] = gen()
				}
				want := countBase64Table(b)
				for impl, count := range impls {
					if got := count(b); got != want {
						t.Fatalf("%s, %s, %d bytes %q: %d, table says %d", impl, name, n, b, got, want)
					}
				}
			}
		}
	}
}

// FuzzCountBase64 holds every implementation to the table on any input.
func FuzzCountBase64(f *testing.F) {
	for _, s := range []string{
		"", "QUJD", "QUJDRA==\r\n", "@@not*base64@@", "\x80\xff\x00\x7f+/09AZaz",
		"TWFu IGlz\tIGRp c3Rp bmd1 aXNo ZWQs", "ÀÁ¿Ö×ØöÿABC-_.~",
	} {
		f.Add([]byte(s))
	}
	impls := countBase64Impls()
	f.Fuzz(func(t *testing.T, b []byte) {
		want := countBase64Table(b)
		for name, count := range impls {
			if got := count(b); got != want {
				t.Fatalf("%s(%q) = %d, table says %d", name, b, got, want)
			}
		}
	})
}

// BenchmarkCountBase64 counts a 16 KiB chunk of a base64 attachment with
// 76-character lines (RFC 2045 §6.8), the size base64Attachment reads.
func BenchmarkCountBase64(b *testing.B) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	r := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	for len(buf) < 16<<10 {
		for range 76 {
			buf = append(buf, alphabet[r.IntN(len(alphabet))])
		}
		buf = append(buf, '\r', '\n')
	}
	buf = buf[:16<<10]
	for _, fn := range []struct {
		name string
		f    func([]byte) int64
	}{{"countBase64", countBase64}, {"swar", countBase64SWAR}, {"table", countBase64Table}} {
		b.Run(fn.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				fn.f(buf)
			}
		})
	}
}
