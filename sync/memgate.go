package sync

import (
	"context"
	"math/bits"
	stdsync "sync"

	"golang.org/x/sync/semaphore"
)

// Bounding memory in bytes, not in messages: every message being fetched
// and decoded holds an admission for the bytes it needs. Ordinary messages
// are held whole while they are decoded and share a byte budget
// (Deps.InflightBytes). A message larger than bigMessageBytes — a 25 MB
// attachment arrives as ~34 MB of base64url — is never held: it takes the
// big slot and is decoded as it streams in (rawStream), costing the
// decoder's buffers and its bounded text, not its size. One such message
// at a time per Syncer keeps that cost bounded whatever the fetch
// concurrency. The peak is then the budget plus one streamed message's
// text plus the batch waiting to be stored.

// bigMessageBytes is the decoded size above which a message is streamed
// through the decoder instead of held.
const bigMessageBytes = 4 << 20

// unknownSizeGrant is what a response without Content-Length (chunked or
// compressed) is admitted with; it grows into the big slot if needed.
const unknownSizeGrant = 256 << 10

// inflight is the Syncer's in-flight byte budget.
type inflight struct {
	budget int64
	sem    *semaphore.Weighted
	big    chan struct{}
	// pools recycle the buffers of ordinary messages whose bytes are not
	// stored (almost all): allocating a fresh one per message was a
	// quarter of the bytes a sync allocated, and the collector's work
	// grows with that.
	pools bufferPools
}

func newInflight(budget int64) *inflight {
	return &inflight{budget: budget, sem: semaphore.NewWeighted(budget), big: make(chan struct{}, 1)}
}

// bufferPools are free buffers by power-of-two size class: the buffers in
// pool c have a capacity of at least 1<<c bytes. Only classes from
// minPooledClass up to the big-message threshold are pooled; sync.Pool
// drops what stays unused across two garbage collections, so idle
// buffers do not pin memory.
type bufferPools [bigMessageClass + 1]stdsync.Pool

const (
	minPooledClass  = 12 // 4 KiB
	bigMessageClass = 22 // 1<<22 == bigMessageBytes
)

// get returns an empty buffer of capacity at least n.
func (p *bufferPools) get(n int) []byte {
	c := max(bits.Len(uint(n-1)), minPooledClass) // smallest c with 1<<c >= n
	if n <= 0 || c > bigMessageClass {
		return make([]byte, 0, max(n, 0))
	}
	if b, ok := p[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// put hands a buffer nothing refers to any more back for reuse.
func (p *bufferPools) put(b []byte) {
	c := bits.Len(uint(cap(b))) - 1 // largest c with 1<<c <= cap(b)
	if c < minPooledClass || c > bigMessageClass {
		return
	}
	b = b[:0]
	p[c].Put(&b)
}

// admission is one message's claim on the budget.
type admission struct {
	in     *inflight
	mu     stdsync.Mutex
	shared int64 // bytes held from the shared budget
	big    bool  // holds the big slot
}

// admit waits until a response of contentLength bytes (-1: unknown) fits.
func (in *inflight) admit(ctx context.Context, contentLength int64) (*admission, error) {
	a := &admission{in: in}
	need := int64(unknownSizeGrant)
	if contentLength >= 0 {
		need = contentLength/4*3 + 1
	}
	if need > bigMessageBytes || need > in.budget {
		return a, a.takeBig(ctx)
	}
	if err := in.sem.Acquire(ctx, need); err != nil {
		return nil, err
	}
	a.shared = need
	return a, nil
}

// extend is called when a message grows to total bytes: past its shared
// grant it needs the big slot (waiting for it while holding the small
// grant cannot deadlock: the big slot's holder never waits for the shared
// budget). It reports whether the admission now holds the big slot, and
// the message is then to be streamed, not held.
func (a *admission) extend(ctx context.Context, total int64) (big bool, err error) {
	a.mu.Lock()
	big, ok := a.big, a.big || total <= a.shared
	a.mu.Unlock()
	if ok {
		return big, nil
	}
	return true, a.takeBig(ctx)
}

// isBig reports whether the admission holds the big slot.
func (a *admission) isBig() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.big
}

func (a *admission) takeBig(ctx context.Context) error {
	select {
	case a.in.big <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	a.mu.Lock()
	a.big = true
	a.mu.Unlock()
	return nil
}

// buffer returns an empty buffer of capacity at least n for a message
// held whole.
func (a *admission) buffer(n int) []byte { return a.in.pools.get(n) }

// recycle hands back the buffer of a message whose bytes are not kept
// once nothing refers to it any more.
func (a *admission) recycle(buf []byte) { a.in.pools.put(buf) }

// release returns everything the admission holds; it is idempotent.
func (a *admission) release() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.shared > 0 {
		a.in.sem.Release(a.shared)
		a.shared = 0
	}
	if a.big {
		<-a.in.big
		a.big = false
	}
}
