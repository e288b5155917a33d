package emulator

import (
	"net/http"
	"strings"
)

// Gmail OAuth scopes the emulator distinguishes
// (https://developers.google.com/gmail/api/auth/scopes).
const (
	ScopeFull   = "https://mail.google.com/"
	ScopeModify = "https://www.googleapis.com/auth/gmail.modify"
	// ScopeMessagesDelete is the granular scope that allows permanent
	// deletion without full access.
	ScopeMessagesDelete = "https://www.googleapis.com/auth/gmail.messages.delete"
)

// permanentDelete lists the methods that need ScopeFull (or
// ScopeMessagesDelete): with gmail.modify Gmail answers 403.
var permanentDelete = map[string]bool{"messages.delete": true, "messages.batchDelete": true, "threads.delete": true}

// SetScope sets the OAuth scopes (space-separated) that email's tokens
// carry; "" means full access (the default). The token endpoint reports
// them, and methods the scopes do not cover answer 403
// insufficientPermissions, as Gmail does.
func (e *Emulator) SetScope(email, scope string) error {
	mb, err := e.mailbox(email)
	if err != nil {
		return err
	}
	mb.mu.Lock()
	mb.scope = scope
	mb.mu.Unlock()
	return nil
}

func (e *Emulator) scopeOf(email string) string {
	mb, err := e.mailbox(email)
	if err != nil {
		return ScopeFull
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.scope == "" {
		return ScopeFull
	}
	return mb.scope
}

func (mb *mailbox) checkScope(method string) *apiError {
	if !permanentDelete[method] {
		return nil
	}
	mb.mu.Lock()
	scope := mb.scope
	mb.mu.Unlock()
	if scope == "" {
		return nil
	}
	for _, s := range strings.Fields(scope) {
		if s == ScopeFull || s == ScopeMessagesDelete {
			return nil
		}
	}
	return &apiError{Code: 403, Status: "PERMISSION_DENIED", Message: "Request had insufficient authentication scopes.",
		Reason: "insufficientPermissions", Domain: "global"}
}

// failAfterStore answers a send that was stored and delivered as if it had
// failed (503, or a reset connection): the ambiguous case a sender must
// resolve by searching rfc822msgid: before it sends again.
func (e *Emulator) failAfterStore(w http.ResponseWriter, c *call) bool {
	if c.fault != FaultFailAfterStore {
		return false
	}
	if _, inBatch := w.(*batchRecorder); !inBatch && e.frng2() && e.reset(w) {
		return true
	}
	writeAPIError(w, errBackend(503))
	return true
}

// frng2 flips the emulator's fault coin.
func (e *Emulator) frng2() bool {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	return e.frng.IntN(2) == 0
}

// sendThread returns threadID when a sent message or draft may join that
// thread: Gmail requires the Subject to match as well
// (https://developers.google.com/gmail/api/guides/threads); otherwise the
// message starts a thread of its own ("").
func sendThread(mb *mailbox, threadID string, raw []byte) string {
	if threadID == "" {
		return ""
	}
	id, ok := parseID(threadID)
	if !ok {
		return ""
	}
	subj := normSubject(parseHeaderOnly(raw).header("Subject"))
	mb.mu.Lock()
	defer mb.mu.Unlock()
	ts := mb.threads[id]
	if ts == nil || (ts.subject != subj && subj != "" && ts.subject != "") {
		return ""
	}
	return threadID
}

// recordedResponse is the final answer of a completed resumable upload,
// kept so a status query after a lost response learns the outcome (Google
// answers such a query with the upload's final response).
type recordedResponse struct{ recorder }

func (r *recordedResponse) replay(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}
