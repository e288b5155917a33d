package web

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"

	"tidings/models"
	mailsync "tidings/sync"
)

// Mailbox actions by name: what a person asks for, turned into Gmail
// label changes. Labels are named, never given as raw ids.
var actionOps = map[string]struct {
	op          string
	add, remove []string
}{
	"read":    {op: mailsync.OpModify, remove: []string{"UNREAD"}},
	"unread":  {op: mailsync.OpModify, add: []string{"UNREAD"}},
	"star":    {op: mailsync.OpModify, add: []string{"STARRED"}},
	"unstar":  {op: mailsync.OpModify, remove: []string{"STARRED"}},
	"archive": {op: mailsync.OpModify, remove: []string{"INBOX"}},
	"inbox":   {op: mailsync.OpModify, add: []string{"INBOX"}},
	"label":   {op: mailsync.OpModify},
	"unlabel": {op: mailsync.OpModify},
	"trash":   {op: mailsync.OpTrash},
	"untrash": {op: mailsync.OpUntrash},
	"delete":  {op: mailsync.OpDelete},
}

// actionNames lists the accepted action names (for errors and OpenAPI).
const actionNames = "read, unread, star, unstar, archive, inbox, label, unlabel, trash, untrash, delete"

var errUnknownLabel = errors.New("no such label")

// actionSpec resolves an action name (and a label name for label and
// unlabel) to the Gmail operation on gmailIDs.
func (s *Server) actionSpec(ctx context.Context, tenantID, mailboxID int64, action, label string, gmailIDs []string) (mailsync.ActionSpec, error) {
	a, ok := actionOps[action]
	if !ok {
		return mailsync.ActionSpec{}, fmt.Errorf("%w: unknown action %q (one of %s)", mailsync.ErrInvalidSend, action, actionNames)
	}
	sp := mailsync.ActionSpec{Op: a.op, GmailIDs: gmailIDs, Add: a.add, Remove: a.remove}
	if action == "label" || action == "unlabel" {
		id, err := s.labelID(ctx, tenantID, mailboxID, label)
		if err != nil {
			return sp, err
		}
		if action == "label" {
			sp.Add = []string{id}
		} else {
			sp.Remove = []string{id}
		}
	}
	return sp, nil
}

// labelID finds a label of the mailbox by its name (case-insensitive).
func (s *Server) labelID(ctx context.Context, tenantID, mailboxID int64, name string) (string, error) {
	ls, err := s.d.Store.ListLabels(ctx, tenantID, mailboxID)
	if err != nil {
		return "", err
	}
	for _, l := range ls {
		if strings.EqualFold(l.Name, strings.TrimSpace(name)) {
			return l.GmailID, nil
		}
	}
	return "", fmt.Errorf("%w: %w %q", mailsync.ErrInvalidSend, errUnknownLabel, name)
}

type actionIn struct {
	Action     string  `json:"action"`
	Label      string  `json:"label"`
	MessageIDs []int64 `json:"message_ids"`
}

func (s *Server) messageActionAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	m, ok := loadOne(s, w, r, p, s.d.Store.GetMessage)
	if !ok {
		return
	}
	var in actionIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	s.submitAction(w, r, p, m.MailboxID, in, []string{m.GmailID})
}

func (s *Server) batchActionAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	mb, ok := s.mailboxOf(w, r, p)
	if !ok {
		return
	}
	var in actionIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if len(in.MessageIDs) == 0 || len(in.MessageIDs) > 1000 {
		s.invalid(w, r, InvalidParam{Name: "message_ids", Reason: "give 1 to 1000 message ids"})
		return
	}
	gids, err := s.gmailIDsOf(r.Context(), p.TenantID, mb.ID, in.MessageIDs)
	if err != nil {
		s.outboxError(w, r, err)
		return
	}
	s.submitAction(w, r, p, mb.ID, in, gids)
}

// gmailIDsOf maps stored message ids to Gmail ids, all in one mailbox.
func (s *Server) gmailIDsOf(ctx context.Context, tenantID, mailboxID int64, ids []int64) ([]string, error) {
	msgs, err := s.d.Store.MessagesByIDs(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	if len(msgs) != len(ids) {
		return nil, fmt.Errorf("%w: some messages do not exist", mailsync.ErrInvalidSend)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		if m.MailboxID != mailboxID {
			return nil, fmt.Errorf("%w: message %d is in another mailbox", mailsync.ErrInvalidSend, m.ID)
		}
		out[i] = m.GmailID
	}
	return out, nil
}

func (s *Server) submitAction(w http.ResponseWriter, r *http.Request, p *principal, mailboxID int64, in actionIn, gids []string) {
	if s.d.Outbox == nil {
		s.notConfigured(w, r, "Mailbox actions")
		return
	}
	sp, err := s.actionSpec(r.Context(), p.TenantID, mailboxID, in.Action, in.Label, gids)
	if err != nil {
		s.outboxError(w, r, err)
		return
	}
	it, created, err := s.d.Outbox.SubmitAction(r.Context(), p.TenantID, p.User.ID, mailboxID, sp, r.Header.Get("Idempotency-Key"))
	if err != nil {
		s.outboxError(w, r, err)
		return
	}
	s.writeQueued(w, r, it, created)
}

// --- drafts: Gmail drafts, known to the CRM as messages labelled DRAFT ---

// draftsQuery reads GET /api/mailboxes/{id}/drafts: the mailbox's
// messages labelled DRAFT.
func (s *Server) draftsQuery(w http.ResponseWriter, r *http.Request, p *principal) (models.MessageFilter, models.Page, bool) {
	mb, ok := s.mailboxOf(w, r, p)
	if !ok {
		return models.MessageFilter{}, models.Page{}, false
	}
	pg, ok := s.pageParams(w, r)
	return models.MessageFilter{Page: pg, MailboxID: mb.ID, LabelID: "DRAFT"}, pg, ok
}

func (s *Server) createDraftAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	mb, ok := s.outboxMailbox(w, r, p, "Drafts")
	if !ok {
		return
	}
	var in sendIn
	s.readSend(w, r, &in, func(files iter.Seq2[mailsync.Upload, error]) error {
		return s.submitDraft(w, r, p, mb.ID, models.OutboxDraftSave, in.spec(), files, in.CaseID, "")
	})
}

// getDraft loads a message that is a draft; any other message is not
// found, for the draft routes.
func (s *Server) getDraft(ctx context.Context, tenantID, id int64) (*models.Message, error) {
	m, err := s.d.Store.GetMessage(ctx, tenantID, id)
	if err == nil && !hasLabel(m, "DRAFT") {
		err = models.ErrNotFound
	}
	return m, err
}

// draftAPI updates, deletes or sends the draft whose message is {id}.
func (s *Server) draftAPI(kind models.OutboxKind) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		m, ok := loadOne(s, w, r, p, s.getDraft)
		if !ok {
			return
		}
		if s.d.Outbox == nil {
			s.notConfigured(w, r, "Drafts")
			return
		}
		if kind != models.OutboxDraftSave {
			spec := mailsync.SendSpec{DraftGmailID: m.GmailID, Subject: m.Subject}
			if err := s.submitDraft(w, r, p, m.MailboxID, kind, spec, nil, nil, m.RFCMessageID); err != nil {
				s.outboxError(w, r, err)
			}
			return
		}
		var in sendIn
		s.readSend(w, r, &in, func(files iter.Seq2[mailsync.Upload, error]) error {
			spec := in.spec()
			spec.DraftGmailID = m.GmailID
			return s.submitDraft(w, r, p, m.MailboxID, kind, spec, files, in.CaseID, m.RFCMessageID)
		})
	}
}

func hasLabel(m *models.Message, id string) bool {
	for _, l := range m.Labels {
		if l.LabelID == id {
			return true
		}
	}
	return false
}

func (s *Server) submitDraft(w http.ResponseWriter, r *http.Request, p *principal, mailboxID int64, kind models.OutboxKind,
	spec mailsync.SendSpec, files iter.Seq2[mailsync.Upload, error], caseID *int64, rfcID string) error {
	it, created, err := s.d.Outbox.Submit(r.Context(), mailsync.Submission{
		TenantID: p.TenantID, UserID: p.User.ID, MailboxID: mailboxID, Kind: kind, Spec: spec, Files: files,
		IdempotencyKey: r.Header.Get("Idempotency-Key"), CaseID: caseID, RFCMessageID: rfcID,
	})
	if err != nil {
		return err
	}
	s.writeQueued(w, r, it, created)
	return nil
}
