package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// discoverySchema is the subset of a discovery-document JSON schema the
// shape check needs.
type discoverySchema struct {
	Ref        string                      `json:"$ref"`
	Type       string                      `json:"type"`
	Format     string                      `json:"format"`
	Properties map[string]*discoverySchema `json:"properties"`
	Items      *discoverySchema            `json:"items"`
}

func loadDiscovery(t *testing.T) map[string]*discoverySchema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output()
	if err != nil {
		t.Fatalf("locating google.golang.org/api: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "gmail", "v1", "gmail-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schemas map[string]*discoverySchema `json:"schemas"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Schemas
}

// checkShape reports every field of v that the discovery schema does not
// define or whose JSON type differs (int64/uint64 are JSON strings there).
func checkShape(schemas map[string]*discoverySchema, s *discoverySchema, v any, path string) []string {
	if s.Ref != "" {
		ref, ok := schemas[s.Ref]
		if !ok {
			return []string{path + ": unknown $ref " + s.Ref}
		}
		s = ref
	}
	var errs []string
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want object, got %T", path, v)}
		}
		for k, fv := range m {
			ps, ok := s.Properties[k]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: not in discovery schema", path, k))
				continue
			}
			errs = append(errs, checkShape(schemas, ps, fv, path+"."+k)...)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want array, got %T", path, v)}
		}
		for i, x := range a {
			errs = append(errs, checkShape(schemas, s.Items, x, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: want string, got %T", path, v)}
		}
		switch s.Format {
		case "int64":
			if _, err := strconv.ParseInt(str, 10, 64); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not an int64", path, str))
			}
		case "uint64":
			if _, err := strconv.ParseUint(str, 10, 64); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a uint64", path, str))
			}
		case "byte":
			if _, err := base64.URLEncoding.DecodeString(str); err != nil {
				errs = append(errs, fmt.Sprintf("%s: not padded base64url: %v", path, err))
			}
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			errs = append(errs, fmt.Sprintf("%s: want integer, got %v", path, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: want boolean, got %T", path, v))
		}
	default:
		errs = append(errs, fmt.Sprintf("%s: unhandled schema type %q", path, s.Type))
	}
	return errs
}

func TestJSONShapesMatchDiscoveryDocument(t *testing.T) {
	schemas := loadDiscovery(t)
	srv, svc := setup(t, WithAttachmentThreshold(1024))
	a := deliver(t, srv, fixture(t, "multipart.eml"))
	deliver(t, srv, fixture(t, "simple.eml"))
	deliver(t, srv, fixture(t, "reply.eml"))
	start := srv.HistoryID(testUser)
	if err := srv.ModifyLabels(testUser, a, []string{"STARRED"}, []string{"UNREAD"}); err != nil {
		t.Fatal(err)
	}
	lid, _ := srv.CreateLabel(testUser, "Shapes")
	if err := srv.ModifyLabels(testUser, a, []string{lid}, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.Delete(testUser, a); err != nil { // for a messagesDeleted record
		t.Fatal(err)
	}
	b := deliver(t, srv, fixture(t, "multipart.eml"))
	full, err := svc.Users.Messages.Get("me", b).Do()
	if err != nil {
		t.Fatal(err)
	}
	attID := full.Payload.Parts[1].Body.AttachmentId
	draftRaw := base64.URLEncoding.EncodeToString([]byte("To: x@example.org\r\nSubject: d\r\n\r\nd"))
	tok, err := srv.IssueAccessToken(testUser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) any {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/gmail/v1/users/me/"+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: status %d", method, path, resp.StatusCode)
		}
		var v any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	draft := do("POST", "drafts", `{"message":{"raw":"`+draftRaw+`"}}`).(map[string]any)
	tests := []struct {
		method, path, body, schema string
	}{
		{"GET", "profile", "", "Profile"},
		{"GET", "labels", "", "ListLabelsResponse"},
		{"GET", "labels/" + lid, "", "Label"},
		{"GET", "labels/INBOX", "", "Label"},
		{"GET", "messages?maxResults=1", "", "ListMessagesResponse"},
		{"GET", "messages/" + b + "?format=minimal", "", "Message"},
		{"GET", "messages/" + b + "?format=metadata", "", "Message"},
		{"GET", "messages/" + b + "?format=full", "", "Message"},
		{"GET", "messages/" + b + "?format=raw", "", "Message"},
		{"GET", "messages/" + b + "/attachments/" + attID, "", "MessagePartBody"},
		{"POST", "messages/" + b + "/modify", `{"addLabelIds":["STARRED"]}`, "Message"},
		{"POST", "messages/" + b + "/trash", "", "Message"},
		{"GET", fmt.Sprintf("history?startHistoryId=%d", start), "", "ListHistoryResponse"},
		{"GET", "threads", "", "ListThreadsResponse"},
		{"GET", "threads/" + b, "", "Thread"},
		{"GET", "drafts", "", "ListDraftsResponse"},
		{"GET", "drafts/" + draft["id"].(string), "", "Draft"},
		{"POST", "watch", `{"topicName":"projects/p/topics/t"}`, "WatchResponse"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			s, ok := schemas[tc.schema]
			if !ok {
				t.Fatalf("schema %s not in discovery document", tc.schema)
			}
			v := do(tc.method, tc.path, tc.body)
			for _, e := range checkShape(schemas, s, v, tc.schema) {
				t.Error(e)
			}
		})
	}
	if errs := checkShape(schemas, schemas["Draft"], any(draft), "Draft"); len(errs) > 0 {
		t.Error(errs)
	}
}

// TestCheckShapeRejects makes sure the shape check itself can fail.
func TestCheckShapeRejects(t *testing.T) {
	schemas := loadDiscovery(t)
	tests := []struct {
		name string
		json string
	}{
		{"unknown field", `{"id":"1","threadID":"1"}`},
		{"historyId as number", `{"id":"1","historyId":12}`},
		{"sizeEstimate as string", `{"id":"1","sizeEstimate":"12"}`},
		{"labelIds not array", `{"labelIds":"INBOX"}`},
		{"nested part field", `{"payload":{"partId":"","bodyy":{}}}`},
		{"raw not base64url", `{"raw":"a+b/"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.json), &v); err != nil {
				t.Fatal(err)
			}
			if errs := checkShape(schemas, schemas["Message"], v, "Message"); len(errs) == 0 {
				t.Error("accepted")
			}
		})
	}
}
