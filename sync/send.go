package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/googleapi"

	"tidings/mail"
)

// Quota costs of the outbound calls (Gmail usage limits page).
const (
	costMessagesSend   = 100
	costDraftsSend     = 100
	costDraftsCreate   = 10
	costDraftsUpdate   = 15
	costDraftsDelete   = 10
	costDraftsList     = 5
	costMessagesTrash  = 5
	costMessagesDelete = 10
	costBatchModify    = 50
)

// errAmbiguous wraps a failure after which Gmail may or may not have the
// message: the item stays InFlight and the next attempt resolves it.
var errAmbiguous = errors.New("sync: outbox: the send may have reached Gmail")

// send carries out a send item: resolve an earlier attempt if there was
// one, compose once, then upload (simple or resumable).
func (o *outboxRun) send(ctx context.Context) (outcome, error) {
	if o.it.InFlight || o.it.UploadURI != "" {
		msg, err := o.resolve(ctx, "in:sent")
		if err != nil {
			return outcome{}, err
		}
		if msg != nil {
			return o.delivered(ctx, msg)
		}
	}
	if !o.it.Composed {
		if err := o.compose(ctx); err != nil {
			return outcome{}, err
		}
	}
	if o.it.Size > mail.MaxSendBytes {
		return outcome{}, permanent("the message is %d bytes; Gmail accepts at most %d (35 MB): remove attachments or share them as links", o.it.Size, mail.MaxSendBytes)
	}
	var (
		msg *gmail.Message
		err error
	)
	if o.it.Size <= simpleUploadMax && o.it.UploadURI == "" {
		msg, err = o.sendSimple(ctx)
	} else {
		msg, err = o.sendResumable(ctx)
	}
	if err != nil {
		return outcome{}, err
	}
	return o.delivered(ctx, msg)
}

// resolve finds out what became of an earlier attempt: a resumable
// session answers with its final response or how much it has; otherwise a
// search for our Message-ID decides. (nil, nil) means Gmail proved it has
// no such message, so sending is safe.
func (o *outboxRun) resolve(ctx context.Context, where string) (*gmail.Message, error) {
	if o.it.UploadURI != "" {
		st, err := o.uploadStatus(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: upload session status unknown: %w", errAmbiguous, err)
		}
		switch {
		case st.msg != nil:
			return st.msg, nil
		case !st.gone:
			// Incomplete: the final chunk never arrived, nothing was
			// delivered; resume from what Gmail has.
			o.it.UploadOffset, o.it.InFlight = st.offset, false
			return nil, o.save(ctx, map[string]any{"upload_offset": st.offset, "in_flight": false})
		}
		o.it.UploadURI, o.it.UploadOffset = "", 0
		if err := o.save(ctx, map[string]any{"upload_uri": "", "upload_offset": 0}); err != nil {
			return nil, err
		}
	}
	if !o.it.InFlight {
		return nil, nil
	}
	found, err := o.lookup(ctx, where)
	if err != nil {
		// Not knowing is not a reason to send again (peer-lessons 11).
		return nil, fmt.Errorf("%w: lookup of <%s> failed: %w", errAmbiguous, o.it.RFCMessageID, err)
	}
	if found != nil {
		return found, nil
	}
	o.it.InFlight = false
	return nil, o.save(ctx, map[string]any{"in_flight": false})
}

// lookup searches the mailbox for our Message-ID (rfc822msgid:, spam and
// trash included: a sent message the user already deleted was still sent).
func (o *outboxRun) lookup(ctx context.Context, where string) (*gmail.Message, error) {
	var l *gmail.ListMessagesResponse
	q := "rfc822msgid:" + o.it.RFCMessageID
	if where != "" {
		q += " " + where
	}
	err := o.api.call(ctx, costMessagesList, func(opt ...gmailCallOption) (err error) {
		l, err = o.api.svc.Users.Messages.List("me").Q(q).IncludeSpamTrash(true).Context(ctx).Do(opt...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(l.Messages) == 0 {
		return nil, nil
	}
	return l.Messages[0], nil
}

// sendOutcome sorts the error of a request that carried the message:
// a 4xx means Gmail refused it (nothing delivered), anything else may have
// delivered it.
func (o *outboxRun) sendOutcome(ctx context.Context, err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code >= 400 && ge.Code < 500 && ge.Code != http.StatusRequestTimeout {
		o.it.InFlight = false
		if serr := o.save(ctx, map[string]any{"in_flight": false}); serr != nil {
			return serr
		}
		kind, _ := classify(err)
		switch kind {
		case errRateLimited, errUnauthorized:
			return fmt.Errorf("sync: outbox: refused for now, will retry: %w", err)
		case errReauth:
			return permanent("the mailbox needs to be connected again (Gmail access was revoked)")
		}
		return permanent("Gmail refused the message (%d): %s", ge.Code, ge.Message)
	}
	return fmt.Errorf("%w: %w", errAmbiguous, err)
}

// sendSimple sends in one multipart request (uploadType=multipart),
// streaming the stored message; never retried blindly.
func (o *outboxRun) sendSimple(ctx context.Context) (*gmail.Message, error) {
	o.it.InFlight = true
	if err := o.save(ctx, map[string]any{"in_flight": true, "attempts": o.it.Attempts + 1}); err != nil {
		return nil, err
	}
	if err := o.waitQuota(ctx, costMessagesSend); err != nil {
		return nil, err
	}
	body := o.s.store.OpenOutboxStream(ctx, o.it.TenantID, o.it.ID, "message", 0)
	msg, err := o.api.svc.Users.Messages.Send("me", &gmail.Message{ThreadId: o.it.GmailThreadID}).
		Media(body, googleapi.ContentType("message/rfc822"), googleapi.ChunkSize(0)).
		Context(ctx).Do(googleapi.QuotaUser(o.api.quotaUser))
	if err != nil {
		return nil, o.sendOutcome(ctx, err)
	}
	return msg, nil
}

func (o *outboxRun) waitQuota(ctx context.Context, cost int) error {
	if o.api.limiter == nil {
		return nil
	}
	if err := o.api.limiter.WaitN(ctx, cost); err != nil {
		return fmt.Errorf("sync: quota wait: %w", err)
	}
	return nil
}

// sendResumable speaks Gmail's resumable upload protocol itself
// (https://developers.google.com/gmail/api/guides/uploads#resumable): the
// Go client keeps the session URI private, and a worker restart must be
// able to resume it.
func (o *outboxRun) sendResumable(ctx context.Context) (*gmail.Message, error) {
	if o.it.UploadURI == "" {
		uri, err := o.initiateUpload(ctx)
		if err != nil {
			return nil, err
		}
		o.it.UploadURI, o.it.UploadOffset = uri, 0
		if err := o.save(ctx, map[string]any{"upload_uri": uri, "upload_offset": 0, "attempts": o.it.Attempts + 1}); err != nil {
			return nil, err
		}
	}
	for {
		off := o.it.UploadOffset
		n := min(int64(resumableChunk), o.it.Size-off)
		if off+n == o.it.Size && !o.it.InFlight {
			o.it.InFlight = true
			if err := o.save(ctx, map[string]any{"in_flight": true}); err != nil {
				return nil, err
			}
		}
		body := io.LimitReader(o.s.store.OpenOutboxStream(ctx, o.it.TenantID, o.it.ID, "message", off), n)
		rng := fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, o.it.Size)
		if n == 0 {
			rng = fmt.Sprintf("bytes */%d", o.it.Size)
		}
		st, err := o.putUpload(ctx, body, n, rng)
		if err != nil {
			// Ask the session what arrived; if that fails too, a later
			// attempt asks again (the session URI is stored).
			if st, err = o.uploadStatus(ctx); err != nil {
				return nil, fmt.Errorf("%w: resumable chunk at %d: %w", errAmbiguous, off, err)
			}
		}
		switch {
		case st.msg != nil:
			return st.msg, nil
		case st.gone:
			o.it.UploadURI = ""
			if err := o.save(ctx, map[string]any{"upload_uri": "", "upload_offset": 0}); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: resumable session expired", errAmbiguous)
		case st.apiErr != nil:
			return nil, o.sendOutcome(ctx, st.apiErr)
		}
		o.it.UploadOffset = st.offset
		if err := o.save(ctx, map[string]any{"upload_offset": st.offset}); err != nil {
			return nil, err
		}
	}
}

func (o *outboxRun) initiateUpload(ctx context.Context) (string, error) {
	if err := o.waitQuota(ctx, costMessagesSend); err != nil {
		return "", err
	}
	meta, err := json.Marshal(gmail.Message{ThreadId: o.it.GmailThreadID})
	if err != nil {
		return "", err
	}
	u := o.api.baseURL + "/upload/gmail/v1/users/me/messages/send?uploadType=resumable&quotaUser=" + o.api.quotaUser
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(meta))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("X-Upload-Content-Type", "message/rfc822")
	req.Header.Set("X-Upload-Content-Length", strconv.FormatInt(o.it.Size, 10))
	resp, err := o.api.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("sync: outbox: start resumable upload: %w", err)
	}
	defer resp.Body.Close()
	if err := googleapi.CheckResponse(resp); err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusRequestEntityTooLarge {
			return "", permanent("Gmail refused the message as too large (%d bytes)", o.it.Size)
		}
		return "", fmt.Errorf("sync: outbox: start resumable upload: %w", err)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", errors.New("sync: outbox: resumable upload answered without a session URI")
	}
	return loc, nil
}

// uploadState is what a resumable session answered.
type uploadState struct {
	msg    *gmail.Message // complete: the sent message
	offset int64          // incomplete: bytes Gmail has
	gone   bool           // the session no longer exists (404/410)
	apiErr error          // Gmail refused the upload (4xx)
}

// uploadStatus asks the session how much arrived (an empty PUT with
// Content-Range: bytes */total).
func (o *outboxRun) uploadStatus(ctx context.Context) (uploadState, error) {
	return o.putUpload(ctx, http.NoBody, 0, fmt.Sprintf("bytes */%d", o.it.Size))
}

func (o *outboxRun) putUpload(ctx context.Context, body io.Reader, n int64, contentRange string) (uploadState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, o.it.UploadURI, body)
	if err != nil {
		return uploadState{}, err
	}
	req.ContentLength = n
	if n == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Range", contentRange)
	resp, err := o.api.hc.Do(req)
	if err != nil {
		return uploadState{}, err
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	if v := resp.Header.Get("X-Http-Status-Code-Override"); v != "" {
		status, _ = strconv.Atoi(v)
	}
	switch {
	case status == http.StatusOK || status == http.StatusCreated:
		var m gmail.Message
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.Id == "" {
			return uploadState{}, fmt.Errorf("sync: outbox: unreadable final upload response: %v", err)
		}
		return uploadState{msg: &m}, nil
	case status == http.StatusPermanentRedirect:
		return uploadState{offset: rangeEnd(resp.Header.Get("Range"))}, nil
	case status == http.StatusNotFound || status == http.StatusGone:
		return uploadState{gone: true}, nil
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		return uploadState{apiErr: googleapi.CheckResponse(resp)}, nil
	}
	return uploadState{}, fmt.Errorf("sync: outbox: upload answered %d", status)
}

// rangeEnd parses a 308's "Range: bytes=0-N" into N+1 (0 when absent).
func rangeEnd(h string) int64 {
	_, r, ok := strings.Cut(h, "-")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(r), 10, 64)
	if err != nil {
		return 0
	}
	return n + 1
}

// delivered records a message Gmail has and stores it in the CRM at once
// (the next sync finds it already there: no duplicate).
func (o *outboxRun) delivered(ctx context.Context, msg *gmail.Message) (outcome, error) {
	fields := map[string]any{"gmail_message_id": msg.Id, "gmail_thread_id": msg.ThreadId, "upload_uri": "", "in_flight": false}
	o.it.GmailMessageID = msg.Id
	if id := o.storeGmailMessage(ctx, msg); id != 0 {
		fields["message_id"] = id
	}
	return outcome{fields: fields}, nil
}
