package emulator

import (
	"strconv"
	"time"
)

// Per-method quota costs published on the Gmail usage limits page
// (https://developers.google.com/gmail/api/reference/quota). Methods not on
// the page cost what secondary copies of it say, or 5.
var methodCost = map[string]int{
	"getProfile": 1, "watch": 100, "stop": 50,
	"labels.list": 1, "labels.get": 1, "labels.create": 5, "labels.update": 5, "labels.patch": 5, "labels.delete": 5,
	"messages.list": 5, "messages.get": 5, "messages.attachments.get": 5, "messages.modify": 5,
	"messages.trash": 5, "messages.untrash": 5, "messages.delete": 10, "messages.batchModify": 50,
	"messages.batchDelete": 50, "messages.insert": 25, "messages.import": 25, "messages.send": 100,
	"drafts.create": 10, "drafts.update": 15, "drafts.get": 5, "drafts.list": 5, "drafts.send": 100, "drafts.delete": 10,
	"threads.list": 10, "threads.get": 10, "threads.modify": 10, "threads.trash": 10, "threads.untrash": 10, "threads.delete": 20,
	"history.list": 2,
}

// Cost returns the quota units a Gmail API method (e.g. "messages.get")
// costs, as the emulator charges it.
func Cost(method string) int {
	if c, ok := methodCost[method]; ok {
		return c
	}
	return 5
}

type quotaEvent struct {
	at    int64 // unix nanoseconds
	units int
}

// quotaWindow is a per-user moving 60 s window of spent units.
type quotaWindow struct {
	events []quotaEvent // events[head:] are in the window, oldest first
	head   int
	sum    int
}

// take charges units at now if the window allows; otherwise it reports how
// long until enough units expire.
func (q *quotaWindow) take(now time.Time, units, limit int) (bool, time.Duration) {
	cut := now.Add(-time.Minute).UnixNano()
	for q.head < len(q.events) && q.events[q.head].at <= cut {
		q.sum -= q.events[q.head].units
		q.head++
	}
	// Expired events are dropped in bulk once they are half the slice:
	// moving a full window (3,000 messages.get) down on every call that
	// expired one event cost a copy of the window per request.
	if q.head > 0 && q.head >= len(q.events)/2 {
		q.events = append(q.events[:0], q.events[q.head:]...)
		q.head = 0
	}
	if q.sum+units > limit {
		need := q.sum + units - limit
		for _, ev := range q.events[q.head:] {
			need -= ev.units
			if need <= 0 {
				return false, max(time.Duration(ev.at-cut), time.Second)
			}
		}
		return false, time.Minute
	}
	q.events = append(q.events, quotaEvent{at: now.UnixNano(), units: units})
	q.sum += units
	return true, 0
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}
