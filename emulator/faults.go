package emulator

import (
	"fmt"
	"strings"
	"time"
)

// FaultKind is one kind of misbehaviour the emulator can inject.
type FaultKind int

// Fault kinds. Transport-level kinds apply to any API request; the Gmail
// oddities apply only where they make sense (history.list, messages.get).
const (
	FaultServerError           FaultKind = iota + 1 // 500 backendError
	FaultUnavailable                                // 503 backendError
	FaultRateLimit                                  // 429 rateLimitExceeded with Retry-After
	FaultConnReset                                  // TCP reset before any response
	FaultSlow                                       // response delayed by Faults.SlowDelay
	FaultTruncated                                  // body cut short of its Content-Length
	FaultEmptyHistoryPage                           // history.list page with no records but a nextPageToken
	FaultPhantomHistoryMessage                      // history.list names a message that 404s on fetch
	FaultGhostLabel                                 // a label id that labels.list does not know
	FaultFailAfterStore                             // messages.send/drafts.send store and deliver, then answer 503 or reset
)

var faultNames = map[FaultKind]string{
	FaultServerError: "500", FaultUnavailable: "503", FaultRateLimit: "429", FaultConnReset: "reset",
	FaultSlow: "slow", FaultTruncated: "truncate", FaultEmptyHistoryPage: "empty-history-page",
	FaultPhantomHistoryMessage: "phantom-message", FaultGhostLabel: "ghost-label",
	FaultFailAfterStore: "fail-after-store",
}

func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// ParseFaultKinds parses a comma-separated list of fault names as printed by
// FaultKind.String ("500,503,429,reset,slow,truncate,empty-history-page,
// phantom-message,ghost-label,fail-after-store"); "all" selects every kind.
func ParseFaultKinds(s string) ([]FaultKind, error) {
	if strings.TrimSpace(s) == "" || s == "all" {
		return AllFaults(), nil
	}
	var out []FaultKind
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		found := false
		for k, n := range faultNames {
			if n == f {
				out = append(out, k)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: unknown fault %q", ErrInvalidInput, f)
		}
	}
	return out, nil
}

// AllFaults lists every fault kind.
func AllFaults() []FaultKind {
	return []FaultKind{FaultServerError, FaultUnavailable, FaultRateLimit, FaultConnReset, FaultSlow,
		FaultTruncated, FaultEmptyHistoryPage, FaultPhantomHistoryMessage, FaultGhostLabel, FaultFailAfterStore}
}

// Faults configures fault injection: each API request draws one fault with
// probability Rate, uniformly among Kinds (all kinds when empty).
type Faults struct {
	Rate      float64
	Kinds     []FaultKind
	SlowDelay time.Duration // default 2 s
}

func (f Faults) kinds() []FaultKind {
	if len(f.Kinds) == 0 {
		return AllFaults()
	}
	return f.Kinds
}
