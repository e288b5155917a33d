package models

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrationsRejectsBadSets(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
	}{
		{"gap", map[string]string{"migrations/0001_a.sql": "x", "migrations/0003_c.sql": "x"}},
		{"one engine only", map[string]string{"migrations/0001_a.postgres.sql": "x"}},
		{"bad name", map[string]string{"migrations/first.sql": "x"}},
		{"unknown engine", map[string]string{"migrations/0001_a.mysql.sql": "x"}},
		{"duplicate", map[string]string{"migrations/0001_a.sql": "x", "migrations/0001_b.sqlite.sql": "x", "migrations/0001_b.postgres.sql": "y"}},
		{"empty", map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, b := range c.files {
				fsys[n] = &fstest.MapFile{Data: []byte(b)}
			}
			if _, err := loadMigrations(fsys); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	good := fstest.MapFS{
		"migrations/0001_base.postgres.sql": {Data: []byte("P")},
		"migrations/0001_base.sqlite.sql":   {Data: []byte("S")},
		"migrations/0002_more_things.sql":   {Data: []byte("B")},
	}
	ms, err := loadMigrations(good)
	if err != nil || len(ms) != 2 || ms[0].sql[Postgres] != "P" || ms[0].sql[SQLite] != "S" || ms[1].sql[SQLite] != "B" || ms[1].description != "more things" {
		t.Fatalf("loadMigrations = %+v, %v", ms, err)
	}
}
