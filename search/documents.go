package search

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"tidings/internal/sorted"
	"tidings/models"
)

// This file owns the mapping from stored rows to search documents: the
// indexer, reindexing and the consistency check all build documents here,
// from the database, so a document is always what the rows say it is.

// Hash is a digest of everything the index holds of d. The consistency
// check compares it with the hash stored in the index, so a document whose
// content changed is found even when its id is present on both sides.
func (d *Document) Hash() string {
	c := *d
	c.Date = c.Date.UTC()
	// Order within these lists carries no meaning for search.
	for _, s := range []*[]string{&c.LabelIDs, &c.LabelNames, &c.Filenames} {
		*s = slices.Sorted(slices.Values(*s))
	}
	for _, s := range []*[]Address{&c.To, &c.Cc, &c.Bcc} {
		*s = slices.SortedFunc(slices.Values(*s), compareAddress)
	}
	for _, s := range []*[]int64{&c.ContactIDs, &c.AccountIDs, &c.CaseIDs} {
		*s = slices.Sorted(slices.Values(*s))
	}
	b, err := json.Marshal(c)
	if err != nil { // only plain values: cannot fail
		panic(fmt.Sprintf("search: hash document %d: %v", d.ID, err))
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// BuildDocuments converts stored messages (loaded with labels and
// attachments) into search documents: participants from their stored
// addresses, contact and account links by address and domain, case links,
// and the display names of user labels.
func BuildDocuments(ctx context.Context, store *models.Store, tenantID int64, msgs []models.Message) ([]Document, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(msgs))
	for i := range msgs {
		ids[i] = msgs[i].ID
	}
	list, err := store.MessageAddresses(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	addrs := map[int64][]models.MessageAddress{}
	var addrList, domList []string
	for _, a := range list {
		addrs[a.MessageID] = append(addrs[a.MessageID], a)
		addrList = append(addrList, a.Address)
		if a.Domain != "" {
			domList = append(domList, a.Domain)
		}
	}
	contacts, err := store.ContactsByAddresses(ctx, tenantID, sorted.Unique(addrList))
	if err != nil {
		return nil, err
	}
	accounts, err := store.AccountsByDomains(ctx, tenantID, sorted.Unique(domList))
	if err != nil {
		return nil, err
	}
	cases, err := store.CaseIDsByMessage(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	labelNames := map[int64]map[string]string{} // mailbox → Gmail label id → user label name
	docs := make([]Document, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		names, ok := labelNames[m.MailboxID]
		if !ok {
			if names, err = userLabelNames(ctx, store, tenantID, m.MailboxID); err != nil {
				return nil, err
			}
			labelNames[m.MailboxID] = names
		}
		labels := m.LabelIDs()
		d := Document{
			ID: m.ID, TenantID: tenantID, MailboxID: m.MailboxID, GmailID: m.GmailID, ThreadID: m.GmailThreadID,
			Subject: m.Subject, Body: m.Text,
			LabelIDs: labels, Date: m.Date,
			HasAttachment: m.HasAttachments || len(m.Attachments) > 0, CaseIDs: cases[m.ID],
		}
		d.From, d.To, d.Cc, d.Bcc = participants(m, addrs[m.ID])
		for _, l := range labels {
			if n, ok := names[l]; ok {
				d.LabelNames = append(d.LabelNames, n)
			}
		}
		for _, a := range m.Attachments {
			if a.Filename != "" {
				d.Filenames = append(d.Filenames, a.Filename)
			}
		}
		var cids, aids []int64
		for _, a := range addrs[m.ID] {
			if c, ok := contacts[a.Address]; ok {
				cids = append(cids, c.ContactID)
				if c.AccountID != nil {
					aids = append(aids, *c.AccountID)
				}
			}
			if id, ok := accounts[a.Domain]; ok {
				aids = append(aids, id)
			}
		}
		d.ContactIDs, d.AccountIDs = sorted.Unique(cids), sorted.Unique(aids)
		docs = append(docs, d)
	}
	return docs, nil
}

func compareAddress(a, b Address) int {
	if c := strings.Compare(a.Address, b.Address); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// participants are m's From, To, Cc and Bcc from its participant rows
// (one per role and usable address, see models.Participants), in address
// order. A role with no usable address but a displayed value (a group
// such as "undisclosed-recipients:;", or a malformed header) keeps that
// text as a name, so its words can still be found.
func participants(m *models.Message, rows []models.MessageAddress) (from Address, to, cc, bcc []Address) {
	byRole := map[string][]Address{}
	for _, r := range rows {
		byRole[r.Role] = append(byRole[r.Role], Address{Name: r.Name, Address: r.Address})
	}
	role := func(name string, shown []string) []Address {
		list := byRole[name]
		if len(list) == 0 {
			for _, s := range shown {
				if s != "" {
					list = append(list, Address{Name: s})
				}
			}
		}
		slices.SortFunc(list, compareAddress)
		return list
	}
	froms := role("from", []string{m.From})
	for i, a := range froms {
		// The message's sender is its first From mailbox (m.FromAddress).
		if i == 0 || a.Address == m.FromAddress {
			from = a
		}
	}
	return from, role("to", m.To), role("cc", m.Cc), role("bcc", m.Bcc)
}

func userLabelNames(ctx context.Context, store *models.Store, tenantID, mailboxID int64) (map[string]string, error) {
	ls, err := store.ListLabels(ctx, tenantID, mailboxID)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, l := range ls {
		if l.Type == models.LabelUser {
			out[l.GmailID] = l.Name
		}
	}
	return out, nil
}

// StoreSource yields a tenant's stored messages as search documents; it
// is the Source of reindexing and of the consistency check.
type StoreSource struct {
	Store *models.Store
	// MailboxID limits the documents to one mailbox (0 = all).
	MailboxID int64
	// BatchSize is the number of messages per batch (default 500).
	BatchSize int
}

var _ Source = StoreSource{}

// Documents implements Source.
func (src StoreSource) Documents(ctx context.Context, tenantID int64, fn func(batch []Document) error) error {
	n := src.BatchSize
	if n <= 0 {
		n = 500
	}
	err := src.Store.EachMessage(ctx, tenantID, src.MailboxID, n, func(msgs []models.Message) error {
		docs, err := BuildDocuments(ctx, src.Store, tenantID, msgs)
		if err != nil {
			return err
		}
		return fn(docs)
	})
	if err != nil {
		return fmt.Errorf("search: documents of tenant %d: %w", tenantID, err)
	}
	return nil
}
