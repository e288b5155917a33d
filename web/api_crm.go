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

	s.handle("GET", "/api/accounts", s.api(listPage(s, "accounts", s.pageQuery, s.d.Store.ListAccounts, accountRep)))
	s.handle("POST", "/api/accounts", s.api(createOne(s, "accounts", (*accountIn).apply, s.d.Store.CreateAccount, func(v *models.Account) int64 { return v.ID }, accountRep)))
	s.handle("GET", "/api/accounts/{id}", s.api(getOne(s, s.d.Store.GetAccount, accountRep)))
	s.handle("PATCH", "/api/accounts/{id}", s.api(patchOne(s, s.d.Store.GetAccount, (*accountIn).apply, s.d.Store.UpdateAccount, accountRep)))
	s.handle("DELETE", "/api/accounts/{id}", s.api(deleteOne(s, s.d.Store.DeleteAccount)))
	s.handle("GET", "/api/accounts/{id}/contacts", s.api(s.accountContacts))
	s.handle("GET", "/api/accounts/{id}/messages", s.api(s.relatedMessages(func(f *models.MessageFilter, id int64) { f.AccountID = id })))

	s.handle("GET", "/api/contacts", s.api(listPage(s, "contacts", s.pageQuery, s.d.Store.ListContacts, contactRep)))
	s.handle("POST", "/api/contacts", s.api(createOne(s, "contacts", (*contactIn).apply, s.d.Store.CreateContact, func(v *models.Contact) int64 { return v.ID }, contactRep, "account_id")))
	s.handle("GET", "/api/contacts/{id}", s.api(getOne(s, s.d.Store.GetContact, contactRep)))
	s.handle("PATCH", "/api/contacts/{id}", s.api(patchOne(s, s.d.Store.GetContact, (*contactIn).apply, s.d.Store.UpdateContact, contactRep, "account_id")))
	s.handle("DELETE", "/api/contacts/{id}", s.api(deleteOne(s, s.d.Store.DeleteContact)))
	s.handle("GET", "/api/contacts/{id}/messages", s.api(s.relatedMessages(func(f *models.MessageFilter, id int64) { f.ContactID = id })))

	s.handle("GET", "/api/cases", s.api(listPage(s, "cases", s.caseQuery, s.d.Store.ListCases, caseRep)))
	s.handle("POST", "/api/cases", s.api(createOne(s, "cases", (*caseIn).apply, s.d.Store.CreateCase, func(v *models.Case) int64 { return v.ID }, caseRep, "account_id", "contact_id", "assignee_id")))
	s.handle("GET", "/api/cases/{id}", s.api(getOne(s, s.d.Store.GetCase, caseRep)))
	s.handle("PATCH", "/api/cases/{id}", s.api(patchOne(s, s.d.Store.GetCase, (*caseIn).apply, s.d.Store.UpdateCase, caseRep, "account_id", "contact_id", "assignee_id")))
	s.handle("DELETE", "/api/cases/{id}", s.api(deleteOne(s, s.d.Store.DeleteCase)))
	s.handle("GET", "/api/cases/{id}/messages", s.api(s.relatedMessages(func(f *models.MessageFilter, id int64) { f.CaseID = id })))
	s.handle("PUT", "/api/cases/{id}/messages/{messageId}", s.api(s.caseMessageAPI(s.d.Store.LinkMessage)))
	s.handle("DELETE", "/api/cases/{id}/messages/{messageId}", s.api(s.caseMessageAPI(s.d.Store.UnlinkMessage)))

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

func (s *Server) accountContacts(w http.ResponseWriter, r *http.Request, p *principal) {
	a, ok := loadOne(s, w, r, p, s.d.Store.GetAccount)
	if !ok {
		return
	}
	items, err := s.d.Store.ContactsOfAccount(r.Context(), p.TenantID, a.ID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := repsOf(items, contactRep)
	s.writeHAL(w, r, http.StatusOK, map[string]any{
		"count":     len(out),
		"_links":    links{"self": lnk("/api/accounts/%d/contacts", a.ID), "up": lnk("/api/accounts/%d", a.ID)},
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

func (in *contactIn) apply(c *models.Contact, _ bool) []InvalidParam {
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

// caseQuery reads the filters of GET /api/cases.
func (s *Server) caseQuery(w http.ResponseWriter, r *http.Request, _ *principal) (models.CaseFilter, models.Page, bool) {
	pg, ok := s.pageParams(w, r)
	if !ok {
		return models.CaseFilter{}, pg, false
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
		return f, pg, false
	}
	return f, pg, true
}

// caseMessageAPI links (PUT) or unlinks (DELETE) the message {messageId}
// and the case {id}: 204, or 404 when either is not the caller's.
func (s *Server) caseMessageAPI(op func(ctx context.Context, tenantID, caseID, messageID int64) error) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		id, ok1 := pathID(r, "id")
		mid, ok2 := pathID(r, "messageId")
		if !ok1 || !ok2 {
			s.apiNotFound(w, r)
			return
		}
		if err := op(r.Context(), p.TenantID, id, mid); err != nil {
			s.apiError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// The generic handlers below serve the CRM resources (and the paged mail
// collections): each takes the store's functions and the resource's
// representation, so one resource's handlers read as one line per route.

// listPage serves GET of a paged collection of the caller's tenant: query
// reads the request into the store's filter and its page (it answers the
// problem itself when the query is invalid), list loads that page and the
// total, and each row is rendered with rep into a HAL collection named name.
// Each finish step completes the page's representations (naming labels, say)
// and answers the problem itself when it returns false.
func listPage[F, T, R any](s *Server, name string,
	query func(w http.ResponseWriter, r *http.Request, p *principal) (F, models.Page, bool),
	list func(ctx context.Context, tenantID int64, f F) ([]T, int64, error), rep func(*T) R,
	finish ...func(w http.ResponseWriter, r *http.Request, p *principal, out []R) bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		f, pg, ok := query(w, r, p)
		if !ok {
			return
		}
		items, total, err := list(r.Context(), p.TenantID, f)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		out := repsOf(items, rep)
		for _, f := range finish {
			if !f(w, r, p, out) {
				return
			}
		}
		s.writeHAL(w, r, http.StatusOK, newCollection(r, name, out, len(out), total, pg))
	}
}

// pageQuery is the query of a collection filtered by nothing but its page
// (and the page's free-text q).
func (s *Server) pageQuery(w http.ResponseWriter, r *http.Request, _ *principal) (models.Page, models.Page, bool) {
	pg, ok := s.pageParams(w, r)
	return pg, pg, ok
}

// repsOf renders each row with rep.
func repsOf[T, R any](items []T, rep func(*T) R) []R {
	out := make([]R, len(items))
	for i := range items {
		out[i] = rep(&items[i])
	}
	return out
}

// createOne serves POST of a new resource to the collection name: the JSON
// body applied to a zero value (create = true), stored in the caller's
// tenant, answered 201 with its Location. Errors naming a referenced id
// (refs) become field-level problems.
func createOne[T, R, I any](s *Server, name string, apply func(in *I, v *T, create bool) []InvalidParam,
	create func(ctx context.Context, tenantID int64, v *T) error, id func(*T) int64,
	rep func(*T) R, refs ...string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		var v T
		if !decodeApplySave(s, w, r, p, &v, true, apply, create, refs) {
			return
		}
		w.Header().Set("Location", "/api/"+name+"/"+itoa(id(&v)))
		s.writeHAL(w, r, http.StatusCreated, rep(&v))
	}
}

// getOne serves GET of one resource by the {id} in its path: loaded within
// the caller's tenant (another tenant's id is a 404 like a missing one) and
// rendered as HAL.
func getOne[T, R any](s *Server, load func(ctx context.Context, tenantID, id int64) (*T, error), rep func(*T) R) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		if v, ok := loadOne(s, w, r, p, load); ok {
			s.writeHAL(w, r, http.StatusOK, rep(v))
		}
	}
}

// patchOne serves PATCH of one resource: load it within the caller's
// tenant, apply the JSON body's fields (create = false), validate, save.
// Errors naming a referenced id (refs) become field-level problems.
func patchOne[T, R, I any](s *Server, load func(ctx context.Context, tenantID, id int64) (*T, error),
	apply func(in *I, v *T, create bool) []InvalidParam, save func(ctx context.Context, tenantID int64, v *T) error,
	rep func(*T) R, refs ...string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		v, ok := loadOne(s, w, r, p, load)
		if ok && decodeApplySave(s, w, r, p, v, false, apply, save, refs) {
			s.writeHAL(w, r, http.StatusOK, rep(v))
		}
	}
}

// deleteOne serves DELETE of one resource of the caller's tenant.
func deleteOne(s *Server, del func(ctx context.Context, tenantID, id int64) error) apiHandler {
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

// loadOne loads the resource named by the {id} in the path within the
// caller's tenant; false when it answered the problem.
func loadOne[T any](s *Server, w http.ResponseWriter, r *http.Request, p *principal,
	load func(ctx context.Context, tenantID, id int64) (*T, error)) (*T, bool) {
	id, ok := pathID(r, "id")
	if !ok {
		s.apiNotFound(w, r)
		return nil, false
	}
	v, err := load(r.Context(), p.TenantID, id)
	if err != nil {
		s.apiError(w, r, err)
		return nil, false
	}
	return v, true
}

// decodeApplySave decodes the JSON body, applies it to v, validates and
// saves; false when it answered the problem.
func decodeApplySave[T, I any](s *Server, w http.ResponseWriter, r *http.Request, p *principal, v *T, create bool,
	apply func(in *I, v *T, create bool) []InvalidParam, save func(ctx context.Context, tenantID int64, v *T) error, refs []string) bool {
	var in I
	if !s.decodeJSON(w, r, &in) {
		return false
	}
	if bad := apply(&in, v, create); len(bad) > 0 {
		s.invalid(w, r, bad...)
		return false
	}
	if err := save(r.Context(), p.TenantID, v); err != nil {
		if bad := refErrors(err, refs...); bad != nil {
			s.invalid(w, r, bad...)
			return false
		}
		s.apiError(w, r, err)
		return false
	}
	return true
}
