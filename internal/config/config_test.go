package config

import (
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
