package web

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"google.golang.org/api/idtoken"
)

// PushReceiver acts on a Gmail push notification (sync.Syncer does): it
// syncs the mailboxes of the address. The HTTP side — authentication and
// Pub/Sub's envelope — is here.
type PushReceiver interface {
	HandlePush(ctx context.Context, emailAddress string) error
}

// IDTokenValidator verifies a Google-signed OIDC token
// (*idtoken.Validator does).
type IDTokenValidator interface {
	Validate(ctx context.Context, token, audience string) (*idtoken.Payload, error)
}

// PushAuth says how /gmail/push authenticates Pub/Sub. Either or both:
// Pub/Sub's signed push (an OIDC token in the Authorization header, issued
// by Google to ServiceAccount for Audience; see
// https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions), or
// a shared Token in the subscription's URL (?token=). With neither, the
// route is not mounted at all.
type PushAuth struct {
	Token          string
	Audience       string
	ServiceAccount string
	// Validator checks OIDC tokens; nil means Google's keys via
	// idtoken.NewValidator.
	Validator IDTokenValidator
}

func (a PushAuth) configured() bool {
	return a.Token != "" || (a.Audience != "" && a.ServiceAccount != "")
}

// pushEnvelope is a Pub/Sub push request body
// (https://cloud.google.com/pubsub/docs/push#receive_push).
type pushEnvelope struct {
	Message struct {
		Data      string `json:"data"`
		MessageID string `json:"messageId"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// gmailNotification is the data of a Gmail push notification
// (https://developers.google.com/gmail/api/guides/push#receiving_notifications).
type gmailNotification struct {
	EmailAddress string `json:"emailAddress"`
	HistoryID    uint64 `json:"historyId"`
}

func (s *Server) registerPush() error {
	if s.d.Push == nil || !s.d.PushAuth.configured() {
		return nil
	}
	if s.d.PushAuth.Audience != "" && s.d.PushAuth.Validator == nil {
		v, err := idtoken.NewValidator(context.Background())
		if err != nil {
			return errors.New("web: push: OIDC validator: " + err.Error())
		}
		s.d.PushAuth.Validator = v
	}
	s.handle("POST", "/gmail/push", http.HandlerFunc(s.push))
	return nil
}

// pushAuthorized checks the shared token or the signed OIDC token. Google
// issues the token with iss accounts.google.com and the service account
// as a verified email claim.
func (s *Server) pushAuthorized(r *http.Request) bool {
	a := s.d.PushAuth
	if a.Token != "" {
		if got := r.URL.Query().Get("token"); got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(a.Token)) == 1 {
			return true
		}
	}
	if a.Audience == "" || a.Validator == nil {
		return false
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	p, err := a.Validator.Validate(r.Context(), strings.TrimSpace(tok), a.Audience)
	if err != nil {
		s.log.Info("push: OIDC token rejected", "err", err)
		return false
	}
	if p.Issuer != "accounts.google.com" && p.Issuer != "https://accounts.google.com" {
		return false
	}
	email, _ := p.Claims["email"].(string)
	verified, _ := p.Claims["email_verified"].(bool)
	return verified && strings.EqualFold(email, a.ServiceAccount)
}

// push receives a Pub/Sub push. It acknowledges (204) notifications for
// unknown addresses so Pub/Sub does not redeliver them; malformed bodies
// get 400; a failure to enqueue gets 503 so Pub/Sub retries.
func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	if !s.pushAuthorized(r) {
		s.problem(w, r, Problem{Status: http.StatusForbidden, Detail: "push not authenticated"})
		return
	}
	var env pushEnvelope
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&env); err != nil {
		s.problem(w, r, Problem{Type: probMalformed, Status: http.StatusBadRequest, Detail: "bad push body"})
		return
	}
	data, err := base64.StdEncoding.DecodeString(env.Message.Data)
	if err != nil {
		data, err = base64.URLEncoding.DecodeString(env.Message.Data)
	}
	var n gmailNotification
	if err != nil || json.Unmarshal(data, &n) != nil || !strings.Contains(n.EmailAddress, "@") {
		s.problem(w, r, Problem{Type: probMalformed, Status: http.StatusBadRequest, Detail: "bad notification data"})
		return
	}
	if err := s.d.Push.HandlePush(r.Context(), n.EmailAddress); err != nil {
		s.log.Error("push failed", "err", err)
		s.problem(w, r, Problem{Status: http.StatusServiceUnavailable, Detail: "temporarily unavailable"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
