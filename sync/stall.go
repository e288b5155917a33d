package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// errStalled: a streaming Gmail response gave no bytes for the stall
// timeout. It is transient (classify retries it), unlike a cancelled
// context.
var errStalled = errors.New("sync: gmail response stalled")

// defaultStallTimeout is how long a streaming response may go without a
// byte when the configured HTTP client sets no timeout.
const defaultStallTimeout = 2 * time.Minute

// stallWatch cancels a streaming request (messages.get format=raw,
// attachments.get) when the network gives it nothing for idle. Such a
// request cannot have a whole-request deadline (http.Client.Timeout): a
// 35 MB message on a slow link, or one whose body waits in the socket
// for in-flight admission, legitimately takes longer than any fixed
// deadline, and would then fail on every retry. The watch runs only
// while the request waits for headers and while a Read of its body is
// blocked on the network; time spent waiting for admission, or for a
// slow consumer of a streamed attachment, does not count.
type stallWatch struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   time.Duration
	t      *time.Timer
}

// watchStalls derives the request context from ctx. The caller must call
// stop once it has finished with the response.
func watchStalls(ctx context.Context, idle time.Duration) *stallWatch {
	if idle <= 0 {
		idle = defaultStallTimeout
	}
	w := &stallWatch{idle: idle}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	w.t = time.AfterFunc(idle, func() { w.cancel(errStalled) })
	w.t.Stop()
	return w
}

func (w *stallWatch) arm()    { w.t.Reset(w.idle) }
func (w *stallWatch) disarm() { w.t.Stop() }
func (w *stallWatch) stop()   { w.t.Stop(); w.cancel(nil) }

// do sends req under the watch: the headers must arrive within idle.
func (w *stallWatch) do(hc *http.Client, req *http.Request) (*http.Response, error) {
	w.arm()
	res, err := hc.Do(req.WithContext(w.ctx))
	w.disarm()
	return res, w.explain(err)
}

// explain turns the cancellation the watch caused into errStalled, so a
// stall is retried while a caller's cancellation still stops the sync.
func (w *stallWatch) explain(err error) error {
	if err != nil && errors.Is(context.Cause(w.ctx), errStalled) {
		return fmt.Errorf("%w: no data for %s", errStalled, w.idle)
	}
	return err
}

// body wraps a response body so each blocked Read is watched.
func (w *stallWatch) body(r io.Reader) io.Reader { return &stallReader{r: r, w: w} }

type stallReader struct {
	r io.Reader
	w *stallWatch
}

func (s *stallReader) Read(p []byte) (int, error) {
	s.w.arm()
	n, err := s.r.Read(p)
	s.w.disarm()
	return n, s.w.explain(err)
}
