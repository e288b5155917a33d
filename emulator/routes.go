package emulator

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// call is the per-request context an API handler gets after
// authentication, quota and fault handling.
type call struct {
	mb     *mailbox
	fault  FaultKind // Gmail-oddity fault drawn for this request, if any
	method string
}

type apiHandler func(w http.ResponseWriter, r *http.Request, c *call)

const (
	v1 = "/gmail/v1/users/{userId}"
)

func (e *Emulator) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /o/oauth2/auth", e.handleAuth)
	m.HandleFunc("POST /token", e.handleToken)
	m.HandleFunc("POST /batch/gmail/v1", e.handleBatch)
	m.HandleFunc("POST /batch", e.handleBatch)

	m.Handle("GET "+v1+"/profile", e.api("getProfile", e.getProfile))
	m.Handle("POST "+v1+"/watch", e.api("watch", e.watch))
	m.Handle("POST "+v1+"/stop", e.api("stop", e.stop))

	m.Handle("GET "+v1+"/labels", e.api("labels.list", e.listLabels))
	m.Handle("POST "+v1+"/labels", e.api("labels.create", e.createLabel))
	m.Handle("GET "+v1+"/labels/{id}", e.api("labels.get", e.getLabel))
	m.Handle("PUT "+v1+"/labels/{id}", e.api("labels.update", e.updateLabel))
	m.Handle("PATCH "+v1+"/labels/{id}", e.api("labels.patch", e.updateLabel))
	m.Handle("DELETE "+v1+"/labels/{id}", e.api("labels.delete", e.deleteLabel))

	m.Handle("GET "+v1+"/messages", e.api("messages.list", e.listMessages))
	m.Handle("GET "+v1+"/messages/{id}", e.api("messages.get", e.getMessage))
	m.Handle("DELETE "+v1+"/messages/{id}", e.api("messages.delete", e.deleteMessage))
	m.Handle("POST "+v1+"/messages/{id}/modify", e.api("messages.modify", modifyWith(e.mutateOne)))
	m.Handle("POST "+v1+"/messages/{id}/trash", e.api("messages.trash", applyWith(e.mutateOne, trashOp)))
	m.Handle("POST "+v1+"/messages/{id}/untrash", e.api("messages.untrash", applyWith(e.mutateOne, untrashOp)))
	m.Handle("POST "+v1+"/messages/batchModify", e.api("messages.batchModify", e.batchModify))
	m.Handle("POST "+v1+"/messages/batchDelete", e.api("messages.batchDelete", e.batchDelete))
	m.Handle("GET "+v1+"/messages/{messageId}/attachments/{id}", e.api("messages.attachments.get", e.getAttachment))
	for _, p := range []string{"", "/upload"} {
		m.Handle("POST "+p+"/gmail/v1/users/{userId}/messages", e.api("messages.insert", e.withInput(e.insertMessage)))
		m.Handle("POST "+p+"/gmail/v1/users/{userId}/messages/import", e.api("messages.import", e.withInput(e.importMessage)))
		m.Handle("POST "+p+"/gmail/v1/users/{userId}/messages/send", e.api("messages.send", e.withInput(e.sendMessage)))
		m.Handle("POST "+p+"/gmail/v1/users/{userId}/drafts", e.api("drafts.create", e.withInput(e.createDraft)))
		m.Handle("PUT "+p+"/gmail/v1/users/{userId}/drafts/{id}", e.api("drafts.update", e.withInput(e.updateDraft)))
		m.Handle("POST "+p+"/gmail/v1/users/{userId}/drafts/send", e.api("drafts.send", e.withInput(e.sendDraft)))
	}
	// Resumable upload chunks are POSTed to the session URI.
	m.HandleFunc("POST /upload/gmail/v1/resumable/{uploadId}", e.handleResumableChunk)
	m.HandleFunc("PUT /upload/gmail/v1/resumable/{uploadId}", e.handleResumableChunk)

	m.Handle("GET "+v1+"/drafts", e.api("drafts.list", e.listDrafts))
	m.Handle("GET "+v1+"/drafts/{id}", e.api("drafts.get", e.getDraft))
	m.Handle("DELETE "+v1+"/drafts/{id}", e.api("drafts.delete", e.deleteDraft))

	m.Handle("GET "+v1+"/threads", e.api("threads.list", e.listThreads))
	m.Handle("GET "+v1+"/threads/{id}", e.api("threads.get", e.getThread))
	m.Handle("DELETE "+v1+"/threads/{id}", e.api("threads.delete", e.deleteThread))
	m.Handle("POST "+v1+"/threads/{id}/modify", e.api("threads.modify", modifyWith(e.mutateThread)))
	m.Handle("POST "+v1+"/threads/{id}/trash", e.api("threads.trash", applyWith(e.mutateThread, trashOp)))
	m.Handle("POST "+v1+"/threads/{id}/untrash", e.api("threads.untrash", applyWith(e.mutateThread, untrashOp)))

	m.Handle("GET "+v1+"/history", e.api("history.list", e.listHistory))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, &apiError{Code: 404, Status: "NOT_FOUND", Message: "Method not found.", Reason: "notFound", Domain: "global"})
	})
	e.mux = m
}

// api wraps a handler with what every Gmail API call goes through:
// bearer authentication mapped to a user, the userId path check, fault
// injection and quota.
func (e *Emulator) api(method string, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email, ok := e.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
			writeAPIError(w, errUnauthenticated())
			return
		}
		uid := r.PathValue("userId")
		if uid != "me" && !strings.EqualFold(uid, email) {
			writeAPIError(w, errForbidden("Delegation denied for "+email))
			return
		}
		mb, err := e.mailbox(email)
		if err != nil {
			writeAPIError(w, errUnauthenticated())
			return
		}
		c := &call{mb: mb, method: method}
		if aerr := mb.checkScope(method); aerr != nil {
			writeAPIError(w, aerr)
			return
		}

		if e.cfg.quota {
			if !e.admit(w, mb, method) {
				return
			}
			defer func() {
				mb.mu.Lock()
				mb.inflight--
				mb.mu.Unlock()
			}()
		}

		fault := e.drawFault()
		_, inBatch := w.(*batchRecorder)
		switch fault {
		case FaultServerError, FaultUnavailable:
			code := 500
			if fault == FaultUnavailable {
				code = 503
			}
			writeAPIError(w, errBackend(code))
			return
		case FaultRateLimit:
			w.Header().Set("Retry-After", "1")
			writeAPIError(w, errRateLimit())
			return
		case FaultConnReset:
			if !inBatch && e.reset(w) {
				return
			}
			writeAPIError(w, errBackend(503))
			return
		case FaultSlow:
			select {
			case <-time.After(e.slowDelay()):
			case <-r.Context().Done():
				return
			}
		case FaultTruncated:
			if !inBatch {
				tw := &truncatingWriter{newRecorder()}
				defer tw.finish(w)
				w = tw
			}
		default:
			c.fault = fault
		}

		e.log.LogAttrs(r.Context(), slog.LevelDebug, "emulator: call", slog.String("method", method), slog.String("user", email), slog.String("path", r.URL.Path))
		h(w, r, c)
	})
}

// admit applies the per-user concurrency limit and moving-window quota.
func (e *Emulator) admit(w http.ResponseWriter, mb *mailbox, method string) bool {
	mb.mu.Lock()
	if mb.inflight >= e.cfg.concurrencyLimit {
		mb.mu.Unlock()
		writeAPIError(w, errUserRateLimit("Too many concurrent requests for user."))
		return false
	}
	ok, wait := mb.quota.take(e.now(), Cost(method), e.cfg.quotaPerMinute)
	if !ok {
		mb.mu.Unlock()
		w.Header().Set("Retry-After", retryAfter(wait))
		writeAPIError(w, errUserRateLimit(fmt.Sprintf("User-rate limit exceeded. Retry after %s", e.now().Add(wait).UTC().Format(time.RFC3339Nano))))
		return false
	}
	mb.inflight++
	mb.mu.Unlock()
	return true
}

// reset aborts the TCP connection with RST (SO_LINGER 0), as a proxy or
// load balancer dropping the connection would.
func (e *Emulator) reset(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
	return true
}

// truncatingWriter buffers a response and then sends its headers with the
// full Content-Length but only half of the body before closing the
// connection, so the client sees an unexpected EOF.
type truncatingWriter struct{ recorder }

func (t *truncatingWriter) finish(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeAPIError(w, errBackend(503))
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if t.status == 0 {
		t.status = 200
	}
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", t.status, http.StatusText(t.status))
	t.header.Set("Content-Length", strconv.Itoa(t.body.Len()))
	t.header.Set("Connection", "close")
	_ = t.header.Write(buf)
	buf.WriteString("\r\n")
	buf.Write(t.body.Bytes()[:t.body.Len()/2])
	_ = buf.Flush()
}

var _ http.ResponseWriter = (*truncatingWriter)(nil)
