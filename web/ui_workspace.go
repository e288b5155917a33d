package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
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

// labelView is a label as chips and filters show it.
type labelView struct {
	ID, Name string
	System   bool
	Class    string // CSS class carrying Gmail's colours, "" for none
	Threads  int64
	Unread   int64
}

// systemLabelNames are Gmail's system labels as its UI names them; the
// order is the filter list's.
var systemLabelNames = []struct{ ID, Name string }{
	{"INBOX", "Inbox"}, {"STARRED", "Starred"}, {"IMPORTANT", "Important"}, {"SENT", "Sent"},
	{"DRAFT", "Drafts"}, {"UNREAD", "Unread"}, {"SPAM", "Spam"}, {"TRASH", "Trash"},
	{"CATEGORY_PERSONAL", "Personal"}, {"CATEGORY_SOCIAL", "Social"}, {"CATEGORY_PROMOTIONS", "Promotions"},
	{"CATEGORY_UPDATES", "Updates"}, {"CATEGORY_FORUMS", "Forums"},
}

// labelBook names a mailbox's label ids.
type labelBook map[string]labelView

var classUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

func labelClass(id string) string { return "lbl-" + classUnsafe.ReplaceAllString(id, "_") }

func newLabelBook(labels []models.Label) labelBook {
	b := labelBook{}
	for _, l := range systemLabelNames {
		b[l.ID] = labelView{ID: l.ID, Name: l.Name, System: true}
	}
	for _, l := range labels {
		v := labelView{ID: l.GmailID, Name: l.Name, System: l.Type == models.LabelSystem}
		if sys, ok := b[l.GmailID]; ok && sys.System {
			v.Name = sys.Name // Gmail's list names system labels by id
		}
		if hexColor.MatchString(l.BackgroundColor) {
			v.Class = labelClass(l.GmailID)
		}
		b[l.GmailID] = v
	}
	return b
}

// get names a label id; an id Gmail no longer lists keeps its id.
func (b labelBook) get(id string) labelView {
	if v, ok := b[id]; ok {
		return v
	}
	return labelView{ID: id, Name: id}
}

// chips are the labels a list row or message shows: user labels only;
// system state has its own marks (unread, star).
func (b labelBook) chips(ids []string) []labelView {
	var out []labelView
	for _, id := range ids {
		if v := b.get(id); !v.System {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// names returns every label's name (API use).
func (b labelBook) names(ids []string) []labelView {
	out := make([]labelView, len(ids))
	for i, id := range ids {
		out[i] = b.get(id)
	}
	return out
}

func (s *Server) labelBookOf(r *http.Request, p *principal, mailboxID int64) (labelBook, error) {
	labels, err := s.d.Store.ListLabels(r.Context(), p.TenantID, mailboxID)
	if err != nil {
		return nil, err
	}
	return newLabelBook(labels), nil
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// labelsCSS serves a mailbox's label colours as classes: the app's CSP
// allows no inline styles, and Gmail's colours are per mailbox.
func (s *Server) labelsCSS(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	if _, err := s.d.Store.GetMailbox(r.Context(), p.TenantID, id); err != nil {
		return err
	}
	labels, err := s.d.Store.ListLabels(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=60")
	var b strings.Builder
	for _, l := range labels {
		if hexColor.MatchString(l.BackgroundColor) {
			fg := l.TextColor
			if !hexColor.MatchString(fg) {
				fg = "#000000"
			}
			fmt.Fprintf(&b, ".%s{background:%s;color:%s}\n", labelClass(l.GmailID), l.BackgroundColor, fg)
		}
	}
	_, _ = w.Write([]byte(b.String()))
	return nil
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
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	m, err := s.d.Store.GetMailbox(r.Context(), p.TenantID, id)
	if err != nil {
		return err
	}
	book, err := s.labelBookOf(r, p, id)
	if err != nil {
		return err
	}
	counts, err := s.d.Store.ThreadCountsByLabel(r.Context(), p.TenantID, id)
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
	threads, total, err := s.d.Store.ListThreadSummaries(r.Context(), p.TenantID, id, m.Email, f)
	if err != nil {
		return err
	}
	if d.Label == "ALL" {
		d.AllMail = total
	} else if _, n, err := s.d.Store.ListThreadSummaries(r.Context(), p.TenantID, id, m.Email, models.ThreadFilter{Page: models.Page{Limit: 1}}); err == nil {
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
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	t, err := s.d.Store.GetThread(r.Context(), p.TenantID, id)
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
		links, err := s.d.Store.CaseIDsOfMessages(r.Context(), p.TenantID, ids)
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

func (s *Server) linkThreadUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	t, err := s.d.Store.GetThread(r.Context(), p.TenantID, id)
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
	redirect(w, r, "/threads/"+itoa(id))
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

// labelRef is a label on a message in the API: Gmail id, name, colours.
type labelRef struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	BackgroundColor string `json:"background_color,omitempty"`
	TextColor       string `json:"text_color,omitempty"`
}

// nameLabels fills LabelNames of API messages from their mailboxes' label
// lists (one query per mailbox). It writes the error response and returns
// false on failure.
func (s *Server) nameLabels(w http.ResponseWriter, r *http.Request, p *principal, reps []messageOut) bool {
	books := map[int64]map[string]models.Label{}
	sysBook := newLabelBook(nil)
	for i := range reps {
		book, ok := books[reps[i].MailboxID]
		if !ok {
			labels, err := s.d.Store.ListLabels(r.Context(), p.TenantID, reps[i].MailboxID)
			if err != nil {
				s.apiError(w, r, err)
				return false
			}
			book = make(map[string]models.Label, len(labels))
			for _, l := range labels {
				book[l.GmailID] = l
			}
			books[reps[i].MailboxID] = book
		}
		reps[i].LabelNames = make([]labelRef, len(reps[i].Labels))
		for j, id := range reps[i].Labels {
			ref := labelRef{ID: id, Name: id, Type: string(models.LabelUser)}
			if l, ok := book[id]; ok {
				ref = labelRef{ID: id, Name: l.Name, Type: string(l.Type), BackgroundColor: l.BackgroundColor, TextColor: l.TextColor}
			}
			if sys := sysBook.get(id); sys.System {
				ref.Name, ref.Type = sys.Name, string(models.LabelSystem)
			}
			reps[i].LabelNames[j] = ref
		}
	}
	return true
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

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
