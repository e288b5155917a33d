package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// JSON shapes of the Gmail API v1 resources, as defined by the discovery
// document (gmail-api.json, "schemas"). uint64/int64 fields are encoded as
// JSON strings there (format "uint64"/"int64"), hence the ",string" tags.

type apiHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type apiPartBody struct {
	AttachmentID string `json:"attachmentId,omitempty"`
	Size         int64  `json:"size"`
	Data         string `json:"data,omitempty"`
}

type apiPart struct {
	PartID   string       `json:"partId"`
	MimeType string       `json:"mimeType,omitempty"`
	Filename string       `json:"filename"`
	Headers  []apiHeader  `json:"headers,omitempty"`
	Body     *apiPartBody `json:"body,omitempty"`
	Parts    []*apiPart   `json:"parts,omitempty"`
}

type apiMessage struct {
	ID           string   `json:"id"`
	ThreadID     string   `json:"threadId"`
	LabelIDs     []string `json:"labelIds,omitempty"`
	Snippet      string   `json:"snippet,omitempty"`
	HistoryID    uint64   `json:"historyId,omitempty,string"`
	InternalDate int64    `json:"internalDate,omitempty,string"`
	Payload      *apiPart `json:"payload,omitempty"`
	SizeEstimate int64    `json:"sizeEstimate,omitempty"`
	Raw          string   `json:"raw,omitempty"`
}

type apiMessageRef struct {
	ID       string   `json:"id"`
	ThreadID string   `json:"threadId"`
	LabelIDs []string `json:"labelIds,omitempty"`
}

type apiListMessages struct {
	Messages           []apiMessageRef `json:"messages,omitempty"`
	NextPageToken      string          `json:"nextPageToken,omitempty"`
	ResultSizeEstimate int64           `json:"resultSizeEstimate"`
}

type apiHistoryMessage struct {
	Message apiMessageRef `json:"message"`
}

type apiHistoryLabel struct {
	Message  apiMessageRef `json:"message"`
	LabelIDs []string      `json:"labelIds"`
}

type apiHistory struct {
	ID              uint64              `json:"id,string"`
	Messages        []apiMessageRef     `json:"messages,omitempty"`
	MessagesAdded   []apiHistoryMessage `json:"messagesAdded,omitempty"`
	MessagesDeleted []apiHistoryMessage `json:"messagesDeleted,omitempty"`
	LabelsAdded     []apiHistoryLabel   `json:"labelsAdded,omitempty"`
	LabelsRemoved   []apiHistoryLabel   `json:"labelsRemoved,omitempty"`
}

type apiListHistory struct {
	History       []apiHistory `json:"history,omitempty"`
	HistoryID     uint64       `json:"historyId,string"`
	NextPageToken string       `json:"nextPageToken,omitempty"`
}

type apiProfile struct {
	EmailAddress  string `json:"emailAddress"`
	MessagesTotal int64  `json:"messagesTotal"`
	ThreadsTotal  int64  `json:"threadsTotal"`
	HistoryID     uint64 `json:"historyId,string"`
}

type apiLabelColor struct {
	TextColor       string `json:"textColor,omitempty"`
	BackgroundColor string `json:"backgroundColor,omitempty"`
}

type apiLabel struct {
	ID                    string         `json:"id"`
	Name                  string         `json:"name"`
	MessageListVisibility string         `json:"messageListVisibility,omitempty"`
	LabelListVisibility   string         `json:"labelListVisibility,omitempty"`
	Type                  string         `json:"type"`
	MessagesTotal         *int64         `json:"messagesTotal,omitempty"`
	MessagesUnread        *int64         `json:"messagesUnread,omitempty"`
	ThreadsTotal          *int64         `json:"threadsTotal,omitempty"`
	ThreadsUnread         *int64         `json:"threadsUnread,omitempty"`
	Color                 *apiLabelColor `json:"color,omitempty"`
}

type apiListLabels struct {
	Labels []apiLabel `json:"labels"`
}

type apiThread struct {
	ID        string        `json:"id"`
	Snippet   string        `json:"snippet,omitempty"`
	HistoryID uint64        `json:"historyId,omitempty,string"`
	Messages  []*apiMessage `json:"messages,omitempty"`
}

type apiListThreads struct {
	Threads            []apiThread `json:"threads,omitempty"`
	NextPageToken      string      `json:"nextPageToken,omitempty"`
	ResultSizeEstimate int64       `json:"resultSizeEstimate"`
}

type apiDraft struct {
	ID      string      `json:"id"`
	Message *apiMessage `json:"message,omitempty"`
}

type apiListDrafts struct {
	Drafts             []apiDraft `json:"drafts,omitempty"`
	NextPageToken      string     `json:"nextPageToken,omitempty"`
	ResultSizeEstimate int64      `json:"resultSizeEstimate"`
}

type apiWatchResponse struct {
	HistoryID  uint64 `json:"historyId,string"`
	Expiration int64  `json:"expiration,string"`
}

// Request bodies.

type apiMessageIn struct {
	ThreadID string   `json:"threadId"`
	LabelIDs []string `json:"labelIds"`
	Raw      string   `json:"raw"`
}

type apiDraftIn struct {
	ID      string        `json:"id"`
	Message *apiMessageIn `json:"message"`
}

type apiModifyIn struct {
	IDs            []string `json:"ids"`
	AddLabelIDs    []string `json:"addLabelIds"`
	RemoveLabelIDs []string `json:"removeLabelIds"`
}

type apiWatchIn struct {
	LabelIDs            []string `json:"labelIds"`
	LabelFilterAction   string   `json:"labelFilterAction"`
	LabelFilterBehavior string   `json:"labelFilterBehavior"`
	TopicName           string   `json:"topicName"`
}

// apiError is Google's JSON error envelope (the same on all Google APIs; see
// https://cloud.google.com/apis/design/errors#http_mapping).
type apiError struct {
	Code    int
	Status  string
	Message string
	Reason  string
	Domain  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("emulator: %d %s: %s", e.Code, e.Reason, e.Message)
}

// Sentinel errors returned by the Go API.
var (
	ErrNotFound     = errors.New("emulator: not found")
	ErrUnknownUser  = errors.New("emulator: unknown user")
	ErrUserExists   = errors.New("emulator: user already exists")
	ErrInvalidInput = errors.New("emulator: invalid input")
)

func errNotFound() *apiError {
	return &apiError{Code: 404, Status: "NOT_FOUND", Message: "Requested entity was not found.", Reason: "notFound", Domain: "global"}
}

func errBadRequest(msg string) *apiError {
	return &apiError{Code: 400, Status: "INVALID_ARGUMENT", Message: msg, Reason: "invalidArgument", Domain: "global"}
}

func errConflict(msg string) *apiError {
	return &apiError{Code: 409, Status: "ABORTED", Message: msg, Reason: "aborted", Domain: "global"}
}

func errUnauthenticated() *apiError {
	return &apiError{Code: 401, Status: "UNAUTHENTICATED", Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", Reason: "authError", Domain: "global"}
}

func errForbidden(msg string) *apiError {
	return &apiError{Code: 403, Status: "PERMISSION_DENIED", Message: msg, Reason: "forbidden", Domain: "global"}
}

func errTooLarge() *apiError {
	return &apiError{Code: 413, Status: "INVALID_ARGUMENT", Message: "Request payload size exceeds the limit: 36700160 bytes.", Reason: "uploadTooLarge", Domain: "global"}
}

func errUserRateLimit(msg string) *apiError {
	return &apiError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: msg, Reason: "userRateLimitExceeded", Domain: "usageLimits"}
}

func errRateLimit() *apiError {
	return &apiError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "Rate Limit Exceeded", Reason: "rateLimitExceeded", Domain: "usageLimits"}
}

func errBackend(code int) *apiError {
	if code == 503 {
		return &apiError{Code: 503, Status: "UNAVAILABLE", Message: "The service is currently unavailable.", Reason: "backendError", Domain: "global"}
	}
	return &apiError{Code: 500, Status: "INTERNAL", Message: "Internal error encountered.", Reason: "backendError", Domain: "global"}
}

func (e *apiError) body() []byte {
	type item struct {
		Message string `json:"message"`
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
	}
	type inner struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []item `json:"errors"`
		Status  string `json:"status"`
	}
	b, _ := json.Marshal(struct {
		Error inner `json:"error"`
	}{inner{Code: e.Code, Message: e.Message, Errors: []item{{Message: e.Message, Domain: e.Domain, Reason: e.Reason}}, Status: e.Status}})
	return b
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	b := e.body()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Code)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeAPIError(w, errBackend(500))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// formatID writes id as 16 lower-case hex digits, as Gmail's ids look
// (fmt.Sprintf("%016x") did the same at several times the cost, twice
// per messages.get).
func formatID(id uint64) string {
	var b [16]byte
	const digits = "0123456789abcdef"
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[id&0xf]
		id >>= 4
	}
	return string(b[:])
}

func parseID(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}
