package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"iter"
	"mime/multipart"
	"net/http"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	"tidings/mail"
	"tidings/models"
	mailsync "tidings/sync"
)

// Compose, outbox, drafts and message actions in the UI. Every action is
// an outbox item carried out by a worker; the pages only store and show.

// HasOutbox reports whether mail can be sent and acted on.
func (s *Server) HasOutbox() bool { return s.d.Outbox != nil }

// outboundFuncs are the template helpers of the outbound partials.
var outboundFuncs = template.FuncMap{
	"actionOf": func(m *models.Message, action, label string) actionButton {
		return actionButton{ID: m.ID, Action: action, Label: label}
	},
	"deref2": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
}

type actionButton struct {
	ID            int64
	Action, Label string
}

// actionWait is how long a UI action waits for its worker, so the page it
// returns to already shows the change (the REST API answers 202 at once).
const actionWait = 2 * time.Second

func (s *Server) registerComposeUI() {
	s.handle("GET", "/compose", s.page(s.composePage))
	s.handle("POST", "/compose", s.pageWithLimit(maxSendBody, s.composeSubmit))
	s.handle("GET", "/outbox", s.page(s.outboxPage))
	s.handle("POST", "/outbox/{id}/cancel", s.page(s.outboxCancelUI))
	s.handle("POST", "/outbox/{id}/retry", s.page(s.outboxRetryUI))
	s.handle("GET", "/mailboxes/{id}/drafts", s.page(s.draftsPage))
	s.handle("POST", "/drafts/{id}/send", s.page(s.draftSendUI))
	s.handle("GET", "/drafts/{id}/delete", s.page(s.draftDeleteConfirm))
	s.handle("POST", "/drafts/{id}/delete", s.page(s.draftDeleteUI))
	s.handle("POST", "/messages/{id}/action", s.page(s.messageActionUI))
	s.handle("GET", "/messages/{id}/delete", s.page(s.messageDeleteConfirm))
}

type composeData struct {
	Heading                    string
	Mailboxes                  []models.Mailbox
	MailboxID                  int64
	To, Cc, Bcc, Subject, Text string
	ReplyTo, Forward, Draft    int64
	All                        bool
	CaseID                     int64
	Original                   *models.Message
	DraftAttachments           []models.Attachment
	Contacts                   []string
	MaxBytes                   int
}

func queryInt(r *http.Request, name string) int64 {
	n, _ := strconv.ParseInt(r.FormValue(name), 10, 64)
	return max(n, 0)
}

func (s *Server) composePage(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.d.Outbox == nil {
		return errNotConfigured
	}
	d := composeData{Heading: "New message", ReplyTo: queryInt(r, "reply_to"), Forward: queryInt(r, "forward"),
		Draft: queryInt(r, "draft"), CaseID: queryInt(r, "case_id"), All: r.FormValue("all") == "1", MailboxID: queryInt(r, "mailbox")}
	if err := s.prefill(r.Context(), p, &d); err != nil {
		return err
	}
	return s.renderCompose(w, r, p, http.StatusOK, "", d)
}

// prefill fills the form from the answered, forwarded or edited message,
// using the same reply rules the worker applies.
func (s *Server) prefill(ctx context.Context, p *principal, d *composeData) error {
	ref := max(d.ReplyTo, d.Forward, d.Draft)
	if ref == 0 {
		return nil
	}
	m, err := s.d.Store.GetMessage(ctx, p.TenantID, ref)
	if err != nil {
		return err
	}
	d.MailboxID = m.MailboxID
	mb, err := s.d.Store.GetMailbox(ctx, p.TenantID, m.MailboxID)
	if err != nil {
		return err
	}
	switch {
	case d.Draft != 0:
		if !hasLabel(m, "DRAFT") {
			return models.ErrNotFound
		}
		d.Heading, d.To, d.Cc, d.Bcc, d.Subject, d.Text = "Edit draft", strings.Join(m.To, ", "), strings.Join(m.Cc, ", "), strings.Join(m.Bcc, ", "), m.Subject, m.Text
		d.DraftAttachments = m.Attachments
	case d.Forward != 0:
		d.Heading, d.Subject, d.Original = "Forward", mail.ForwardSubject(m.Subject), m
	default:
		o, err := mailsync.OriginalOf(ctx, s.d.Store, p.TenantID, m)
		if err != nil {
			return err
		}
		c := &mail.Composition{}
		c.Reply(o, []string{mb.Email}, d.All)
		d.Heading, d.Subject, d.Original = "Reply", c.Subject, m
		if d.All {
			d.Heading = "Reply all"
		}
		d.To, d.Cc = formatAddrs(c.To), formatAddrs(c.Cc)
	}
	return nil
}

func formatAddrs(as []netmail.Address) string {
	s := make([]string, len(as))
	for i := range as {
		s[i] = as[i].String()
	}
	return strings.Join(s, ", ")
}

func (s *Server) renderCompose(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string, d composeData) error {
	var err error
	if d.Mailboxes, err = s.d.Store.ListMailboxes(r.Context(), p.TenantID); err != nil {
		return err
	}
	contacts, _, err := s.d.Store.ListContacts(r.Context(), p.TenantID, models.Page{Limit: 500})
	if err != nil {
		return err
	}
	for _, c := range contacts {
		for _, e := range c.Emails {
			a := netmail.Address{Name: strings.TrimSpace(c.FirstName + " " + c.LastName), Address: e.Address}
			d.Contacts = append(d.Contacts, a.String())
		}
	}
	d.MaxBytes = mail.MaxSendBytes
	if d.Original == nil && max(d.ReplyTo, d.Forward) != 0 {
		d.Original, _ = s.d.Store.GetMessage(r.Context(), p.TenantID, max(d.ReplyTo, d.Forward))
	}
	s.render(w, r, status, "compose", view{Title: d.Heading, P: p, Error: errMsg, Data: d})
	return nil
}

// composeSubmit stores the message in the outbox: a send waits the undo
// window (or until "send later"), a draft goes to Gmail's drafts.
func (s *Server) composeSubmit(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.d.Outbox == nil {
		return errNotConfigured
	}
	d := composeData{Heading: "New message", MailboxID: queryInt(r, "mailbox_id"), ReplyTo: queryInt(r, "reply_to"), Forward: queryInt(r, "forward"),
		Draft: queryInt(r, "draft"), CaseID: queryInt(r, "case_id"), All: r.FormValue("all") == "1",
		To: r.FormValue("to"), Cc: r.FormValue("cc"), Bcc: r.FormValue("bcc"), Subject: r.FormValue("subject"), Text: r.FormValue("text")}
	sub := mailsync.Submission{TenantID: p.TenantID, UserID: p.User.ID, MailboxID: d.MailboxID, Kind: models.OutboxSend,
		Spec:  mailsync.SendSpec{To: d.To, Cc: d.Cc, Bcc: d.Bcc, Subject: d.Subject, Text: d.Text, ReplyTo: d.ReplyTo, ReplyAll: d.All, Forward: d.Forward},
		Files: formFiles(r.MultipartForm)}
	if d.CaseID != 0 {
		sub.CaseID = &d.CaseID
	}
	draft := r.FormValue("do") == "draft"
	if d.Draft != 0 {
		m, err := s.d.Store.GetMessage(r.Context(), p.TenantID, d.Draft)
		if err != nil || !hasLabel(m, "DRAFT") {
			return s.renderCompose(w, r, p, http.StatusConflict, "This draft no longer exists (sent or deleted in Gmail).", d)
		}
		sub.MailboxID, sub.RFCMessageID = m.MailboxID, m.RFCMessageID
		sub.Spec.DraftGmailID, sub.Spec.KeepAttachmentsFrom, sub.Spec.WithContent = m.GmailID, m.ID, true
		sub.Kind = models.OutboxDraftSend
	}
	if draft {
		sub.Kind = models.OutboxDraftSave
	} else {
		at, err := s.parseSendAt(r.FormValue("send_at"), p.User.Location())
		if err != nil {
			return s.renderCompose(w, r, p, http.StatusUnprocessableEntity, err.Error(), d)
		}
		sub.SendAt = at
	}
	it, _, err := s.d.Outbox.Submit(r.Context(), sub)
	if err != nil {
		msg := ""
		switch {
		case errors.Is(err, mailsync.ErrInvalidSend):
			msg = strings.TrimPrefix(err.Error(), "invalid message: ")
		case errors.Is(err, mail.ErrTooLarge):
			msg = "The attachments are too large: Gmail accepts at most 35 MB per message."
		case errors.Is(err, models.ErrNotFound):
			msg = "Choose a mailbox to send from."
		default:
			return err
		}
		return s.renderCompose(w, r, p, http.StatusUnprocessableEntity, msg, d)
	}
	if draft {
		s.waitOutbox(r.Context(), p.TenantID, it.ID)
		redirect(w, r, fmt.Sprintf("/mailboxes/%d/drafts", it.MailboxID))
		return nil
	}
	redirect(w, r, fmt.Sprintf("/outbox?undo=%d", it.ID))
	return nil
}

// parseSendAt reads "send later" (datetime-local: a wall-clock time
// without zone, which the form means in the user's time zone loc, as every
// date the UI shows); empty means now plus the undo window. A wall time
// that a DST change skips or repeats resolves as time.Date does.
func (s *Server) parseSendAt(v string, loc *time.Location) (time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return s.d.Now().Add(s.undoWindow()), nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", v, loc)
	if err != nil {
		return time.Time{}, errors.New("Send later: give a date and time")
	}
	if t.Before(s.d.Now().Add(-time.Minute)) {
		return time.Time{}, errors.New("Send later: that time has passed")
	}
	return t.UTC(), nil // stored times are UTC (SQLite compares them as text)
}

// formFiles yields the uploaded files of the compose form in order.
func formFiles(f *multipart.Form) iter.Seq2[mailsync.Upload, error] {
	return func(yield func(mailsync.Upload, error) bool) {
		if f == nil {
			return
		}
		for _, fh := range f.File["files"] {
			if fh.Filename == "" {
				continue
			}
			rc, err := fh.Open()
			if err != nil {
				yield(mailsync.Upload{}, err)
				return
			}
			ct := fh.Header.Get("Content-Type")
			if ct == "" {
				ct = "application/octet-stream"
			}
			ok := yield(mailsync.Upload{Filename: fh.Filename, ContentType: ct, Body: rc}, nil)
			rc.Close()
			if !ok {
				return
			}
		}
	}
}

// waitOutbox waits a little for an item's worker, so the next page shows
// its effect; the item is carried out either way.
func (s *Server) waitOutbox(ctx context.Context, tenantID, id int64) {
	deadline := time.Now().Add(actionWait)
	for time.Now().Before(deadline) {
		it, err := s.d.Store.GetOutboxItem(ctx, tenantID, id)
		if err != nil || it.State.Done() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type outboxData struct {
	Items   []models.OutboxItem
	Undo    *models.OutboxItem
	State   string
	Filters []string
	Pager   pager
}

func (s *Server) outboxPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	const limit = 50
	d := outboxData{State: r.URL.Query().Get("state"), Filters: []string{"", "scheduled", "sending", "sent", "failed", "cancelled"}}
	f := models.OutboxFilter{Page: models.Page{Limit: limit, Offset: offsetParam(r)}}
	if d.State != "" {
		f.States = []models.OutboxState{models.OutboxState(d.State)}
	}
	items, total, err := s.d.Store.ListOutboxItems(r.Context(), p.TenantID, f)
	if err != nil {
		return err
	}
	d.Items, d.Pager = items, newPager(r, limit, total)
	if id := queryInt(r, "undo"); id != 0 {
		if it, err := s.d.Store.GetOutboxItem(r.Context(), p.TenantID, id); err == nil {
			d.Undo = it
		}
	}
	s.render(w, r, http.StatusOK, "outbox", view{Title: "Outbox", P: p, Data: d})
	return nil
}

func (s *Server) outboxCancelUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok || s.d.Outbox == nil {
		return models.ErrNotFound
	}
	if err := s.d.Outbox.CancelOutbox(r.Context(), p.TenantID, id); err != nil && !errors.Is(err, models.ErrOutboxState) {
		return err
	}
	redirect(w, r, fmt.Sprintf("/outbox?undo=%d", id))
	return nil
}

func (s *Server) outboxRetryUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok || s.d.Outbox == nil {
		return models.ErrNotFound
	}
	if _, err := s.d.Outbox.RetryOutbox(r.Context(), p.TenantID, id); err != nil && !errors.Is(err, models.ErrOutboxState) {
		return err
	}
	redirect(w, r, "/outbox")
	return nil
}

type draftsData struct {
	Mailbox *models.Mailbox
	Drafts  []models.Message
}

func (s *Server) draftsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	mb, err := loadFromPath(r, p, s.d.Store.GetMailbox)
	if err != nil {
		return err
	}
	msgs, _, err := s.d.Store.ListMessages(r.Context(), p.TenantID, models.MessageFilter{MailboxID: mb.ID, LabelID: "DRAFT", Page: models.Page{Limit: 200}})
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "drafts", view{Title: "Drafts", P: p, Data: draftsData{Mailbox: mb, Drafts: msgs}})
	return nil
}

func (s *Server) draftOf(r *http.Request, p *principal) (*models.Message, error) {
	if s.d.Outbox == nil {
		return nil, models.ErrNotFound
	}
	return loadFromPath(r, p, s.getDraft)
}

func (s *Server) draftSendUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := s.draftOf(r, p)
	if err != nil {
		return err
	}
	it, _, err := s.d.Outbox.Submit(r.Context(), mailsync.Submission{TenantID: p.TenantID, UserID: p.User.ID, MailboxID: m.MailboxID,
		Kind: models.OutboxDraftSend, Spec: mailsync.SendSpec{DraftGmailID: m.GmailID, Subject: m.Subject, To: strings.Join(m.To, ", ")},
		RFCMessageID: m.RFCMessageID, SendAt: s.d.Now().Add(s.undoWindow())})
	if err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/outbox?undo=%d", it.ID))
	return nil
}

type confirmData struct {
	Question, Detail, Button, Action, Back string
	Fields                                 map[string]string
	// Blocked, when set, says why the action cannot be done; the page
	// then offers no button.
	Blocked string
}

func (s *Server) draftDeleteConfirm(w http.ResponseWriter, r *http.Request, p *principal) error {
	// Only a question; the POST checks that the message is a draft.
	m, err := loadFromPath(r, p, s.d.Store.GetMessage)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "confirm", view{Title: "Delete draft", P: p, Data: confirmData{
		Question: "Delete this draft?", Detail: fmt.Sprintf("“%s” is deleted in Gmail too.", m.Subject), Button: "Delete draft",
		Action: fmt.Sprintf("/drafts/%d/delete", m.ID), Back: fmt.Sprintf("/mailboxes/%d/drafts", m.MailboxID)}})
	return nil
}

func (s *Server) draftDeleteUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := s.draftOf(r, p)
	if err != nil {
		return err
	}
	it, _, err := s.d.Outbox.Submit(r.Context(), mailsync.Submission{TenantID: p.TenantID, UserID: p.User.ID, MailboxID: m.MailboxID,
		Kind: models.OutboxDraftDelete, Spec: mailsync.SendSpec{DraftGmailID: m.GmailID, Subject: m.Subject}})
	if err != nil {
		return err
	}
	s.waitOutbox(r.Context(), p.TenantID, it.ID)
	redirect(w, r, fmt.Sprintf("/mailboxes/%d/drafts", m.MailboxID))
	return nil
}

func (s *Server) messageDeleteConfirm(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := loadFromPath(r, p, s.d.Store.GetMessage)
	if err != nil {
		return err
	}
	mb, err := s.d.Store.GetMailbox(r.Context(), p.TenantID, m.MailboxID)
	if err != nil {
		return err
	}
	d := confirmData{
		Question: "Delete this message forever?", Detail: fmt.Sprintf("“%s” is deleted from Gmail permanently; it cannot be restored. Move to Trash keeps it for 30 days.", m.Subject),
		Button: "Delete forever", Action: fmt.Sprintf("/messages/%d/action", m.ID), Back: fmt.Sprintf("/messages/%d", m.ID),
		Fields: map[string]string{"action": "delete"}}
	if !mailsync.CanDeletePermanently(mb.Scopes) {
		// Say so before the user confirms: the grant decides, and
		// only connecting again with the full scope changes it.
		d.Blocked = fmt.Sprintf("Not possible for %s: %v. To allow it, an administrator sets TIDINGS_GMAIL_FULL_ACCESS=true and the mailbox is connected again.", mb.Email, mailsync.ErrScopeForDelete)
	}
	s.render(w, r, http.StatusOK, "confirm", view{Title: "Delete forever", P: p, Data: d})
	return nil
}

// messageActionUI applies one action to a message (toggle buttons);
// permanent delete needs the confirmation step.
func (s *Server) messageActionUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.d.Outbox == nil {
		return models.ErrNotFound
	}
	m, err := loadFromPath(r, p, s.d.Store.GetMessage)
	if err != nil {
		return err
	}
	action := r.PostFormValue("action")
	if action == "delete" && r.PostFormValue("confirm") != "1" {
		redirect(w, r, fmt.Sprintf("/messages/%d/delete", m.ID))
		return nil
	}
	sp, err := s.actionSpec(r.Context(), p.TenantID, m.MailboxID, action, r.PostFormValue("label"), []string{m.GmailID})
	var it *models.OutboxItem
	if err == nil {
		it, _, err = s.d.Outbox.SubmitAction(r.Context(), p.TenantID, p.User.ID, m.MailboxID, sp, "")
	}
	switch {
	case errors.Is(err, mailsync.ErrScopeForDelete), errors.Is(err, mailsync.ErrInvalidSend):
		s.render(w, r, http.StatusUnprocessableEntity, "error", view{P: p, Title: "Not done", Data: strings.TrimPrefix(err.Error(), "invalid message: ")})
		return nil
	case err != nil:
		return err
	}
	s.waitOutbox(r.Context(), p.TenantID, it.ID)
	if action == "delete" {
		redirect(w, r, fmt.Sprintf("/mailboxes/%d", m.MailboxID))
		return nil
	}
	redirect(w, r, fmt.Sprintf("/messages/%d", m.ID))
	return nil
}
