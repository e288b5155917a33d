package searchbench

import "testing"

func TestCorpusDeterministic(t *testing.T) {
	a, b := NewCorpus(DefaultCorpus()), NewCorpus(DefaultCorpus())
	for _, i := range []int{0, 1, 999, 123456} {
		da, db := a.Doc(i), b.Doc(i)
		if da.ID != int64(i)+1 || da.Subject != db.Subject || da.Body != db.Body || da.From != db.From || !da.Date.Equal(db.Date) {
			t.Errorf("Doc(%d) differs between generators", i)
		}
		if da.Subject == "" || len(da.Body) < 100 || da.MailboxID < 1 || da.MailboxID > 20 || len(da.To) == 0 {
			t.Errorf("Doc(%d) = %+v, implausible", i, da)
		}
	}
	if a.Doc(1).Body == a.Doc(2).Body {
		t.Error("consecutive documents have the same body")
	}
}
