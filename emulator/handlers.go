package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxJSONBody bounds JSON request bodies: a raw message of 35 MiB encoded
// in base64 plus envelope.
const maxJSONBody = MaxUploadBytes*4/3 + 1<<20

func decodeBody(r *http.Request, v any) *apiError {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return errBadRequest("could not read request body")
	}
	if len(b) > maxJSONBody {
		return errTooLarge()
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errBadRequest("Invalid JSON payload received. " + err.Error())
	}
	return nil
}

func intParam(q url.Values, name string, def, maxV int) (int, *apiError) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errBadRequest(fmt.Sprintf("Invalid value for %s: %q", name, s))
	}
	if n == 0 {
		return def, nil
	}
	return min(n, maxV), nil
}

// decodeRaw accepts the base64url the API documents, padded or not, and
// standard base64, which clients also send.
func decodeRaw(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func b64(b []byte) string { return base64.URLEncoding.EncodeToString(b) }

// --- profile, watch ---

func (e *Emulator) getProfile(w http.ResponseWriter, r *http.Request, c *call) {
	mb := c.mb
	mb.mu.Lock()
	p := apiProfile{EmailAddress: mb.email, MessagesTotal: int64(len(mb.msgs)), ThreadsTotal: int64(mb.threadsTotal()), HistoryID: mb.historyID}
	mb.mu.Unlock()
	writeJSON(w, 200, p)
}

func (e *Emulator) watch(w http.ResponseWriter, r *http.Request, c *call) {
	var in apiWatchIn
	if err := decodeBody(r, &in); err != nil {
		writeAPIError(w, err)
		return
	}
	if !strings.HasPrefix(in.TopicName, "projects/") || !strings.Contains(in.TopicName, "/topics/") {
		writeAPIError(w, errBadRequest("Invalid topicName does not match projects/*/topics/*"))
		return
	}
	mb := c.mb
	mb.mu.Lock()
	exp := e.now().Add(7 * 24 * time.Hour)
	mb.watch = &watchState{topic: in.TopicName, labelIDs: in.LabelIDs, include: !strings.EqualFold(in.LabelFilterBehavior, "exclude") && !strings.EqualFold(in.LabelFilterAction, "exclude"), expiration: exp}
	mb.pushScan = mb.historyID
	resp := apiWatchResponse{HistoryID: mb.historyID, Expiration: exp.UnixMilli()}
	mb.mu.Unlock()
	writeJSON(w, 200, resp)
}

func (e *Emulator) stop(w http.ResponseWriter, r *http.Request, c *call) {
	c.mb.mu.Lock()
	c.mb.watch = nil
	c.mb.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
