// Package models owns tidings' domain types — tenants and their users, the
// CRM records (accounts, contacts, cases) and the mail synced into them
// (mailboxes, threads, messages, labels, attachments) — and their persistence:
// versioned migrations and a tenant-scoped Store on gorm, over Postgres or
// embedded SQLite. The Store also keeps what the processes share:
// sessions, invitations and API tokens (session.go, invitation.go,
// auth.go), the outbox of outgoing mail and mailbox actions (outbox.go),
// the search outbox the indexer drains (searchoutbox.go) and the
// per-mailbox sync leases (lease.go); Cipher (secret.go) seals OAuth tokens
// at rest.
//
// Every row carries its tenant, and every Store method takes the tenant id:
// there is no way to read another tenant's rows by id. Rows that mirror Gmail
// have natural unique keys (mailbox + Gmail id) so that every write can be an
// idempotent upsert and any sync task can safely run twice.
package models

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is returned when a row does not exist within the caller's tenant.
var ErrNotFound = errors.New("models: not found")

// ErrConflict is returned when a write would break a uniqueness rule that the
// caller can fix (an address already used by another contact, say).
var ErrConflict = errors.New("models: conflict")

// ErrNeedsReauth is returned when a mailbox's OAuth grant was revoked or
// expired: nothing can be fetched from Gmail until the user reconnects.
var ErrNeedsReauth = errors.New("models: mailbox needs re-authorization")

// Tenant is one organization using tidings. Domains are the organization's
// own email domains: mail from them never creates a CRM account.
type Tenant struct {
	ID        int64 `gorm:"primaryKey"`
	Name      string
	Domains   StringList `gorm:"type:text"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Role is a user's role within a tenant.
type Role string

// Roles. An admin manages the tenant's users and mailboxes.
const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// User is a login identity. A user belongs to tenants through Memberships.
type User struct {
	ID    int64  `gorm:"primaryKey"`
	Email string `gorm:"uniqueIndex;not null"`
	Name  string
	// PasswordHash is a PHC-style argon2id string (see HashPassword).
	PasswordHash string `json:"-"`
	// LastTenantID is the organization the user worked in last; their
	// next login lands there.
	LastTenantID *int64
	// TimeZone is the IANA zone dates are shown in and search date
	// operators mean ("" until chosen: UTC).
	TimeZone  string `gorm:"not null;default:''"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Location is the user's time zone, UTC when unset or unknown.
func (u User) Location() *time.Location {
	if u.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(u.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Membership ties a user to a tenant with a role.
type Membership struct {
	ID        int64 `gorm:"primaryKey"`
	TenantID  int64 `gorm:"uniqueIndex:ux_membership;not null"`
	UserID    int64 `gorm:"uniqueIndex:ux_membership;not null"`
	Role      Role  `gorm:"not null"`
	CreatedAt time.Time
}

// Account is a CRM company. Its Domains link contacts and mail to it.
type Account struct {
	ID        int64  `gorm:"primaryKey"`
	TenantID  int64  `gorm:"index;not null"`
	Name      string `gorm:"not null"`
	Website   string
	Domains   []AccountDomain `gorm:"foreignKey:AccountID"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AccountDomain is one email domain of an account; a domain belongs to at
// most one account per tenant.
type AccountDomain struct {
	TenantID  int64  `gorm:"primaryKey"`
	Domain    string `gorm:"primaryKey"`
	AccountID int64  `gorm:"index;not null"`
}

// Contact is a person. Emails link the contact to the mail it appears in.
type Contact struct {
	ID        int64 `gorm:"primaryKey"`
	TenantID  int64 `gorm:"index;not null"`
	FirstName string
	LastName  string
	AccountID *int64         `gorm:"index"`
	Emails    []ContactEmail `gorm:"foreignKey:ContactID"`
	// AutoCreated marks contacts created by the sync's contact policy
	// rather than by a person.
	AutoCreated bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Name is the contact's display name.
func (c Contact) Name() string {
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// ContactEmail is one address of a contact, stored lower-cased; an address
// belongs to at most one contact per tenant.
type ContactEmail struct {
	TenantID  int64  `gorm:"primaryKey"`
	Address   string `gorm:"primaryKey"`
	ContactID int64  `gorm:"index;not null"`
}

// CaseStatus is the lifecycle state of a case.
type CaseStatus string

// Case statuses.
const (
	CaseNew     CaseStatus = "new"
	CaseOpen    CaseStatus = "open"
	CasePending CaseStatus = "pending"
	CaseClosed  CaseStatus = "closed"
)

// Valid reports whether s is a known status.
func (s CaseStatus) Valid() bool {
	switch s {
	case CaseNew, CaseOpen, CasePending, CaseClosed:
		return true
	}
	return false
}

// CasePriority orders cases by urgency.
type CasePriority string

// Case priorities.
const (
	PriorityLow    CasePriority = "low"
	PriorityNormal CasePriority = "normal"
	PriorityHigh   CasePriority = "high"
	PriorityUrgent CasePriority = "urgent"
)

// Valid reports whether p is a known priority.
func (p CasePriority) Valid() bool {
	switch p {
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
		return true
	}
	return false
}

// Case is a support or sales case, linked to an account, a contact and
// messages.
type Case struct {
	ID          int64  `gorm:"primaryKey"`
	TenantID    int64  `gorm:"index;not null"`
	Subject     string `gorm:"not null"`
	Description string
	Status      CaseStatus   `gorm:"not null;index"`
	Priority    CasePriority `gorm:"not null"`
	AssigneeID  *int64       `gorm:"index"`
	AccountID   *int64       `gorm:"index"`
	ContactID   *int64       `gorm:"index"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// CaseMessage links a message to a case.
type CaseMessage struct {
	TenantID  int64 `gorm:"index;not null"`
	CaseID    int64 `gorm:"primaryKey"`
	MessageID int64 `gorm:"primaryKey;index"`
	CreatedAt time.Time
}

// SyncState is where a mailbox's synchronization stands.
type SyncState string

// Sync states.
const (
	SyncPending     SyncState = "pending"      // connected, never synced
	SyncFull        SyncState = "full_sync"    // a full (or reconcile) sync is under way
	SyncIdle        SyncState = "idle"         // consistent as of LastSyncAt
	SyncIncremental SyncState = "incremental"  // an incremental sync is under way
	SyncError       SyncState = "error"        // the last sync failed; it will be retried
	SyncNeedsReauth SyncState = "needs_reauth" // the grant was revoked; syncs are stopped
)

// Mailbox is a connected Gmail address. Its OAuth token is stored encrypted
// (see Cipher); HistoryID is the history cursor of incremental sync.
type Mailbox struct {
	ID       int64  `gorm:"primaryKey"`
	TenantID int64  `gorm:"uniqueIndex:ux_mailbox_email;not null"`
	OwnerID  int64  `gorm:"index"`
	Provider string `gorm:"not null"`
	Email    string `gorm:"uniqueIndex:ux_mailbox_email;not null"`
	// TokenCiphertext is the AEAD-sealed JSON of the OAuth token.
	TokenCiphertext []byte `json:"-"`
	// HistoryID is the Gmail historyId up to which everything is stored.
	HistoryID uint64
	SyncState SyncState `gorm:"not null"`
	// FullSyncHistoryID and FullSyncPageToken checkpoint a full sync: the
	// profile historyId taken before listing, and the next list page.
	FullSyncHistoryID uint64
	FullSyncPageToken string
	ProgressDone      int64
	ProgressTotal     int64
	LastError         string
	NeedsReauth       bool
	// Resyncs counts reconcile-resyncs caused by expired history ids.
	Resyncs         int
	LastSyncAt      *time.Time
	WatchExpiration *time.Time
	// LeaseOwner, LeaseGeneration and LeaseExpiresAt (unix milliseconds)
	// are the sync lease: see AcquireSyncLease.
	LeaseOwner      string
	LeaseGeneration int64
	LeaseExpiresAt  int64
	// Scopes are the OAuth scopes Google granted (space-separated), as the
	// token response reported them: permanent delete needs
	// https://mail.google.com/ (or gmail.messages.delete).
	Scopes    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Thread is a Gmail conversation.
type Thread struct {
	ID            int64  `gorm:"primaryKey"`
	TenantID      int64  `gorm:"index;not null"`
	MailboxID     int64  `gorm:"uniqueIndex:ux_thread;not null"`
	GmailThreadID string `gorm:"uniqueIndex:ux_thread;not null"`
	Subject       string
	LastMessageAt time.Time `gorm:"index"`
	MessageCount  int
}

// Message is one synced email.
type Message struct {
	ID            int64  `gorm:"primaryKey"`
	TenantID      int64  `gorm:"index;not null"`
	MailboxID     int64  `gorm:"uniqueIndex:ux_message;not null"`
	GmailID       string `gorm:"uniqueIndex:ux_message;not null"`
	GmailThreadID string `gorm:"index"`
	// RFCMessageID is the Message-ID header without angle brackets.
	RFCMessageID string `gorm:"index"`
	InReplyTo    string
	Subject      string
	From         string
	FromAddress  string     `gorm:"index"`
	To           StringList `gorm:"type:text"`
	Cc           StringList `gorm:"type:text"`
	Bcc          StringList `gorm:"type:text"`
	Date         time.Time  `gorm:"index"`
	InternalDate time.Time
	Snippet      string
	Size         int64
	Text         string
	// HTML is sanitized at ingest; raw HTML is never stored here.
	HTML string
	// Warnings lists what decoding had to repair.
	Warnings StringList `gorm:"type:text"`
	// DecodeError is set when the message could not be parsed as MIME; its
	// raw bytes are then kept in RawMessage.
	DecodeError    string
	RawRef         string
	Bulk           bool
	HasAttachments bool
	HistoryID      uint64
	Labels         []MessageLabel `gorm:"foreignKey:MessageID"`
	Attachments    []Attachment   `gorm:"foreignKey:MessageID"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// LabelIDs returns the Gmail label ids of the message.
func (m Message) LabelIDs() []string {
	ids := make([]string, len(m.Labels))
	for i, l := range m.Labels {
		ids[i] = l.LabelID
	}
	return ids
}

// RawMessage keeps the raw RFC 5322 bytes of a message that needed repair or
// could not be parsed, so that nothing is lost and it can be decoded again.
type RawMessage struct {
	TenantID  int64  `gorm:"index;not null"`
	MailboxID int64  `gorm:"primaryKey"`
	GmailID   string `gorm:"primaryKey"`
	Data      []byte
}

// MessageAddress is one participant of a message (role from, to, cc, bcc),
// lower-cased; it links mail to contacts and accounts by address and domain
// without rewriting messages when contacts change.
type MessageAddress struct {
	TenantID  int64  `gorm:"index:ix_msgaddr_tenant_addr;not null"`
	MessageID int64  `gorm:"primaryKey"`
	Role      string `gorm:"primaryKey"`
	Address   string `gorm:"primaryKey;index:ix_msgaddr_tenant_addr"`
	Domain    string `gorm:"index"`
	Name      string
}

// LabelType tells Gmail's system labels from users' own.
type LabelType string

// Label types, as Gmail names them.
const (
	LabelSystem LabelType = "system"
	LabelUser   LabelType = "user"
)

// Label is a Gmail label of a mailbox.
type Label struct {
	ID        int64     `gorm:"primaryKey"`
	TenantID  int64     `gorm:"index;not null"`
	MailboxID int64     `gorm:"uniqueIndex:ux_label;not null"`
	GmailID   string    `gorm:"uniqueIndex:ux_label;not null"`
	Name      string    `gorm:"not null"`
	Type      LabelType `gorm:"not null"`
	// BackgroundColor and TextColor are Gmail's label colours (#rrggbb),
	// empty when the label has none.
	BackgroundColor string `gorm:"not null;default:''"`
	TextColor       string `gorm:"not null;default:''"`
}

// MessageLabel is one Gmail label on one message. It refers to the Gmail
// label id, not the Label row, because Gmail may reference labels that no
// longer exist and the message's label set must still be exact.
type MessageLabel struct {
	TenantID  int64  `gorm:"index;not null"`
	MessageID int64  `gorm:"primaryKey"`
	LabelID   string `gorm:"primaryKey"`
}

// Attachment is an attachment's metadata. Its bytes stay in Gmail and are
// fetched by PartID: Gmail's attachment id is not stable across fetches, so
// it is not kept (the table's gmail_attachment_id column stays unused).
type Attachment struct {
	ID          int64  `gorm:"primaryKey"`
	TenantID    int64  `gorm:"index;not null"`
	MessageID   int64  `gorm:"uniqueIndex:ux_attachment;not null"`
	PartID      string `gorm:"uniqueIndex:ux_attachment;not null"`
	Filename    string
	ContentType string
	ContentID   string
	Size        int64
	Inline      bool
}

// APIToken is a per-user token for the REST API; only its SHA-256 is stored.
type APIToken struct {
	ID         int64  `gorm:"primaryKey"`
	TenantID   int64  `gorm:"index;not null"`
	UserID     int64  `gorm:"index;not null"`
	Name       string `gorm:"not null"`
	Hash       []byte `gorm:"uniqueIndex;not null" json:"-"`
	LastUsedAt *time.Time
	CreatedAt  time.Time
}

// StringList is a list of strings stored as a JSON array in a text column,
// portable across Postgres and SQLite.
type StringList []string

// Value implements driver.Valuer.
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	if err != nil {
		return nil, fmt.Errorf("models: encode string list: %w", err)
	}
	return string(b), nil
}

// Scan implements sql.Scanner.
func (l *StringList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("models: scan string list from %T", src)
	}
	if len(b) == 0 {
		*l = nil
		return nil
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("models: decode string list: %w", err)
	}
	*l = out
	return nil
}
