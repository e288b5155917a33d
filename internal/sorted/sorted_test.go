package sorted

import (
	"slices"
	"testing"
)

func TestUnique(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{"b", "a", "b", "", "c", "a"}, []string{"a", "b", "c"}},
	} {
		if got := Unique(slices.Clone(c.in)); !slices.Equal(got, c.want) {
			t.Errorf("Unique(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Unique([]int64{3, 0, 1, 3}); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("Unique(ints) = %v", got)
	}
}

func TestUniqueLeavesInputAlone(t *testing.T) {
	in := []string{"b", "a", "b"}
	_ = Unique(in)
	if !slices.Equal(in, []string{"b", "a", "b"}) {
		t.Errorf("input changed to %q", in)
	}
}
