package web

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes: every /api route registered in the mux is in
// /api/openapi.json and every documented operation is a registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	resp, body := e.call("GET", "/api/openapi.json", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/openapi+json" {
		t.Fatalf("GET /api/openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			var o struct {
				Parameters []struct {
					Ref string `json:"$ref"`
				} `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			// Every {param} of the path is declared.
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
				if !slices.ContainsFunc(o.Parameters, func(p struct {
					Ref string `json:"$ref"`
				}) bool {
					return p.Ref == "#/components/parameters/"+m[1]
				}) {
					t.Errorf("%s %s does not declare path parameter %s", method, path, m[1])
				}
			}
		}
	}
	var registered []string
	for _, r := range e.srv.Routes() {
		if strings.HasPrefix(r, "GET /api") || strings.Contains(r, " /api") {
			registered = append(registered, r)
		}
	}
	slices.Sort(documented)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.json documents %s, which is not a route", d)
		}
	}
	// Every $ref resolves.
	for _, m := range regexp.MustCompile(`"\$ref": ?"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(body), -1) {
		if _, ok := doc.Components[m[1]][m[2]]; !ok {
			t.Errorf("dangling $ref #/components/%s/%s", m[1], m[2])
		}
	}
	if len(registered) < 30 {
		t.Errorf("only %d API routes registered?", len(registered))
	}
}
