package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"tidings/models"
	"tidings/search"
)

// Indexer is what the sync needs of the search index (search.Index
// implements it).
type Indexer interface {
	Index(ctx context.Context, docs []search.Document) error
	Delete(ctx context.Context, tenantID int64, ids []int64) error
	UpdateLabels(ctx context.Context, tenantID, id int64, labelIDs, labelNames []string) error
}

func isIndexNotFound(err error) bool { return errors.Is(err, search.ErrNotFound) }

// userLabelNames returns the display names of the user labels among ids.
func (r *run) userLabelNames(ids []string) []string {
	return labelNamesOf(ids, r.labelNames)
}

func labelNamesOf(ids []string, names map[string]string) []string {
	var out []string
	for _, id := range ids {
		if n, ok := names[id]; ok {
			out = append(out, n)
		}
	}
	return out
}

// documents converts stored messages into search documents: participants
// from addrs, contact and account ids by address and domain, case links,
// and label names from names (Gmail label id → name; nil loads them per
// mailbox).
func (s *Syncer) documents(ctx context.Context, tenantID int64, msgs []models.Message, addrs map[int64][]models.MessageAddress, names map[string]string) ([]search.Document, error) {
	return buildDocuments(ctx, s.store, tenantID, msgs, addrs, names)
}

func buildDocuments(ctx context.Context, store *models.Store, tenantID int64, msgs []models.Message, addrs map[int64][]models.MessageAddress, names map[string]string) ([]search.Document, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(msgs))
	for i := range msgs {
		ids[i] = msgs[i].ID
	}
	if addrs == nil {
		list, err := store.MessageAddresses(ctx, tenantID, ids)
		if err != nil {
			return nil, err
		}
		addrs = map[int64][]models.MessageAddress{}
		for _, a := range list {
			addrs[a.MessageID] = append(addrs[a.MessageID], a)
		}
	}
	addrSet, domSet := map[string]bool{}, map[string]bool{}
	for _, as := range addrs {
		for _, a := range as {
			addrSet[a.Address] = true
			domSet[a.Domain] = true
		}
	}
	contacts, err := store.ContactsByAddresses(ctx, tenantID, keys(addrSet))
	if err != nil {
		return nil, err
	}
	accounts, err := store.AccountsByDomains(ctx, tenantID, keys(domSet))
	if err != nil {
		return nil, err
	}
	cases, err := store.CaseIDsByMessage(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	mailboxNames := map[int64]map[string]string{}
	docs := make([]search.Document, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		ln := names
		if ln == nil {
			if ln = mailboxNames[m.MailboxID]; ln == nil {
				ls, err := store.ListLabels(ctx, tenantID, m.MailboxID)
				if err != nil {
					return nil, err
				}
				ln = map[string]string{}
				for _, l := range ls {
					if l.Type == models.LabelUser {
						ln[l.GmailID] = l.Name
					}
				}
				mailboxNames[m.MailboxID] = ln
			}
		}
		labels := m.LabelIDs()
		d := search.Document{
			ID: m.ID, TenantID: tenantID, MailboxID: m.MailboxID, GmailID: m.GmailID, ThreadID: m.GmailThreadID,
			Subject: m.Subject, From: m.From, To: m.To, Cc: m.Cc, Bcc: m.Bcc, Body: m.Text,
			LabelIDs: labels, LabelNames: labelNamesOf(labels, ln), Date: m.Date,
			HasAttachment: m.HasAttachments || len(m.Attachments) > 0, CaseIDs: cases[m.ID],
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
		slices.Sort(cids)
		slices.Sort(aids)
		d.ContactIDs, d.AccountIDs = slices.Compact(cids), slices.Compact(aids)
		docs = append(docs, d)
	}
	return docs, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// indexStored (re)indexes stored messages by database id.
func (s *Syncer) indexStored(ctx context.Context, tenantID int64, ids []int64, names map[string]string) error {
	if s.index == nil {
		return nil
	}
	msgs, err := s.store.MessagesByIDs(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	docs, err := s.documents(ctx, tenantID, msgs, nil, names)
	if err != nil {
		return err
	}
	return s.index.Index(ctx, docs)
}

// StoreSource yields a tenant's stored messages as search documents; it
// implements search.Source for `tidings reindex`.
type StoreSource struct {
	Store *models.Store
	// BatchSize is the number of messages per batch (default 500).
	BatchSize int
}

var _ search.Source = StoreSource{}

// Documents implements search.Source.
func (src StoreSource) Documents(ctx context.Context, tenantID int64, fn func(batch []search.Document) error) error {
	if src.Store == nil {
		return errors.New("sync: StoreSource needs a store")
	}
	n := src.BatchSize
	if n <= 0 {
		n = 500
	}
	err := src.Store.EachMessage(ctx, tenantID, 0, n, func(msgs []models.Message) error {
		docs, err := buildDocuments(ctx, src.Store, tenantID, msgs, nil, nil)
		if err != nil {
			return err
		}
		return fn(docs)
	})
	if err != nil {
		return fmt.Errorf("sync: documents of tenant %d: %w", tenantID, err)
	}
	return nil
}
