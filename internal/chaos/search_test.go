package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"syscall"
	"time"

	"tidings/search"
)

// checkSearch compares the search index inside Postgres, shared by the web
// process and the workers, with the store: everything the workers stored
// reaches the index only through the search outbox, drained by whichever
// processes are alive (workers killed mid-drain included). First, live,
// within the convergence window: for each mailbox the web process's REST
// API search (in:anywhere, so trash and spam count) must return exactly
// the stored message ids. Then, with every process stopped, the index's
// content hashes must equal the documents built from the database (the
// semantics of `tidings reindex --check`).
func (h *harness) checkSearch(from time.Time, within time.Duration) {
	// Nothing may change the store from here on.
	for _, w := range h.workers {
		w.signal(h.t, syscall.SIGTERM)
	}
	ctx := context.Background()
	deadline := from.Add(within)
	done := make([]bool, len(h.mailboxes))
	for {
		all := true
		for i, mb := range h.mailboxes {
			if done[i] {
				continue
			}
			if d := h.searchDiff(ctx, mb); d != "" {
				if time.Now().After(deadline) {
					h.t.Errorf("mailbox %d: the web process's index did not equal the store within %s of the chaos stopping: %s", i, within, d)
					done[i] = true
				}
				all = false
				continue
			}
			done[i] = true
			h.t.Logf("mailbox %d: search API returns every stored message %s after the chaos stopped", i, time.Since(from).Round(100*time.Millisecond))
		}
		if all {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	h.web.signal(h.t, syscall.SIGTERM)
	h.checkIndexHashes(ctx)
}

// searchDiff returns "" when the API's search of a mailbox returns exactly
// the stored message ids.
func (h *harness) searchDiff(ctx context.Context, mailboxID int64) string {
	want, err := h.store.MessageIDs(ctx, h.tenantID, mailboxID)
	if err != nil {
		return "read store: " + err.Error()
	}
	got, total, err := h.searchIDs(ctx, mailboxID)
	if err != nil {
		return err.Error()
	}
	slices.Sort(got)
	if total == int64(len(want)) && slices.Equal(got, want) {
		return ""
	}
	missing, extra := 0, 0
	for _, id := range want {
		if _, ok := slices.BinarySearch(got, id); !ok {
			missing++
		}
	}
	for _, id := range got {
		if _, ok := slices.BinarySearch(want, id); !ok {
			extra++
		}
	}
	return fmt.Sprintf("store %d messages, search total %d and %d hits: %d missing, %d extra", len(want), total, len(got), missing, extra)
}

// searchIDs pages through GET /api/search?q=in:anywhere&mailbox_id=… and
// returns every hit's id and the first page's total.
func (h *harness) searchIDs(ctx context.Context, mailboxID int64) ([]int64, int64, error) {
	base := fmt.Sprintf("http://127.0.0.1:%d", h.webPort)
	next := "/api/search?" + url.Values{"q": {"in:anywhere"}, "mailbox_id": {fmt.Sprint(mailboxID)}, "size": {fmt.Sprint(search.MaxSize)}}.Encode()
	var ids []int64
	total := int64(-1)
	for page := 0; next != ""; page++ {
		if page > 100 {
			return nil, 0, fmt.Errorf("search: more than 100 pages")
		}
		var body struct {
			Total    int64 `json:"total"`
			Embedded struct {
				Messages []struct {
					ID int64 `json:"id"`
				} `json:"messages"`
			} `json:"_embedded"`
			Links map[string]struct {
				Href string `json:"href"`
			} `json:"_links"`
		}
		if err := h.getJSON(ctx, base+next, &body); err != nil {
			return nil, 0, err
		}
		if total < 0 {
			total = body.Total
		}
		for _, m := range body.Embedded.Messages {
			ids = append(ids, m.ID)
		}
		next = body.Links["next"].Href
		if len(body.Embedded.Messages) == 0 {
			next = ""
		}
	}
	return ids, total, nil
}

func (h *harness) getJSON(ctx context.Context, u string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("search API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("search API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("search API: %s: %.300s", resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("search API: decode: %w", err)
	}
	return nil
}

// checkIndexHashes opens the index the processes shared, as any process
// with this configuration does (Postgres, no Elasticsearch), and checks
// each mailbox as `tidings reindex --check` does: same ids, same content
// hashes.
func (h *harness) checkIndexHashes(ctx context.Context) {
	idx, err := search.Open(ctx, search.Config{Store: h.store, DataDir: h.webData}, nil)
	if err != nil {
		h.t.Errorf("open the shared index: %v", err)
		return
	}
	if _, ok := idx.(*search.PGIndex); !ok {
		h.t.Errorf("the scale setup's index is %T, want the index inside Postgres", idx)
	}
	defer idx.Close()
	for i, mb := range h.mailboxes {
		d, err := search.Check(ctx, idx, h.tenantID, mb, search.StoreSource{Store: h.store, MailboxID: mb}, nil)
		if err != nil {
			h.t.Errorf("mailbox %d: index check: %v", i, err)
			continue
		}
		h.t.Logf("mailbox %d: index check: database %d, index %d, missing %d, extra %d, changed %d",
			i, d.DBCount, d.IndexCount, len(d.Missing), len(d.Extra), len(d.Changed))
		if !d.InSync() {
			pending, _ := h.store.PendingIndexWork(ctx, 1000)
			h.t.Errorf("mailbox %d: index drifted from the store (missing %v, extra %v, changed %v; %d marks still in the outbox)",
				i, head(d.Missing), head(d.Extra), head(d.Changed), len(pending))
		}
	}
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 5)] }
