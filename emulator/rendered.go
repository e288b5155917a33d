package emulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// A rendered mailbox (WithRenderDir): a generated mailbox whose format=raw
// answers are built once, at AddGenerated, into a spill file, and served
// from it. Real Gmail serves stored messages; regenerating, parsing and
// base64url-encoding a message on every users.messages.get made the
// emulator spend as much CPU per message as the client it serves.
//
// The file holds, per generated message, a record of
//
//	the JSON string of its snippet (empty when the snippet is)
//	its raw bytes in base64url (the "raw" member's value)
//	`"}`, the end of the answer
//
// in whatever order the rendering workers finish them; the records'
// offsets and sizes are kept in memory (14 bytes a message). The parts of
// an answer that change (labels, history id) are written per request in
// front of the record's body, which is copied from the file with
// sendfile(2) where the ResponseWriter allows it (net/http's ReadFrom).

// spillPrefix and spillSuffix name spill files
// "gmail-emulator-<pid>.<random>.spill": each rendering has a file of its
// own, so a stale one left by a crashed emulator is never read, and is
// removed by the next rendering in the same directory once its process is
// gone.
const (
	spillPrefix = "gmail-emulator-"
	spillSuffix = ".spill"
	// renderChunk is how much raw message is base64url-encoded at a time
	// while rendering; a multiple of 3, so the chunks' encodings
	// concatenate to the whole's.
	renderChunk = 48 << 10
	// largeRender is the size of attachments above which a message is
	// rendered alone.
	largeRender = 4 << 20
	// maxFreeHandles bounds the open file handles kept for reuse.
	maxFreeHandles = 64
)

// tail closes every answer after the encoded message.
const tail = `"}`

type renderedMailbox struct {
	path string
	f    *os.File // for the snippets (ReadAt)

	off     []int64  // record start, by generator index
	size    []uint32 // raw size (sizeEstimate)
	snipLen []uint16 // bytes of the snippet's JSON string

	// free holds open handles of path: sendfile(2) as net uses it copies
	// from a file's own offset, so each answer in flight needs a handle
	// (an open file description) of its own.
	mu     sync.Mutex
	free   []*os.File
	closed bool
}

// renderMailbox renders messages 0..n-1 of g into a new spill file in dir,
// on as many goroutines as there are CPUs; each holds one message at a
// time, in a buffer it reuses.
func renderMailbox(dir string, g *Generator, n int) (*renderedMailbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("emulator: render dir: %w", err)
	}
	removeStaleSpills(dir)
	f, err := os.CreateTemp(dir, spillPrefix+strconv.Itoa(os.Getpid())+".*"+spillSuffix)
	if err != nil {
		return nil, fmt.Errorf("emulator: spill file: %w", err)
	}
	j := &renderJob{g: g, n: n, rm: &renderedMailbox{path: f.Name(), f: f, off: make([]int64, n), size: make([]uint32, n), snipLen: make([]uint16, n)}}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(j.work)
	}
	wg.Wait()
	if j.err != nil {
		j.rm.close()
		return nil, j.err
	}
	return j.rm, nil
}

// renderJob is a rendering in progress, shared by its workers.
type renderJob struct {
	rm        *renderedMailbox
	g         *Generator
	n         int
	next, end atomic.Int64 // next message to render; end of the file
	largeMu   sync.Mutex   // held while rendering a large message
	errMu     sync.Mutex
	err       error // the first error
}

func (j *renderJob) work() {
	var raw []byte
	enc := make([]byte, base64.URLEncoding.EncodedLen(renderChunk))
	for {
		i := int(j.next.Add(1) - 1)
		if i >= j.n {
			return
		}
		var err error
		if raw, err = j.renderOne(raw, i, enc); err != nil {
			j.errMu.Lock()
			if j.err == nil {
				j.err = err
			}
			j.errMu.Unlock()
			j.next.Store(int64(j.n)) // stop the others
			return
		}
	}
}

// renderOne renders message i, in buf unless it is large, and returns
// the buffer to use for the next one.
func (j *renderJob) renderOne(buf []byte, i int, enc []byte) ([]byte, error) {
	a := j.g.attachmentBytes(i)
	if a <= largeRender {
		buf = j.g.appendMessage(buf[:0], i)
		return buf, j.rm.render(buf, i, &j.end, enc)
	}
	// Large messages are rendered one at a time, each in a buffer of its
	// own, sized for its attachments in base64 lines so that it is not
	// grown (copied) while being written, and collected before the next:
	// a mailbox of 25 MB attachments renders in about the memory of one.
	j.largeMu.Lock()
	defer j.largeMu.Unlock()
	raw := j.g.appendMessage(make([]byte, 0, a/57*78+a%57*2+1<<20), i)
	err := j.rm.render(raw, i, &j.end, enc)
	runtime.GC()
	return buf, err
}

// render writes the record of message i, raw, at space it reserves at
// the end of the file.
func (rm *renderedMailbox) render(raw []byte, i int, end *atomic.Int64, enc []byte) error {
	var snip []byte
	if s := snippet(messageText(raw)); s != "" {
		snip, _ = json.Marshal(s) // as encoding/json writes it in the answer
	}
	if len(raw) > math.MaxUint32 || len(snip) > math.MaxUint16 {
		return fmt.Errorf("emulator: render message %d: too large to spill (%d bytes)", i, len(raw))
	}
	n := int64(len(snip)) + int64(base64.URLEncoding.EncodedLen(len(raw))) + int64(len(tail))
	off := end.Add(n) - n
	rm.off[i], rm.size[i], rm.snipLen[i] = off, uint32(len(raw)), uint16(len(snip))
	at := off
	write := func(b []byte) error {
		_, err := rm.f.WriteAt(b, at)
		at += int64(len(b))
		if err != nil {
			return fmt.Errorf("emulator: render message %d: %w", i, err)
		}
		return nil
	}
	if err := write(snip); err != nil {
		return err
	}
	for len(raw) > 0 {
		c := raw[:min(len(raw), renderChunk)]
		raw = raw[len(c):]
		base64.URLEncoding.Encode(enc, c)
		if err := write(enc[:base64.URLEncoding.EncodedLen(len(c))]); err != nil {
			return err
		}
	}
	return write([]byte(tail))
}

// removeStaleSpills removes the spill files in dir of emulators that are
// no longer running (crashed before removing theirs).
func removeStaleSpills(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, spillPrefix+"*"+spillSuffix))
	for _, name := range names {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(name), spillPrefix), ".")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = os.Remove(name)
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// handle returns an open handle of the spill file of its own.
func (rm *renderedMailbox) handle() (*os.File, error) {
	rm.mu.Lock()
	if n := len(rm.free); n > 0 {
		f := rm.free[n-1]
		rm.free = rm.free[:n-1]
		rm.mu.Unlock()
		return f, nil
	}
	closed := rm.closed
	rm.mu.Unlock()
	if closed {
		return nil, os.ErrClosed
	}
	return os.Open(rm.path)
}

func (rm *renderedMailbox) release(f *os.File) {
	rm.mu.Lock()
	if !rm.closed && len(rm.free) < maxFreeHandles {
		rm.free = append(rm.free, f)
		rm.mu.Unlock()
		return
	}
	rm.mu.Unlock()
	_ = f.Close()
}

// close closes the handles and removes the spill file.
func (rm *renderedMailbox) close() {
	if rm == nil {
		return
	}
	rm.mu.Lock()
	if rm.closed {
		rm.mu.Unlock()
		return
	}
	rm.closed = true
	free := rm.free
	rm.free = nil
	rm.mu.Unlock()
	for _, f := range free {
		_ = f.Close()
	}
	_ = rm.f.Close()
	_ = os.Remove(rm.path)
}

// headBuffers are the per-answer buffers of the JSON in front of a
// record's body.
var headBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// serve answers a format=raw get of generated message i whose mutable
// part is out: the same bytes as writeRawMessage writes for it.
func (rm *renderedMailbox) serve(w http.ResponseWriter, out *apiMessage, i int) {
	f, err := rm.handle()
	if err != nil {
		writeAPIError(w, errBackend(503))
		return
	}
	defer rm.release(f)
	bp := headBuffers.Get().(*[]byte)
	defer headBuffers.Put(bp)
	head, err := rm.appendHead((*bp)[:0], out, i)
	*bp = head[:0]
	if err != nil {
		writeAPIError(w, errBackend(500))
		return
	}
	body := int64(base64.URLEncoding.EncodedLen(int(rm.size[i]))) + int64(len(tail))
	if _, err := f.Seek(rm.off[i]+int64(rm.snipLen[i]), io.SeekStart); err != nil {
		writeAPIError(w, errBackend(500))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head))+body, 10))
	w.WriteHeader(200)
	_, _ = w.Write(head)
	// Sent now, the status line, header and head go out in one write and
	// net/http's ReadFrom hands the body to sendfile(2) straight away,
	// without first copying (reading) 512 bytes for content sniffing.
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	src := &io.LimitedReader{R: f, N: body}
	if rf, ok := w.(io.ReaderFrom); ok {
		_, _ = rf.ReadFrom(src)
		return
	}
	_, _ = io.Copy(w, src) // a recorder (batch, truncation fault)
}

// appendHead appends to dst the answer up to the opening quote of the raw
// member: what json.Marshal writes for out with message i's snippet and
// size, read from the spill file.
func (rm *renderedMailbox) appendHead(dst []byte, out *apiMessage, i int) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, out.ID)
	dst = append(dst, `,"threadId":`...)
	dst = appendJSONString(dst, out.ThreadID)
	if len(out.LabelIDs) > 0 {
		dst = append(dst, `,"labelIds":[`...)
		for k, l := range out.LabelIDs {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, l)
		}
		dst = append(dst, ']')
	}
	if n := int(rm.snipLen[i]); n > 0 {
		dst = append(dst, `,"snippet":`...)
		k := len(dst)
		dst = append(dst, make([]byte, n)...)
		if _, err := rm.f.ReadAt(dst[k:], rm.off[i]); err != nil {
			return dst, fmt.Errorf("emulator: spill file: %w", err)
		}
	}
	if out.HistoryID != 0 {
		dst = strconv.AppendUint(append(dst, `,"historyId":"`...), out.HistoryID, 10)
		dst = append(dst, '"')
	}
	if out.InternalDate != 0 {
		dst = strconv.AppendInt(append(dst, `,"internalDate":"`...), out.InternalDate, 10)
		dst = append(dst, '"')
	}
	if s := rm.size[i]; s != 0 {
		dst = strconv.AppendUint(append(dst, `,"sizeEstimate":`...), uint64(s), 10)
	}
	return append(dst, `,"raw":"`...), nil
}

// appendJSONString appends s as encoding/json writes it: as it is, quoted,
// when it has nothing encoding/json escapes (ids, label ids); otherwise
// through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
