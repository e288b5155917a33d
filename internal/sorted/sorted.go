// Package sorted owns the one helper for sets kept as sorted slices.
package sorted

import (
	"cmp"
	"slices"
)

// Unique returns the distinct non-zero values of s, sorted ascending (nil
// for none). It sorts s in place and returns a prefix of it.
func Unique[T cmp.Ordered](s []T) []T {
	var zero T
	s = slices.DeleteFunc(s, func(v T) bool { return v == zero })
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}
