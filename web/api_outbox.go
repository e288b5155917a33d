package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"tidings/mail"
	"tidings/models"
	mailsync "tidings/sync"
)

// Outbox carries out outgoing mail and mailbox actions asynchronously
// (sync.Syncer). Requests return at once with the stored item.
type Outbox interface {
	Submit(ctx context.Context, sub mailsync.Submission) (*models.OutboxItem, bool, error)
	SubmitAction(ctx context.Context, tenantID, userID, mailboxID int64, sp mailsync.ActionSpec, idemKey string) (*models.OutboxItem, bool, error)
	CancelOutbox(ctx context.Context, tenantID, id int64) error
	RetryOutbox(ctx context.Context, tenantID, id int64) (*models.OutboxItem, error)
}

// maxSendBody bounds a compose request: Gmail's message limit plus room
// for multipart framing.
const maxSendBody = mail.MaxSendBytes + 1<<20

func (s *Server) registerOutboxAPI() {
	s.handle("POST", "/api/mailboxes/{id}/outbox", s.api(s.createOutboxAPI))
	s.handle("GET", "/api/outbox", s.api(s.listOutboxAPI))
	s.handle("GET", "/api/outbox/{id}", s.api(s.getOutboxAPI))
	s.handle("POST", "/api/outbox/{id}/cancel", s.api(s.outboxTransitionAPI(true)))
	s.handle("POST", "/api/outbox/{id}/retry", s.api(s.outboxTransitionAPI(false)))
	s.handle("GET", "/api/mailboxes/{id}/drafts", s.api(listPage(s, "messages", s.draftsQuery, s.d.Store.ListMessages, messageSummary)))
	s.handle("POST", "/api/mailboxes/{id}/drafts", s.api(s.createDraftAPI))
	s.handle("PUT", "/api/drafts/{id}", s.api(s.draftAPI(models.OutboxDraftSave)))
	s.handle("DELETE", "/api/drafts/{id}", s.api(s.draftAPI(models.OutboxDraftDelete)))
	s.handle("POST", "/api/drafts/{id}/send", s.api(s.draftAPI(models.OutboxDraftSend)))
	s.handle("POST", "/api/messages/{id}/actions", s.api(s.messageActionAPI))
	s.handle("POST", "/api/mailboxes/{id}/actions", s.api(s.batchActionAPI))
}

// sendIn is the body of a send or draft request.
type sendIn struct {
	To       string     `json:"to"`
	Cc       string     `json:"cc"`
	Bcc      string     `json:"bcc"`
	Subject  string     `json:"subject"`
	Text     string     `json:"text"`
	HTML     string     `json:"html"`
	ReplyTo  int64      `json:"reply_to"`
	ReplyAll bool       `json:"reply_all"`
	Forward  int64      `json:"forward"`
	NoQuote  bool       `json:"no_quote"`
	CaseID   *int64     `json:"case_id"`
	SendAt   *time.Time `json:"send_at"`
	// Undo delays the send by the server's undo window.
	Undo bool `json:"undo"`
	// Draft saves a draft instead of sending.
	Draft bool `json:"draft"`
}

func (in sendIn) spec() mailsync.SendSpec {
	return mailsync.SendSpec{To: in.To, Cc: in.Cc, Bcc: in.Bcc, Subject: in.Subject, Text: in.Text, HTML: in.HTML,
		ReplyTo: in.ReplyTo, ReplyAll: in.ReplyAll, Forward: in.Forward, NoQuote: in.NoQuote}
}

// sendAt is when a send happens: a chosen time (RFC 3339 with its own
// offset; stored in UTC), now plus the undo window when the caller asked
// for one, or at once. The undo window is the UI's default only: a REST
// caller that wants it says "undo": true.
func (s *Server) sendAt(at *time.Time, undo bool) time.Time {
	switch {
	case at != nil:
		return at.UTC()
	case undo:
		return s.d.Now().Add(s.undoWindow())
	}
	return time.Time{}
}

func (s *Server) undoWindow() time.Duration {
	if s.d.UndoWindow > 0 {
		return s.d.UndoWindow
	}
	return mailsync.DefaultUndoWindow
}

type outboxOut struct {
	ID             int64              `json:"id"`
	MailboxID      int64              `json:"mailbox_id"`
	Kind           models.OutboxKind  `json:"kind"`
	State          models.OutboxState `json:"state"`
	Subject        string             `json:"subject"`
	Recipients     string             `json:"recipients"`
	MessageIDHdr   string             `json:"message_id_header,omitempty"`
	GmailMessageID string             `json:"gmail_message_id,omitempty"`
	GmailThreadID  string             `json:"gmail_thread_id,omitempty"`
	MessageID      *int64             `json:"message_id,omitempty"`
	CaseID         *int64             `json:"case_id,omitempty"`
	SendAt         time.Time          `json:"send_at"`
	Attempts       int                `json:"attempts"`
	LastError      string             `json:"last_error,omitempty"`
	Size           int64              `json:"size,omitempty"`
	SentAt         *time.Time         `json:"sent_at,omitempty"`
	CreatedAt      time.Time          `json:"created_at"`
	Links          links              `json:"_links"`
}

func outboxRep(it *models.OutboxItem) outboxOut {
	l := links{"self": lnk("/api/outbox/%d", it.ID), "mailbox": lnk("/api/mailboxes/%d", it.MailboxID)}
	switch it.State {
	case models.OutboxScheduled, models.OutboxQueued:
		l["cancel"] = link{Href: fmt.Sprintf("/api/outbox/%d/cancel", it.ID), Title: "POST to cancel (undo send)"}
	case models.OutboxFailed:
		l["retry"] = link{Href: fmt.Sprintf("/api/outbox/%d/retry", it.ID), Title: "POST to try again"}
	}
	if it.MessageID != nil {
		l["message"] = lnk("/api/messages/%d", *it.MessageID)
	}
	return outboxOut{ID: it.ID, MailboxID: it.MailboxID, Kind: it.Kind, State: it.State, Subject: it.Subject, Recipients: it.Recipients,
		MessageIDHdr: it.RFCMessageID, GmailMessageID: it.GmailMessageID, GmailThreadID: it.GmailThreadID, MessageID: it.MessageID,
		CaseID: it.CaseID, SendAt: it.SendAt, Attempts: it.Attempts, LastError: it.LastError, Size: it.Size, SentAt: it.SentAt,
		CreatedAt: it.CreatedAt, Links: l}
}

// outboxError maps submission errors to problems a client can act on.
func (s *Server) outboxError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, mailsync.ErrInvalidSend):
		s.problem(w, r, Problem{Type: probValidation, Title: "The message cannot be sent.", Status: http.StatusUnprocessableEntity,
			Detail: strings.TrimPrefix(err.Error(), "invalid message: ")})
	case errors.Is(err, mail.ErrTooLarge):
		s.problem(w, r, Problem{Type: probTooLarge, Status: http.StatusRequestEntityTooLarge, Detail: err.Error()})
	case errors.Is(err, mailsync.ErrScopeForDelete):
		s.problem(w, r, Problem{Type: "/api/problems/insufficient-scope", Title: "Gmail access does not allow this.", Status: http.StatusForbidden, Detail: err.Error()})
	case errors.Is(err, models.ErrOutboxState):
		s.problem(w, r, Problem{Type: probConflict, Status: http.StatusConflict, Detail: "the item is not in a state that allows this (sending started, or already done)"})
	default:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.problem(w, r, Problem{Type: probTooLarge, Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the request exceeds %d bytes", mbe.Limit)})
			return
		}
		s.apiError(w, r, err)
	}
}

// readSend reads a send request — JSON, or multipart/form-data with a
// "message" JSON part followed by file parts — and hands it to do. File
// parts stream into the outbox while do runs; they are never buffered
// whole.
func (s *Server) readSend(w http.ResponseWriter, r *http.Request, in *sendIn, do func(files iter.Seq2[mailsync.Upload, error]) error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if s.decodeJSON(w, r, in) {
			if err := do(nil); err != nil {
				s.outboxError(w, r, err)
			}
		}
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSendBody)
	mr, err := r.MultipartReader()
	if err != nil {
		s.invalid(w, r, InvalidParam{Name: "(body)", Reason: err.Error()})
		return
	}
	first, err := mr.NextPart()
	if err != nil || first.FormName() != "message" {
		s.invalid(w, r, InvalidParam{Name: "message", Reason: "the first part must be the message as JSON"})
		return
	}
	dec := json.NewDecoder(io.LimitReader(first, s.d.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		s.invalid(w, r, InvalidParam{Name: "message", Reason: err.Error()})
		return
	}
	if err := do(fileParts(mr)); err != nil {
		s.outboxError(w, r, err)
	}
}

// fileParts yields the file parts of a multipart body in order.
func fileParts(mr *multipart.Reader) iter.Seq2[mailsync.Upload, error] {
	return func(yield func(mailsync.Upload, error) bool) {
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(mailsync.Upload{}, err)
				return
			}
			if p.FileName() == "" {
				continue // empty file inputs and other fields
			}
			ct := p.Header.Get("Content-Type")
			if ct == "" {
				ct = "application/octet-stream"
			}
			if !yield(mailsync.Upload{Filename: p.FileName(), ContentType: ct, Body: p}, nil) {
				return
			}
		}
	}
}

// outboxMailbox is the caller's mailbox {id} for a request that queues
// outbox work; what names the feature in the answer when this process has
// no outbox. It writes the problem itself when it returns false.
func (s *Server) outboxMailbox(w http.ResponseWriter, r *http.Request, p *principal, what string) (*models.Mailbox, bool) {
	mb, ok := s.mailboxOf(w, r, p)
	if !ok {
		return nil, false
	}
	if s.d.Outbox == nil {
		s.notConfigured(w, r, what)
		return nil, false
	}
	return mb, true
}

func (s *Server) createOutboxAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	mb, ok := s.outboxMailbox(w, r, p, "Sending mail")
	if !ok {
		return
	}
	var in sendIn
	s.readSend(w, r, &in, func(files iter.Seq2[mailsync.Upload, error]) error {
		kind := models.OutboxSend
		if in.Draft {
			kind = models.OutboxDraftSave
		}
		it, created, err := s.d.Outbox.Submit(r.Context(), mailsync.Submission{
			TenantID: p.TenantID, UserID: p.User.ID, MailboxID: mb.ID, Kind: kind, Spec: in.spec(), Files: files,
			SendAt: s.sendAt(in.SendAt, in.Undo), IdempotencyKey: r.Header.Get("Idempotency-Key"), CaseID: in.CaseID,
		})
		if err != nil {
			return err
		}
		s.writeQueued(w, r, it, created)
		return nil
	})
}

// writeQueued answers a request that queued outbox work: 202 with the
// item, or 200 when an Idempotency-Key named an item queued before.
func (s *Server) writeQueued(w http.ResponseWriter, r *http.Request, it *models.OutboxItem, created bool) {
	w.Header().Set("Location", fmt.Sprintf("/api/outbox/%d", it.ID))
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
	}
	s.writeHAL(w, r, status, outboxRep(it))
}

func (s *Server) listOutboxAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	pg, ok := s.pageParams(w, r)
	if !ok {
		return
	}
	f := models.OutboxFilter{Page: pg}
	q := r.URL.Query()
	if v := q.Get("state"); v != "" {
		f.States = []models.OutboxState{models.OutboxState(v)}
	}
	if id, err := queryID(q, "mailbox_id"); err != nil {
		s.invalid(w, r, InvalidParam{Name: "mailbox_id", Reason: "must be an id"})
		return
	} else if id != 0 {
		f.MailboxID = id
	}
	items, total, err := s.d.Store.ListOutboxItems(r.Context(), p.TenantID, f)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]outboxOut, len(items))
	for i := range items {
		out[i] = outboxRep(&items[i])
	}
	s.writeHAL(w, r, http.StatusOK, newCollection(r, "outbox", out, len(out), total, pg))
}

func (s *Server) getOutboxAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	if it, ok := loadOne(s, w, r, p, s.d.Store.GetOutboxItem); ok {
		s.writeHAL(w, r, http.StatusOK, outboxRep(it))
	}
}

func (s *Server) outboxTransitionAPI(cancel bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		it, ok := loadOne(s, w, r, p, s.d.Store.GetOutboxItem)
		if !ok {
			return
		}
		// These requests take no body; one that has one is a mistake, and
		// nothing is done on a mistake.
		if b, _ := io.ReadAll(io.LimitReader(r.Body, 64)); strings.TrimSpace(string(b)) != "" && strings.TrimSpace(string(b)) != "{}" {
			s.invalid(w, r, InvalidParam{Name: "(body)", Reason: "this request takes no body"})
			return
		}
		if s.d.Outbox == nil {
			s.notConfigured(w, r, "Sending mail")
			return
		}
		var err error
		if cancel {
			err = s.d.Outbox.CancelOutbox(r.Context(), p.TenantID, it.ID)
		} else {
			_, err = s.d.Outbox.RetryOutbox(r.Context(), p.TenantID, it.ID)
		}
		if err != nil {
			s.outboxError(w, r, err)
			return
		}
		s.getOutboxAPI(w, r, p)
	}
}
