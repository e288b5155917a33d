package sync

import "testing"

func TestBufferPoolsSizes(t *testing.T) {
	var p bufferPools
	for _, tc := range []struct {
		name string
		n    int
		min  int // capacity at least
	}{
		{"empty", 0, 0},
		{"tiny, smallest class", 10, 10},
		{"exactly a class", 1 << 14, 1 << 14},
		{"just above a class", 1<<14 + 1, 1<<14 + 1},
		{"largest pooled", bigMessageBytes, bigMessageBytes},
		{"above the pooled classes", bigMessageBytes + 16, bigMessageBytes + 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 { // fresh, then possibly recycled
				b := p.get(tc.n)
				if len(b) != 0 || cap(b) < tc.min {
					t.Fatalf("get(%d): len %d cap %d", tc.n, len(b), cap(b))
				}
				p.put(append(b, 'x'))
			}
		})
	}
	// A recycled buffer comes back empty, whatever it held.
	b := p.get(5000)
	b = append(b, make([]byte, 5000)...)
	p.put(b)
	if got := p.get(5000); len(got) != 0 || cap(got) < 5000 {
		t.Fatalf("after put: len %d cap %d", len(got), cap(got))
	}
}
