package mail

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// invalidStrings walks every string reachable from m (fields, slices, maps,
// embedded messages) and describes each one that Postgres would reject:
// invalid UTF-8 or a NUL byte.
func invalidStrings(m *Message) []string {
	var bad []string
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			s := v.String()
			if !utf8.ValidString(s) {
				bad = append(bad, fmt.Sprintf("%s: invalid UTF-8 %q", path, s))
			}
			if strings.IndexByte(s, 0) >= 0 {
				bad = append(bad, fmt.Sprintf("%s: NUL byte in %q", path, s))
			}
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(path, v.Elem())
			}
		case reflect.Struct:
			t := v.Type()
			for i := range v.NumField() {
				if !t.Field(i).IsExported() {
					continue
				}
				walk(path+"."+t.Field(i).Name, v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
			}
		case reflect.Map:
			iter := v.MapRange()
			for iter.Next() {
				walk(fmt.Sprintf("%s[key %q]", path, iter.Key().String()), iter.Key())
				walk(fmt.Sprintf("%s[%q]", path, iter.Key().String()), iter.Value())
			}
		}
	}
	// Err is an error interface; check its text separately.
	walk("Message", reflect.ValueOf(m))
	return bad
}
