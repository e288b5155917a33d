package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"sort"
	"strings"

	"tidings/models"
)

// The mail workspace: the thread list with label filters, the conversation
// view, label names and colours, and the links from mail into the CRM
// (sender → contact → account, case from a message or thread).

func (s *Server) registerWorkspaceUI() {
	s.handle("GET", "/mailboxes/{id}", s.page(s.mailboxPage))
	s.handle("GET", "/mailboxes/{id}/labels.css", s.page(s.labelsCSS))
	s.handle("GET", "/threads/{id}", s.page(s.threadPage))
	s.handle("POST", "/threads/{id}/link", s.page(s.linkThreadUI))
	s.handle("GET", "/cases/new", s.page(s.newCaseFromMail))
	s.handle("POST", "/cases/from-mail", s.page(s.createCaseFromMail))
	s.handle("POST", "/settings/timezone", s.page(s.timeZoneUI))
}

type threadRow struct {
	models.ThreadSummary
	Chips   []labelView
	Starred bool
}

type mailboxData struct {
	Mailbox *models.Mailbox
	Threads []threadRow
	Pager   pager
	Label   string // the filter: a label id, or "ALL"
	Current labelView
	System  []labelView
	User    []labelView
	AllMail int64
}

const threadsPerPage = 50

func (s *Server) mailboxPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := loadFromPath(r, p, s.d.Store.GetMailbox)
	if err != nil {
		return err
	}
	book, err := s.labelBookOf(r, p, m.ID)
	if err != nil {
		return err
	}
	counts, err := s.d.Store.ThreadCountsByLabel(r.Context(), p.TenantID, m.ID)
	if err != nil {
		return err
	}
	d := mailboxData{Mailbox: m, Label: r.URL.Query().Get("label")}
	if d.Label == "" {
		d.Label = "INBOX"
	}
	for _, sl := range systemLabelNames {
		if strings.HasPrefix(sl.ID, "CATEGORY_") || sl.ID == "UNREAD" {
			continue
		}
		v := book.get(sl.ID)
		v.Threads, v.Unread = counts[sl.ID].Threads, counts[sl.ID].Unread
		d.System = append(d.System, v)
	}
	for _, l := range book {
		if !l.System {
			l.Threads, l.Unread = counts[l.ID].Threads, counts[l.ID].Unread
			d.User = append(d.User, l)
		}
	}
	sort.Slice(d.User, func(i, j int) bool { return strings.ToLower(d.User[i].Name) < strings.ToLower(d.User[j].Name) })
	f := models.ThreadFilter{Page: models.Page{Limit: threadsPerPage, Offset: offsetParam(r)}}
	if d.Label != "ALL" {
		f.LabelID = d.Label
		d.Current = book.get(d.Label)
	} else {
		d.Current = labelView{ID: "ALL", Name: "All mail"}
	}
	threads, total, err := s.d.Store.ListThreadSummaries(r.Context(), p.TenantID, m.ID, m.Email, f)
	if err != nil {
		return err
	}
	if d.Label == "ALL" {
		d.AllMail = total
	} else if _, n, err := s.d.Store.ListThreadSummaries(r.Context(), p.TenantID, m.ID, m.Email, models.ThreadFilter{Page: models.Page{Limit: 1}}); err == nil {
		d.AllMail = n
	}
	for _, t := range threads {
		d.Threads = append(d.Threads, threadRow{ThreadSummary: t, Chips: book.chips(t.LabelIDs), Starred: contains(t.LabelIDs, "STARRED")})
	}
	d.Pager = newPager(r, threadsPerPage, total)
	s.render(w, r, http.StatusOK, "mailbox", view{Title: d.Current.Name + " · " + m.Email, P: p, Data: d})
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// person is a participant shown with links to their CRM records.
type person struct {
	Name, Address string
	Contact       *models.Contact
	Account       *models.Account
}

func (p person) Label() string {
	if p.Name != "" {
		return p.Name
	}
	return p.Address
}

// people resolves header addresses to contacts and accounts in two queries.
type people struct {
	contacts map[string]models.Contact
	accounts map[string]models.Account
}

func (s *Server) resolvePeople(r *http.Request, p *principal, headers []string) (people, error) {
	var addrs, domains []string
	for _, h := range headers {
		for _, a := range parseAddrs(h) {
			addrs = append(addrs, a.Address)
			if _, d, ok := strings.Cut(a.Address, "@"); ok {
				domains = append(domains, d)
			}
		}
	}
	var out people
	var err error
	if out.contacts, err = s.d.Store.ContactsByAddress(r.Context(), p.TenantID, addrs); err != nil {
		return out, err
	}
	out.accounts, err = s.d.Store.AccountsByDomain(r.Context(), p.TenantID, domains)
	return out, err
}

func parseAddrs(h string) []*mail.Address {
	if list, err := mail.ParseAddressList(h); err == nil {
		return list
	}
	if a, err := mail.ParseAddress(h); err == nil {
		return []*mail.Address{a}
	}
	if strings.Contains(h, "@") {
		return []*mail.Address{{Address: strings.Trim(strings.TrimSpace(h), "<>")}}
	}
	return nil
}

func (pp people) of(h string) []person {
	var out []person
	for _, a := range parseAddrs(h) {
		addr := models.NormalizeAddress(a.Address)
		ps := person{Name: a.Name, Address: addr}
		if c, ok := pp.contacts[addr]; ok {
			ps.Contact = &c
		}
		if _, d, ok := strings.Cut(addr, "@"); ok {
			if acc, ok := pp.accounts[models.NormalizeDomain(d)]; ok {
				ps.Account = &acc
			}
		}
		out = append(out, ps)
	}
	if len(out) == 0 && h != "" {
		out = append(out, person{Name: h})
	}
	return out
}

func (pp people) ofAll(hs []string) []person {
	var out []person
	for _, h := range hs {
		out = append(out, pp.of(h)...)
	}
	return out
}

// convMessage is one message of a conversation, as the per-message partial
// ("conversation-message") renders it.
type convMessage struct {
	Message models.Message
	From    []person
	To, Cc  []person
	Labels  []labelView
	Unread  bool
	Starred bool
	FromMe  bool // sent by the mailbox owner: the summary says "me"
	Open    bool // the latest and unread messages start expanded
}

type threadData struct {
	Thread       *models.Thread
	Mailbox      *models.Mailbox
	Messages     []convMessage
	Participants []person
	Labels       []labelView
	Cases        []models.Case
	Linked       []models.Case
}

func (s *Server) threadPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := loadFromPath(r, p, s.d.Store.GetThread)
	if err != nil {
		return err
	}
	msgs, err := s.d.Store.ThreadMessages(r.Context(), p.TenantID, t)
	if err != nil {
		return err
	}
	book, err := s.labelBookOf(r, p, t.MailboxID)
	if err != nil {
		return err
	}
	var headers []string
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		headers = append(append(append(headers, m.From), m.To...), m.Cc...)
		ids[i] = m.ID
	}
	pp, err := s.resolvePeople(r, p, headers)
	if err != nil {
		return err
	}
	mb, err := s.d.Store.GetMailbox(r.Context(), p.TenantID, t.MailboxID)
	if err != nil {
		return err
	}
	owner := models.NormalizeAddress(mb.Email)
	d := threadData{Thread: t, Mailbox: mb}
	seen := map[string]bool{}
	var all []string
	for i, m := range msgs {
		cm := convMessage{Message: m, From: pp.of(m.From), To: pp.ofAll(m.To), Cc: pp.ofAll(m.Cc), Labels: book.chips(m.LabelIDs())}
		cm.Unread, cm.Starred = contains(m.LabelIDs(), "UNREAD"), contains(m.LabelIDs(), "STARRED")
		cm.Open = i == len(msgs)-1 || cm.Unread
		cm.FromMe = models.NormalizeAddress(m.FromAddress) == owner
		d.Messages = append(d.Messages, cm)
		for _, ps := range cm.From {
			if !seen[ps.Address] {
				seen[ps.Address] = true
				if ps.Address == owner {
					ps = person{Name: "me", Address: ps.Address}
				}
				d.Participants = append(d.Participants, ps)
			}
		}
		all = append(all, m.LabelIDs()...)
	}
	d.Labels = book.chips(uniq(all))
	if d.Cases, _, err = s.d.Store.ListCases(r.Context(), p.TenantID, models.CaseFilter{Active: true, Page: models.Page{Limit: 200}}); err != nil {
		return err
	}
	if len(ids) > 0 {
		links, err := s.d.Store.CaseIDsByMessage(r.Context(), p.TenantID, ids)
		if err != nil {
			return err
		}
		linked := map[int64]bool{}
		for _, cids := range links {
			for _, cid := range cids {
				if !linked[cid] {
					linked[cid] = true
					if c, err := s.d.Store.GetCase(r.Context(), p.TenantID, cid); err == nil {
						d.Linked = append(d.Linked, *c)
					}
				}
			}
		}
	}
	s.render(w, r, http.StatusOK, "thread", view{Title: or(t.Subject, "(no subject)"), P: p, Data: d})
	return nil
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// timeZoneUI stores the user's time zone (the settings form, and the
// browser's zone sent once after sign-up or login when none is set).
func (s *Server) timeZoneUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	zone := strings.TrimSpace(r.PostFormValue("time_zone"))
	if err := s.d.Store.SetUserTimeZone(r.Context(), p.User.ID, zone); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return err
		}
		v, verr := s.settingsView(r, p, settingsData{}, "Unknown time zone "+zone+": use a name such as Europe/Berlin.")
		if verr != nil {
			return verr
		}
		s.render(w, r, http.StatusUnprocessableEntity, "settings", v)
		return nil
	}
	if r.PostFormValue("auto") == "1" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	setFlash(w, "Time zone set to "+or(zone, "UTC")+".")
	redirect(w, r, "/settings")
	return nil
}

// messageContext adds the message page's conversation, sender links and
// label names.
func (s *Server) messageContext(r *http.Request, p *principal, d *messageData) error {
	m := d.Message
	if t, err := s.d.Store.ThreadOfMessage(r.Context(), p.TenantID, m); err == nil {
		d.Thread = t
	} else if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	pp, err := s.resolvePeople(r, p, []string{m.From})
	if err != nil {
		return err
	}
	d.From = pp.of(m.From)
	book, err := s.labelBookOf(r, p, m.MailboxID)
	if err != nil {
		return err
	}
	d.Labels = book.names(m.LabelIDs())
	return nil
}

// commonZones are offered in the time zone field; any IANA name is taken.
var commonZones = []string{
	"UTC", "Europe/London", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Rome",
	"Europe/Warsaw", "Europe/Istanbul", "Europe/Moscow", "Africa/Lagos", "Africa/Johannesburg", "Asia/Dubai",
	"Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
	"America/Sao_Paulo", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
	"Pacific/Honolulu",
}

// isDemoAddress tells demo mailboxes by their reserved domain
// (demo.tidings.example in the app, demo.tidings.test in tests).
func isDemoAddress(email string) bool {
	_, d, _ := strings.Cut(email, "@")
	return strings.HasPrefix(d, "demo.tidings.")
}

// deletedMessage says what a delete form did, by the list it returns to.
func deletedMessage(listPath string) string {
	switch listPath {
	case "/accounts":
		return "Account deleted; its contacts and cases were kept."
	case "/contacts":
		return "Contact deleted; its cases were kept."
	case "/cases":
		return "Case deleted; its messages stay in the mailbox."
	}
	return "Deleted."
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
