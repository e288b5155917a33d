package sync

import (
	"context"
	"net/http"
	stdsync "sync"
)

// bigMessageBytes is the response size above which a message counts as
// big: a 25 MB attachment arrives as ~34 MB of base64url in ~45 MB of JSON
// and is held several times over while it is decoded. Big messages are
// processed one at a time per Syncer, so that peak memory stays bounded
// by one big message plus the small ones in flight, whatever the fetch
// concurrency.
const bigMessageBytes = 4 << 20

// bigGate admits one big message at a time.
type bigGate struct{ sem chan struct{} }

func newBigGate() *bigGate { return &bigGate{sem: make(chan struct{}, 1)} }

// gateHold is one fetch's claim on the gate, carried in the request
// context so that the transport can take it as soon as the response
// headers announce a big body (before the body is read) and the fetching
// goroutine can release it once the message is decoded.
type gateHold struct {
	mu   stdsync.Mutex
	gate *bigGate
	held bool
}

type gateKey struct{}

func (g *bigGate) hold(ctx context.Context) (context.Context, *gateHold) {
	h := &gateHold{gate: g}
	return context.WithValue(ctx, gateKey{}, h), h
}

// acquire takes the gate unless this fetch holds it already.
func (h *gateHold) acquire(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held {
		return nil
	}
	select {
	case h.gate.sem <- struct{}{}:
		h.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *gateHold) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held {
		<-h.gate.sem
		h.held = false
	}
}

// gatedTransport takes the gate for responses whose Content-Length says
// they are big, before their body is read (TCP flow control holds the
// rest at the sender meanwhile).
type gatedTransport struct {
	base http.RoundTripper
}

func (t gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.ContentLength < bigMessageBytes {
		return resp, err
	}
	if h, ok := r.Context().Value(gateKey{}).(*gateHold); ok {
		if err := h.acquire(r.Context()); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	return resp, nil
}
