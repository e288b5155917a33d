package web

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tidings/models"
	"tidings/search"
)

// TestSearchPagingSortAndDisconnect runs the search page on the real
// indexer and embedded index: newest first by default, a sort choice,
// cursor paging, and a disconnected mailbox gone from the results at once.
func TestSearchPagingSortAndDisconnect(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		idx, err := search.OpenBleve(t.TempDir()+"/mail.bleve", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = idx.Close() })
		e := newEnv(t, store, func(d *Deps) { d.Search = search.NewIndexer(store, idx, nil) })
		a := seedTenant(t, store, "alpha")
		var ws []models.MessageWrite
		for i := range 30 {
			ws = append(ws, messageWrite(fmt.Sprintf("x%d", i), fmt.Sprintf("tx%d", i), fmt.Sprintf("Invoice number %02d", i),
				"billing@alpha-customer.example", "", time.Date(2026, 4, 1, i, 0, 0, 0, time.UTC)))
		}
		if _, err := store.UpsertMessages(ctx, a.TenantID, a.MailboxID, ws); err != nil {
			t.Fatal(err)
		}
		b := e.loginAs(a)

		_, page := b.get("/search?q=invo")
		if !strings.Contains(page, "31 results") {
			t.Errorf("first page does not count 31 results:\n%s", excerpt(page, "result-count"))
		}
		if !strings.Contains(page, `<option value="date_desc" selected>Newest first</option>`) {
			t.Error("newest first is not the selected order")
		}
		// Newest first: number 29 leads, 05 ends the page of 25.
		if i, j := strings.Index(page, "Invoice number 29"), strings.Index(page, "Invoice number 28"); i < 0 || j < i {
			t.Error("page 1 is not newest first")
		}
		if strings.Contains(page, "Invoice number 04") {
			t.Error("page 1 holds more than 25 hits")
		}
		next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(page)
		if next == nil {
			t.Fatal("no next page link")
		}
		_, page2 := b.get(html.UnescapeString(next[1]))
		for _, want := range []string{"Invoice number 04", "Invoice number 00", "Invoice for alpha", "First page"} {
			if !strings.Contains(page2, want) {
				t.Errorf("page 2 lacks %q", want)
			}
		}
		if strings.Contains(page2, "Invoice number 05") || strings.Contains(page2, `rel="next"`) {
			t.Error("page 2 repeats a hit of page 1 or links further")
		}
		_, rel := b.get("/search?" + url.Values{"q": {"invo"}, "sort": {"relevance"}}.Encode())
		if !strings.Contains(rel, `<option value="relevance" selected>`) || !strings.Contains(rel, "31 results") {
			t.Error("relevance order is not kept or counts differently")
		}

		// Disconnect the mailbox: nothing of it is found any more.
		if resp, _ := b.post(fmt.Sprintf("/mailboxes/%d/disconnect", a.MailboxID), nil); resp.StatusCode >= 400 {
			t.Fatalf("disconnect: %d", resp.StatusCode)
		}
		_, page = b.get("/search?q=invo")
		if !strings.Contains(page, "0 results") || strings.Contains(page, "Invoice") {
			t.Errorf("search after disconnect still finds mail:\n%s", excerpt(page, "result-count"))
		}
	})
}

func excerpt(page, near string) string {
	i := strings.Index(page, near)
	if i < 0 {
		return "(" + near + " not in page)"
	}
	return page[i:min(len(page), i+300)]
}
