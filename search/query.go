package search

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The query language follows Gmail's search operators
// (https://support.google.com/mail/answer/7190): free words, "quoted
// phrases", field operators, OR, -negation and parentheses. Unlike Gmail,
// a free word also matches as a word prefix ("invo" finds "invoice"), and
// malformed input is a *SyntaxError instead of being searched literally, so
// a user never sees an empty result that is really a typo.

// Limits that keep parsing and the generated backend queries bounded.
const (
	maxQueryLen   = 4096
	maxQueryDepth = 32
	maxQueryTerms = 256
)

// SyntaxError reports malformed query text. Pos is the 0-based byte offset
// in the query where the problem was found.
type SyntaxError struct {
	Pos   int
	Query string
	Msg   string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("search: syntax error at position %d: %s", e.Pos+1, e.Msg)
}

// Node is one element of a parsed query.
type Node interface {
	// String renders the node in the query language; parsing the result
	// yields an equal tree.
	String() string
}

// Text fields an operator can restrict a word or phrase to. FieldAny means
// every text field (subject, people, body, filenames).
const (
	FieldAny      = ""
	FieldFrom     = "from"
	FieldTo       = "to"
	FieldCc       = "cc"
	FieldBcc      = "bcc"
	FieldSubject  = "subject"
	FieldFilename = "filename"
)

// TextNode matches a word (as a word prefix) or an exact phrase in Field.
type TextNode struct {
	Field  string
	Text   string
	Phrase bool
}

// LabelNode matches messages carrying a label. Label is normalised: lower
// case, with spaces and slashes turned into '-', as Gmail writes label names
// in queries; system labels use their lower-cased id (inbox, trash, unread).
type LabelNode struct{ Label string }

// AttachmentNode is has:attachment.
type AttachmentNode struct{}

// AllNode is in:anywhere: it matches every message, trash and spam included.
type AllNode struct{}

// DateNode is before:/after: with an absolute instant: After means
// date >= At, otherwise date < At.
type DateNode struct {
	After bool
	At    time.Time
}

// RelDateNode is newer_than:/older_than: relative to Request.Now.
type RelDateNode struct {
	Newer bool
	N     int
	Unit  byte // 'd', 'm' or 'y'
}

// Since returns the boundary instant for now.
func (n *RelDateNode) Since(now time.Time) time.Time {
	switch n.Unit {
	case 'y':
		return now.AddDate(-n.N, 0, 0)
	case 'm':
		return now.AddDate(0, -n.N, 0)
	default:
		return now.AddDate(0, 0, -n.N)
	}
}

// AndNode matches when every child matches.
type AndNode struct{ Children []Node }

// OrNode matches when any child matches.
type OrNode struct{ Children []Node }

// NotNode matches when Child does not.
type NotNode struct{ Child Node }

// Query is a parsed query. IncludeTrash/IncludeSpam are set when the query
// names trash/spam (in:trash, in:spam, label:trash, in:anywhere); otherwise
// backends exclude those messages, as Gmail does.
type Query struct {
	Root         Node
	IncludeTrash bool
	IncludeSpam  bool
}

func (q *Query) String() string { return q.Root.String() }

func (n *TextNode) String() string {
	v := n.Text
	if n.Phrase {
		v = `"` + v + `"`
	}
	if n.Field == FieldAny {
		return v
	}
	return n.Field + ":" + v
}
func (n *LabelNode) String() string      { return "label:" + n.Label }
func (n *AttachmentNode) String() string { return "has:attachment" }
func (n *AllNode) String() string        { return "in:anywhere" }
func (n *DateNode) String() string {
	op := "before:"
	if n.After {
		op = "after:"
	}
	t := n.At.UTC()
	if !t.Equal(t.Truncate(24 * time.Hour)) {
		return op + strconv.FormatInt(t.Unix(), 10) // an epoch value with a time of day
	}
	return op + t.Format("2006/01/02")
}
func (n *RelDateNode) String() string {
	op := "older_than:"
	if n.Newer {
		op = "newer_than:"
	}
	return op + strconv.Itoa(n.N) + string(n.Unit)
}
func (n *AndNode) String() string { return joinNodes(n.Children, " ") }
func (n *OrNode) String() string  { return joinNodes(n.Children, " OR ") }
func (n *NotNode) String() string {
	if _, ok := n.Child.(*NotNode); ok {
		return "-(" + n.Child.String() + ")" // "--a" is a syntax error
	}
	return "-" + wrap(n.Child)
}

func joinNodes(ns []Node, sep string) string {
	parts := make([]string, len(ns))
	for i, c := range ns {
		parts[i] = wrap(c)
	}
	return strings.Join(parts, sep)
}

func wrap(n Node) string {
	switch n.(type) {
	case *AndNode, *OrNode:
		return "(" + n.String() + ")"
	}
	return n.String()
}

// ParseQuery parses Gmail-style query text with dates in UTC. Errors are
// *SyntaxError.
func ParseQuery(q string) (*Query, error) { return ParseQueryIn(q, time.UTC) }

// ParseQueryIn parses query text whose before:/after: dates are midnights
// in loc, the searching user's time zone, as Gmail reads them (nil is UTC).
func ParseQueryIn(q string, loc *time.Location) (*Query, error) {
	if loc == nil {
		loc = time.UTC
	}
	if len(q) > maxQueryLen {
		return nil, &SyntaxError{Pos: maxQueryLen, Query: q, Msg: fmt.Sprintf("query longer than %d bytes", maxQueryLen)}
	}
	if !utf8.ValidString(q) {
		return nil, &SyntaxError{Pos: invalidUTF8At(q), Query: q, Msg: "query is not valid UTF-8"}
	}
	p := &parser{src: q, loc: loc}
	p.skipSpace()
	if p.eof() {
		// An empty AND matches everything but, unlike in:anywhere, still
		// leaves trash and spam out.
		return &Query{Root: &AndNode{}}, nil
	}
	root, err := p.parseOr(FieldAny)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		if p.peek() == ')' {
			return nil, p.errf(p.pos, "unbalanced ')'")
		}
		return nil, p.errf(p.pos, "unexpected %q", p.peek())
	}
	out := &Query{Root: root}
	walk(root, func(n Node) {
		switch n := n.(type) {
		case *LabelNode:
			out.IncludeTrash = out.IncludeTrash || n.Label == "trash"
			out.IncludeSpam = out.IncludeSpam || n.Label == "spam"
		case *AllNode:
			out.IncludeTrash, out.IncludeSpam = true, true
		}
	})
	return out, nil
}

func invalidUTF8At(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return 0
}

func walk(n Node, fn func(Node)) {
	fn(n)
	switch n := n.(type) {
	case *AndNode:
		for _, c := range n.Children {
			walk(c, fn)
		}
	case *OrNode:
		for _, c := range n.Children {
			walk(c, fn)
		}
	case *NotNode:
		walk(n.Child, fn)
	}
}

type parser struct {
	loc   *time.Location
	src   string
	pos   int
	depth int
	terms int
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Query: p.src, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() rune {
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *parser) skipSpace() {
	for !p.eof() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += size
	}
}

// keyword reports whether the next bare word is kw (OR/AND are upper case
// only, as in Gmail; "or" is an ordinary word).
func (p *parser) keyword(kw string) bool {
	if !strings.HasPrefix(p.src[p.pos:], kw) {
		return false
	}
	end := p.pos + len(kw)
	if end == len(p.src) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(p.src[end:])
	return unicode.IsSpace(r) || r == '(' || r == ')' || r == '"' || r == '-'
}

func (p *parser) parseOr(field string) (Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxQueryDepth {
		return nil, p.errf(p.pos, "query nested deeper than %d levels", maxQueryDepth)
	}
	var alts []Node
	for {
		p.skipSpace()
		start := p.pos
		if p.keyword("OR") {
			return nil, p.errf(start, "OR needs a search term on its left")
		}
		n, err := p.parseAnd(field)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
		p.skipSpace()
		if !p.keyword("OR") {
			break
		}
		orPos := p.pos
		p.pos += len("OR")
		p.skipSpace()
		if p.eof() || p.peek() == ')' {
			return nil, p.errf(orPos, "OR needs a search term on its right")
		}
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &OrNode{Children: alts}, nil
}

func (p *parser) parseAnd(field string) (Node, error) {
	var items []Node
	for {
		p.skipSpace()
		if p.eof() || p.peek() == ')' || p.keyword("OR") {
			break
		}
		if p.keyword("AND") {
			andPos := p.pos
			p.pos += len("AND")
			p.skipSpace()
			if len(items) == 0 || p.eof() || p.peek() == ')' || p.keyword("OR") {
				return nil, p.errf(andPos, "AND needs a search term on both sides")
			}
			continue
		}
		n, err := p.parseUnary(field)
		if err != nil {
			return nil, err
		}
		if n != nil {
			items = append(items, n)
		}
	}
	switch len(items) {
	case 0:
		if p.eof() {
			return nil, p.errf(p.pos, "missing search term")
		}
		return nil, p.errf(p.pos, "missing search term before %q", p.peek())
	case 1:
		return items[0], nil
	}
	return &AndNode{Children: items}, nil
}

func (p *parser) parseUnary(field string) (Node, error) {
	if p.peek() != '-' {
		return p.parsePrimary(field)
	}
	minus := p.pos
	p.pos++
	if p.eof() || unicode.IsSpace(p.peek()) || p.peek() == ')' {
		return nil, p.errf(minus, "'-' must be followed by the term to exclude")
	}
	if p.peek() == '-' {
		return nil, p.errf(p.pos, "double negation")
	}
	n, err := p.parseUnary(field)
	if err != nil || n == nil {
		return n, err
	}
	return &NotNode{Child: n}, nil
}

// parsePrimary returns nil (and no error) for a word without letters or
// digits, which matches like punctuation in Gmail: it is ignored.
func (p *parser) parsePrimary(field string) (Node, error) {
	p.terms++
	if p.terms > maxQueryTerms {
		return nil, p.errf(p.pos, "more than %d search terms", maxQueryTerms)
	}
	switch p.peek() {
	case '(':
		return p.group(field)
	case '"':
		text, err := p.quoted()
		if err != nil {
			return nil, err
		}
		return phraseNode(field, text), nil
	}
	start := p.pos
	word := p.word()
	if i := strings.IndexByte(word, ':'); i > 0 {
		if op := strings.ToLower(word[:i]); isOperator(op) {
			return p.operator(op, start, start+i+1, word[i+1:], field)
		}
	}
	return wordNode(field, word), nil
}

// word reads up to whitespace, a parenthesis or a quote.
func (p *parser) word() string {
	start := p.pos
	for !p.eof() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if unicode.IsSpace(r) || r == '(' || r == ')' || r == '"' {
			break
		}
		p.pos += size
	}
	return p.src[start:p.pos]
}

// quoted reads a "..." phrase; p.pos is at the opening quote.
func (p *parser) quoted() (string, error) {
	open := p.pos
	end := strings.IndexByte(p.src[open+1:], '"')
	if end < 0 {
		return "", p.errf(open, "unclosed quote")
	}
	p.pos = open + 1 + end + 1
	return p.src[open+1 : open+1+end], nil
}

func hasWordChar(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

func wordNode(field, w string) Node {
	if !hasWordChar(w) {
		return nil
	}
	return &TextNode{Field: field, Text: w}
}

func phraseNode(field, text string) Node {
	text = strings.Join(strings.Fields(text), " ")
	if !hasWordChar(text) {
		return nil
	}
	return &TextNode{Field: field, Text: text, Phrase: true}
}

var textOperators = map[string]string{
	"from": FieldFrom, "to": FieldTo, "cc": FieldCc, "bcc": FieldBcc,
	"subject": FieldSubject, "filename": FieldFilename,
}

func isOperator(op string) bool {
	if _, ok := textOperators[op]; ok {
		return true
	}
	switch op {
	case "label", "in", "is", "has", "category", "before", "after", "older", "newer", "newer_than", "older_than":
		return true
	}
	return false
}

// operator parses the value of op; valPos is where the value starts and
// rest is what word() already consumed after the colon.
func (p *parser) operator(op string, opPos, valPos int, rest, field string) (Node, error) {
	if tf, ok := textOperators[op]; ok {
		switch {
		case rest != "":
			return wordNode(tf, rest), nil
		case p.eof() || unicode.IsSpace(p.peek()) || p.peek() == ')':
			return nil, p.errf(opPos, "%s: needs a value", op)
		case p.peek() == '"':
			text, err := p.quoted()
			if err != nil {
				return nil, err
			}
			return phraseNode(tf, text), nil
		default: // '(' : subject:(dinner movie) applies the field to the group
			return p.group(tf)
		}
	}
	value := rest
	if value == "" && !p.eof() && p.peek() == '"' {
		q, err := p.quoted()
		if err != nil {
			return nil, err
		}
		value = strings.TrimSpace(q)
	}
	if value == "" {
		return nil, p.errf(opPos, "%s: needs a value", op)
	}
	lv := strings.ToLower(value)
	switch op {
	case "label":
		l := normLabel(value)
		if l == "" {
			return nil, p.errf(valPos, "label: needs a label name")
		}
		return &LabelNode{Label: l}, nil
	case "category":
		c, ok := categories[lv]
		if !ok {
			return nil, p.errf(valPos, "unknown category %q (want primary, social, promotions, updates or forums)", value)
		}
		return &LabelNode{Label: c}, nil
	case "in":
		switch lv {
		case "anywhere":
			return &AllNode{}, nil
		case "inbox", "sent", "trash", "spam", "starred", "important", "unread":
			return &LabelNode{Label: lv}, nil
		case "bin":
			return &LabelNode{Label: "trash"}, nil
		case "draft", "drafts":
			return &LabelNode{Label: "draft"}, nil
		}
		return nil, p.errf(valPos, "unknown in: value %q (want inbox, sent, drafts, trash, spam, starred, important or anywhere)", value)
	case "is":
		switch lv {
		case "unread", "starred", "important":
			return &LabelNode{Label: lv}, nil
		case "read":
			return &NotNode{Child: &LabelNode{Label: "unread"}}, nil
		case "unstarred":
			return &NotNode{Child: &LabelNode{Label: "starred"}}, nil
		}
		return nil, p.errf(valPos, "unknown is: value %q (want unread, read, starred, unstarred or important)", value)
	case "has":
		if lv == "attachment" {
			return &AttachmentNode{}, nil
		}
		return nil, p.errf(valPos, "unknown has: value %q (want attachment)", value)
	case "before", "after", "older", "newer":
		t, err := parseDate(value, p.loc)
		if err != nil {
			return nil, p.errf(valPos, "%s: %v", op, err)
		}
		return &DateNode{After: op == "after" || op == "newer", At: t}, nil
	case "newer_than", "older_than":
		n, unit, err := parseRelative(lv)
		if err != nil {
			return nil, p.errf(valPos, "%s: %v", op, err)
		}
		return &RelDateNode{Newer: op == "newer_than", N: n, Unit: unit}, nil
	}
	return nil, p.errf(opPos, "unknown operator %q", op)
}

var categories = map[string]string{
	"primary": "category_personal", "personal": "category_personal",
	"social": "category_social", "promotions": "category_promotions",
	"updates": "category_updates", "forums": "category_forums",
	"reservations": "category_reservations", "purchases": "category_purchases",
}

// normLabel lower-cases a label id or name and writes spaces and '/' as '-',
// which is how Gmail expects label names in queries ("label:my-project"
// finds "My Project", "label:work-clients" finds "Work/Clients").
func normLabel(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	dash := false
	for _, r := range s {
		if unicode.IsSpace(r) || r == '/' || r == '-' {
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		dash = false
		b.WriteRune(r)
	}
	return strings.TrimSuffix(b.String(), "-")
}

// parseDate accepts YYYY/MM/DD and YYYY-MM-DD (midnight in loc) and, as
// Gmail does, seconds since the Unix epoch.
func parseDate(v string, loc *time.Location) (time.Time, error) {
	t, err := parseDateValue(v, loc)
	// Index backends store dates as nanoseconds since 1970 in an int64,
	// which ends in 2262: a date beyond the range is the client's mistake.
	if err == nil && (t.Year() < 1900 || t.Year() > 2200) {
		return time.Time{}, fmt.Errorf("date %q is out of range (years 1900 to 2200)", v)
	}
	return t, err
}

func parseDateValue(v string, loc *time.Location) (time.Time, error) {
	if v != "" && strings.Trim(v, "0123456789") == "" && len(v) <= 11 {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			return time.Unix(secs, 0).UTC(), nil
		}
	}
	for _, layout := range []string{"2006/1/2", "2006-1-2"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q (want YYYY/MM/DD or YYYY-MM-DD)", v)
}

func parseRelative(v string) (int, byte, error) {
	if len(v) < 2 {
		return 0, 0, fmt.Errorf("bad age %q (want a number and d, m or y, e.g. 7d)", v)
	}
	unit := v[len(v)-1]
	n, err := strconv.Atoi(v[:len(v)-1])
	if err != nil || n < 0 || n > 10000 || (unit != 'd' && unit != 'm' && unit != 'y') {
		return 0, 0, fmt.Errorf("bad age %q (want a number and d, m or y, e.g. 7d)", v)
	}
	return n, unit, nil
}

// group parses "( … )" at p.pos: an OR of terms, each searching field
// ("" for every field; subject:(dinner movie) applies subject to all).
func (p *parser) group(field string) (Node, error) {
	open := p.pos
	p.pos++
	p.skipSpace()
	if !p.eof() && p.peek() == ')' {
		return nil, p.errf(open, "empty parentheses")
	}
	n, err := p.parseOr(field)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.peek() != ')' {
		return nil, p.errf(open, "unclosed '('")
	}
	p.pos++
	return n, nil
}

// parseRequest parses req's query in the request's time zone and fixes
// the clock its relative dates (newer_than:, older_than:) count from.
func parseRequest(req Request) (*Query, time.Time, error) {
	pq, err := ParseQueryIn(req.Query, req.Location)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	return pq, now, nil
}
