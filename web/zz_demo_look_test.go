package web

import (
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Throwaway: screenshots of a live demo server (not committed).
func TestZZDemoLook(t *testing.T) {
	u := os.Getenv("DEMO_URL")
	if u == "" {
		t.Skip()
	}
	c := newChrome(t)
	c.do(t, "sign up",
		chromedp.Navigate(u+"/signup"),
		chromedp.WaitVisible(css(`input[name=org]`)),
		chromedp.SendKeys(css(`input[name=org]`), "Acme Corp"),
		chromedp.SendKeys(css(`input[name=name]`), "Ada Admin"),
		chromedp.SendKeys(css(`input[name=email]`), "ada"+time.Now().Format("150405")+"@acme.example"),
		chromedp.SendKeys(css(`input[name=password]`), testPassword),
		chromedp.SendKeys(css(`input[name=password2]`), testPassword),
		chromedp.Click(css(`form button[type=submit]`)),
		chromedp.WaitVisible(css(`.stats`)),
		chromedp.Click(css(`#connect-demo`)),
		chromedp.WaitVisible(css(`.progress progress`)),
	)
	for i := 0; i < 240 && c.eval(t, `String(document.querySelector('.progress[data-state="idle"]') !== null)`) != "true"; i++ {
		time.Sleep(500 * time.Millisecond)
	}
	c.shot(t, "demo-01-dashboard")
	c.do(t, "mailbox", chromedp.Click(css(`.mailboxes a`)), chromedp.WaitVisible(css(`#threads`)))
	c.shot(t, "demo-02-inbox")
	c.do(t, "thread", chromedp.Click(css(`#threads li:nth-child(3) a`)), chromedp.WaitVisible(css(`#conversation`)))
	c.shot(t, "demo-03-thread")
	c.do(t, "contacts", chromedp.Navigate(u+"/contacts"), chromedp.WaitVisible(css(`table.list`)))
	c.shot(t, "demo-04-contacts")
	c.do(t, "search", chromedp.Navigate(u+"/search?q=from:jans"), chromedp.WaitVisible(css(`#results`)))
	c.shot(t, "demo-05-search")
	c.do(t, "label", chromedp.Navigate(u+"/"), chromedp.WaitVisible(css(`.mailboxes a`)), chromedp.Click(css(`.mailboxes a`)), chromedp.WaitVisible(css(`#threads`)),
		chromedp.Click(css(`#label-filters a[data-label^="Label_"]`)), chromedp.WaitVisible(css(`#threads`)))
	c.shot(t, "demo-06-label")
	c.do(t, "cases", chromedp.Navigate(u+"/cases"), chromedp.WaitVisible(css(`#new-case`)))
	c.shot(t, "demo-07-cases")
}
