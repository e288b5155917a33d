package emulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// query is the subset of Gmail's search syntax
// (https://support.google.com/mail/answer/7190) the emulator understands:
// after:/before: (YYYY/MM/DD or epoch seconds), newer_than:/older_than:
// (Nd, Nm, Ny, Nh), in:, label:, is:, from:, to:, subject:, rfc822msgid:, bare words
// (matched against Subject and From), each optionally negated with "-".
type query struct {
	terms    []qterm
	labels   []string // labels a positive in:/label:/is: term requires
	anywhere bool
}

type qterm struct {
	neg   bool
	key   string // after, before, label, from, to, subject, text
	val   string
	t     int64 // ms, for dates
	label string
}

func tokenize(s string) []string {
	var out []string
	var b strings.Builder
	inQ := false
	for _, r := range s {
		switch {
		case r == '"':
			inQ = !inQ
		case (r == ' ' || r == '\t') && !inQ:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func parseQDate(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n * 1000, nil
	}
	for _, layout := range []string{"2006/01/02", "2006/1/2", "2006-01-02", "01/02/2006"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("invalid date %q", v)
}

func parseRel(v string, now time.Time) (int64, error) {
	if len(v) < 2 {
		return 0, fmt.Errorf("invalid relative date %q", v)
	}
	n, err := strconv.Atoi(v[:len(v)-1])
	if err != nil {
		return 0, fmt.Errorf("invalid relative date %q", v)
	}
	var t time.Time
	switch v[len(v)-1] {
	case 'h':
		t = now.Add(-time.Duration(n) * time.Hour)
	case 'd':
		t = now.AddDate(0, 0, -n)
	case 'm':
		t = now.AddDate(0, -n, 0)
	case 'y':
		t = now.AddDate(-n, 0, 0)
	default:
		return 0, fmt.Errorf("invalid relative date %q", v)
	}
	return t.UnixMilli(), nil
}

var inLabels = map[string]string{"inbox": "INBOX", "sent": "SENT", "trash": "TRASH", "spam": "SPAM", "drafts": "DRAFT", "draft": "DRAFT", "starred": "STARRED", "important": "IMPORTANT", "chats": "CHAT"}
var isLabels = map[string]string{"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT"}

func parseQuery(s string, now time.Time) (*query, error) {
	q := &query{}
	for _, tok := range tokenize(s) {
		t := qterm{}
		if strings.HasPrefix(tok, "-") && len(tok) > 1 {
			t.neg, tok = true, tok[1:]
		}
		key, val, ok := strings.Cut(tok, ":")
		if !ok {
			t.key, t.val = "text", strings.ToLower(tok)
			q.terms = append(q.terms, t)
			continue
		}
		key = strings.ToLower(key)
		var err error
		switch key {
		case "after", "before":
			t.key = key
			t.t, err = parseQDate(val)
		case "newer_than":
			t.key = "after"
			t.t, err = parseRel(val, now)
		case "older_than":
			t.key = "before"
			t.t, err = parseRel(val, now)
		case "in":
			v := strings.ToLower(val)
			if v == "anywhere" {
				q.anywhere = !t.neg
				continue
			}
			l, ok := inLabels[v]
			if !ok {
				return nil, fmt.Errorf("unsupported in:%s", val)
			}
			t.key, t.label = "label", l
		case "is":
			v := strings.ToLower(val)
			if v == "read" {
				t.key, t.label, t.neg = "label", "UNREAD", !t.neg
				break
			}
			l, ok := isLabels[v]
			if !ok {
				return nil, fmt.Errorf("unsupported is:%s", val)
			}
			t.key, t.label = "label", l
		case "label":
			t.key, t.val = "label", val
		case "from", "to", "subject":
			t.key, t.val = key, strings.ToLower(val)
		case "rfc822msgid":
			// Gmail matches the Message-ID with or without angle brackets.
			t.key, t.val = "msgid", strings.ToLower(strings.Trim(val, "<>"))
		default:
			return nil, fmt.Errorf("unsupported search operator %q", key+":")
		}
		if err != nil {
			return nil, err
		}
		if t.key == "label" && !t.neg && t.label != "" {
			q.labels = append(q.labels, t.label)
		}
		q.terms = append(q.terms, t)
	}
	return q, nil
}

// resolveQueryLabels maps label:NAME terms to label ids; Gmail matches the
// name case-insensitively with "-" or "_" standing for spaces and "/".
func (mb *mailbox) resolveQueryLabels(q *query) {
	for i := range q.terms {
		t := &q.terms[i]
		if t.key != "label" || t.label != "" {
			continue
		}
		norm := func(s string) string {
			return strings.NewReplacer(" ", "-", "/", "-", "_", "-").Replace(strings.ToLower(s))
		}
		want := norm(t.val)
		t.label = "\x00none"
		for _, l := range mb.labels {
			if norm(l.name) == want || strings.EqualFold(l.id, t.val) {
				t.label = l.id
				break
			}
		}
		if !t.neg && (t.label == "SPAM" || t.label == "TRASH") {
			q.labels = append(q.labels, t.label)
		}
	}
}

func (q *query) match(mb *mailbox, m *msgState) bool {
	var hdr *part
	header := func(name string) string {
		if hdr == nil {
			hdr = parseHeaderOnly(mb.rawOf(m))
		}
		return strings.ToLower(hdr.header(name))
	}
	for _, t := range q.terms {
		var ok bool
		switch t.key {
		case "after":
			ok = m.date >= t.t
		case "before":
			ok = m.date < t.t
		case "label":
			ok = slices.Contains(m.labels, t.label)
		case "from", "to", "subject":
			ok = strings.Contains(header(t.key), t.val)
		case "msgid":
			ids := msgIDList(header("message-id"))
			ok = len(ids) > 0 && strings.Trim(ids[0], "<>") == t.val
		case "text":
			ok = strings.Contains(header("subject"), t.val) || strings.Contains(header("from"), t.val)
		}
		if ok == t.neg {
			return false
		}
	}
	return true
}
