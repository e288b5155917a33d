package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	c, err := Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.SyncInterval != 60*time.Second || !c.Embedded() || c.BaseURL != "http://127.0.0.1:8080" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestLoadNamesTheBadVariable(t *testing.T) {
	cases := map[string]string{
		"DATABASE_URL":               "mysql://x",
		"REDIS_URL":                  "localhost:6379",
		"ELASTICSEARCH_URL":          "es:9200",
		"TIDINGS_GMAIL_ENDPOINT":     "not a url",
		"TIDINGS_LISTEN":             "8080",
		"TIDINGS_SYNC_INTERVAL":      "soon",
		"TIDINGS_WORKER_CONCURRENCY": "0",
		"TIDINGS_LOG_LEVEL":          "loud",
		"GOOGLE_CLIENT_ID":           "only-the-id",
		"TIDINGS_PUBSUB_TOPIC":       "my-topic",
		"TIDINGS_METRICS_LISTEN":     "9090",
		"TIDINGS_METRICS_TOKEN":      "short",
		"TIDINGS_MEMORY_LIMIT":       "lots",
		"TIDINGS_GC_PERCENT":         "5",
		"TIDINGS_GMAIL_FULL_ACCESS":  "sometimes",
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(func(k string) string {
				if k == name {
					return value
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("Load with %s=%q: err = %v, want an error naming %s", name, value, err, name)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	cases := []struct {
		v, gomemlimit string
		want          int64
		wantErr       bool
	}{
		{"", "", 128 << 20, false},
		{"512MiB", "", 512 << 20, false},
		{"2GiB", "", 2 << 30, false},
		{"off", "", 0, false},
		{"512MiB", "300MiB", 0, false}, // GOMEMLIMIT wins, the runtime applied it
		{"1KiB", "", 0, true},
		{"12 parsecs", "", 0, true},
		{"-5MiB", "", 0, true},
	}
	for _, c := range cases {
		got, err := memoryLimit(c.v, c.gomemlimit)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("memoryLimit(%q, %q) = %d, %v; want %d, error %v", c.v, c.gomemlimit, got, err, c.want, c.wantErr)
		}
	}
}

func TestGCPercent(t *testing.T) {
	cases := []struct {
		v, gogc string
		want    int
		wantErr bool
	}{
		{"", "", defaultGCPercent, false},
		{"100", "", 100, false},
		{" 800 ", "", 800, false},
		{"800", "50", 0, false}, // GOGC wins, the runtime applied it
		{"5", "", 0, true},
		{"20000", "", 0, true},
		{"off", "", 0, true},
		{"lots", "", 0, true},
	}
	for _, c := range cases {
		got, err := gcPercent(c.v, c.gogc)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("gcPercent(%q, %q) = %d, %v; want %d, error %v", c.v, c.gogc, got, err, c.want, c.wantErr)
		}
	}
}

func TestGmailFullAccess(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{{"", false}, {"false", false}, {"0", false}, {"true", true}, {"TRUE", true}, {"1", true}, {" true ", true}} {
		cfg, err := Load(func(k string) string {
			if k == "TIDINGS_GMAIL_FULL_ACCESS" {
				return c.v
			}
			return ""
		})
		if err != nil || cfg.GmailFullAccess != c.want {
			t.Errorf("TIDINGS_GMAIL_FULL_ACCESS=%q: GmailFullAccess = %v, %v; want %v", c.v, cfg != nil && cfg.GmailFullAccess, err, c.want)
		}
	}
}

// TestVarsAreDocumented holds Vars, what Load reads and the README's
// configuration table together: a variable added to one and not the
// others fails here.
func TestVarsAreDocumented(t *testing.T) {
	read := map[string]bool{}
	if _, err := Load(func(name string) string { read[name] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	delete(read, "GOMEMLIMIT") // the Go runtime's own, named under TIDINGS_MEMORY_LIMIT
	delete(read, "GOGC")       // the same, named under TIDINGS_GC_PERCENT
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "## Configuration")
	table, _, _ = strings.Cut(table, "\n## ")
	listed := map[string]bool{}
	for _, v := range Vars {
		listed[v.Name] = true
		if !read[v.Name] {
			t.Errorf("Vars lists %s, which Load does not read", v.Name)
		}
		if !strings.Contains(table, "`"+v.Name+"`") {
			t.Errorf("README's configuration table lacks %s", v.Name)
		}
	}
	for name := range read {
		if !listed[name] {
			t.Errorf("Load reads %s, which Vars does not list", name)
		}
	}
}
