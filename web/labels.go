package web

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"tidings/models"
)

// Labels by name: Gmail label ids named as Gmail's UI names them, with
// their colours, for chips, filters and the API.
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
	mb, err := loadFromPath(r, p, s.d.Store.GetMailbox)
	if err != nil {
		return err
	}
	labels, err := s.d.Store.ListLabels(r.Context(), p.TenantID, mb.ID)
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
