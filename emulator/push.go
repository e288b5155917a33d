package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// pusher delivers Pub/Sub push notifications
// (https://developers.google.com/gmail/api/guides/push): at most one per
// push interval per user, coalescing changes in between.
type pusher struct {
	e      *Emulator
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	last    map[*mailbox]time.Time
	pending map[*mailbox]bool
	seq     int64
}

func newPusher(e *Emulator) *pusher {
	ctx, cancel := context.WithCancel(context.Background())
	client := e.cfg.pushClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &pusher{e: e, client: client, ctx: ctx, cancel: cancel,
		last: map[*mailbox]time.Time{}, pending: map[*mailbox]bool{}}
}

func (p *pusher) close() {
	p.cancel()
	p.wg.Wait()
}

// changed is called after every mutation of mb.
func (p *pusher) changed(mb *mailbox) {
	if p.e.cfg.pushURL == "" || p.ctx.Err() != nil {
		return
	}
	if !mb.pushRelevant(p.e.now()) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending[mb] {
		return // a push is already scheduled; it will carry the latest historyId
	}
	p.pending[mb] = true
	wait := time.Until(p.last[mb].Add(p.e.cfg.pushInterval))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
			case <-p.ctx.Done():
				return
			}
		}
		p.mu.Lock()
		p.pending[mb] = false
		p.last[mb] = time.Now()
		p.seq++
		seq := p.seq
		p.mu.Unlock()
		p.send(mb, seq)
	}()
}

func (p *pusher) send(mb *mailbox, seq int64) {
	mb.mu.Lock()
	if mb.watch == nil {
		mb.mu.Unlock()
		return
	}
	topic := mb.watch.topic
	data, _ := json.Marshal(struct {
		EmailAddress string `json:"emailAddress"`
		HistoryID    uint64 `json:"historyId"`
	}{mb.email, mb.historyID})
	mb.mu.Unlock()
	body, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"data":        base64.StdEncoding.EncodeToString(data),
			"messageId":   strconv.FormatInt(seq, 10),
			"publishTime": p.e.now().UTC().Format(time.RFC3339Nano),
		},
		"subscription": topic + "-push",
	})
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, p.e.cfg.pushURL, bytes.NewReader(body))
	if err != nil {
		p.e.log.Warn("emulator: push request", slog.Any("err", err))
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		// Gmail documents that notifications may be dropped; so do we.
		p.e.log.Warn("emulator: push failed", slog.String("user", mb.email), slog.Any("err", err))
		return
	}
	_ = resp.Body.Close()
}

// pushRelevant reports whether history recorded since the last call
// matters to the watch: with labelIds, only changes touching those labels
// (labelFilterBehavior include) or messages without them (exclude).
func (mb *mailbox) pushRelevant(now time.Time) bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	w := mb.watch
	from := mb.pushScan
	mb.pushScan = mb.historyID
	if w == nil || !now.Before(w.expiration) {
		return false
	}
	if len(w.labelIDs) == 0 {
		return true
	}
	touches := func(ls []string) bool {
		for _, l := range ls {
			if slices.Contains(w.labelIDs, l) {
				return true
			}
		}
		return false
	}
	for i := len(mb.history) - 1; i >= 0 && mb.history[i].id > from; i-- {
		rec := &mb.history[i]
		if (touches(rec.labels) || touches(rec.changed)) == w.include {
			return true
		}
	}
	return false
}
