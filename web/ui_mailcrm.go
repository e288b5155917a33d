package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"strings"

	"tidings/models"
)

// Mail into the CRM: cases created from a message or a conversation with
// subject, contact and account filled in, whole conversations linked to a
// case, and the case forms' type-ahead contact field.
func (s *Server) linkThreadUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := loadFromPath(r, p, s.d.Store.GetThread)
	if err != nil {
		return err
	}
	cid, err := formID(r, "case_id")
	if err != nil || cid == nil {
		return models.ErrNotFound
	}
	n, err := s.d.Store.LinkThread(r.Context(), p.TenantID, *cid, t)
	if err != nil {
		return err
	}
	setFlash(w, fmt.Sprintf("Linked %s of this conversation to the case.", plural(n, "message")))
	redirect(w, r, "/threads/"+itoa(t.ID))
	return nil
}

// caseDraft is the "new case" form prefilled from a message or thread.
type caseDraft struct {
	Subject     string
	Description string
	MessageID   int64
	ThreadID    int64
	Contact     *models.Contact
	Account     *models.Account
	Accounts    []models.Account
	Prios       []models.CasePriority
}

// draftFromMail fills a case from a message: its subject (without Re:/Fwd:),
// the correspondent's contact (the sender, or the first recipient with a
// contact when the mailbox owner sent it) and that contact's account, or
// the account owning the correspondent's domain.
func (s *Server) draftFromMail(r *http.Request, p *principal, m *models.Message) (caseDraft, error) {
	d := caseDraft{Subject: baseSubject(m.Subject), MessageID: m.ID, Description: m.Snippet}
	mb, err := s.d.Store.GetMailbox(r.Context(), p.TenantID, m.MailboxID)
	if err != nil {
		return d, err
	}
	headers := append([]string{m.From}, append(append([]string{}, m.To...), m.Cc...)...)
	pp, err := s.resolvePeople(r, p, headers)
	if err != nil {
		return d, err
	}
	for _, ps := range pp.ofAll(headers) {
		if ps.Address == models.NormalizeAddress(mb.Email) {
			continue
		}
		if ps.Contact != nil && d.Contact == nil {
			d.Contact = ps.Contact
		}
		if ps.Account != nil && d.Account == nil {
			d.Account = ps.Account
		}
	}
	if d.Contact != nil && d.Contact.AccountID != nil {
		if a, err := s.d.Store.GetAccount(r.Context(), p.TenantID, *d.Contact.AccountID); err == nil {
			d.Account = a
		}
	}
	return d, nil
}

var replyPrefix = regexp.MustCompile(`(?i)^\s*((re|fwd?|aw|wg|sv|vs|tr)\s*(\[\d+\])?\s*:\s*)+`)

func baseSubject(s string) string {
	if s = strings.TrimSpace(replyPrefix.ReplaceAllString(s, "")); s == "" {
		return "(no subject)"
	}
	return s
}

func (s *Server) newCaseFromMail(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := r.URL.Query()
	var m *models.Message
	var threadID int64
	switch {
	case q.Get("thread") != "":
		t, err := s.d.Store.GetThread(r.Context(), p.TenantID, parseID(q.Get("thread")))
		if err != nil {
			return err
		}
		msgs, err := s.d.Store.ThreadMessages(r.Context(), p.TenantID, t)
		if err != nil || len(msgs) == 0 {
			return models.ErrNotFound
		}
		m, threadID = &msgs[0], t.ID
	default:
		var err error
		if m, err = s.d.Store.GetMessage(r.Context(), p.TenantID, parseID(q.Get("message"))); err != nil {
			return err
		}
	}
	d, err := s.draftFromMail(r, p, m)
	if err != nil {
		return err
	}
	if threadID != 0 {
		d.MessageID, d.ThreadID = 0, threadID
	}
	if d.Accounts, _, err = s.d.Store.ListAccounts(r.Context(), p.TenantID, models.Page{Limit: 500}); err != nil {
		return err
	}
	d.Prios = []models.CasePriority{models.PriorityLow, models.PriorityNormal, models.PriorityHigh, models.PriorityUrgent}
	s.render(w, r, http.StatusOK, "case_new", view{Title: "New case from email", P: p, Data: d})
	return nil
}

func parseID(v string) int64 {
	var id int64
	if _, err := fmt.Sscan(v, &id); err != nil || id <= 0 {
		return 0
	}
	return id
}

// createCaseFromMail creates the case and links the message, or every
// message of the thread, to it.
func (s *Server) createCaseFromMail(w http.ResponseWriter, r *http.Request, p *principal) error {
	c := &models.Case{Subject: strings.TrimSpace(r.PostFormValue("subject")), Description: r.PostFormValue("description"),
		Priority: models.CasePriority(r.PostFormValue("priority"))}
	var err error
	if c.AccountID, err = formID(r, "account_id"); err != nil {
		return models.ErrNotFound
	}
	if c.ContactID, err = formID(r, "contact_id"); err != nil {
		return models.ErrNotFound
	}
	if c.Subject == "" {
		c.Subject = "(no subject)"
	}
	var thread *models.Thread
	var msgID int64
	if tid := parseID(r.PostFormValue("thread_id")); tid != 0 {
		if thread, err = s.d.Store.GetThread(r.Context(), p.TenantID, tid); err != nil {
			return err
		}
	} else if msgID = parseID(r.PostFormValue("message_id")); msgID != 0 {
		if _, err := s.d.Store.GetMessage(r.Context(), p.TenantID, msgID); err != nil {
			return err
		}
	}
	if err := s.d.Store.CreateCase(r.Context(), p.TenantID, c); err != nil {
		if msg, ok := userMessage(err); ok {
			s.render(w, r, http.StatusUnprocessableEntity, "error", view{P: p, Title: "The case was not created", Data: msg})
			return nil
		}
		return err
	}
	switch {
	case thread != nil:
		n, err := s.d.Store.LinkThread(r.Context(), p.TenantID, c.ID, thread)
		if err != nil {
			return err
		}
		setFlash(w, fmt.Sprintf("Case created with %s of the conversation.", plural(n, "message")))
	case msgID != 0:
		if err := s.d.Store.LinkMessage(r.Context(), p.TenantID, c.ID, msgID); err != nil {
			return err
		}
		setFlash(w, "Case created from the message.")
	default:
		setFlash(w, "Case created.")
	}
	redirect(w, r, "/cases/"+itoa(c.ID))
	return nil
}

// contactAccountNames names the accounts of listed contacts (the contact
// list's account column).
func (s *Server) contactAccountNames(r *http.Request, p *principal, cs []models.Contact) (map[int64]string, error) {
	var ids []int64
	for _, c := range cs {
		if c.AccountID != nil {
			ids = append(ids, *c.AccountID)
		}
	}
	return s.d.Store.AccountNames(r.Context(), p.TenantID, ids)
}

// contactField turns the case forms' type-ahead contact field ("Name
// <address>" or "Name (#id)", as the datalist offers them, or just an
// address) into contact_id for the form handler. An entry that names no
// contact of the tenant becomes an invalid id, which the form reports.
func (s *Server) contactField(h pageHandler) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := r.ParseForm(); err != nil {
			return err
		}
		if _, ok := r.PostForm["contact"]; !ok {
			return h(w, r, p)
		}
		v := strings.TrimSpace(r.PostForm.Get("contact"))
		id := ""
		if v != "" {
			id = "invalid"
			if c, err := s.contactByRef(r, p, v); err == nil {
				id = itoa(c.ID)
			} else if !errors.Is(err, models.ErrNotFound) {
				return err
			}
		}
		r.PostForm.Set("contact_id", id)
		return h(w, r, p)
	}
}

var contactIDRef = regexp.MustCompile(`\(#(\d+)\)\s*$`)

func (s *Server) contactByRef(r *http.Request, p *principal, v string) (*models.Contact, error) {
	if m := contactIDRef.FindStringSubmatch(v); m != nil {
		return s.d.Store.GetContact(r.Context(), p.TenantID, parseID(m[1]))
	}
	addr := v
	if a, err := mail.ParseAddress(v); err == nil {
		addr = a.Address
	} else if i := strings.LastIndex(v, "<"); i >= 0 {
		addr = strings.TrimSuffix(v[i+1:], ">")
	}
	return s.d.Store.ContactByEmail(r.Context(), p.TenantID, addr)
}
