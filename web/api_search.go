package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"tidings/search"
)

// searchRequest parses the search parameters shared by the API and the UI.
func searchRequest(r *http.Request) (search.Request, []InvalidParam) {
	q := r.URL.Query()
	req := search.Request{Query: q.Get("q"), After: q.Get("after")}
	var bad []InvalidParam
	var err error
	if req.Sort, err = search.ParseSort(q.Get("sort")); err != nil {
		bad = append(bad, InvalidParam{Name: "sort", Reason: "must be relevance, date_desc or date_asc"})
	}
	if v := q.Get("size"); v != "" {
		if req.Size, err = strconv.Atoi(v); err != nil || req.Size < 1 || req.Size > search.MaxSize {
			bad = append(bad, InvalidParam{Name: "size", Reason: fmt.Sprintf("must be an integer from 1 to %d", search.MaxSize)})
		}
	}
	for name, dst := range map[string]*[]int64{"mailbox_id": &req.MailboxIDs, "contact_id": &req.ContactIDs, "account_id": &req.AccountIDs, "case_id": &req.CaseIDs} {
		for _, v := range q[name] {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				bad = append(bad, InvalidParam{Name: name, Reason: "must be a positive integer id"})
				continue
			}
			*dst = append(*dst, id)
		}
	}
	return req, bad
}

type hitOut struct {
	ID         int64               `json:"id"`
	MailboxID  int64               `json:"mailbox_id"`
	ThreadID   string              `json:"gmail_thread_id"`
	Subject    string              `json:"subject"`
	From       string              `json:"from"`
	Date       time.Time           `json:"date"`
	Score      float64             `json:"score"`
	Highlights map[string][]string `json:"highlights,omitempty"`
	Links      links               `json:"_links"`
}

func (s *Server) searchAPI(w http.ResponseWriter, r *http.Request, p *principal) {
	if s.d.Search == nil {
		s.notConfigured(w, r, "Search")
		return
	}
	req, bad := searchRequest(r)
	if len(bad) > 0 {
		s.invalid(w, r, bad...)
		return
	}
	req.Location = p.User.Location() // dates in the caller's time zone
	res, err := s.d.Search.Search(r.Context(), p.TenantID, req)
	var syn *search.SyntaxError
	switch {
	case errors.As(err, &syn):
		s.invalid(w, r, InvalidParam{Name: "q", Reason: syn.Error()})
		return
	case errors.Is(err, search.ErrBadCursor):
		s.invalid(w, r, InvalidParam{Name: "after", Reason: "is not a cursor from a previous page of this search"})
		return
	case err != nil:
		s.internalError(w, r, fmt.Errorf("web: search: %w", err))
		return
	}
	hits := make([]hitOut, len(res.Hits))
	for i, h := range res.Hits {
		hits[i] = hitOut{ID: h.ID, MailboxID: h.MailboxID, ThreadID: h.ThreadID, Subject: h.Subject, From: h.From, Date: h.Date,
			Score: h.Score, Highlights: h.Highlights, Links: links{"self": lnk("/api/messages/%d", h.ID)}}
	}
	l := links{"self": {Href: r.URL.RequestURI()}}
	if res.Next != "" {
		q := r.URL.Query()
		q.Set("after", res.Next)
		l["next"] = link{Href: r.URL.Path + "?" + q.Encode()}
	}
	s.writeHAL(w, r, http.StatusOK, map[string]any{"total": res.Total, "count": len(hits), "_links": l,
		"_embedded": map[string]any{"messages": hits}})
}
