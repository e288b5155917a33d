package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"tidings/models"
)

func (s *Server) registerCRMUI() {
	s.handle("GET", "/{$}", s.page(s.dashboard))
	s.handle("GET", "/accounts", s.page(s.accountsPage))
	s.handle("POST", "/accounts", s.page(createUI(s, accountFromForm, s.d.Store.CreateAccount, s.renderAccounts, func(v *models.Account) int64 { return v.ID }, "/accounts/", "")))
	s.handle("GET", "/accounts/{id}", s.page(s.accountPage))
	s.handle("POST", "/accounts/{id}", s.page(s.accountUpdateUI))
	s.handle("POST", "/accounts/{id}/delete", s.page(deleteUI(s, s.d.Store.DeleteAccount, "/accounts")))
	s.handle("GET", "/contacts", s.page(s.contactsPage))
	s.handle("POST", "/contacts", s.page(createUI(s, contactFromForm, s.d.Store.CreateContact, s.renderContacts, func(v *models.Contact) int64 { return v.ID }, "/contacts/", "That account does not exist.")))
	s.handle("GET", "/contacts/{id}", s.page(s.contactPage))
	s.handle("POST", "/contacts/{id}", s.page(s.contactUpdateUI))
	s.handle("POST", "/contacts/{id}/delete", s.page(deleteUI(s, s.d.Store.DeleteContact, "/contacts")))
	s.handle("GET", "/cases", s.page(s.casesPage))
	s.handle("POST", "/cases", s.page(createUI(s, caseFromForm, s.d.Store.CreateCase, s.renderCases, func(v *models.Case) int64 { return v.ID }, "/cases/", "A chosen account, contact or assignee does not exist.")))
	s.handle("GET", "/cases/{id}", s.page(s.casePage))
	s.handle("POST", "/cases/{id}", s.page(s.caseUpdateUI))
	s.handle("POST", "/cases/{id}/delete", s.page(deleteUI(s, s.d.Store.DeleteCase, "/cases")))
	s.handle("POST", "/cases/{id}/messages/{messageId}/unlink", s.page(s.caseUnlinkUI))
}

const uiPage = 25

// Accounts.

type accountsData struct {
	Items []models.Account
	Q     string
	Pager pager
}

func (s *Server) accountsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderAccounts(w, r, p, http.StatusOK, "")
}

func (s *Server) renderAccounts(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string) error {
	q := r.URL.Query().Get("q")
	items, total, err := s.d.Store.ListAccounts(r.Context(), p.TenantID, models.Page{Limit: uiPage, Offset: offsetParam(r), Query: q})
	if err != nil {
		return err
	}
	s.render(w, r, status, "accounts", view{Title: "Accounts", P: p, Error: errMsg, Form: r.PostForm,
		Data: accountsData{Items: items, Q: q, Pager: newPager(r, uiPage, total)}})
	return nil
}

// accountFromForm fills an account from the form; it returns a message
// for the user when the input is not acceptable.
func accountFromForm(r *http.Request, a *models.Account) string {
	a.Name = strings.TrimSpace(r.PostFormValue("name"))
	a.Website = strings.TrimSpace(r.PostFormValue("website"))
	a.Domains = nil
	for _, d := range strings.FieldsFunc(r.PostFormValue("domains"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		// The store validates (models.Account.Validate), for UI and API alike.
		a.Domains = append(a.Domains, models.AccountDomain{Domain: d})
	}
	if a.Name == "" {
		return "Enter the account's name."
	}
	return ""
}

func userMessage(err error) (string, bool) {
	if v, ok := models.AsValidation(err); ok {
		return validationMessage(v), true
	}
	if errors.Is(err, models.ErrConflict) {
		return strings.TrimPrefix(conflictDetail(err), "models: "), true
	}
	if errors.Is(err, models.ErrNotFound) {
		return "", false
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "models: ") && !strings.Contains(msg, ": models: ") && !strings.Contains(msg, "sql") {
		return strings.TrimPrefix(msg, "models: "), true
	}
	return "", false
}

type accountData struct {
	Account  *models.Account
	Contacts []models.Contact
	Cases    []models.Case
	Messages []models.Message
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderAccount(w, r, p, http.StatusOK, "", nil)
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string, edited *models.Account) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	a, err := s.d.Store.GetAccount(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	d := accountData{Account: a}
	if edited != nil {
		d.Account = edited
	}
	if d.Contacts, err = s.d.Store.ContactsOfAccount(r.Context(), p.TenantID, id); err != nil {
		return err
	}
	if d.Cases, _, err = s.d.Store.ListCases(r.Context(), p.TenantID, models.CaseFilter{AccountID: id, Page: models.Page{Limit: 100}}); err != nil {
		return err
	}
	if d.Messages, _, err = s.d.Store.ListMessages(r.Context(), p.TenantID, models.MessageFilter{AccountID: id, Page: models.Page{Limit: 50}}); err != nil {
		return err
	}
	s.render(w, r, status, "account", view{Title: a.Name, P: p, Error: errMsg, Data: d})
	return nil
}

func (s *Server) accountUpdateUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	a, err := s.d.Store.GetAccount(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	if msg := accountFromForm(r, a); msg != "" {
		return s.renderAccount(w, r, p, http.StatusUnprocessableEntity, msg, a)
	}
	if err := s.d.Store.UpdateAccount(r.Context(), p.TenantID, a); err != nil {
		if msg, ok := userMessage(err); ok {
			return s.renderAccount(w, r, p, http.StatusUnprocessableEntity, msg, a)
		}
		return err
	}
	redirect(w, r, "/accounts/"+itoa(a.ID))
	return nil
}

// Contacts.

type contactsData struct {
	Items    []models.Contact
	Accounts []models.Account
	Q        string
	Pager    pager
}

func (s *Server) contactsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderContacts(w, r, p, http.StatusOK, "")
}

func (s *Server) renderContacts(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string) error {
	q := r.URL.Query().Get("q")
	items, total, err := s.d.Store.ListContacts(r.Context(), p.TenantID, models.Page{Limit: uiPage, Offset: offsetParam(r), Query: q})
	if err != nil {
		return err
	}
	accts, _, err := s.d.Store.ListAccounts(r.Context(), p.TenantID, models.Page{Limit: 500})
	if err != nil {
		return err
	}
	s.render(w, r, status, "contacts", view{Title: "Contacts", P: p, Error: errMsg, Form: r.PostForm,
		Data: contactsData{Items: items, Accounts: accts, Q: q, Pager: newPager(r, uiPage, total)}})
	return nil
}

func contactFromForm(r *http.Request, c *models.Contact) string {
	c.FirstName = strings.TrimSpace(r.PostFormValue("first_name"))
	c.LastName = strings.TrimSpace(r.PostFormValue("last_name"))
	c.Emails = nil
	for _, e := range strings.FieldsFunc(r.PostFormValue("emails"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		// The store validates (models.Contact.Validate), for UI and API alike.
		c.Emails = append(c.Emails, models.ContactEmail{Address: e})
	}
	id, err := formID(r, "account_id")
	if err != nil {
		return "Choose an account from the list."
	}
	c.AccountID = id
	if c.FirstName == "" && c.LastName == "" && len(c.Emails) == 0 {
		return "Enter a name or an email address."
	}
	return ""
}

type contactData struct {
	Contact  *models.Contact
	Account  *models.Account
	Accounts []models.Account
	Cases    []models.Case
	Messages []models.Message
}

func (s *Server) contactPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderContact(w, r, p, http.StatusOK, "", nil)
}

func (s *Server) renderContact(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string, edited *models.Contact) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	c, err := s.d.Store.GetContact(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	d := contactData{Contact: c}
	if edited != nil {
		d.Contact = edited
	}
	if c.AccountID != nil {
		if d.Account, err = s.d.Store.GetAccount(r.Context(), p.TenantID, *c.AccountID); err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	if d.Accounts, _, err = s.d.Store.ListAccounts(r.Context(), p.TenantID, models.Page{Limit: 500}); err != nil {
		return err
	}
	if d.Cases, _, err = s.d.Store.ListCases(r.Context(), p.TenantID, models.CaseFilter{ContactID: id, Page: models.Page{Limit: 100}}); err != nil {
		return err
	}
	if d.Messages, _, err = s.d.Store.ListMessages(r.Context(), p.TenantID, models.MessageFilter{ContactID: id, Page: models.Page{Limit: 50}}); err != nil {
		return err
	}
	s.render(w, r, status, "contact", view{Title: c.Name(), P: p, Error: errMsg, Data: d})
	return nil
}

func (s *Server) contactUpdateUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	c, err := s.d.Store.GetContact(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	if msg := contactFromForm(r, c); msg != "" {
		return s.renderContact(w, r, p, http.StatusUnprocessableEntity, msg, c)
	}
	if err := s.d.Store.UpdateContact(r.Context(), p.TenantID, c); err != nil {
		if msg, ok := userMessage(err); ok {
			return s.renderContact(w, r, p, http.StatusUnprocessableEntity, msg, c)
		}
		if errors.Is(err, models.ErrNotFound) && c.AccountID != nil {
			return s.renderContact(w, r, p, http.StatusUnprocessableEntity, "That account does not exist.", c)
		}
		return err
	}
	redirect(w, r, "/contacts/"+itoa(c.ID))
	return nil
}

// Cases.

type casesData struct {
	Items    []models.Case
	Accounts []models.Account
	Contacts []models.Contact
	Members  []models.Member
	Filter   models.CaseFilter
	Statuses []models.CaseStatus
	Prios    []models.CasePriority
	Pager    pager
}

var (
	allStatuses   = []models.CaseStatus{models.CaseNew, models.CaseOpen, models.CasePending, models.CaseClosed}
	allPriorities = []models.CasePriority{models.PriorityLow, models.PriorityNormal, models.PriorityHigh, models.PriorityUrgent}
)

func (s *Server) casesPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderCases(w, r, p, http.StatusOK, "")
}

func (s *Server) caseChoices(r *http.Request, p *principal) ([]models.Account, []models.Contact, []models.Member, error) {
	accts, _, err := s.d.Store.ListAccounts(r.Context(), p.TenantID, models.Page{Limit: 500})
	if err != nil {
		return nil, nil, nil, err
	}
	contacts, _, err := s.d.Store.ListContacts(r.Context(), p.TenantID, models.Page{Limit: 500})
	if err != nil {
		return nil, nil, nil, err
	}
	members, err := s.d.Store.Members(r.Context(), p.TenantID)
	return accts, contacts, members, err
}

func (s *Server) renderCases(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string) error {
	q := r.URL.Query()
	f := models.CaseFilter{Page: models.Page{Limit: uiPage, Offset: offsetParam(r), Query: q.Get("q")}}
	if st := models.CaseStatus(q.Get("status")); st.Valid() {
		f.Status = st
	}
	f.AccountID, _ = queryID(q, "account_id")
	f.ContactID, _ = queryID(q, "contact_id")
	f.AssigneeID, _ = queryID(q, "assignee_id")
	items, total, err := s.d.Store.ListCases(r.Context(), p.TenantID, f)
	if err != nil {
		return err
	}
	d := casesData{Items: items, Filter: f, Statuses: allStatuses, Prios: allPriorities, Pager: newPager(r, uiPage, total)}
	if d.Accounts, d.Contacts, d.Members, err = s.caseChoices(r, p); err != nil {
		return err
	}
	s.render(w, r, status, "cases", view{Title: "Cases", P: p, Error: errMsg, Form: r.PostForm, Data: d})
	return nil
}

func caseFromForm(r *http.Request, c *models.Case) string {
	c.Subject = strings.TrimSpace(r.PostFormValue("subject"))
	c.Description = r.PostFormValue("description")
	if v := r.PostFormValue("status"); v != "" {
		c.Status = models.CaseStatus(v)
	}
	if v := r.PostFormValue("priority"); v != "" {
		c.Priority = models.CasePriority(v)
	}
	var err error
	for name, dst := range map[string]**int64{"account_id": &c.AccountID, "contact_id": &c.ContactID, "assignee_id": &c.AssigneeID} {
		if *dst, err = formID(r, name); err != nil {
			return "Choose from the lists."
		}
	}
	switch {
	case c.Subject == "":
		return "Enter a subject."
	case c.Status != "" && !c.Status.Valid():
		return "Choose a status from the list."
	case c.Priority != "" && !c.Priority.Valid():
		return "Choose a priority from the list."
	}
	return ""
}

type caseData struct {
	Case     *models.Case
	Account  *models.Account
	Contact  *models.Contact
	Messages []models.Message
	casesData
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderCase(w, r, p, http.StatusOK, "", nil)
}

func (s *Server) renderCase(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string, edited *models.Case) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	c, err := s.d.Store.GetCase(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	d := caseData{Case: c, casesData: casesData{Statuses: allStatuses, Prios: allPriorities}}
	if edited != nil {
		d.Case = edited
	}
	if c.AccountID != nil {
		if d.Account, err = s.d.Store.GetAccount(r.Context(), p.TenantID, *c.AccountID); err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	if c.ContactID != nil {
		if d.Contact, err = s.d.Store.GetContact(r.Context(), p.TenantID, *c.ContactID); err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	if d.Messages, _, err = s.d.Store.ListMessages(r.Context(), p.TenantID, models.MessageFilter{CaseID: id, Page: models.Page{Limit: 200}}); err != nil {
		return err
	}
	if d.Accounts, d.Contacts, d.Members, err = s.caseChoices(r, p); err != nil {
		return err
	}
	s.render(w, r, status, "case", view{Title: c.Subject, P: p, Error: errMsg, Data: d})
	return nil
}

func (s *Server) caseUpdateUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	c, err := s.d.Store.GetCase(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	if msg := caseFromForm(r, c); msg != "" {
		return s.renderCase(w, r, p, http.StatusUnprocessableEntity, msg, c)
	}
	if err := s.d.Store.UpdateCase(r.Context(), p.TenantID, c); err != nil {
		if msg, ok := userMessage(err); ok {
			return s.renderCase(w, r, p, http.StatusUnprocessableEntity, msg, c)
		}
		if bad := refErrors(err, "account_id", "contact_id", "assignee_id"); bad != nil {
			return s.renderCase(w, r, p, http.StatusUnprocessableEntity, "A chosen account, contact or assignee does not exist.", c)
		}
		return err
	}
	redirect(w, r, "/cases/"+itoa(c.ID))
	return nil
}

func (s *Server) caseUnlinkUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok1 := pathID(r, "id")
	mid, ok2 := pathID(r, "messageId")
	if !ok1 || !ok2 {
		return models.ErrNotFound
	}
	if err := s.d.Store.UnlinkMessage(r.Context(), p.TenantID, id, mid); err != nil {
		return err
	}
	redirect(w, r, "/cases/"+itoa(id))
	return nil
}

// renderFunc re-renders a list page with a form error.
type renderFunc func(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string) error

// createUI handles a create form: read it, store the record in the
// caller's tenant, and go to its page; form problems and references to
// missing records (notFound, when not "") re-render the list with a message.
func createUI[T any](s *Server, fromForm func(*http.Request, *T) string,
	create func(ctx context.Context, tenantID int64, v *T) error, render renderFunc,
	id func(*T) int64, pathPrefix, notFound string) func(http.ResponseWriter, *http.Request, *principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var v T
		if msg := fromForm(r, &v); msg != "" {
			return render(w, r, p, http.StatusUnprocessableEntity, msg)
		}
		if err := create(r.Context(), p.TenantID, &v); err != nil {
			if msg, ok := userMessage(err); ok {
				return render(w, r, p, http.StatusUnprocessableEntity, msg)
			}
			if notFound != "" && errors.Is(err, models.ErrNotFound) {
				return render(w, r, p, http.StatusUnprocessableEntity, notFound)
			}
			return err
		}
		redirect(w, r, pathPrefix+itoa(id(&v)))
		return nil
	}
}

// deleteUI handles a delete form for one record of the caller's tenant.
func deleteUI(s *Server, del func(ctx context.Context, tenantID, id int64) error, listPath string) func(http.ResponseWriter, *http.Request, *principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id, ok := pathID(r, "id")
		if !ok {
			return models.ErrNotFound
		}
		if err := del(r.Context(), p.TenantID, id); err != nil {
			return err
		}
		redirect(w, r, listPath)
		return nil
	}
}
