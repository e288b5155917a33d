package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"tidings/models"
)

type attachmentOut struct {
	ID          int64  `json:"id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline"`
	Links       links  `json:"_links"`
}

type messageOut struct {
	ID            int64     `json:"id"`
	MailboxID     int64     `json:"mailbox_id"`
	GmailID       string    `json:"gmail_id"`
	GmailThreadID string    `json:"gmail_thread_id"`
	Subject       string    `json:"subject"`
	From          string    `json:"from"`
	To            []string  `json:"to"`
	Cc            []string  `json:"cc"`
	Date          time.Time `json:"date"`
	Snippet       string    `json:"snippet"`
	Labels        []string  `json:"labels"`
	// LabelNames names each of Labels (Gmail ids) with its colours.
	LabelNames     []labelRef `json:"label_names,omitempty"`
	HasAttachments bool       `json:"has_attachments"`
	Text           *string    `json:"text,omitempty"`
	// HTML is the body as sanitized at ingest. Render it only in a
	// sandboxed frame.
	HTML        *string `json:"html,omitempty"`
	DecodeError string  `json:"decode_error,omitempty"`
	CaseIDs     []int64 `json:"case_ids,omitempty"`
	Links       links   `json:"_links"`
	Embedded    any     `json:"_embedded,omitempty"`
}

func messageRep(m *models.Message, caseIDs []int64, full bool) messageOut {
	out := messageOut{ID: m.ID, MailboxID: m.MailboxID, GmailID: m.GmailID, GmailThreadID: m.GmailThreadID, Subject: m.Subject,
		From: m.From, To: nonNil(m.To), Cc: nonNil(m.Cc), Date: m.Date, Snippet: m.Snippet, Labels: nonNil(m.LabelIDs()),
		HasAttachments: m.HasAttachments, DecodeError: m.DecodeError, CaseIDs: caseIDs,
		Links: links{
			"self":    lnk("/api/messages/%d", m.ID),
			"mailbox": lnk("/api/mailboxes/%d", m.MailboxID),
			"labels":  {Href: "/api/messages/" + itoa(m.ID) + "/labels", Title: `POST {"add":[…],"remove":[…]}`},
		}}
	for _, c := range caseIDs {
		out.Links["case"] = lnk("/api/cases/%d", c) // HAL allows an array; the first is enough here
		break
	}
	if full {
		out.Text, out.HTML = &m.Text, &m.HTML
		atts := make([]attachmentOut, len(m.Attachments))
		for i, a := range m.Attachments {
			atts[i] = attachmentOut{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, Inline: a.Inline,
				Links: links{"download": {Href: fmt.Sprintf("/api/messages/%d/attachments/%d", m.ID, a.ID), Type: a.ContentType}}}
		}
		out.Embedded = map[string]any{"attachments": atts}
	}
	return out
}

func (s *Server) getMessageAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	m, ok := loadOne(s, w, r, p, s.d.Store.GetMessage)
	if !ok {
		return
	}
	cases, err := s.d.Store.CaseIDsByMessage(r.Context(), p.TenantID, []int64{m.ID})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	rep := []messageOut{messageRep(m, cases[m.ID], true)}
	if s.nameLabels(w, r, p, rep) {
		s.writeHAL(w, r, http.StatusOK, rep[0])
	}
}

type labelsIn struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

func (s *Server) changeLabelsAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	m, ok := loadOne(s, w, r, p, s.d.Store.GetMessage)
	if !ok {
		return
	}
	var in labelsIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if len(in.Add)+len(in.Remove) == 0 {
		s.invalid(w, r, InvalidParam{Name: "add", Reason: "add or remove at least one label"})
		return
	}
	if bad := checkLabelIDs(in.Add, in.Remove); len(bad) > 0 {
		s.invalid(w, r, bad...)
		return
	}
	if s.d.Labels == nil {
		s.notConfigured(w, r, "Changing labels")
		return
	}
	if err := s.d.Labels.ChangeLabels(r.Context(), p.TenantID, m.ID, in.Add, in.Remove); err != nil {
		s.apiError(w, r, err)
		return
	}
	s.getMessageAPI(w, r, p)
}

// maxLabelChange bounds the labels of one change (Gmail's modify takes a
// handful; nobody applies thousands at once).
const maxLabelChange = 100

// checkLabelIDs rejects label ids no Gmail label can have: empty, over
// 256 bytes, invalid UTF-8 or with control characters.
func checkLabelIDs(add, remove []string) []InvalidParam {
	var bad []InvalidParam
	if len(add)+len(remove) > maxLabelChange {
		return []InvalidParam{{Name: "add", Reason: fmt.Sprintf("change at most %d labels at once", maxLabelChange)}}
	}
	for name, ids := range map[string][]string{"add": add, "remove": remove} {
		for i, id := range ids {
			if id == "" || len(id) > 256 || !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				bad = append(bad, InvalidParam{Name: fmt.Sprintf("%s[%d]", name, i), Reason: "is not a label id"})
			}
		}
	}
	return bad
}

// attachment streams an attachment of a message, fetched lazily.
func (s *Server) attachment(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok1 := pathID(r, "id")
	aid, ok2 := pathID(r, "attachmentId")
	if !ok1 || !ok2 {
		return models.ErrNotFound
	}
	a, err := s.d.Store.GetAttachment(r.Context(), p.TenantID, aid)
	if err != nil {
		return err
	}
	if a.MessageID != id {
		return models.ErrNotFound
	}
	if s.d.Attachments == nil {
		return errNotConfigured
	}
	rc, err := s.d.Attachments.FetchAttachment(r.Context(), p.TenantID, a)
	if err != nil {
		return fmt.Errorf("web: fetch attachment %d: %w", a.ID, err)
	}
	defer rc.Close()
	// Always a download, never rendered by the browser in our origin.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": safeFilename(a.Filename)}))
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Warn("attachment download interrupted", "attachment_id", a.ID, "err", err)
	}
	return nil
}

var errNotConfigured = errors.New("web: not configured")

func safeFilename(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == '/' || r == '\\' || r == '"' {
			return '_'
		}
		return r
	}, n)
	if n == "" {
		return "attachment"
	}
	return n
}

func (s *Server) attachmentAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	err := s.attachment(w, r, p)
	switch {
	case err == nil:
	case errors.Is(err, errNotConfigured):
		s.notConfigured(w, r, "Attachment download")
	default:
		s.apiError(w, r, err)
	}
}

// messageSummary is a message in a collection: without bodies,
// attachments or case links.
func messageSummary(m *models.Message) messageOut { return messageRep(m, nil, false) }

// relatedMessages lists the messages of an account, contact or case (set
// puts the {id} of the path into the filter).
func (s *Server) relatedMessages(set func(*models.MessageFilter, int64)) apiHandler {
	return listPage(s, "messages", s.relatedQuery(set), s.d.Store.ListMessages, messageSummary, s.nameLabels)
}

// relatedQuery reads the query of the messages of an account, contact or
// case: the parent must exist in the caller's tenant.
func (s *Server) relatedQuery(set func(*models.MessageFilter, int64)) func(http.ResponseWriter, *http.Request, *principal) (models.MessageFilter, models.Page, bool) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) (models.MessageFilter, models.Page, bool) {
		var f models.MessageFilter
		id, ok := pathID(r, "id")
		if !ok {
			s.apiNotFound(w, r)
			return f, f.Page, false
		}
		var err error
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/accounts/"):
			_, err = s.d.Store.GetAccount(r.Context(), p.TenantID, id)
		case strings.HasPrefix(r.URL.Path, "/api/contacts/"):
			_, err = s.d.Store.GetContact(r.Context(), p.TenantID, id)
		case strings.HasPrefix(r.URL.Path, "/api/cases/"):
			_, err = s.d.Store.GetCase(r.Context(), p.TenantID, id)
		}
		if err != nil {
			s.apiError(w, r, err)
			return f, f.Page, false
		}
		if f.Page, ok = s.pageParams(w, r); !ok {
			return f, f.Page, false
		}
		set(&f, id)
		return f, f.Page, true
	}
}

// mailboxMessagesQuery reads GET /api/mailboxes/{id}/messages: the
// mailbox, which must be the caller's, an optional label and the page.
func (s *Server) mailboxMessagesQuery(w http.ResponseWriter, r *http.Request, p *principal) (models.MessageFilter, models.Page, bool) {
	m, ok := s.mailboxOf(w, r, p)
	if !ok {
		return models.MessageFilter{}, models.Page{}, false
	}
	pg, ok := s.pageParams(w, r)
	return models.MessageFilter{Page: pg, MailboxID: m.ID, LabelID: r.URL.Query().Get("label")}, pg, ok
}
