package search

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrIndexLocked: another process holds the embedded index. The error
// returned wraps it in an *IndexLockedError naming that process.
var ErrIndexLocked = errors.New("search: embedded index is in use by another process")

// IndexLockedError names the process holding an embedded index.
type IndexLockedError struct {
	Path   string
	Holder string // "pid 1234 (tidings web)", as the holder recorded it
}

func (e *IndexLockedError) Error() string {
	return fmt.Sprintf("search: embedded index %s is in use by %s; stop it, or use its search page", e.Path, e.Holder)
}

func (e *IndexLockedError) Unwrap() error { return ErrIndexLocked }

// lockIndex takes an exclusive, non-blocking flock(2) on path+".lock" and
// records this process in it, so that a second opener fails at once with
// the holder's name instead of waiting on the storage engine's own lock.
// The kernel drops the lock when the holder exits, however it exits.
func lockIndex(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("search: open index lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder, _ := os.ReadFile(path + ".lock")
			h := strings.TrimSpace(string(holder))
			if h == "" {
				h = "an unknown process"
			}
			return nil, &IndexLockedError{Path: path, Holder: h}
		}
		return nil, fmt.Errorf("search: lock index: %w", err)
	}
	self := "pid " + strconv.Itoa(os.Getpid())
	if len(os.Args) > 0 {
		self += " (" + strings.Join(os.Args, " ") + ")"
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(self+"\n"), 0)
	}
	return f, nil
}
