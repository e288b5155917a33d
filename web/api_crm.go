package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"tidings/models"
)

// apiHandler is a REST handler for an authenticated caller.
type apiHandler func(w http.ResponseWriter, r *http.Request, p *principal)

// api authenticates a REST request by Bearer token (RFC 6750). The API is
// not reachable with a session cookie, so it needs no CSRF defence.
func (s *Server) api(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.bearerPrincipal(r)
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tidings"`)
			s.problem(w, r, Problem{Status: http.StatusUnauthorized,
				Detail: "send an API token as Authorization: Bearer <token>; create one under Settings"})
			return
		}
		h(w, withPrincipal(r, p), p)
	})
}

func (s *Server) registerAPI() {
	s.handle("GET", "/api", s.api(s.apiRoot))
	s.handle("GET", "/api/openapi.json", http.HandlerFunc(s.openAPI))

	s.handle("GET", "/api/accounts", s.api(s.listAccounts))
	s.handle("POST", "/api/accounts", s.api(s.createAccount))
	s.handle("GET", "/api/accounts/{id}", s.api(getOne(s, s.d.Store.GetAccount, accountRep)))
	s.handle("PATCH", "/api/accounts/{id}", s.api(patchOne(s, s.d.Store.GetAccount, func(in *accountIn, v *models.Account) []InvalidParam { return in.apply(v, false) }, s.d.Store.UpdateAccount, accountRep)))
	s.handle("DELETE", "/api/accounts/{id}", s.api(deleteOne(s, s.d.Store.DeleteAccount)))
	s.handle("GET", "/api/accounts/{id}/contacts", s.api(s.accountContacts))
	s.handle("GET", "/api/accounts/{id}/messages", s.api(s.relatedMessages("id", func(f *models.MessageFilter, id int64) { f.AccountID = id })))

	s.handle("GET", "/api/contacts", s.api(s.listContacts))
	s.handle("POST", "/api/contacts", s.api(s.createContact))
	s.handle("GET", "/api/contacts/{id}", s.api(getOne(s, s.d.Store.GetContact, contactRep)))
	s.handle("PATCH", "/api/contacts/{id}", s.api(patchOne(s, s.d.Store.GetContact, func(in *contactIn, v *models.Contact) []InvalidParam { return in.apply(v) }, s.d.Store.UpdateContact, contactRep, "account_id")))
	s.handle("DELETE", "/api/contacts/{id}", s.api(deleteOne(s, s.d.Store.DeleteContact)))
	s.handle("GET", "/api/contacts/{id}/messages", s.api(s.relatedMessages("id", func(f *models.MessageFilter, id int64) { f.ContactID = id })))

	s.handle("GET", "/api/cases", s.api(s.listCases))
	s.handle("POST", "/api/cases", s.api(s.createCase))
	s.handle("GET", "/api/cases/{id}", s.api(getOne(s, s.d.Store.GetCase, caseRep)))
	s.handle("PATCH", "/api/cases/{id}", s.api(patchOne(s, s.d.Store.GetCase, func(in *caseIn, v *models.Case) []InvalidParam { return in.apply(v, false) }, s.d.Store.UpdateCase, caseRep, "account_id", "contact_id", "assignee_id")))
	s.handle("DELETE", "/api/cases/{id}", s.api(deleteOne(s, s.d.Store.DeleteCase)))
	s.handle("GET", "/api/cases/{id}/messages", s.api(s.relatedMessages("id", func(f *models.MessageFilter, id int64) { f.CaseID = id })))
	s.handle("PUT", "/api/cases/{id}/messages/{messageId}", s.api(s.linkMessage))
	s.handle("DELETE", "/api/cases/{id}/messages/{messageId}", s.api(s.unlinkMessage))

	s.registerMailAPI()
}

func (s *Server) apiRoot(w http.ResponseWriter, r *http.Request, p *principal) {
	s.writeHAL(w, r, http.StatusOK, map[string]any{
		"user":   map[string]any{"id": p.User.ID, "email": p.User.Email, "name": p.User.Name, "role": p.Role},
		"tenant": p.TenantID,
		"_links": links{
			"self":         lnk("/api"),
			"service-desc": {Href: "/api/openapi.json", Type: "application/openapi+json"},
			"accounts":     {Href: "/api/accounts{?q,limit,offset}", Templated: true},
			"contacts":     {Href: "/api/contacts{?q,limit,offset}", Templated: true},
			"cases":        {Href: "/api/cases{?q,status,account_id,contact_id,assignee_id,limit,offset}", Templated: true},
			"mailboxes":    lnk("/api/mailboxes"),
			"search":       {Href: "/api/search{?q,mailbox_id,contact_id,account_id,case_id,sort,size,after}", Templated: true},
			"tokens":       lnk("/api/tokens"),
		},
	})
}

// Account representation.

type accountOut struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Website   string    `json:"website"`
	Domains   []string  `json:"domains"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Links     links     `json:"_links"`
}

func accountRep(a *models.Account) accountOut {
	doms := make([]string, 0, len(a.Domains))
	for _, d := range a.Domains {
		doms = append(doms, d.Domain)
	}
	return accountOut{ID: a.ID, Name: a.Name, Website: a.Website, Domains: doms, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		Links: links{
			"self":     lnk("/api/accounts/%d", a.ID),
			"contacts": lnk("/api/accounts/%d/contacts", a.ID),
			"cases":    lnk("/api/cases?account_id=%d", a.ID),
			"messages": lnk("/api/accounts/%d/messages", a.ID),
		}}
}

type accountIn struct {
	Name    *string   `json:"name"`
	Website *string   `json:"website"`
	Domains *[]string `json:"domains"`
}

func (in *accountIn) apply(a *models.Account, create bool) []InvalidParam {
	var bad []InvalidParam
	if in.Name != nil {
		a.Name = strings.TrimSpace(*in.Name)
	}
	if (create || in.Name != nil) && a.Name == "" {
		bad = append(bad, InvalidParam{Name: "name", Reason: "is required"})
	}
	if in.Website != nil {
		a.Website = strings.TrimSpace(*in.Website)
	}
	if in.Domains != nil {
		a.Domains = nil
		// Checked by the store (models.Account.Validate), as for the UI.
		for _, d := range *in.Domains {
			a.Domains = append(a.Domains, models.AccountDomain{Domain: d})
		}
	}
	return bad
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, p *principal) {
	pg, ok := s.pageParams(w, r)
	if !ok {
		return
	}
	items, total, err := s.d.Store.ListAccounts(r.Context(), p.TenantID, pg)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]accountOut, len(items))
	for i := range items {
		out[i] = accountRep(&items[i])
	}
	s.writeHAL(w, r, http.StatusOK, newCollection(r, "accounts", out, len(out), total, pg))
}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request, p *principal) {
	var in accountIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	var a models.Account
	if bad := in.apply(&a, true); len(bad) > 0 {
		s.invalid(w, r, bad...)
		return
	}
	if err := s.d.Store.CreateAccount(r.Context(), p.TenantID, &a); err != nil {
		s.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/accounts/"+itoa(a.ID))
	s.writeHAL(w, r, http.StatusCreated, accountRep(&a))
}

func (s *Server) accountContacts(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok := pathID(r, "id")
	if !ok {
		s.apiNotFound(w, r)
		return
	}
	if _, err := s.d.Store.GetAccount(r.Context(), p.TenantID, id); err != nil {
		s.apiError(w, r, err)
		return
	}
	items, err := s.d.Store.ContactsOfAccount(r.Context(), p.TenantID, id)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]contactOut, len(items))
	for i := range items {
		out[i] = contactRep(&items[i])
	}
	s.writeHAL(w, r, http.StatusOK, map[string]any{
		"count":     len(out),
		"_links":    links{"self": lnk("/api/accounts/%d/contacts", id), "up": lnk("/api/accounts/%d", id)},
		"_embedded": map[string]any{"contacts": out},
	})
}

// Contact representation.

type contactOut struct {
	ID          int64     `json:"id"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Name        string    `json:"name"`
	Emails      []string  `json:"emails"`
	AccountID   *int64    `json:"account_id"`
	AutoCreated bool      `json:"auto_created"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Links       links     `json:"_links"`
}

func contactRep(c *models.Contact) contactOut {
	emails := make([]string, 0, len(c.Emails))
	for _, e := range c.Emails {
		emails = append(emails, e.Address)
	}
	l := links{
		"self":     lnk("/api/contacts/%d", c.ID),
		"messages": lnk("/api/contacts/%d/messages", c.ID),
		"cases":    lnk("/api/cases?contact_id=%d", c.ID),
	}
	if c.AccountID != nil {
		l["account"] = lnk("/api/accounts/%d", *c.AccountID)
	}
	return contactOut{ID: c.ID, FirstName: c.FirstName, LastName: c.LastName, Name: c.Name(), Emails: emails,
		AccountID: c.AccountID, AutoCreated: c.AutoCreated, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Links: l}
}

type contactIn struct {
	FirstName *string    `json:"first_name"`
	LastName  *string    `json:"last_name"`
	Emails    *[]string  `json:"emails"`
	AccountID nullableID `json:"account_id"`
}

func (in *contactIn) apply(c *models.Contact) []InvalidParam {
	var bad []InvalidParam
	if in.FirstName != nil {
		c.FirstName = strings.TrimSpace(*in.FirstName)
	}
	if in.LastName != nil {
		c.LastName = strings.TrimSpace(*in.LastName)
	}
	if in.Emails != nil {
		c.Emails = nil
		// Checked by the store (models.Contact.Validate), as for the UI.
		for _, e := range *in.Emails {
			c.Emails = append(c.Emails, models.ContactEmail{Address: e})
		}
	}
	if in.AccountID.Set {
		c.AccountID = in.AccountID.ID
	}
	if c.FirstName == "" && c.LastName == "" && len(c.Emails) == 0 && len(bad) == 0 {
		bad = append(bad, InvalidParam{Name: "first_name", Reason: "a contact needs a name or an email address"})
	}
	return bad
}

// refErrors turns a store error about a referenced row into a field error:
// referencing another tenant's account is "does not exist", never a 404
// of the resource being written.
func refErrors(err error, fields ...string) []InvalidParam {
	if !errors.Is(err, models.ErrNotFound) {
		return nil
	}
	msg := err.Error()
	for _, f := range fields {
		if strings.Contains(msg, strings.TrimSuffix(f, "_id")+" ") {
			return []InvalidParam{{Name: f, Reason: "does not exist"}}
		}
	}
	return nil
}

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request, p *principal) {
	pg, ok := s.pageParams(w, r)
	if !ok {
		return
	}
	items, total, err := s.d.Store.ListContacts(r.Context(), p.TenantID, pg)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]contactOut, len(items))
	for i := range items {
		out[i] = contactRep(&items[i])
	}
	s.writeHAL(w, r, http.StatusOK, newCollection(r, "contacts", out, len(out), total, pg))
}

func (s *Server) createContact(w http.ResponseWriter, r *http.Request, p *principal) {
	var in contactIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	var c models.Contact
	if bad := in.apply(&c); len(bad) > 0 {
		s.invalid(w, r, bad...)
		return
	}
	if err := s.d.Store.CreateContact(r.Context(), p.TenantID, &c); err != nil {
		if bad := refErrors(err, "account_id"); bad != nil {
			s.invalid(w, r, bad...)
			return
		}
		s.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/contacts/"+itoa(c.ID))
	s.writeHAL(w, r, http.StatusCreated, contactRep(&c))
}

// Case representation.

type caseOut struct {
	ID          int64               `json:"id"`
	Subject     string              `json:"subject"`
	Description string              `json:"description"`
	Status      models.CaseStatus   `json:"status"`
	Priority    models.CasePriority `json:"priority"`
	AccountID   *int64              `json:"account_id"`
	ContactID   *int64              `json:"contact_id"`
	AssigneeID  *int64              `json:"assignee_id"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	Links       links               `json:"_links"`
}

func caseRep(c *models.Case) caseOut {
	l := links{
		"self":     lnk("/api/cases/%d", c.ID),
		"messages": lnk("/api/cases/%d/messages", c.ID),
		"link-message": {Href: "/api/cases/" + itoa(c.ID) + "/messages/{messageId}", Templated: true,
			Title: "PUT links a message, DELETE unlinks it"},
	}
	if c.AccountID != nil {
		l["account"] = lnk("/api/accounts/%d", *c.AccountID)
	}
	if c.ContactID != nil {
		l["contact"] = lnk("/api/contacts/%d", *c.ContactID)
	}
	return caseOut{ID: c.ID, Subject: c.Subject, Description: c.Description, Status: c.Status, Priority: c.Priority,
		AccountID: c.AccountID, ContactID: c.ContactID, AssigneeID: c.AssigneeID, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Links: l}
}

type caseIn struct {
	Subject     *string    `json:"subject"`
	Description *string    `json:"description"`
	Status      *string    `json:"status"`
	Priority    *string    `json:"priority"`
	AccountID   nullableID `json:"account_id"`
	ContactID   nullableID `json:"contact_id"`
	AssigneeID  nullableID `json:"assignee_id"`
}

func (in *caseIn) apply(c *models.Case, create bool) []InvalidParam {
	var bad []InvalidParam
	if in.Subject != nil {
		c.Subject = strings.TrimSpace(*in.Subject)
	}
	if (create || in.Subject != nil) && c.Subject == "" {
		bad = append(bad, InvalidParam{Name: "subject", Reason: "is required"})
	}
	if in.Description != nil {
		c.Description = *in.Description
	}
	if in.Status != nil {
		c.Status = models.CaseStatus(*in.Status)
		if !c.Status.Valid() {
			bad = append(bad, InvalidParam{Name: "status", Reason: "must be one of new, open, pending, closed"})
		}
	}
	if in.Priority != nil {
		c.Priority = models.CasePriority(*in.Priority)
		if !c.Priority.Valid() {
			bad = append(bad, InvalidParam{Name: "priority", Reason: "must be one of low, normal, high, urgent"})
		}
	}
	if in.AccountID.Set {
		c.AccountID = in.AccountID.ID
	}
	if in.ContactID.Set {
		c.ContactID = in.ContactID.ID
	}
	if in.AssigneeID.Set {
		c.AssigneeID = in.AssigneeID.ID
	}
	return bad
}

func (s *Server) caseFilter(w http.ResponseWriter, r *http.Request) (models.CaseFilter, bool) {
	pg, ok := s.pageParams(w, r)
	if !ok {
		return models.CaseFilter{}, false
	}
	q := r.URL.Query()
	f := models.CaseFilter{Page: pg, Status: models.CaseStatus(q.Get("status"))}
	var bad []InvalidParam
	if f.Status != "" && !f.Status.Valid() {
		bad = append(bad, InvalidParam{Name: "status", Reason: "must be one of new, open, pending, closed"})
	}
	for name, dst := range map[string]*int64{"account_id": &f.AccountID, "contact_id": &f.ContactID, "assignee_id": &f.AssigneeID} {
		id, err := queryID(q, name)
		if err != nil {
			bad = append(bad, InvalidParam{Name: name, Reason: "must be a positive integer id"})
		}
		*dst = id
	}
	if len(bad) > 0 {
		s.invalid(w, r, bad...)
		return f, false
	}
	return f, true
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request, p *principal) {
	f, ok := s.caseFilter(w, r)
	if !ok {
		return
	}
	items, total, err := s.d.Store.ListCases(r.Context(), p.TenantID, f)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]caseOut, len(items))
	for i := range items {
		out[i] = caseRep(&items[i])
	}
	s.writeHAL(w, r, http.StatusOK, newCollection(r, "cases", out, len(out), total, f.Page))
}

func (s *Server) createCase(w http.ResponseWriter, r *http.Request, p *principal) {
	var in caseIn
	if !s.decodeJSON(w, r, &in) {
		return
	}
	var c models.Case
	if bad := in.apply(&c, true); len(bad) > 0 {
		s.invalid(w, r, bad...)
		return
	}
	if err := s.d.Store.CreateCase(r.Context(), p.TenantID, &c); err != nil {
		if bad := refErrors(err, "account_id", "contact_id", "assignee_id"); bad != nil {
			s.invalid(w, r, bad...)
			return
		}
		s.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/cases/"+itoa(c.ID))
	s.writeHAL(w, r, http.StatusCreated, caseRep(&c))
}

func (s *Server) linkMessage(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok1 := pathID(r, "id")
	mid, ok2 := pathID(r, "messageId")
	if !ok1 || !ok2 {
		s.apiNotFound(w, r)
		return
	}
	if err := s.d.Store.LinkMessage(r.Context(), p.TenantID, id, mid); err != nil {
		s.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) unlinkMessage(w http.ResponseWriter, r *http.Request, p *principal) {
	id, ok1 := pathID(r, "id")
	mid, ok2 := pathID(r, "messageId")
	if !ok1 || !ok2 {
		s.apiNotFound(w, r)
		return
	}
	if err := s.d.Store.UnlinkMessage(r.Context(), p.TenantID, id, mid); err != nil {
		s.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getOne serves GET of one resource by the {id} in its path: loaded within
// the caller's tenant (another tenant's id is a 404 like a missing one) and
// rendered as HAL.
func getOne[T, R any](s *Server, load func(ctx context.Context, tenantID, id int64) (*T, error), rep func(*T) R) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		id, ok := pathID(r, "id")
		if !ok {
			s.apiNotFound(w, r)
			return
		}
		v, err := load(r.Context(), p.TenantID, id)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		s.writeHAL(w, r, http.StatusOK, rep(v))
	}
}

// patchOne serves PATCH of one resource: load it within the caller's
// tenant, apply the JSON body's fields, validate, save. Errors naming a
// referenced id (refs) become field-level problems.
func patchOne[T, R, I any](s *Server, load func(ctx context.Context, tenantID, id int64) (*T, error),
	apply func(in *I, v *T) []InvalidParam, save func(ctx context.Context, tenantID int64, v *T) error,
	rep func(*T) R, refs ...string) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		id, ok := pathID(r, "id")
		if !ok {
			s.apiNotFound(w, r)
			return
		}
		v, err := load(r.Context(), p.TenantID, id)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		var in I
		if !s.decodeJSON(w, r, &in) {
			return
		}
		if bad := apply(&in, v); len(bad) > 0 {
			s.invalid(w, r, bad...)
			return
		}
		if err := save(r.Context(), p.TenantID, v); err != nil {
			if bad := refErrors(err, refs...); bad != nil {
				s.invalid(w, r, bad...)
				return
			}
			s.apiError(w, r, err)
			return
		}
		s.writeHAL(w, r, http.StatusOK, rep(v))
	}
}

// deleteOne serves DELETE of one resource of the caller's tenant.
func deleteOne(s *Server, del func(ctx context.Context, tenantID, id int64) error) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		id, ok := pathID(r, "id")
		if !ok {
			s.apiNotFound(w, r)
			return
		}
		if err := del(r.Context(), p.TenantID, id); err != nil {
			s.apiError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
