package app

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// privateDataDir makes the data directory readable by the service's user
// only, on every start: the directory tree 0700, every file in it 0600.
// It holds every tenant's mail, the password hashes and the secret key;
// installs made before this rule (0755/0644) are fixed the same way.
// SQLite creates its -wal and -shm files with the database file's mode,
// so they stay private too.
func privateDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s (TIDINGS_DATA_DIR): %w", dir, err)
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // never follow a link out of the data dir
		}
		mode := fs.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() == mode {
			return nil
		}
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("data dir: make %s private: %w", path, err)
		}
		return nil
	})
}
