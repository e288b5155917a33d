package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// msgInput is the request of a method that takes a message: JSON metadata
// (a Message or a Draft) plus, for media uploads, the RFC 822 bytes.
type msgInput struct {
	meta   []byte
	media  []byte
	upload bool
	query  url.Values
	pathID string
}

type inputHandler func(w http.ResponseWriter, r *http.Request, c *call, in *msgInput)

// uploadSession is a resumable upload in progress
// (https://developers.google.com/gmail/api/guides/uploads#resumable).
type uploadSession struct {
	mu      sync.Mutex
	email   string
	method  string
	h       inputHandler
	in      *msgInput
	buf     bytes.Buffer
	declLen int64
	created time.Time
	done    *recordedResponse // the final answer once the upload completed
}

// uploadSessionTTL is how long an abandoned resumable session is kept
// (Google documents a week; an in-memory emulator keeps less).
const uploadSessionTTL = 24 * time.Hour

// withInput reads a message-carrying request in any of its forms: plain
// JSON with "raw", or uploadType=media|multipart|resumable on /upload/.
func (e *Emulator) withInput(h inputHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		in := &msgInput{query: r.URL.Query(), pathID: r.PathValue("id")}
		ut := r.URL.Query().Get("uploadType")
		isUpload := strings.HasPrefix(r.URL.Path, "/upload/")
		if ut != "" && !isUpload {
			writeAPIError(w, errBadRequest("Media upload must use the /upload/ URI"))
			return
		}
		if isUpload && ut == "" {
			ut = "media"
		}
		switch ut {
		case "":
			b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
			if err != nil {
				writeAPIError(w, errBadRequest("could not read request body"))
				return
			}
			if len(b) > maxJSONBody {
				writeAPIError(w, errTooLarge())
				return
			}
			in.meta = b
		case "media":
			b, aerr := readLimited(r.Body)
			if aerr != nil {
				writeAPIError(w, aerr)
				return
			}
			in.media, in.upload = b, true
		case "multipart":
			if aerr := readMultipartRelated(r, in); aerr != nil {
				writeAPIError(w, aerr)
				return
			}
		case "resumable":
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				writeAPIError(w, errBadRequest("could not read request body"))
				return
			}
			in.meta, in.upload = b, true
			s := &uploadSession{email: c.mb.email, method: c.method, h: h, in: in, created: e.now()}
			if l := r.Header.Get("X-Upload-Content-Length"); l != "" {
				n, err := strconv.ParseInt(l, 10, 64)
				if err != nil || n < 0 {
					writeAPIError(w, errBadRequest("Invalid X-Upload-Content-Length"))
					return
				}
				if n > MaxUploadBytes {
					writeAPIError(w, errTooLarge())
					return
				}
				s.declLen = n
			}
			id := randomToken("")
			e.mu.Lock()
			for k, old := range e.uploads {
				if e.now().Sub(old.created) > uploadSessionTTL {
					delete(e.uploads, k)
				}
			}
			e.uploads[id] = s
			e.mu.Unlock()
			w.Header().Set("Location", "http://"+r.Host+"/upload/gmail/v1/resumable/"+id)
			w.Header().Set("X-GUploader-UploadID", id)
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(200)
			return
		default:
			writeAPIError(w, errBadRequest("Invalid uploadType: "+ut))
			return
		}
		h(w, r, c, in)
	}
}

func readLimited(r io.Reader) ([]byte, *apiError) {
	b, err := io.ReadAll(io.LimitReader(r, MaxUploadBytes+1))
	if err != nil {
		return nil, errBadRequest("could not read upload")
	}
	if len(b) > MaxUploadBytes {
		return nil, errTooLarge()
	}
	return b, nil
}

// readMultipartRelated reads uploadType=multipart: a multipart/related body
// whose first part is the JSON metadata and second the media.
func readMultipartRelated(r *http.Request, in *msgInput) *apiError {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return errBadRequest("multipart upload needs a multipart/related body")
	}
	mr := multipart.NewReader(io.LimitReader(r.Body, MaxUploadBytes+2<<20), params["boundary"])
	for i := 0; i < 2; i++ {
		p, err := mr.NextPart()
		if err != nil {
			return errBadRequest(fmt.Sprintf("multipart upload: part %d: %v", i, err))
		}
		b, aerr := readLimited(p)
		if aerr != nil {
			return aerr
		}
		if i == 0 {
			in.meta = b
		} else {
			in.media = b
		}
	}
	in.upload = true
	return nil
}

// handleResumableChunk receives one chunk (Content-Range "bytes a-b/total"
// or "bytes a-b/*"); intermediate chunks answer "308 Resume Incomplete",
// which the Go client asks to receive as 200 plus
// X-Http-Status-Code-Override: 308 (header X-GUploader-No-308: yes).
func (e *Emulator) handleResumableChunk(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("uploadId")
	e.mu.Lock()
	s := e.uploads[id]
	e.mu.Unlock()
	if s == nil {
		writeAPIError(w, errNotFound())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		// A completed upload answers every later request, status queries
		// included, with its final response.
		s.done.replay(w)
		return
	}
	fault := e.drawFault()
	switch fault {
	case FaultServerError, FaultUnavailable, FaultRateLimit:
		writeAPIError(w, errBackend(503))
		return
	case FaultConnReset:
		if e.reset(w) {
			return
		}
	}
	start, end, total, ok := parseContentRange(r.Header.Get("Content-Range"))
	if !ok {
		writeAPIError(w, errBadRequest("Invalid Content-Range"))
		return
	}
	if start >= 0 {
		if start != int64(s.buf.Len()) {
			// Client resent a chunk we have (or skipped one): tell it where we are.
			e.resumeIncomplete(w, r, int64(s.buf.Len()))
			return
		}
		n := end - start + 1
		if int64(s.buf.Len())+n > MaxUploadBytes {
			e.dropUpload(id)
			writeAPIError(w, errTooLarge())
			return
		}
		if _, err := io.CopyN(&s.buf, r.Body, n); err != nil {
			// Keep what arrived; the client retries from the reported offset.
			e.resumeIncomplete(w, r, int64(s.buf.Len()))
			return
		}
	}
	if total < 0 || int64(s.buf.Len()) < total {
		e.resumeIncomplete(w, r, int64(s.buf.Len()))
		return
	}
	mb, err := e.mailbox(s.email)
	if err != nil {
		e.dropUpload(id)
		writeAPIError(w, errNotFound())
		return
	}
	s.in.media = s.buf.Bytes()
	rec := &recordedResponse{newRecorder()}
	c := &call{mb: mb, method: s.method}
	s.h(rec, r, c, s.in)
	s.in.media, s.buf = nil, bytes.Buffer{}
	if rec.status >= 500 {
		// The upload failed as a whole: the session is gone.
		e.dropUpload(id)
	} else {
		s.done = rec
	}
	if fault == FaultFailAfterStore && rec.status < 300 {
		c.fault = fault
		if e.failAfterStore(w, c) {
			return
		}
	}
	rec.replay(w)
}

func (e *Emulator) dropUpload(id string) {
	e.mu.Lock()
	delete(e.uploads, id)
	e.mu.Unlock()
}

func (e *Emulator) resumeIncomplete(w http.ResponseWriter, r *http.Request, have int64) {
	if have > 0 {
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", have-1))
	}
	w.Header().Set("Content-Length", "0")
	if r.Header.Get("X-GUploader-No-308") == "yes" {
		w.Header().Set("X-Http-Status-Code-Override", "308")
		w.WriteHeader(200)
		return
	}
	w.WriteHeader(308)
}

// parseContentRange parses "bytes a-b/total", "bytes a-b/*" and
// "bytes */total" (start -1: a status query or empty final chunk).
func parseContentRange(s string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t < 0 {
			return 0, 0, 0, false
		}
		total = t
	}
	if rng == "*" {
		return -1, -1, total, true
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, 0, false
	}
	return start, end, total, true
}

// message returns the Message metadata and the raw RFC 822 bytes of the
// request, from the upload or from the JSON "raw" field.
func (in *msgInput) message() (*apiMessageIn, []byte, *apiError) {
	var m apiMessageIn
	if len(bytes.TrimSpace(in.meta)) > 0 {
		if err := json.Unmarshal(in.meta, &m); err != nil {
			return nil, nil, errBadRequest("Invalid JSON payload received. " + err.Error())
		}
	}
	return in.rawFrom(&m)
}

func (in *msgInput) draft() (*apiDraftIn, *apiMessageIn, []byte, *apiError) {
	var d apiDraftIn
	if len(bytes.TrimSpace(in.meta)) > 0 {
		if err := json.Unmarshal(in.meta, &d); err != nil {
			return nil, nil, nil, errBadRequest("Invalid JSON payload received. " + err.Error())
		}
	}
	if d.Message == nil {
		d.Message = &apiMessageIn{}
	}
	m, raw, aerr := in.rawFrom(d.Message)
	return &d, m, raw, aerr
}

func (in *msgInput) rawFrom(m *apiMessageIn) (*apiMessageIn, []byte, *apiError) {
	if in.upload {
		return m, in.media, nil
	}
	if m.Raw == "" {
		return m, nil, nil
	}
	raw, err := decodeRaw(m.Raw)
	if err != nil {
		return nil, nil, errBadRequest("Invalid value for ByteString: raw")
	}
	if len(raw) > MaxUploadBytes {
		return nil, nil, errTooLarge()
	}
	return m, raw, nil
}
