package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"tidings/internal/config"
)

func TestDecodeCommand(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.eml")
	cases := []struct {
		name     string
		files    []string
		wantCode int
		check    func(t *testing.T, objs []map[string]any)
	}{
		{
			name:  "mislabelled charset is repaired and reported",
			files: []string{"../../mail/testdata/charset-utf8-declared-latin1.eml"},
			check: func(t *testing.T, objs []map[string]any) {
				if len(objs) != 1 {
					t.Fatalf("%d objects, want 1", len(objs))
				}
				if ws, _ := objs[0]["warnings"].([]any); len(ws) == 0 {
					t.Errorf("no warnings for a mislabelled charset: %v", objs[0])
				}
			},
		},
		{
			name:  "garbage is read, not rejected",
			files: []string{"../../mail/testdata/garbage.eml", "../../mail/testdata/nul-bytes.eml"},
			check: func(t *testing.T, objs []map[string]any) {
				if len(objs) != 2 {
					t.Fatalf("%d objects, want 2", len(objs))
				}
				for _, o := range objs {
					if strings.ContainsRune(o["text"].(string), 0) {
						t.Errorf("NUL byte in decoded text of %v", o["file"])
					}
				}
			},
		},
		{
			name:     "unreadable file is a non-zero exit",
			files:    []string{missing},
			wantCode: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"decode"}, c.files...), &out, &errb)
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.wantCode, errb.String())
			}
			var objs []map[string]any
			dec := json.NewDecoder(&out)
			for dec.More() {
				var o map[string]any
				if err := dec.Decode(&o); err != nil {
					t.Fatalf("output is not JSON lines: %v", err)
				}
				objs = append(objs, o)
			}
			if c.check != nil {
				c.check(t, objs)
			}
		})
	}
}

func TestMigrateCommandIsIdempotent(t *testing.T) {
	t.Setenv("TIDINGS_DATA_DIR", t.TempDir())
	for i, want := range []string{"migrations applied", "(0 migrations applied)"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"migrate"}, &out, &errb); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errb.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("run %d: output %q lacks %q", i, out.String(), want)
		}
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("TIDINGS_DATA_DIR"), "tidings.db")); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestHelpListsConfiguration checks that `tidings help` names the commands
// and every environment variable the processes read.
func TestHelpListsConfiguration(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("tidings help: exit %d", code)
	}
	for name := range commands() {
		if !strings.Contains(stderr.String(), "  "+name+" ") {
			t.Errorf("help lacks the command %s", name)
		}
	}
	for _, v := range config.Vars {
		if !strings.Contains(stderr.String(), v.Name) {
			t.Errorf("help lacks %s", v.Name)
		}
	}
}
