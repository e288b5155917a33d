package search

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Document is one email message as the index sees it.
type Document struct {
	ID         int64 // database id of the message; unique across tenants
	TenantID   int64
	MailboxID  int64
	GmailID    string
	ThreadID   string
	Subject    string
	From       string   // "Name <addr>" (name may be empty)
	To         []string // "Name <addr>"
	Cc         []string
	Bcc        []string
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

// Sort selects the order of hits.
type Sort int

const (
	// Relevance orders by score, newest first among equal scores.
	Relevance Sort = iota
	// DateDesc orders newest first.
	DateDesc
	// DateAsc orders oldest first.
	DateAsc
)

// String returns the name used on the command line and in the API.
func (s Sort) String() string {
	switch s {
	case DateDesc:
		return "date_desc"
	case DateAsc:
		return "date_asc"
	default:
		return "relevance"
	}
}

// ParseSort maps "relevance", "date_desc"/"newest" and "date_asc"/"oldest" to a Sort.
func ParseSort(s string) (Sort, error) {
	switch s {
	case "", "relevance":
		return Relevance, nil
	case "date_desc", "newest", "date":
		return DateDesc, nil
	case "date_asc", "oldest":
		return DateAsc, nil
	}
	return Relevance, fmt.Errorf("search: unknown sort %q (want relevance, date_desc or date_asc)", s)
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

// Result is one page of hits.
type Result struct {
	Total int64  `json:"total"`
	Hits  []Hit  `json:"hits"`
	Next  string `json:"next,omitempty"` // cursor for the next page, "" at the end
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
	// IDs lists the tenant's document ids, in one mailbox or all (0), ascending.
	IDs(ctx context.Context, tenantID, mailboxID int64) ([]int64, error)
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
