package emulator

import (
	"bytes"
	"net/http"
)

// recorder buffers a handler's response (status, header, body) so that it
// can be sent later or otherwise: inside a batch's multipart answer, cut
// short on purpose, or again for a completed upload.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() recorder { return recorder{header: http.Header{}} }

func (b *recorder) Header() http.Header { return b.header }

func (b *recorder) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *recorder) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
