package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"
)

// ActionSpec is the JSON in OutboxItem.Spec of an action item: one
// operation on one or many messages of the mailbox.
type ActionSpec struct {
	Op       string   `json:"op"` // modify, trash, untrash, delete
	GmailIDs []string `json:"gmail_ids"`
	Add      []string `json:"add,omitempty"` // label ids
	Remove   []string `json:"remove,omitempty"`
}

// Action operations.
const (
	OpModify  = "modify"
	OpTrash   = "trash"
	OpUntrash = "untrash"
	OpDelete  = "delete"
)

// CanDeletePermanently reports whether granted scopes allow
// messages.delete: only https://mail.google.com/ or the granular
// gmail.messages.delete scope do; gmail.modify gets a 403.
func CanDeletePermanently(scopes string) bool {
	for _, s := range strings.Fields(scopes) {
		if s == gmail.MailGoogleComScope || s == "https://www.googleapis.com/auth/gmail.messages.delete" {
			return true
		}
	}
	return false
}

// ErrScopeForDelete: the mailbox's grant does not allow permanent delete.
var ErrScopeForDelete = errors.New("permanent delete needs the https://mail.google.com/ scope, which this mailbox did not grant (tidings asks for gmail.modify unless TIDINGS_GMAIL_FULL_ACCESS is set); move the messages to Trash instead, Gmail empties it after 30 days")

// action carries out label changes, trash, untrash and permanent delete.
// All of them are idempotent in Gmail, so they are retried like reads.
func (o *outboxRun) action(ctx context.Context) (outcome, error) {
	var sp ActionSpec
	if err := json.Unmarshal([]byte(o.it.Spec), &sp); err != nil {
		return outcome{}, permanent("the action could not be read back: %v", err)
	}
	if len(sp.GmailIDs) == 0 {
		return outcome{}, permanent("the action names no messages")
	}
	var err error
	switch sp.Op {
	case OpModify:
		err = o.modify(ctx, sp)
	case OpTrash, OpUntrash:
		for _, id := range sp.GmailIDs {
			err = o.api.call(ctx, costMessagesTrash, func(opt ...gmailCallOption) error {
				if sp.Op == OpTrash {
					_, err := o.api.svc.Users.Messages.Trash("me", id).Context(ctx).Do(opt...)
					return err
				}
				_, err := o.api.svc.Users.Messages.Untrash("me", id).Context(ctx).Do(opt...)
				return err
			})
			if errors.Is(err, errGone) {
				err = nil
			}
			if err != nil {
				err = o.refused(err)
				break
			}
		}
		if err == nil {
			add, remove := []string{"TRASH"}, []string(nil)
			if sp.Op == OpUntrash {
				add, remove = nil, add
			}
			err = o.applyLocal(ctx, sp.GmailIDs, add, remove)
		}
	case OpDelete:
		err = o.deletePermanently(ctx, sp.GmailIDs)
	default:
		return outcome{}, permanent("unknown action %q", sp.Op)
	}
	if err != nil {
		return outcome{}, err
	}
	return outcome{}, nil
}

func (o *outboxRun) modify(ctx context.Context, sp ActionSpec) error {
	for ids := range slices.Chunk(sp.GmailIDs, 1000) {
		var err error
		if len(ids) == 1 {
			err = o.api.call(ctx, costMessagesModify, func(opt ...gmailCallOption) error {
				_, err := o.api.svc.Users.Messages.Modify("me", ids[0], &gmail.ModifyMessageRequest{AddLabelIds: sp.Add, RemoveLabelIds: sp.Remove}).Context(ctx).Do(opt...)
				return err
			})
			if errors.Is(err, errGone) {
				err = nil
			}
		} else {
			err = o.api.call(ctx, costBatchModify, func(opt ...gmailCallOption) error {
				return o.api.svc.Users.Messages.BatchModify("me", &gmail.BatchModifyMessagesRequest{Ids: ids, AddLabelIds: sp.Add, RemoveLabelIds: sp.Remove}).Context(ctx).Do(opt...)
			})
		}
		if err != nil {
			return o.refused(err)
		}
	}
	return o.applyLocal(ctx, sp.GmailIDs, sp.Add, sp.Remove)
}

// refused turns a 4xx of an action into a reason a person can act on.
func (o *outboxRun) refused(err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code >= 400 && ge.Code < 500 && ge.Code != 429 {
		if ge.Code == 403 {
			return permanent("Gmail refused the change (403 %s); the mailbox may need to grant more access", ge.Message)
		}
		return permanent("Gmail refused the change (%d): %s", ge.Code, ge.Message)
	}
	return err
}

func (o *outboxRun) deletePermanently(ctx context.Context, ids []string) error {
	if !CanDeletePermanently(o.mb.Scopes) {
		return permanent("%v", ErrScopeForDelete)
	}
	for _, id := range ids {
		err := o.api.call(ctx, costMessagesDelete, func(opt ...gmailCallOption) error {
			return o.api.svc.Users.Messages.Delete("me", id).Context(ctx).Do(opt...)
		})
		if err != nil && !errors.Is(err, errGone) {
			return o.refused(err)
		}
	}
	r := &run{s: o.s, tenantID: o.it.TenantID, mb: o.mb, api: o.api, log: o.s.log}
	return r.deleteMessages(ctx, ids)
}

// applyLocal mirrors a label change in the store at once (the search
// outbox's triggers queue the index work in the same transaction); the next
// sync sees the same change in history and applies it again as a no-op, so
// nothing flaps.
func (o *outboxRun) applyLocal(ctx context.Context, gmailIDs, add, remove []string) error {
	ids, err := o.s.store.MessageIDsByGmailID(ctx, o.it.TenantID, o.mb.ID, gmailIDs)
	if err != nil {
		return err
	}
	for _, gid := range gmailIDs {
		if ids[gid] == 0 {
			continue
		}
		if _, _, err := o.s.store.ChangeLabels(ctx, o.it.TenantID, o.mb.ID, gid, add, remove); err != nil {
			return err
		}
	}
	o.s.drainIndex(ctx, o.s.log)
	return nil
}

// --- drafts ---

// findDraft returns the id of the Gmail draft whose message is gmailID
// (drafts.list; a draft made in Gmail is known to the CRM by its message).
func (o *outboxRun) findDraft(ctx context.Context, gmailID string) (string, error) {
	tok := ""
	for {
		var l *gmail.ListDraftsResponse
		err := o.api.call(ctx, costDraftsList, func(opt ...gmailCallOption) (err error) {
			l, err = o.api.svc.Users.Drafts.List("me").MaxResults(500).PageToken(tok).Context(ctx).Do(opt...)
			return err
		})
		if err != nil {
			return "", err
		}
		for _, d := range l.Drafts {
			if d.Message != nil && d.Message.Id == gmailID {
				return d.Id, nil
			}
		}
		if l.NextPageToken == "" {
			return "", nil
		}
		tok = l.NextPageToken
	}
}

// saveDraft creates or replaces a Gmail draft. drafts.update replaces the
// whole draft (every field from the spec: Cc, Bcc, body, attachments), so
// repeating it is harmless; a drafts.create that failed ambiguously is
// resolved by our Message-ID before creating again, so an edit never
// makes a second draft.
func (o *outboxRun) saveDraft(ctx context.Context) (outcome, error) {
	sp, err := ParseSendSpec(o.it.Spec)
	if err != nil {
		return outcome{}, permanent("%v", err)
	}
	draftID := o.it.GmailDraftID
	if draftID == "" && sp.DraftGmailID != "" {
		if draftID, err = o.findDraft(ctx, sp.DraftGmailID); err != nil {
			return outcome{}, err
		}
		if draftID == "" {
			return outcome{}, permanent("the draft no longer exists in Gmail (sent or deleted there)")
		}
	}
	if draftID == "" && o.it.InFlight {
		found, err := o.resolve(ctx, "in:drafts")
		if err != nil {
			return outcome{}, err
		}
		if found != nil {
			if draftID, err = o.findDraft(ctx, found.Id); err != nil {
				return outcome{}, err
			}
			if draftID != "" {
				return o.draftSaved(ctx, &gmail.Draft{Id: draftID, Message: found}, sp)
			}
		}
	}
	if !o.it.Composed {
		if err := o.compose(ctx); err != nil {
			return outcome{}, err
		}
	}
	if o.it.Size > int64(maxDraftBytes) {
		return outcome{}, permanent("the draft is %d bytes; Gmail accepts at most %d", o.it.Size, maxDraftBytes)
	}
	body := o.s.store.OpenOutboxStream(ctx, o.it.TenantID, o.it.ID, "message", 0)
	d := &gmail.Draft{Id: draftID, Message: &gmail.Message{ThreadId: o.it.GmailThreadID}}
	var out *gmail.Draft
	if draftID == "" {
		o.it.InFlight = true
		if err := o.save(ctx, map[string]any{"in_flight": true}); err != nil {
			return outcome{}, err
		}
		if err := o.waitQuota(ctx, costDraftsCreate); err != nil {
			return outcome{}, err
		}
		out, err = o.api.svc.Users.Drafts.Create("me", d).Media(body, googleapi.ContentType("message/rfc822"), googleapi.ChunkSize(0)).Context(ctx).Do()
		if err != nil {
			return outcome{}, o.sendOutcome(ctx, err)
		}
	} else {
		if err := o.waitQuota(ctx, costDraftsUpdate); err != nil {
			return outcome{}, err
		}
		out, err = o.api.svc.Users.Drafts.Update("me", draftID, d).Media(body, googleapi.ContentType("message/rfc822"), googleapi.ChunkSize(0)).Context(ctx).Do()
		if err != nil {
			if isStatus(err, 404) {
				return outcome{}, permanent("the draft no longer exists in Gmail (sent or deleted there)")
			}
			return outcome{}, o.refused(fmt.Errorf("sync: outbox: drafts.update: %w", err))
		}
	}
	return o.draftSaved(ctx, out, sp)
}

const maxDraftBytes = 36700160

func (o *outboxRun) draftSaved(ctx context.Context, d *gmail.Draft, sp SendSpec) (outcome, error) {
	fields := map[string]any{"gmail_draft_id": d.Id, "in_flight": false}
	if d.Message != nil {
		fields["gmail_message_id"] = d.Message.Id
		fields["gmail_thread_id"] = d.Message.ThreadId
		if id := o.storeGmailMessage(ctx, d.Message); id != 0 {
			fields["message_id"] = id
		}
		if sp.DraftGmailID != "" && sp.DraftGmailID != d.Message.Id {
			// drafts.update replaced the draft's message: the old copy
			// goes, as the next sync's history would say.
			r := &run{s: o.s, tenantID: o.it.TenantID, mb: o.mb, api: o.api, log: o.s.log}
			_ = r.deleteMessages(ctx, []string{sp.DraftGmailID})
		}
	}
	return outcome{fields: fields}, nil
}

// sendDraft sends a Gmail draft (drafts.send). Like messages.send it is
// never repeated blindly: after an ambiguous failure the draft's
// Message-ID is looked up in Sent first.
func (o *outboxRun) sendDraft(ctx context.Context) (outcome, error) {
	sp, err := ParseSendSpec(o.it.Spec)
	if err != nil {
		return outcome{}, permanent("%v", err)
	}
	if o.it.InFlight {
		found, err := o.resolve(ctx, "in:sent")
		if err != nil {
			return outcome{}, err
		}
		if found != nil {
			return o.draftSent(ctx, found, sp)
		}
	}
	draftID := o.it.GmailDraftID
	if draftID == "" {
		if draftID, err = o.findDraft(ctx, sp.DraftGmailID); err != nil {
			return outcome{}, err
		}
	}
	if draftID == "" {
		return outcome{}, permanent("the draft no longer exists in Gmail (sent or deleted there)")
	}
	if sp.WithContent && !o.it.Composed {
		if err := o.compose(ctx); err != nil {
			return outcome{}, err
		}
	}
	o.it.InFlight = true
	if err := o.save(ctx, map[string]any{"in_flight": true, "gmail_draft_id": draftID}); err != nil {
		return outcome{}, err
	}
	if err := o.waitQuota(ctx, costDraftsSend); err != nil {
		return outcome{}, err
	}
	call := o.api.svc.Users.Drafts.Send("me", &gmail.Draft{Id: draftID, Message: &gmail.Message{ThreadId: o.it.GmailThreadID}})
	if sp.WithContent {
		// Edited and sent in one step: drafts.send with the new content
		// replaces the draft's message as it sends it.
		call.Media(o.s.store.OpenOutboxStream(ctx, o.it.TenantID, o.it.ID, "message", 0), googleapi.ContentType("message/rfc822"), googleapi.ChunkSize(0))
	}
	msg, err := call.Context(ctx).Do(googleapi.QuotaUser(o.api.quotaUser))
	if err != nil {
		return outcome{}, o.sendOutcome(ctx, err)
	}
	return o.draftSent(ctx, msg, sp)
}

func (o *outboxRun) draftSent(ctx context.Context, msg *gmail.Message, sp SendSpec) (outcome, error) {
	out, err := o.delivered(ctx, msg)
	if err == nil && sp.DraftGmailID != "" && sp.DraftGmailID != msg.Id {
		r := &run{s: o.s, tenantID: o.it.TenantID, mb: o.mb, api: o.api, log: o.s.log}
		_ = r.deleteMessages(ctx, []string{sp.DraftGmailID})
	}
	return out, err
}

// deleteDraft deletes a Gmail draft; one already gone counts as deleted.
func (o *outboxRun) deleteDraft(ctx context.Context) (outcome, error) {
	sp, err := ParseSendSpec(o.it.Spec)
	if err != nil {
		return outcome{}, permanent("%v", err)
	}
	draftID := o.it.GmailDraftID
	if draftID == "" {
		if draftID, err = o.findDraft(ctx, sp.DraftGmailID); err != nil {
			return outcome{}, err
		}
	}
	if draftID != "" {
		err := o.api.call(ctx, costDraftsDelete, func(opt ...gmailCallOption) error {
			return o.api.svc.Users.Drafts.Delete("me", draftID).Context(ctx).Do(opt...)
		})
		if err != nil && !errors.Is(err, errGone) {
			return outcome{}, o.refused(err)
		}
	}
	if sp.DraftGmailID != "" {
		r := &run{s: o.s, tenantID: o.it.TenantID, mb: o.mb, api: o.api, log: o.s.log}
		if err := r.deleteMessages(ctx, []string{sp.DraftGmailID}); err != nil {
			return outcome{}, err
		}
	}
	return outcome{}, nil
}
