package web

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"strings"

	"tidings/models"
)

func (s *Server) registerCRMUI() {
	s.handle("GET", "/{$}", s.page(s.dashboard))
	s.handle("GET", "/accounts", s.page(listView(s.renderAccounts)))
	s.handle("POST", "/accounts", s.page(createUI(s, accountForm, s.d.Store.CreateAccount, s.renderAccounts)))
	s.handle("GET", "/accounts/{id}", s.page(recordView(s.renderAccount)))
	s.handle("POST", "/accounts/{id}", s.page(updateUI(s, accountForm, s.d.Store.GetAccount, s.d.Store.UpdateAccount, s.renderAccount)))
	s.handle("POST", "/accounts/{id}/delete", s.page(deleteUI(s, s.d.Store.DeleteAccount, "/accounts")))
	s.handle("GET", "/contacts", s.page(listView(s.renderContacts)))
	s.handle("POST", "/contacts", s.page(createUI(s, contactForm, s.d.Store.CreateContact, s.renderContacts)))
	s.handle("GET", "/contacts/{id}", s.page(recordView(s.renderContact)))
	s.handle("POST", "/contacts/{id}", s.page(updateUI(s, contactForm, s.d.Store.GetContact, s.d.Store.UpdateContact, s.renderContact)))
	s.handle("POST", "/contacts/{id}/delete", s.page(deleteUI(s, s.d.Store.DeleteContact, "/contacts")))
	s.handle("GET", "/cases", s.page(listView(s.renderCases)))
	s.handle("POST", "/cases", s.page(s.contactField(createUI(s, caseForm, s.d.Store.CreateCase, s.renderCases))))
	s.handle("GET", "/cases/{id}", s.page(recordView(s.renderCase)))
	s.handle("POST", "/cases/{id}", s.page(s.contactField(updateUI(s, caseForm, s.d.Store.GetCase, s.d.Store.UpdateCase, s.renderCase))))
	s.handle("POST", "/cases/{id}/delete", s.page(deleteUI(s, s.d.Store.DeleteCase, "/cases")))
	s.handle("POST", "/cases/{id}/messages/{messageId}/unlink", s.page(s.caseUnlinkUI))
}

const uiPage = 25

// The CRM forms: how each record type is read from a form and where its
// page is, for the generic form handlers at the end of this file.
var (
	accountForm = crmForm[models.Account]{read: accountFromForm, path: "/accounts/", id: func(v *models.Account) int64 { return v.ID }}
	contactForm = crmForm[models.Contact]{read: contactFromForm, path: "/contacts/", id: func(v *models.Contact) int64 { return v.ID },
		refs: []string{"account_id"}, missing: "That account does not exist."}
	caseForm = crmForm[models.Case]{read: caseFromForm, path: "/cases/", id: func(v *models.Case) int64 { return v.ID },
		refs: []string{"account_id", "contact_id", "assignee_id"}, missing: "A chosen account, contact or assignee does not exist."}
)

// Accounts.

type accountsData struct {
	Items []models.Account
	Q     string
	Pager pager
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

// formList splits a form field that holds a list, one item a line or
// separated by commas or spaces.
func formList(r *http.Request, name string) []string {
	return strings.FieldsFunc(r.PostFormValue(name), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
}

// accountFromForm fills an account from the form; it returns a message
// for the user when the input is not acceptable.
func accountFromForm(r *http.Request, a *models.Account) string {
	a.Name = strings.TrimSpace(r.PostFormValue("name"))
	a.Website = strings.TrimSpace(r.PostFormValue("website"))
	a.Domains = nil
	for _, d := range formList(r, "domains") {
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

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string, edited *models.Account) error {
	a, err := loadFromPath(r, p, s.d.Store.GetAccount)
	if err != nil {
		return err
	}
	d := accountData{Account: cmp.Or(edited, a)}
	if d.Contacts, err = s.d.Store.ContactsOfAccount(r.Context(), p.TenantID, a.ID); err != nil {
		return err
	}
	if d.Cases, d.Messages, err = s.timeline(r, p, models.CaseFilter{AccountID: a.ID}, models.MessageFilter{AccountID: a.ID}); err != nil {
		return err
	}
	s.render(w, r, status, "account", view{Title: a.Name, P: p, Error: errMsg, Data: d})
	return nil
}

// timeline is what an account's or a contact's page lists of its own: its
// latest cases and messages.
func (s *Server) timeline(r *http.Request, p *principal, cf models.CaseFilter, mf models.MessageFilter) ([]models.Case, []models.Message, error) {
	cf.Page, mf.Page = models.Page{Limit: 100}, models.Page{Limit: 50}
	cases, _, err := s.d.Store.ListCases(r.Context(), p.TenantID, cf)
	if err != nil {
		return nil, nil, err
	}
	msgs, _, err := s.d.Store.ListMessages(r.Context(), p.TenantID, mf)
	return cases, msgs, err
}

// Contacts.

type contactsData struct {
	Items    []models.Contact
	Accounts []models.Account
	// AccountNames names the listed contacts' accounts.
	AccountNames map[int64]string
	Q            string
	Pager        pager
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
	names, err := s.contactAccountNames(r, p, items)
	if err != nil {
		return err
	}
	s.render(w, r, status, "contacts", view{Title: "Contacts", P: p, Error: errMsg, Form: r.PostForm,
		Data: contactsData{Items: items, Accounts: accts, AccountNames: names, Q: q, Pager: newPager(r, uiPage, total)}})
	return nil
}

func contactFromForm(r *http.Request, c *models.Contact) string {
	c.FirstName = strings.TrimSpace(r.PostFormValue("first_name"))
	c.LastName = strings.TrimSpace(r.PostFormValue("last_name"))
	c.Emails = nil
	for _, e := range formList(r, "emails") {
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

func (s *Server) renderContact(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string, edited *models.Contact) error {
	c, err := loadFromPath(r, p, s.d.Store.GetContact)
	if err != nil {
		return err
	}
	d := contactData{Contact: cmp.Or(edited, c)}
	if c.AccountID != nil {
		if d.Account, err = s.d.Store.GetAccount(r.Context(), p.TenantID, *c.AccountID); err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	if d.Accounts, _, err = s.d.Store.ListAccounts(r.Context(), p.TenantID, models.Page{Limit: 500}); err != nil {
		return err
	}
	if d.Cases, d.Messages, err = s.timeline(r, p, models.CaseFilter{ContactID: c.ID}, models.MessageFilter{ContactID: c.ID}); err != nil {
		return err
	}
	s.render(w, r, status, "contact", view{Title: c.Name(), P: p, Error: errMsg, Data: d})
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
	f.Active = q.Get("status") == "active" // new, open or pending: the dashboard's "open cases"
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

func (s *Server) renderCase(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string, edited *models.Case) error {
	c, err := loadFromPath(r, p, s.d.Store.GetCase)
	if err != nil {
		return err
	}
	d := caseData{Case: cmp.Or(edited, c), casesData: casesData{Statuses: allStatuses, Prios: allPriorities}}
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
	if d.Messages, _, err = s.d.Store.ListMessages(r.Context(), p.TenantID, models.MessageFilter{CaseID: c.ID, Page: models.Page{Limit: 200}}); err != nil {
		return err
	}
	if d.Accounts, d.Contacts, d.Members, err = s.caseChoices(r, p); err != nil {
		return err
	}
	s.render(w, r, status, "case", view{Title: c.Subject, P: p, Error: errMsg, Data: d})
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

// crmForm is what the generic form handlers know of a record type.
type crmForm[T any] struct {
	// read fills a record from the form; it returns a message for the
	// user when the input is not acceptable.
	read func(*http.Request, *T) string
	// path is where a record's page is, before its id.
	path string
	id   func(*T) int64
	// refs are the fields referencing other records; when the store
	// reports one missing, missing is the message for the user.
	refs    []string
	missing string
}

// saveMessage is the message for the user when saving failed because of
// their input; false for any other error.
func (f crmForm[T]) saveMessage(err error) (string, bool) {
	if msg, ok := userMessage(err); ok {
		return msg, true
	}
	if refErrors(err, f.refs...) != nil {
		return f.missing, true
	}
	return "", false
}

// listView serves GET of a list page: its render with no form error.
func listView(render renderFunc) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return render(w, r, p, http.StatusOK, "")
	}
}

// recordView serves GET of a record's page: its render with no form error.
func recordView[T any](render editRender[T]) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return render(w, r, p, http.StatusOK, "", nil)
	}
}

// renderFunc re-renders a list page with a form error.
type renderFunc func(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string) error

// createUI handles a create form: read it, store the record in the
// caller's tenant, and go to its page; form problems and references to
// missing records re-render the list with a message.
func createUI[T any](s *Server, form crmForm[T], create func(ctx context.Context, tenantID int64, v *T) error, render renderFunc) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var v T
		if msg := form.read(r, &v); msg != "" {
			return render(w, r, p, http.StatusUnprocessableEntity, msg)
		}
		if err := create(r.Context(), p.TenantID, &v); err != nil {
			if msg, ok := form.saveMessage(err); ok {
				return render(w, r, p, http.StatusUnprocessableEntity, msg)
			}
			return err
		}
		redirect(w, r, form.path+itoa(form.id(&v)))
		return nil
	}
}

// editRender re-renders a record's page with a form error, showing the
// record as edited.
type editRender[T any] func(w http.ResponseWriter, r *http.Request, p *principal, status int, errMsg string, edited *T) error

// updateUI handles a record's edit form: load it from the caller's tenant,
// read the form into it, save, and go back to its page; form problems and
// references to missing records re-render the page with a message.
func updateUI[T any](s *Server, form crmForm[T], load func(ctx context.Context, tenantID, id int64) (*T, error),
	save func(ctx context.Context, tenantID int64, v *T) error, render editRender[T]) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		v, err := loadFromPath(r, p, load)
		if err != nil {
			return err
		}
		if msg := form.read(r, v); msg != "" {
			return render(w, r, p, http.StatusUnprocessableEntity, msg, v)
		}
		if err := save(r.Context(), p.TenantID, v); err != nil {
			if msg, ok := form.saveMessage(err); ok {
				return render(w, r, p, http.StatusUnprocessableEntity, msg, v)
			}
			return err
		}
		redirect(w, r, form.path+itoa(form.id(v)))
		return nil
	}
}

// deleteUI handles a delete form for one record of the caller's tenant.
func deleteUI(s *Server, del func(ctx context.Context, tenantID, id int64) error, listPath string) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id, ok := pathID(r, "id")
		if !ok {
			return models.ErrNotFound
		}
		if err := del(r.Context(), p.TenantID, id); err != nil {
			return err
		}
		setFlash(w, deletedMessage(listPath))
		redirect(w, r, listPath)
		return nil
	}
}
