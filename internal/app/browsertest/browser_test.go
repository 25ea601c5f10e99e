package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// Bounds of every wait. They are generous because a loaded 2-core
// machine running the server under -race is slow; a passing test never
// waits them out.
const (
	actionTimeout = 20 * time.Second // one DevTools command or navigation
	waitTimeout   = 15 * time.Second // a condition in the page
	startTimeout  = 30 * time.Second // Chromium's start
)

// chromiumPath returns the browser to drive, or "" when there is none.
func chromiumPath() string {
	if p := os.Getenv("WARDEN_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// The package's one Chromium, started by the first test that needs it
// and stopped by TestMain: each test opens its own browser contexts
// (cookie jars), so they share nothing but the process.
var shared struct {
	mu      sync.Mutex
	ctx     context.Context // the browser's root context, nil until started
	err     error           // why it did not start
	cancel  func()
	started bool
}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if shared.cancel != nil {
		shared.cancel()
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// browser returns the shared Chromium's root context, starting it on
// first use. It skips the test under -short or without Chromium.
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	path := chromiumPath()
	if path == "" {
		t.Skip("no Chromium binary (apt-get install chromium, or set WARDEN_TEST_CHROMIUM)")
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		shared.ctx, shared.cancel, shared.err = startChromium(path)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.ctx
}

// startChromium launches headless Chromium with the flags a closed
// network wants (no background traffic, no component updates). The
// sandbox is off: CI runs as root in a container, where Chromium's
// sandbox cannot start, and the browser only ever loads the test's own
// pages.
func startChromium(path string) (context.Context, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	stop := func() {
		// Closing gracefully lets Chromium end its helper processes
		// before its profile directory is removed.
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = chromedp.Cancel(cctx)
		cancel()
		cancelBrowser()
		cancelAlloc()
	}
	// The first Do binds the browser's life to ctx, so it gets no
	// deadline of its own; the wait for it is bounded here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("starting %s: %w", path, err)
		}
	case <-time.After(startTimeout):
		stop()
		return nil, nil, fmt.Errorf("%s did not start within %v", path, startTimeout)
	}
	return ctx, stop, nil
}

// tab is one page, as one person's browser shows it: by default in a
// browser context of its own (its own cookies).
type tab struct {
	name string
	ctx  context.Context

	mu      sync.Mutex
	logs    []string // console errors, exceptions, CSP reports, failed loads
	dialogs []string // "type: message" of every JavaScript dialog
}

// newTab opens a page in a fresh browser context, closed when t ends.
func newTab(t *testing.T, name string) *tab {
	t.Helper()
	return openTab(t, browser(t), name, chromedp.WithNewBrowserContext())
}

// sameBrowser opens another page in p's browser context (the same
// cookies), as a person opening a second tab would.
func (p *tab) sameBrowser(t *testing.T, name string) *tab {
	t.Helper()
	return openTab(t, p.ctx, name)
}

func openTab(t *testing.T, parent context.Context, name string, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	p := &tab{name: name}
	ctx, cancel := chromedp.NewContext(parent, append(opts, chromedp.WithListener(p.event))...)
	p.ctx = ctx
	t.Cleanup(cancel)
	// The first Do creates the tab and binds its life to the context it
	// is given, so it gets the tab's own context, and its wait is bounded
	// here. Every tab starts at the same desktop size, whatever window
	// the browser gave it, so screenshots compare across runs.
	opened := make(chan error, 1)
	go func() { opened <- chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)) }()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("%s: opening a tab: %v", name, err)
		}
	case <-time.After(actionTimeout):
		cancel()
		t.Fatalf("%s: no tab within %v", name, actionTimeout)
	}
	return p
}

var ticketParam = regexp.MustCompile(`ticket=[^&\s'"]+`)

// event records what a person would see in the developer tools and
// accepts dialogs, as a person clicking OK would (the console asks
// confirm() before destructive actions). It runs on the tab's event
// loop, so the answer to a dialog is sent from another goroutine.
func (p *tab) event(ev any) {
	var line string
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		p.mu.Lock()
		p.dialogs = append(p.dialogs, string(ev.Type)+": "+ev.Message)
		p.mu.Unlock()
		go func() {
			_, _ = chromedp.Call(p.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}()
		return
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		line = "exception: " + d.Text
		if d.Exception != nil {
			line += " " + d.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		args := make([]string, 0, len(ev.Args))
		for _, a := range ev.Args {
			if a.Value != nil {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		line = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level != log.EntryLevelError && e.Level != log.EntryLevelWarning {
			return
		}
		line = string(e.Source) + " " + string(e.Level) + ": " + e.Text + " " + e.URL
	default:
		return
	}
	// A one-time ticket is a credential while it lasts: it stays out of
	// anything the test may print.
	line = ticketParam.ReplaceAllString(line, "ticket=REDACTED")
	p.mu.Lock()
	p.logs = append(p.logs, line)
	p.mu.Unlock()
}

// problems returns what the console logged that is not expected. The
// anonymous check of who is signed in (GET /api/auth/me) answers 401,
// which the browser logs as a failed load; allowed adds patterns of other
// answers the test provokes on purpose.
func (p *tab) problems(allowed ...string) []string {
	pats := []*regexp.Regexp{regexp.MustCompile(`^network error: .*status of 401 .*/api/auth/me$`)}
	for _, a := range allowed {
		pats = append(pats, regexp.MustCompile(a))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.logs {
		ok := false
		for _, re := range pats {
			ok = ok || re.MatchString(l)
		}
		if !ok {
			out = append(out, l)
		}
	}
	return out
}

// dialogList returns the dialogs the tab has seen, as "type: message".
func (p *tab) dialogList() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.dialogs...)
}

// logged reports whether the console logged a line matching pattern.
func (p *tab) logged(pattern string) bool {
	re := regexp.MustCompile(pattern)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.logs {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// do runs actions in the tab within actionTimeout.
func (p *tab) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// eval runs a JavaScript expression in the page (awaiting a promise) and
// decodes its value. DevTools evaluation is not subject to the page's
// CSP, unlike script the page itself would run.
func eval[T any](t *testing.T, p *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: eval %s: %v", p.name, expr, err)
	}
	return v
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitFor waits (at most waitTimeout) until the expression is true; one
// that throws (an element not there yet) is false. The page checks it
// every 25 ms itself (chromedp.Poll compiles its predicate with new
// Function, which the console's CSP forbids); a navigation ends that
// check, and it starts again in the new document.
func (p *tab) waitFor(t *testing.T, expr, what string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		check := fmt.Sprintf(`new Promise((resolve) => {
			const until = Date.now() + %d;
			const test = () => { try { return !!(%s); } catch { return false; } };
			const tick = () => test() ? resolve(true) : Date.now() > until ? resolve(false) : setTimeout(tick, 25);
			tick();
		})`, left.Milliseconds(), expr)
		ctx, cancel := context.WithTimeout(p.ctx, left+5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](check, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil {
			if ok {
				return
			}
			break
		}
		if exc := (*chromedp.ExceptionError)(nil); errors.As(err, &exc) {
			t.Fatalf("%s: the check for %s does not run: %v", p.name, what, err)
		}
		if p.ctx.Err() != nil {
			break
		}
		// The document went away under the check (a navigation):
		// give the next one a moment to exist, then ask it.
		select {
		case <-time.After(25 * time.Millisecond):
		case <-p.ctx.Done():
		}
	}
	body := p.bodyText()
	t.Fatalf("%s: waited %v for %s (%s); the page says:\n%s\nconsole: %q", p.name, waitTimeout, what, expr, body, p.problems())
}

// bodyText is the page's text for a failure message, or why there is none.
func (p *tab) bodyText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText.slice(0, 2000) : "")`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// waitSel waits until an element matching the CSS selector is shown.
func (p *tab) waitSel(t *testing.T, sel string) {
	t.Helper()
	p.waitFor(t, `(() => { const e = document.querySelector(`+js(sel)+`); return e && e.offsetParent !== null; })()`, sel)
}

// open loads url and waits until the new document shows a view (which
// may be another than url's: a view may send the reader elsewhere).
func (p *tab) open(t *testing.T, url string) {
	t.Helper()
	p.do(t, "open "+url, chromedp.Navigate(url))
	p.waitFor(t, `document.querySelector("main h1") && document.querySelector("main").getAttribute("aria-busy") === null`, "a view after loading "+url)
}

// visit starts loading url without waiting for it: a page that moves on
// by itself (a form it submits at once) has no one load to wait for.
func (p *tab) visit(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: url})
	if err == nil && res.ErrorText != "" {
		err = errors.New(res.ErrorText)
	}
	if err != nil {
		t.Fatalf("%s: visit %s: %v", p.name, url, err)
	}
}

// fill types value into the control sel (setting it and firing input,
// as typing does).
func (p *tab) fill(t *testing.T, sel, value string) {
	t.Helper()
	eval[chromedp.Void](t, p, `(() => { const e = document.querySelector(`+js(sel)+`); if (!e) throw new Error("no "+`+js(sel)+`); e.focus(); e.value = `+js(value)+`; e.dispatchEvent(new Event("input", {bubbles: true})); })()`)
}

// click clicks the element sel. It is the element's own click(): a
// mouse event at coordinates could land on a toast that appeared over
// the button between measuring and clicking.
func (p *tab) click(t *testing.T, sel string) {
	t.Helper()
	eval[chromedp.Void](t, p, `(() => { const e = document.querySelector(`+js(sel)+`); if (!e) throw new Error("no "+`+js(sel)+`); e.click(); })()`)
}

// text returns the visible text of the first element sel ("" if none).
func (p *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return eval[string](t, p, `(() => { const e = document.querySelector(`+js(sel)+`); return e ? e.innerText : ""; })()`)
}

// key presses a key (kb.Tab, kb.Enter) on the keyboard.
func (p *tab) key(t *testing.T, key string) {
	t.Helper()
	p.do(t, "press "+fmt.Sprintf("%q", key), chromedp.KeyEvent(key))
}

// phone makes the page an iPhone 13 (390x844, touch, its user agent).
func (p *tab) phone(t *testing.T) {
	t.Helper()
	p.do(t, "emulate a phone", chromedp.Emulate(device.IPhone13))
}
