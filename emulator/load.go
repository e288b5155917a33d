package emulator

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Import stores raw like messages.import: internalDate from the Date
// header, labels INBOX and UNREAD unless labelIDs are given.
func (e *Emulator) Import(email string, raw []byte, labelIDs ...string) (string, error) {
	return e.add(email, raw, "dateHeader", labelIDs)
}

// LoadDir imports every message found under dir into email's mailbox and
// returns how many were loaded. It understands Maildir folders (cur/ and
// new/; the S flag clears UNREAD, F sets STARRED), mbox files (*.mbox or
// any file starting with "From "; mboxrd ">From " quoting is undone) and
// treats every other regular file as one RFC 5322 message (.eml), stored
// byte for byte. Files are visited in lexical order.
func (e *Emulator) LoadDir(email, dir string) (int, error) {
	if _, err := e.mailbox(email); err != nil {
		return 0, err
	}
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("emulator: load %s: %w", path, err)
		}
		if strings.HasPrefix(d.Name(), ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if filepath.Base(filepath.Dir(path)) == "tmp" && isMaildir(filepath.Dir(filepath.Dir(path))) {
			return nil // Maildir deliveries in progress
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("emulator: load %s: %w", path, err)
		}
		parent := filepath.Base(filepath.Dir(path))
		switch {
		case (parent == "cur" || parent == "new") && isMaildir(filepath.Dir(filepath.Dir(path))):
			labels := []string{"INBOX", "UNREAD"}
			if _, info, ok := strings.Cut(d.Name(), ":2,"); ok {
				if strings.Contains(info, "S") {
					labels = []string{"INBOX"}
				}
				if strings.Contains(info, "F") {
					labels = append(labels, "STARRED")
				}
			}
			if _, err := e.Import(email, b, labels...); err != nil {
				return err
			}
			n++
		case strings.HasSuffix(d.Name(), ".mbox") || bytes.HasPrefix(b, []byte("From ")):
			for _, m := range splitMbox(b) {
				if _, err := e.Import(email, m); err != nil {
					return err
				}
				n++
			}
		default:
			if _, err := e.Import(email, b); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// splitMbox splits an mbox file at "From " separator lines (RFC 4155) and
// undoes mboxrd quoting (">From " -> "From ", ">>From " -> ">From ").
func splitMbox(b []byte) [][]byte {
	var out [][]byte
	var cur *bytes.Buffer
	flush := func() {
		if cur != nil {
			m := cur.Bytes()
			// The line ending before the next separator belongs to the mbox.
			m = bytes.TrimSuffix(m, []byte("\n"))
			m = bytes.TrimSuffix(m, []byte("\r"))
			out = append(out, m)
		}
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		if bytes.HasPrefix(line, []byte("From ")) {
			flush()
			cur = &bytes.Buffer{}
			continue
		}
		if cur == nil {
			continue
		}
		if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
			line = line[1:]
		}
		cur.Write(line)
	}
	flush()
	return out
}
