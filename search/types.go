package search

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"tidings/models"
)

// Document is one email message as the index sees it.
type Document struct {
	ID         int64 // database id of the message; unique across tenants
	TenantID   int64
	MailboxID  int64
	GmailID    string
	ThreadID   string
	Subject    string
	From       Address
	To         []Address
	Cc         []Address
	Bcc        []Address
	Body       string   // plain text, already valid UTF-8
	LabelIDs   []string // Gmail label ids: INBOX, SENT, TRASH, SPAM, UNREAD, STARRED, CATEGORY_*, Label_123
	LabelNames []string // display names of user labels (for label:NAME)
	Date       time.Time
	// HasAttachment and Filenames feed has:attachment and filename:.
	HasAttachment bool
	Filenames     []string
	ContactIDs    []int64
	AccountIDs    []int64
	CaseIDs       []int64
}

// Address is one participant of a message as the index sees it: the
// display name and the addr-spec (RFC 5322 section 3.4), taken from the
// participant rows sync stored (so normalized, lower-case), so the index
// never parses a header again. A participant without a usable address
// keeps its text in Name so its words stay searchable. It is the store's
// own type: the index adds nothing to it.
type Address = models.NameAddr

// displayAddresses are the display forms of list, for full-text fields.
func displayAddresses(list []Address) []string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		if s := a.String(); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// addrSpecs are the addr-specs of list that have one, for address terms.
func addrSpecs(list ...Address) []string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		if a.Address != "" {
			out = append(out, a.Address)
		}
	}
	return out
}

// Sort selects the order of hits. The zero value is newest first, as in
// Gmail; relevance is on request.
type Sort int

const (
	// DateDesc orders newest first (the default).
	DateDesc Sort = iota
	// Relevance orders by score, newest first among equal scores.
	Relevance
	// DateAsc orders oldest first.
	DateAsc
)

// String returns the name used on the command line and in the API.
func (s Sort) String() string {
	switch s {
	case Relevance:
		return "relevance"
	case DateAsc:
		return "date_asc"
	default:
		return "date_desc"
	}
}

// ParseSort maps "" and "date_desc"/"newest", "relevance" and
// "date_asc"/"oldest" to a Sort.
func ParseSort(s string) (Sort, error) {
	switch s {
	case "", "date_desc", "newest", "date":
		return DateDesc, nil
	case "relevance":
		return Relevance, nil
	case "date_asc", "oldest":
		return DateAsc, nil
	}
	return DateDesc, fmt.Errorf("search: unknown sort %q (want relevance, date_desc or date_asc)", s)
}

// DefaultSize and MaxSize bound Request.Size.
const (
	DefaultSize = 20
	MaxSize     = 500
)

// Request is one search. Filters by mailbox, contact, account and case are
// ANDed with the query; within one filter list any id matches.
type Request struct {
	Query      string
	MailboxIDs []int64
	ContactIDs []int64
	AccountIDs []int64
	CaseIDs    []int64
	Sort       Sort
	Size       int    // 0 = DefaultSize; capped at MaxSize
	After      string // opaque cursor from Result.Next for stable deep pagination
	Now        time.Time
	// Location is the searching user's time zone: before:/after: dates
	// are its midnights. nil means UTC.
	Location *time.Location
}

// MaxTotal is how far a search counts its matches: the total is exact up
// to MaxTotal and reported as "at least MaxTotal" beyond, as
// Elasticsearch's track_total_hits does by default, so that a broad query
// need not visit every match to answer.
const MaxTotal = 10000

// Total relations, as Elasticsearch's hits.total.relation.
const (
	TotalExact   = "eq"
	TotalAtLeast = "gte"
)

// Result is one page of hits.
type Result struct {
	// Total is the number of matches, exact when TotalRelation is "eq";
	// "gte" means more than MaxTotal matched and Total is MaxTotal.
	Total         int64  `json:"total"`
	TotalRelation string `json:"total_relation"`
	Hits          []Hit  `json:"hits"`
	Next          string `json:"next,omitempty"` // cursor for the next page, "" at the end
}

// setTotal records n matches under the MaxTotal contract.
func (r *Result) setTotal(n int64) {
	if n > MaxTotal {
		r.Total, r.TotalRelation = MaxTotal, TotalAtLeast
		return
	}
	r.Total, r.TotalRelation = n, TotalExact
}

// TotalText is the count as a person reads it: "1,234" or
// "more than 10,000".
func (r *Result) TotalText() string {
	n := groupThousands(r.Total)
	if r.TotalRelation == TotalAtLeast {
		return "more than " + n
	}
	return n
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Hit is one matching message.
type Hit struct {
	ID         int64               `json:"id"`
	MailboxID  int64               `json:"mailbox_id"`
	GmailID    string              `json:"gmail_id"`
	ThreadID   string              `json:"thread_id"`
	Subject    string              `json:"subject"`
	From       string              `json:"from"`
	Date       time.Time           `json:"date"`
	Score      float64             `json:"score"`
	Highlights map[string][]string `json:"highlights,omitempty"` // field → fragments with <mark>…</mark>, HTML-escaped
}

// Index is a tenant-scoped search index. Implementations: the embedded
// bleve index (OpenBleve) and Elasticsearch (OpenElasticsearch).
type Index interface {
	// Index upserts documents by ID.
	Index(ctx context.Context, docs []Document) error
	// Delete removes documents of the tenant; ids of other tenants and
	// unknown ids are ignored.
	Delete(ctx context.Context, tenantID int64, ids []int64) error
	// UpdateLabels replaces the labels of one message; ErrNotFound when the
	// tenant has no such message in the index.
	UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error
	Search(ctx context.Context, tenantID int64, req Request) (*Result, error)
	// Count counts the tenant's documents, in one mailbox or all (0).
	Count(ctx context.Context, tenantID int64, mailboxID int64) (int64, error)
	// Hashes maps the tenant's document ids, in one mailbox or all (0),
	// to the Document.Hash they were indexed with.
	Hashes(ctx context.Context, tenantID, mailboxID int64) (map[int64]string, error)
	Close() error
}

// Source yields a tenant's documents in batches, typically from the database.
type Source interface {
	Documents(ctx context.Context, tenantID int64, fn func(batch []Document) error) error
}

// Sentinel errors.
var (
	// ErrNotFound: the document is not in the tenant's index.
	ErrNotFound = errors.New("search: document not found")
	// ErrBadCursor: Request.After is not a cursor this index produced for this sort.
	ErrBadCursor = errors.New("search: invalid pagination cursor")
	// ErrNoTenant: a tenant id of 0 was passed where a tenant is required.
	ErrNoTenant = errors.New("search: tenant id required")
)
