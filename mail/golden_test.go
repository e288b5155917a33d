package mail

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"tidings/emulator"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/decode-golden.txt from the current decoder")

// goldenFile holds digests of Decode's complete results over the corpora
// below (one per fixture or enmime message, one per 100 messages of the
// larger corpora, to keep the file small), written by the decoder as it was before its CPU work
// of 2026-11-30 (go test ./mail -run TestDecodeGolden -update-golden).
// Changes made for speed must leave every result exactly as it was; a
// change that means to alter results rewrites the file and says why.
const goldenFile = "testdata/decode-golden.txt"

// messageDigest is a digest of everything Decode returned: every field,
// embedded messages included, and the text of Err (which JSON would
// otherwise drop).
func messageDigest(m *Message) string {
	var errs []string
	var collect func(m *Message)
	collect = func(m *Message) {
		if m.Err != nil {
			errs = append(errs, m.Err.Error())
		} else {
			errs = append(errs, "")
		}
		for _, e := range m.Embedded {
			collect(e)
		}
	}
	collect(m)
	b, err := json.Marshal(struct {
		M    *Message
		Errs []string
	}{m, errs})
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// goldenCorpus calls fn with the group (the golden line), the name and the
// raw bytes of every message the golden file covers, in a fixed order: the testdata fixtures, the first 2,000 messages of
// the generated mailbox (generator defaults, as `tidings sync` is measured
// on), 1,000 generated messages of which half are deliberately malformed,
// enmime's test messages and the SpamAssassin corpus.
func goldenCorpus(t *testing.T, fn func(group, name string, raw []byte)) {
	eachFixture(t, func(name string, raw []byte) { fn("fixture/"+name, "fixture/"+name, raw) })
	g := emulator.NewGenerator(1, emulator.GeneratorOptions{})
	for i := range 2000 {
		fn(hundreds("generated", i), fmt.Sprintf("generated/%d", i), g.Message(i))
	}
	g = emulator.NewGenerator(2, emulator.GeneratorOptions{MalformedRate: 0.5, AttachmentRate: 0.3})
	for i := range 1000 {
		fn(hundreds("malformed", i), fmt.Sprintf("malformed/%d", i), g.Message(i))
	}
	root := enmimeTestdata(t)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".png") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := "enmime/" + filepath.ToSlash(rel)
		fn(name, name, raw)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	forEachSpamAssassin(t, func(name string, raw []byte) {
		fn(hundreds("spamassassin", i), "spamassassin/"+name, raw)
		i++
	})
}

// hundreds names the group of 100 messages that message i of a corpus is in.
func hundreds(corpus string, i int) string {
	return fmt.Sprintf("%s/%d-%d", corpus, i/100*100, i/100*100+99)
}

// TestDecodeGolden holds Decode, and DecodeReader on the same bytes, to
// the digests in goldenFile. A group that differs is named; comparing its
// messages' results with the old code's finds the one that changed.
func TestDecodeGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes about 9,000 messages")
	}
	// A Date with a zone abbreviation (EST, CET) is read in the local
	// zone when that zone uses the abbreviation (time.Parse); the digests
	// were written in UTC. No test of this package runs in parallel.
	defer func(local *time.Location) { time.Local = local }(time.Local)
	time.Local = time.UTC
	opts := Options{InternalDate: time.Unix(1700000000, 0).UTC()}
	got := map[string]string{} // group: digest of its messages' digests
	var order []string
	var digests []string // of the group being read
	group := ""
	flush := func() {
		if group != "" {
			sum := sha256.Sum256([]byte(strings.Join(digests, " ")))
			got[group] = hex.EncodeToString(sum[:8])
		}
		digests = digests[:0]
	}
	messages := 0
	goldenCorpus(t, func(g, name string, raw []byte) {
		messages++
		if g != group {
			flush()
			group = g
			order = append(order, g)
		}
		m, err := DecodeReader(bytes.NewReader(raw), opts)
		if err != nil {
			t.Fatalf("%s: DecodeReader: %v", name, err)
		}
		digests = append(digests, messageDigest(Decode(raw, opts)), messageDigest(m))
	})
	flush()
	t.Logf("%d messages in %d groups", messages, len(order))
	if *updateGolden {
		var b bytes.Buffer
		for _, name := range order {
			fmt.Fprintf(&b, "%s %s\n", got[name], name)
		}
		if err := os.WriteFile(goldenFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d digests to %s", len(order), goldenFile)
		return
	}
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		digest, name, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("%s: bad line %q", goldenFile, sc.Text())
		}
		want[name] = digest
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Errorf("%s has %d digests, the corpora give %d messages", goldenFile, len(want), len(got))
	}
	for _, name := range order {
		if w, ok := want[name]; !ok {
			t.Errorf("%s: no digest in %s", name, goldenFile)
		} else if d := got[name]; w != d {
			t.Errorf("%s: results differ from %s (digest %s, golden %s)", name, goldenFile, d, w)
		}
	}
}

// TestDecodeConcurrent decodes generated messages on several goroutines at
// once, as a sync does, and checks each result against a decode of its own:
// no buffer may be shared by two decodes running at the same time.
func TestDecodeConcurrent(t *testing.T) {
	g := emulator.NewGenerator(3, emulator.GeneratorOptions{MalformedRate: 0.2, AttachmentRate: 0.5})
	raws := make([][]byte, 400)
	want := make([]string, len(raws))
	for i := range raws {
		raws[i] = g.Message(i)
		want[i] = messageDigest(Decode(raws[i], Options{}))
	}
	var wg stdsync.WaitGroup
	const workers = 8
	errs := make(chan string, workers*len(raws))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range raws {
				i := (i + w*50) % len(raws)
				if got := messageDigest(Decode(raws[i], Options{})); got != want[i] {
					errs <- fmt.Sprintf("message %d: digest %s, alone %s", i, got, want[i])
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
