// Package sorted owns the one helper for sets kept as sorted slices.
package sorted

import (
	"cmp"
	"slices"
)

// Unique returns the distinct non-zero values of s, sorted ascending, in a
// new slice (nil for none); s is left as it is.
func Unique[T cmp.Ordered](s []T) []T {
	var zero T
	s = slices.DeleteFunc(slices.Clone(s), func(v T) bool { return v == zero })
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}
