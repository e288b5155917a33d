package emulator

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// System labels (https://developers.google.com/gmail/api/guides/labels).
var systemLabels = []string{
	"CHAT", "SENT", "INBOX", "IMPORTANT", "TRASH", "DRAFT", "SPAM",
	"CATEGORY_FORUMS", "CATEGORY_UPDATES", "CATEGORY_PERSONAL",
	"CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "STARRED", "UNREAD",
}

// Labels whose visibility Gmail reports on labels.list.
var hiddenSystemLabels = map[string]bool{"CHAT": true, "CATEGORY_FORUMS": true, "CATEGORY_UPDATES": true, "CATEGORY_PERSONAL": true, "CATEGORY_PROMOTIONS": true, "CATEGORY_SOCIAL": true}

type label struct {
	id, name, typ string
	mlv, llv      string
	color         *apiLabelColor
}

// msgState is the compact per-message state kept in memory. Bytes live in
// raw, or are rebuilt by the mailbox's generator from gen.
type msgState struct {
	id, thread uint64
	date       int64 // internalDate, ms since epoch
	hist       uint64
	labels     []string // sorted; strings shared with label ids
	raw        []byte
	gen        int32 // generator index, -1 when raw holds the bytes
	deleted    bool
}

type threadState struct {
	subject string
	msgs    []uint64
}

type histKind uint8

const (
	histAdded histKind = iota + 1
	histDeleted
	histLabelAdded
	histLabelRemoved
)

type histRec struct {
	id      uint64
	at      int64 // unix nanoseconds
	kind    histKind
	msg     uint64
	thread  uint64
	changed []string // label ids added/removed
	labels  []string // message labels after the change
}

type draft struct {
	id  string
	msg uint64
}

type watchState struct {
	topic      string
	labelIDs   []string
	include    bool
	expiration time.Time
}

// mailbox is one user's Gmail state. All fields are guarded by mu.
type mailbox struct {
	mu        sync.Mutex
	email     string
	rng       *rand.Rand
	msgs      map[uint64]*msgState
	order     []*msgState // sorted by (date, id) ascending; may hold deleted entries
	ndeleted  int
	threads   map[uint64]*threadState
	msgIDs    map[string]uint64 // RFC 5322 Message-ID -> thread, for threading
	labels    map[string]*label
	nextLabel int
	history   []histRec
	historyID uint64
	minHist   uint64 // startHistoryId below this answers 404
	nextMsgID uint64
	gen       *Generator
	genIDs    []uint64
	rendered  *renderedMailbox // gen's messages in a spill file (WithRenderDir), or nil
	drafts    map[string]*draft
	nextDraft uint64
	watch     *watchState
	quota     quotaWindow
	inflight  int
	retention time.Duration
	pushScan  uint64 // history id up to which push relevance was checked
	scope     string // OAuth scope granted to this user's tokens ("" = full access)
}

func newMailbox(email string, seed uint64, now time.Time, retention time.Duration) *mailbox {
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(email)))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	mb := &mailbox{
		email:     email,
		rng:       rng,
		msgs:      map[uint64]*msgState{},
		threads:   map[uint64]*threadState{},
		msgIDs:    map[string]uint64{},
		labels:    map[string]*label{},
		nextLabel: 1,
		drafts:    map[string]*draft{},
		nextDraft: 1,
		retention: retention,
	}
	// Gmail message ids are 16 hex digits that grow with time.
	mb.nextMsgID = uint64(now.UnixMilli())<<20 | uint64(rng.IntN(1<<16))
	mb.historyID = 1000 + uint64(rng.IntN(9000))
	mb.minHist = mb.historyID
	for _, id := range systemLabels {
		l := &label{id: id, name: id, typ: "system"}
		if hiddenSystemLabels[id] {
			l.mlv, l.llv = "hide", "labelHide"
		}
		mb.labels[id] = l
	}
	return mb
}

func (mb *mailbox) newMsgID() uint64 {
	mb.nextMsgID += 1 + uint64(mb.rng.IntN(255))
	return mb.nextMsgID
}

// nextHistory allocates a new history id; Gmail's ids increase but are not
// contiguous, so clients must not assume id+1.
func (mb *mailbox) nextHistory() uint64 {
	mb.historyID += 1 + uint64(mb.rng.IntN(7))
	return mb.historyID
}

func (mb *mailbox) record(now time.Time, kind histKind, m *msgState, changed []string) {
	id := mb.nextHistory()
	m.hist = id
	r := histRec{id: id, at: now.UnixNano(), kind: kind, msg: m.id, thread: m.thread, changed: changed}
	if kind != histDeleted {
		r.labels = slices.Clone(m.labels)
	}
	mb.history = append(mb.history, r)
	if len(mb.history)%1024 == 0 {
		// Bound memory of mailboxes nobody polls.
		mb.prune(now, mb.retention)
	}
}

// prune drops history older than the retention window.
func (mb *mailbox) prune(now time.Time, retention time.Duration) {
	cutoff := now.Add(-retention).UnixNano()
	i, _ := slices.BinarySearchFunc(mb.history, cutoff, func(r histRec, c int64) int { return cmp.Compare(r.at, c) })
	if i == 0 {
		return
	}
	mb.minHist = max(mb.minHist, mb.history[i-1].id)
	mb.history = slices.Clone(mb.history[i:])
}

// canon returns the interned label id, or "" when the label does not exist.
func (mb *mailbox) canon(id string) string {
	if l, ok := mb.labels[id]; ok {
		return l.id
	}
	return ""
}

func (mb *mailbox) canonAll(ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		c := mb.canon(id)
		if c == "" {
			return nil, fmt.Errorf("%w: invalid label: %s", ErrInvalidInput, id)
		}
		out = append(out, c)
	}
	return out, nil
}

func (mb *mailbox) insertOrdered(m *msgState) {
	n := len(mb.order)
	if n == 0 || less(mb.order[n-1], m) {
		mb.order = append(mb.order, m)
		return
	}
	i, _ := slices.BinarySearchFunc(mb.order, m, func(a, b *msgState) int {
		if less(a, b) {
			return -1
		}
		if less(b, a) {
			return 1
		}
		return 0
	})
	mb.order = slices.Insert(mb.order, i, m)
}

func less(a, b *msgState) bool {
	if a.date != b.date {
		return a.date < b.date
	}
	return a.id < b.id
}

func (mb *mailbox) compact() {
	if mb.ndeleted < 64 || mb.ndeleted < len(mb.order)/4 {
		return
	}
	mb.order = slices.DeleteFunc(mb.order, func(m *msgState) bool { return m.deleted })
	mb.ndeleted = 0
}

func (mb *mailbox) rawOf(m *msgState) []byte {
	return mb.sourceOf(m).bytes()
}

// rawSource is what a message's bytes come from: the bytes themselves
// (never modified in place once stored), or the generator and index that
// regenerate them. It is taken under mb.mu and read without it: the
// generator is pure.
type rawSource struct {
	raw      []byte
	gen      *Generator
	i        int
	rendered *renderedMailbox // holds message i's format=raw answer, when not nil
}

func (mb *mailbox) sourceOf(m *msgState) rawSource {
	if m.raw != nil || m.gen < 0 || mb.gen == nil {
		return rawSource{raw: m.raw}
	}
	return rawSource{gen: mb.gen, i: int(m.gen), rendered: mb.rendered}
}

func (s rawSource) bytes() []byte {
	if s.gen == nil {
		return s.raw
	}
	return s.gen.Message(s.i)
}

// normSubject strips reply/forward prefixes so "Re: Re: x" threads with "x".
func normSubject(s string) string {
	s = strings.TrimSpace(s)
	for {
		l := strings.ToLower(s)
		cut := false
		for _, p := range []string{"re:", "fwd:", "fw:", "aw:", "wg:", "sv:", "tr:"} {
			if strings.HasPrefix(l, p) {
				s = strings.TrimSpace(s[len(p):])
				cut = true
				break
			}
		}
		if !cut {
			return strings.ToLower(s)
		}
	}
}

func msgIDList(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return out
		}
		out = append(out, s[i:i+j+1])
		s = s[i+j+1:]
	}
}

// addMessage stores a message and threads it like Gmail: a message joins
// the thread of a message it references (In-Reply-To/References, RFC 5322
// section 3.6.4) when the normalised subjects match. threadHint, when it
// names an existing thread, wins (messages.insert/send with threadId).
func (mb *mailbox) addMessage(now time.Time, raw []byte, labels []string, date int64, threadHint uint64) *msgState {
	root := parseHeaderOnly(raw)
	subj := normSubject(root.header("Subject"))
	m := &msgState{id: mb.newMsgID(), date: date, raw: raw, gen: -1, labels: sortedLabels(labels)}
	if _, ok := mb.threads[threadHint]; ok {
		m.thread = threadHint
	}
	if m.thread == 0 {
		refs := append(msgIDList(root.header("References")), msgIDList(root.header("In-Reply-To"))...)
		for i := len(refs) - 1; i >= 0 && m.thread == 0; i-- {
			t, ok := mb.msgIDs[refs[i]]
			if !ok {
				t, ok = mb.generatedThread(refs[i])
			}
			if ok {
				if ts := mb.threads[t]; ts != nil && (ts.subject == subj || subj == "" || ts.subject == "") {
					m.thread = t
				}
			}
		}
	}
	if m.thread == 0 {
		m.thread = m.id
		mb.threads[m.id] = &threadState{subject: subj}
	}
	ts := mb.threads[m.thread]
	ts.msgs = append(ts.msgs, m.id)
	if ids := msgIDList(root.header("Message-ID")); len(ids) > 0 {
		mb.msgIDs[ids[0]] = m.thread
	}
	mb.msgs[m.id] = m
	mb.insertOrdered(m)
	mb.record(now, histAdded, m, nil)
	return m
}

func parseHeaderOnly(raw []byte) *part {
	hb, _ := splitHeader(raw)
	return &part{headers: headerList(readHeader(hb))}
}

func sortedLabels(ls []string) []string {
	out := slices.Clone(ls)
	slices.Sort(out)
	return slices.Compact(out)
}

// modify applies label changes and records one history entry per kind of
// change that actually changed something (Gmail omits no-op changes).
func (mb *mailbox) modify(now time.Time, m *msgState, add, remove []string) {
	var added, removed []string
	for _, l := range add {
		if !slices.Contains(m.labels, l) && !slices.Contains(remove, l) {
			added = append(added, l)
		}
	}
	for _, l := range remove {
		if slices.Contains(m.labels, l) {
			removed = append(removed, l)
		}
	}
	if len(added) > 0 {
		m.labels = sortedLabels(append(slices.Clone(m.labels), added...))
		mb.record(now, histLabelAdded, m, added)
	}
	if len(removed) > 0 {
		m.labels = slices.DeleteFunc(slices.Clone(m.labels), func(l string) bool { return slices.Contains(removed, l) })
		mb.record(now, histLabelRemoved, m, removed)
	}
}

func (mb *mailbox) remove(now time.Time, m *msgState) {
	m.deleted = true
	delete(mb.msgs, m.id)
	mb.ndeleted++
	if ts := mb.threads[m.thread]; ts != nil {
		ts.msgs = slices.DeleteFunc(ts.msgs, func(id uint64) bool { return id == m.id })
		if len(ts.msgs) == 0 {
			delete(mb.threads, m.thread)
		}
	}
	for id, d := range mb.drafts {
		if d.msg == m.id {
			delete(mb.drafts, id)
		}
	}
	mb.record(now, histDeleted, m, nil)
	m.raw = nil
	mb.compact()
}

func (mb *mailbox) labelByName(name string) *label {
	for _, l := range mb.labels {
		if strings.EqualFold(l.name, name) {
			return l
		}
	}
	return nil
}

func (mb *mailbox) createLabel(in apiLabel) (*label, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, fmt.Errorf("%w: label name required", ErrInvalidInput)
	}
	if mb.labelByName(name) != nil {
		return nil, fmt.Errorf("%w: label name exists or conflicts", ErrUserExists)
	}
	l := &label{id: fmt.Sprintf("Label_%d", mb.nextLabel), name: name, typ: "user", mlv: in.MessageListVisibility, llv: in.LabelListVisibility, color: in.Color}
	mb.nextLabel++
	mb.labels[l.id] = l
	return l, nil
}

// deleteLabel removes a user label and, like Gmail, takes it off every
// message (each removal gets a labelsRemoved history record).
func (mb *mailbox) deleteLabel(now time.Time, id string) error {
	l, ok := mb.labels[id]
	if !ok {
		return ErrNotFound
	}
	if l.typ == "system" {
		return fmt.Errorf("%w: system labels cannot be deleted", ErrInvalidInput)
	}
	for _, m := range mb.order {
		if !m.deleted && slices.Contains(m.labels, l.id) {
			mb.modify(now, m, nil, []string{l.id})
		}
	}
	delete(mb.labels, id)
	return nil
}

func (mb *mailbox) threadsTotal() int { return len(mb.threads) }

// addressesOf extracts addresses from an address-list header leniently.
func addressesOf(v string) []string {
	list, err := mail.ParseAddressList(v)
	if err != nil {
		var out []string
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '<' || r == '>' }) {
			if strings.Contains(f, "@") {
				out = append(out, strings.ToLower(f))
			}
		}
		return out
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, strings.ToLower(a.Address))
	}
	return out
}

// generatedThread resolves a Message-ID minted by the mailbox's generator
// ("<index.hex.gen@...>") without indexing a million ids up front.
func (mb *mailbox) generatedThread(msgID string) (uint64, bool) {
	if mb.gen == nil {
		return 0, false
	}
	idx, rest, ok := strings.Cut(strings.TrimPrefix(msgID, "<"), ".")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(mb.genIDs) || mb.gen.messageID(i) != msgID || rest == "" {
		return 0, false
	}
	m := mb.msgs[mb.genIDs[i]]
	if m == nil {
		return 0, false
	}
	return m.thread, true
}
