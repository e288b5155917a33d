package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"tidings/internal/testenv"
	"tidings/models"
)

// Browser tests drive Debian's chromium headless through chromedp. They
// skip when chromium is not installed, except under CI=true where they fail.

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("TIDINGS_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.InCI() {
		t.Fatal("CI=true but chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium not installed")
	return ""
}

// chrome starts a fresh headless browser for the test and collects console
// messages (CSP violations show up there).
type chrome struct {
	ctx     context.Context
	mu      sync.Mutex
	console []string
	dialogs atomic.Int32
	shots   string
}

func newChrome(t *testing.T) *chrome {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	c := &chrome{ctx: ctx, shots: screenshotDir(t)}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.console = append(c.console, m.String())
			c.mu.Unlock()
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			c.dialogs.Add(1)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return c
}

// screenshotDir is $TIDINGS_SCREENSHOT_DIR, or a new directory under the
// system temp dir (outside the repository) that outlives the test.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("TIDINGS_SCREENSHOT_DIR")
	if dir == "" {
		d, err := os.MkdirTemp("", "tidings-screenshots-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	return dir
}

// do runs steps with a timeout.
func (c *chrome) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (c *chrome) eval(t *testing.T, js string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

func (c *chrome) shot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(c.shots, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (c *chrome) cspViolations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.console {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Refused to") {
			out = append(out, m)
		}
	}
	return out
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// TestBrowserEndToEnd walks the product as a new user: sign up, create an
// account, a contact and a case, connect the demo mailbox and watch the
// progress bar reach done, search a partial word, open the message and
// link it to the case.
func TestBrowserEndToEnd(t *testing.T) {
	c := newChrome(t)
	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	e.demo.messages = demoMessages(8)
	e.demo.step = 150 * time.Millisecond
	u := e.ts.URL

	c.do(t, "sign up",
		chromedp.Navigate(u+"/signup"),
		chromedp.WaitVisible(css(`input[name=org]`)),
		chromedp.SendKeys(css(`input[name=org]`), "Acme Corp"),
		chromedp.SendKeys(css(`input[name=name]`), "Ada Admin"),
		chromedp.SendKeys(css(`input[name=email]`), "ada@acme.example"),
		chromedp.SendKeys(css(`input[name=password]`), testPassword),
		chromedp.SendKeys(css(`input[name=password2]`), testPassword),
		chromedp.Click(css(`form button[type=submit]`)),
		chromedp.WaitVisible(css(`.stats`)),
	)
	c.shot(t, "01-dashboard-empty")

	c.do(t, "create account",
		chromedp.Navigate(u+"/accounts"),
		chromedp.WaitVisible(css(`#new-account`)),
		chromedp.SendKeys(css(`#new-account input[name=name]`), "Demo Customer Inc"),
		chromedp.SendKeys(css(`#new-account input[name=domains]`), "demo-customer.example"),
		chromedp.Click(css(`#new-account button[type=submit]`)),
		chromedp.WaitVisible(css(`form[action$="/delete"]`)),
	)
	acctID := strings.TrimPrefix(c.eval(t, `location.pathname`), "/accounts/")

	c.do(t, "create contact",
		chromedp.Navigate(u+"/contacts"),
		chromedp.WaitVisible(css(`#new-contact`)),
		chromedp.SendKeys(css(`#new-contact input[name=first_name]`), "Sam"),
		chromedp.SendKeys(css(`#new-contact input[name=last_name]`), "Sender"),
		chromedp.SendKeys(css(`#new-contact input[name=emails]`), "sender@demo-customer.example"),
		chromedp.SetValue(css(`#new-contact select[name=account_id]`), acctID),
		chromedp.Click(css(`#new-contact button[type=submit]`)),
		chromedp.WaitVisible(css(`form[action$="/delete"]`)),
	)
	if got := c.eval(t, `document.querySelector('main').innerText`); !strings.Contains(got, "Demo Customer Inc") {
		t.Errorf("contact page does not show its account: %q", got)
	}

	c.do(t, "create case",
		chromedp.Navigate(u+"/cases"),
		chromedp.WaitVisible(css(`#new-case`)),
		chromedp.SendKeys(css(`#new-case input[name=subject]`), "Invoice dispute"),
		chromedp.SendKeys(css(`#new-case textarea[name=description]`), "Customer says the invoice is wrong."),
		chromedp.SetValue(css(`#new-case select[name=account_id]`), acctID),
		chromedp.Click(css(`#new-case button[type=submit]`)),
		chromedp.WaitVisible(css(`#edit-case`)),
	)
	caseID := strings.TrimPrefix(c.eval(t, `location.pathname`), "/cases/")
	c.shot(t, "02-case")

	c.do(t, "connect demo mailbox",
		chromedp.Navigate(u+"/"),
		chromedp.WaitVisible(css(`#connect-demo`)),
		chromedp.Click(css(`#connect-demo`)),
		chromedp.WaitVisible(css(`.progress progress`)),
	)
	first := c.eval(t, `document.querySelector('.progress').dataset.state + ' ' + document.querySelector('.progress progress').value`)
	c.shot(t, "03-dashboard-syncing")
	// htmx polls the progress fragment until the sync is done.
	c.do(t, "progress reaches done",
		chromedp.Poll[chromedp.Void](`document.querySelector('.progress[data-state="idle"]') !== null`, chromedp.WithPollingTimeout(15*time.Second)),
	)
	last := c.eval(t, `document.querySelector('.progress progress').value + ' ' + document.querySelector('.progress .state').innerText`)
	if !strings.HasPrefix(first, "full_sync ") || first == "full_sync 100" {
		t.Errorf("first progress seen = %q, want a running full sync", first)
	}
	if !strings.HasPrefix(last, "100 Sync done") {
		t.Errorf("final progress = %q", last)
	}
	c.shot(t, "04-dashboard-synced")

	// As-you-type search on a partial word.
	c.do(t, "search",
		chromedp.Navigate(u+"/search"),
		chromedp.WaitVisible(css(`#q`)),
		chromedp.SendKeys(css(`#q`), "invo"),
		chromedp.WaitVisible(css(`#results .hits li a`)),
	)
	if got := c.eval(t, `document.querySelector('#results .hits mark').innerText`); !strings.EqualFold(got, "invo") {
		t.Errorf("highlight = %q", got)
	}
	c.shot(t, "05-search")

	c.do(t, "open message",
		chromedp.Click(css(`#results .hits li a`)),
		chromedp.WaitVisible(css(`#message-subject`)),
		chromedp.WaitVisible(css(`iframe.mailbody`)),
	)
	if got := c.eval(t, `document.querySelector('#message-subject').innerText`); got != "Quarterly invoice reconciliation" {
		t.Errorf("opened %q", got)
	}
	c.shot(t, "06-message")

	c.do(t, "link to case",
		chromedp.SetValue(css(`#link-case select[name=case_id]`), caseID),
		chromedp.Click(css(`#link-case button[type=submit]`)),
		chromedp.WaitVisible(css(`#message-cases a`)),
		chromedp.Navigate(u+"/cases/"+caseID),
		chromedp.WaitVisible(css(`#linked-messages`)),
	)
	if got := c.eval(t, `document.querySelector('#linked-messages').innerText`); !strings.Contains(got, "Quarterly invoice reconciliation") {
		t.Errorf("case's linked messages = %q", got)
	}
	c.shot(t, "07-case-linked")

	c.do(t, "account timeline", chromedp.Navigate(u+"/accounts/"+acctID), chromedp.WaitVisible(css(`.timeline`)))
	if got := c.eval(t, `document.querySelector('.timeline').innerText`); !strings.Contains(got, "Shipping update") {
		t.Errorf("account timeline = %q", got)
	}
	c.shot(t, "08-account")
	c.do(t, "mailbox", chromedp.Navigate(u+"/"), chromedp.WaitVisible(css(`.mailboxes a`)), chromedp.Click(css(`.mailboxes a`)), chromedp.WaitVisible(css(`#threads`)))
	c.shot(t, "09-mailbox")

	// Phone-sized screen: the menu collapses and nothing overflows.
	c.do(t, "phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(u+"/cases/"+caseID), chromedp.WaitVisible(css(`#edit-case`)))
	if w := c.eval(t, `String(document.documentElement.scrollWidth)`); w != "390" {
		t.Errorf("page is %spx wide on a 390px screen", w)
	}
	c.shot(t, "10-case-phone")

	if v := c.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations on app pages (htmx must work under the strict CSP):\n%s", strings.Join(v, "\n"))
	}
}

// TestBrowserMaliciousEmail stores hostile HTML directly (as if the ingest
// sanitizer had missed everything) and checks that the real browser runs
// none of it: no script, no handler, no javascript: URL, no SVG or CSS
// trick, no dialog, no request to a tracking server.
func TestBrowserMaliciousEmail(t *testing.T) {
	c := newChrome(t)
	var beacons atomic.Int32
	beacon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		beacons.Add(1)
		t.Logf("beacon hit: %s", r.URL)
	}))
	defer beacon.Close()

	store := testenv.OpenSQLite(t)
	e := newEnv(t, store)
	a := seedTenant(t, store, "alpha")
	raw, err := os.ReadFile("testdata/malicious.html")
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.ReplaceAll(string(raw), "BEACON", beacon.URL)
	msgs, err := store.UpsertMessages(t.Context(), a.TenantID, a.MailboxID, []models.MessageWrite{
		messageWrite("evil-1", "evil-thread", "Totally normal invoice", "attacker@evil.example", payload, time.Now()),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := msgs[0].ID

	// Log in through the form.
	c.do(t, "login",
		chromedp.Navigate(e.ts.URL+"/login"),
		chromedp.WaitVisible(css(`input[name=email]`)),
		chromedp.SendKeys(css(`input[name=email]`), a.Email),
		chromedp.SendKeys(css(`input[name=password]`), a.Password),
		chromedp.Click(css(`form button[type=submit]`)),
		chromedp.WaitVisible(css(`.stats`)),
	)

	// The message page with the email in its sandboxed frame. A listener
	// records any postMessage from the frame (which script could send even
	// from an opaque origin); then the frame is loaded again under watch.
	c.do(t, "message page",
		chromedp.Navigate(fmt.Sprintf("%s/messages/%d", e.ts.URL, id)),
		chromedp.WaitVisible(css(`iframe.mailbody`)),
	)
	c.eval(t, `window.__msgs = []; addEventListener('message', ev => window.__msgs.push(String(ev.data)));
		const f = document.querySelector('iframe.mailbody'); f.src = f.src + '?again'; 'ok'`)
	c.do(t, "let it run", chromedp.Sleep(2*time.Second))
	c.shot(t, "malicious-message")
	if got := c.eval(t, `JSON.stringify({msgs: window.__msgs, pwned: typeof window.pwned, title: document.title})`); got != `{"msgs":[],"pwned":"undefined","title":"Totally normal invoice · tidings"}` {
		t.Errorf("parent page after loading the email: %s", got)
	}

	// Opened directly, the body is still sandboxed by its own CSP.
	c.do(t, "frame directly",
		chromedp.Navigate(fmt.Sprintf("%s/messages/%d/body", e.ts.URL, id)),
		chromedp.WaitVisible(css(`#visible-marker`)),
		chromedp.Sleep(time.Second),
	)
	if got := c.eval(t, `typeof window.pwned + ' ' + location.pathname`); got != fmt.Sprintf("undefined /messages/%d/body", id) {
		t.Errorf("direct frame: %s (script ran or navigated)", got)
	}
	// Click the javascript: link and the link styled over the page.
	c.do(t, "click links", chromedp.Click(css(`#jslink`)), chromedp.Sleep(500*time.Millisecond))
	if got := c.eval(t, `typeof window.pwned`); got != "undefined" {
		t.Errorf("javascript: link ran: %s", got)
	}
	if n := c.dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened", n)
	}
	if n := beacons.Load(); n != 0 {
		t.Errorf("the email made %d requests to a remote server", n)
	}
	if len(c.cspViolations()) == 0 {
		t.Error("no CSP violation was reported: the payload was not even attempted (is the fixture loaded?)")
	}
}
