package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// chromiumPath returns the browser to drive, or "" when there is none.
func chromiumPath() string {
	if p := os.Getenv("WARDEN_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium and its DevTools connection.
type browser struct {
	t       *testing.T
	conn    *websocket.Conn
	ctx     context.Context
	next    atomic.Int64
	mu      sync.Mutex
	pending map[int64]chan reply
	tabs    map[string]*tab // by DevTools session id
}

type reply struct {
	Result json.RawMessage
	Err    error
}

// message is any DevTools message: an answer (ID) or an event (Method).
type message struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

var devtoolsURL = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// startBrowser launches Chromium for the test's duration, with the flags
// a closed network needs (no background traffic, no component updates).
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("no Chromium binary (set WARDEN_TEST_CHROMIUM or apt-get install chromium)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--mute-audio",
		"--remote-debugging-port=0", "--user-data-dir="+t.TempDir(), "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", path, err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(20 * time.Second):
		cancel()
		_ = cmd.Wait()
		t.Fatal("Chromium did not announce its DevTools address within 20 s")
	}
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		cancel()
		_ = cmd.Wait()
		t.Fatal(err)
	}
	conn.SetReadLimit(64 << 20)
	b := &browser{t: t, conn: conn, ctx: ctx, pending: map[int64]chan reply{}, tabs: map[string]*tab{}}
	done := make(chan struct{})
	go b.read(done)
	t.Cleanup(func() {
		// Browser.close lets Chromium end its own helper processes, which
		// may still be writing to the profile directory when a kill of
		// the main process returns.
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		_ = b.call("", "Browser.close", map[string]any{}, nil)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cancel()
			<-exited
		}
		cancel()
		_ = conn.Close(websocket.StatusNormalClosure, "")
		<-done
	})
	return b
}

func (b *browser) read(done chan struct{}) {
	defer close(done)
	for {
		_, data, err := b.conn.Read(b.ctx)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				ch <- reply{Err: fmt.Errorf("browser connection: %w", err)}
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m message
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				r := reply{Result: m.Result}
				if m.Error != nil {
					r.Err = fmt.Errorf("%s", m.Error.Message)
				}
				ch <- r
			}
			continue
		}
		b.mu.Lock()
		tb := b.tabs[m.SessionID]
		b.mu.Unlock()
		if tb != nil {
			tb.event(m.Method, m.Params)
		}
	}
}

// call sends one DevTools command (to a tab when session is set) and
// decodes its result into out.
func (b *browser) call(session, method string, params, out any) error {
	id := b.next.Add(1)
	ch := make(chan reply, 1)
	b.mu.Lock()
	b.pending[id] = ch
	b.mu.Unlock()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params, "sessionId": session})
	if err != nil {
		return err
	}
	if session == "" {
		msg, _ = json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := b.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return err
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return fmt.Errorf("%s: %w", method, r.Err)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: no answer within 20 s", method)
	}
}

// tab is one page in its own browser context (its own cookies), as a
// separate person's browser would be.
type tab struct {
	b       *browser
	t       *testing.T
	name    string
	session string
	mu      sync.Mutex
	logs    []string // console errors, exceptions, CSP reports
}

// newTab opens a page in a fresh browser context.
func (b *browser) newTab(t *testing.T, name string) *tab {
	t.Helper()
	var bc struct {
		BrowserContextID string `json:"browserContextId"`
	}
	if err := b.call("", "Target.createBrowserContext", map[string]any{"disposeOnDetach": true}, &bc); err != nil {
		t.Fatal(err)
	}
	var tg struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call("", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": bc.BrowserContextID}, &tg); err != nil {
		t.Fatal(err)
	}
	var at struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call("", "Target.attachToTarget", map[string]any{"targetId": tg.TargetID, "flatten": true}, &at); err != nil {
		t.Fatal(err)
	}
	tb := &tab{b: b, t: t, name: name, session: at.SessionID}
	b.mu.Lock()
	b.tabs[at.SessionID] = tb
	b.mu.Unlock()
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := b.call(at.SessionID, m, map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = b.call("", "Target.disposeBrowserContext", map[string]any{"browserContextId": bc.BrowserContextID}, nil)
	})
	return tb
}

// event records what a person would see in the developer tools' console
// and accepts confirm() dialogs, as a person clicking OK would.
func (p *tab) event(method string, params json.RawMessage) {
	switch method {
	case "Page.javascriptDialogOpening":
		go func() { _ = p.b.call(p.session, "Page.handleJavaScriptDialog", map[string]any{"accept": true}, nil) }()
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(params, &e)
		p.log("exception: " + e.ExceptionDetails.Text + " " + e.ExceptionDetails.Exception.Description)
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		_ = json.Unmarshal(params, &e)
		if e.Type == "error" || e.Type == "warning" || e.Type == "assert" {
			p.log(fmt.Sprintf("console.%s: %v", e.Type, e.Args))
		}
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Level  string `json:"level"`
				Source string `json:"source"`
				Text   string `json:"text"`
				URL    string `json:"url"`
			} `json:"entry"`
		}
		_ = json.Unmarshal(params, &e)
		if e.Entry.Level == "error" || e.Entry.Level == "warning" {
			p.log(e.Entry.Source + " " + e.Entry.Level + ": " + e.Entry.Text + " " + e.Entry.URL)
		}
	}
}

func (p *tab) log(s string) {
	p.mu.Lock()
	p.logs = append(p.logs, s)
	p.mu.Unlock()
}

// problems returns what the console logged that is not expected. The
// anonymous check of who is signed in (GET /api/auth/me) answers 401,
// which the browser logs as a failed load; allowed adds patterns of other
// answers the test provokes on purpose.
func (p *tab) problems(allowed ...string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	pats := []*regexp.Regexp{regexp.MustCompile(`^network error: .*status of 401 .*/api/auth/me$`)}
	for _, a := range allowed {
		pats = append(pats, regexp.MustCompile(a))
	}
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

// eval runs a JavaScript expression in the page (awaiting a promise) and
// decodes its value into out.
func (p *tab) eval(expr string, out any) {
	p.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.b.call(p.session, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r); err != nil {
		p.t.Fatalf("%s: eval %s: %v", p.name, expr, err)
	}
	if r.ExceptionDetails != nil {
		p.t.Fatalf("%s: eval %s: %s %s", p.name, expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			p.t.Fatalf("%s: eval %s: %v", p.name, expr, err)
		}
	}
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitFor waits (at most 10 s) until the expression is true; one that
// throws (an element not there yet) is false.
func (p *tab) waitFor(expr, what string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		p.eval("(() => { try { return !!("+expr+"); } catch { return false; } })()", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var body string
			p.eval(`document.body ? document.body.innerText.slice(0, 2000) : ""`, &body)
			p.t.Fatalf("%s: waited 10 s for %s (%s); the page says:\n%s\nconsole: %q", p.name, what, expr, body, p.problems())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSel waits until an element matching the CSS selector is shown.
func (p *tab) waitSel(sel string) {
	p.t.Helper()
	p.waitFor(`(() => { const e = document.querySelector(`+js(sel)+`); return e && e.offsetParent !== null; })()`, sel)
}

// open loads url and waits until the new document shows a view (which
// may be another than url's: a view may send the reader elsewhere).
func (p *tab) open(url string) {
	p.t.Helper()
	p.eval(`window.__leaving = true`, nil)
	if err := p.b.call(p.session, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		p.t.Fatal(err)
	}
	p.waitFor(`!window.__leaving && document.querySelector("main h1") && document.querySelector("main").getAttribute("aria-busy") === null`, "a view after loading "+url)
}

// fill types value into the control sel (setting it and firing input,
// as typing does).
func (p *tab) fill(sel, value string) {
	p.t.Helper()
	p.eval(`(() => { const e = document.querySelector(`+js(sel)+`); if (!e) throw new Error("no "+`+js(sel)+`); e.focus(); e.value = `+js(value)+`; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, nil)
}

// click clicks the element sel.
func (p *tab) click(sel string) {
	p.t.Helper()
	p.eval(`(() => { const e = document.querySelector(`+js(sel)+`); if (!e) throw new Error("no "+`+js(sel)+`); e.click(); })()`, nil)
}

// text returns the visible text of the first element sel ("" if none).
func (p *tab) text(sel string) string {
	p.t.Helper()
	var s string
	p.eval(`(() => { const e = document.querySelector(`+js(sel)+`); return e ? e.innerText : ""; })()`, &s)
	return s
}

// key presses a key (Tab, Enter) as the keyboard does.
func (p *tab) key(key string) {
	p.t.Helper()
	code := map[string]int{"Tab": 9, "Enter": 13}[key]
	for _, typ := range []string{"rawKeyDown", "keyUp"} {
		params := map[string]any{"type": typ, "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}
		if err := p.b.call(p.session, "Input.dispatchKeyEvent", params, nil); err != nil {
			p.t.Fatal(err)
		}
	}
}

// phone makes the page a 390x844 touch screen.
func (p *tab) phone() {
	p.t.Helper()
	if err := p.b.call(p.session, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}, nil); err != nil {
		p.t.Fatal(err)
	}
}
