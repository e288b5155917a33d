package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// batchRecorder captures one inner response of a batch request (a type of
// its own: handlers ask whether they answer inside a batch).
type batchRecorder struct{ recorder }

// handleBatch implements the batch endpoint
// (https://developers.google.com/gmail/api/guides/batch): a multipart/mixed
// body of application/http parts, at most 100, each an HTTP request that is
// served (and charged against quota) on its own; inner requests without an
// Authorization header inherit the outer one.
func (e *Emulator) handleBatch(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		writeAPIError(w, errBadRequest("Batch requests need a multipart/mixed body"))
		return
	}
	type inner struct {
		contentID string
		req       *http.Request
		err       *apiError
	}
	var parts []inner
	mr := multipart.NewReader(io.LimitReader(r.Body, 64<<20), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeAPIError(w, errBadRequest("Malformed multipart body: "+err.Error()))
			return
		}
		if len(parts) == MaxBatchParts {
			writeAPIError(w, errBadRequest(fmt.Sprintf("Too many requests in batch; the limit is %d", MaxBatchParts)))
			return
		}
		b, err := io.ReadAll(io.LimitReader(p, MaxUploadBytes*2))
		if err != nil {
			writeAPIError(w, errBadRequest("Malformed multipart body: "+err.Error()))
			return
		}
		in := inner{contentID: p.Header.Get("Content-ID")}
		req, rerr := readInnerRequest(b)
		if rerr != nil {
			in.err = errBadRequest("Malformed inner request: " + rerr.Error())
		} else {
			if req.Header.Get("Authorization") == "" {
				req.Header.Set("Authorization", r.Header.Get("Authorization"))
			}
			in.req = req.WithContext(r.Context())
		}
		parts = append(parts, in)
	}
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	boundary := "batch_" + strings.TrimPrefix(randomToken(""), "-")
	_ = mw.SetBoundary(strings.NewReplacer("-", "a", "_", "b").Replace(boundary))
	for _, p := range parts {
		rec := &batchRecorder{newRecorder()}
		if p.err != nil {
			writeAPIError(rec, p.err)
		} else {
			e.mux.ServeHTTP(rec, p.req)
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/http")
		if p.contentID != "" {
			h.Set("Content-ID", "<response-"+strings.Trim(p.contentID, "<>")+">")
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			writeAPIError(w, errBackend(500))
			return
		}
		if rec.status == 0 {
			rec.status = 200
		}
		fmt.Fprintf(pw, "HTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
		_ = rec.header.Write(pw)
		fmt.Fprintf(pw, "\r\n")
		_, _ = pw.Write(rec.body.Bytes())
	}
	_ = mw.Close()
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.WriteHeader(200)
	_, _ = w.Write(out.Bytes())
}

// readInnerRequest parses "METHOD /path [HTTP/1.1]" plus headers and body;
// Google's documentation omits the protocol version, so we accept both.
func readInnerRequest(b []byte) (*http.Request, error) {
	b = bytes.TrimLeft(b, "\r\n")
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	fields := strings.Fields(strings.TrimSpace(string(line)))
	if len(fields) == 2 {
		fields = append(fields, "HTTP/1.1")
	}
	if len(fields) != 3 {
		return nil, fmt.Errorf("bad request line %q", line)
	}
	var buf bytes.Buffer
	buf.WriteString(strings.Join(fields, " ") + "\r\n")
	if !bytes.Contains(rest, []byte("\n\n")) && !bytes.Contains(rest, []byte("\r\n\r\n")) {
		rest = append(rest, "\r\n"...)
	}
	hdr, body, _ := bytes.Cut(rest, []byte("\n\n"))
	if bytes.Contains(rest, []byte("\r\n\r\n")) {
		hdr, body, _ = bytes.Cut(rest, []byte("\r\n\r\n"))
	}
	buf.Write(hdr)
	buf.WriteString("\r\n\r\n")
	req, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.RequestURI = ""
	if req.Host == "" {
		req.Host = "batch"
	}
	return req, nil
}
