package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// The Elasticsearch backend is held to Elasticsearch's own specification:
// every request body it sends is decoded back into the typed API's request
// type for that endpoint (generated from the elasticsearch-specification),
// and the decode must be lossless. The typed API's decoders are lenient —
// they skip keys they do not know, or keep them in an Additional*Property
// map — so specDecode rejects a body unless re-encoding the decoded value
// gives the same JSON and no Additional*Property map was filled. A key
// the specification has no place for therefore fails the test, as
// Elasticsearch would fail the request.

// specDecode decodes body into v (a pointer to a typed API type) strictly.
func specDecode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("body is not a %T: %w", v, err)
	}
	back, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("re-encode %T: %w", v, err)
	}
	var sent, spec any
	if err := json.Unmarshal(body, &sent); err != nil {
		return err
	}
	if err := json.Unmarshal(back, &spec); err != nil {
		return err
	}
	if d := jsonDiff(sent, spec, "$"); d != "" {
		return fmt.Errorf("%T does not hold the body (a key outside the specification?): %s", v, d)
	}
	if p := additionalProperty(reflect.ValueOf(v), "$"); p != "" {
		return fmt.Errorf("%T: %s is not in the specification", v, p)
	}
	return nil
}

// jsonDiff names the first place where a (sent) and b (as the
// specification's types hold it) differ, or "".
func jsonDiff(a, b any, path string) string {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: sent an object, the specification holds %v", path, b)
		}
		for _, k := range slices.Sorted(maps.Keys(a)) {
			if _, ok := bm[k]; !ok {
				return fmt.Sprintf("%s.%s: unknown to the specification", path, k)
			}
			if d := jsonDiff(a[k], bm[k], path+"."+k); d != "" {
				return d
			}
		}
		for _, k := range slices.Sorted(maps.Keys(bm)) {
			if _, ok := a[k]; !ok {
				return fmt.Sprintf("%s.%s: added by the specification's types", path, k)
			}
		}
		return ""
	case []any:
		bs, ok := b.([]any)
		if !ok || len(bs) != len(a) {
			return fmt.Sprintf("%s: sent %v, the specification holds %v", path, a, b)
		}
		for i := range a {
			if d := jsonDiff(a[i], bs[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%s: sent %v, the specification holds %v", path, a, b)
	}
	return ""
}

// additionalProperty finds a filled Additional*Property map, where the
// typed API keeps keys that are not in the specification.
func additionalProperty(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return additionalProperty(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			if strings.HasPrefix(f.Name, "Additional") && fv.Kind() == reflect.Map && fv.Len() > 0 {
				return fmt.Sprintf("%s: %v", path, fv.MapKeys())
			}
			if p := additionalProperty(fv, path+"."+f.Name); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if p := additionalProperty(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if p := additionalProperty(iter.Value(), fmt.Sprintf("%s[%v]", path, iter.Key())); p != "" {
				return p
			}
		}
	}
	return ""
}

// compactJSON re-encodes JSON compactly with sorted keys, the form the
// expected clauses of the contract tests are compared in.
func compactJSON(b []byte) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("not JSON: %w: %s", err, b)
	}
	out, err := json.Marshal(v)
	return string(out), err
}
