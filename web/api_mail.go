package web

import (
	"strconv"
)

// registerMailAPI mounts the mail resources: one file each (api_mailbox.go,
// api_label.go, api_thread.go, api_message.go, api_search.go, api_token.go).
func (s *Server) registerMailAPI() {
	s.handle("GET", "/api/mailboxes", s.api(s.listMailboxes))
	s.handle("POST", "/api/mailboxes", s.api(s.connectMailbox))
	s.handle("GET", "/api/mailboxes/{id}", s.api(s.getMailbox))
	s.handle("DELETE", "/api/mailboxes/{id}", s.api(s.disconnectMailbox))
	s.handle("GET", "/api/mailboxes/{id}/sync", s.api(s.getSyncState))
	s.handle("POST", "/api/mailboxes/{id}/sync", s.api(s.syncNow))
	s.handle("GET", "/api/mailboxes/{id}/labels", s.api(s.listLabels))
	s.handle("GET", "/api/mailboxes/{id}/threads", s.api(listPage(s, "threads", s.threadsQuery, s.listThreads, threadRep)))
	s.handle("GET", "/api/mailboxes/{id}/messages", s.api(listPage(s, "messages", s.mailboxMessagesQuery, s.d.Store.ListMessages, messageSummary, s.nameLabels)))
	s.handle("GET", "/api/threads/{id}", s.api(s.getThread))
	s.handle("GET", "/api/messages/{id}", s.api(s.getMessageAPI))
	s.handle("POST", "/api/messages/{id}/labels", s.api(s.changeLabelsAPI))
	s.handle("GET", "/api/messages/{id}/attachments/{attachmentId}", s.api(s.attachmentAPI))
	s.handle("GET", "/api/search", s.api(s.searchAPI))
	s.handle("GET", "/api/tokens", s.api(s.listTokens))
	s.handle("POST", "/api/tokens", s.api(s.createToken))
	s.handle("DELETE", "/api/tokens/{id}", s.api(s.deleteToken))
	s.registerOutboxAPI()
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
