package browsertest

import (
	"context"
	"html/template"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The attacker's site: pages on another origin (another port of
// 127.0.0.1) that a signed-in victim visits. Another port is another
// origin but the same site, so the browser sends the SameSite=Lax session
// cookie along with every forged request: what refuses them is the
// server's cross-origin check, not the cookie's SameSite attribute.
var attackerPages = template.Must(template.New("").Parse(`
{{define "form-books"}}<!doctype html><title>You won!</title>
<form method="POST" action="{{.Base}}/api/books" enctype="text/plain">
<input type="hidden" name='{"title":"Pwned by a form","author":"mallory","x":"' value='"}'>
</form>
<script>document.forms[0].submit();</script>
{{end}}
{{define "form-logout-all"}}<!doctype html><title>You won!</title>
<form method="POST" action="{{.Base}}/api/auth/logout-all"></form>
<script>document.forms[0].submit();</script>
{{end}}
{{define "fetch"}}<!doctype html><title>Loading…</title>
<script>
const base = {{.Base}};
const results = {};
async function attempt(name, path, init) {
	try {
		const r = await fetch(base + path, Object.assign({credentials: "include"}, init));
		results[name] = "answered " + r.type + " " + r.status;
	} catch (e) {
		results[name] = "failed " + e.name;
	}
}
(async () => {
	// Not a simple request: the browser asks first (a preflight).
	await attempt("patch profile", "/api/users/me", {method: "PATCH", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({bio: "pwned by fetch", visibility: "private"})});
	// Simple requests: sent at once, with the cookie.
	await attempt("add book", "/api/books", {method: "POST", headers: {"Content-Type": "text/plain"},
		body: JSON.stringify({title: "Pwned by fetch", author: "mallory"})});
	await attempt("add book, no-cors", "/api/books", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
		body: JSON.stringify({title: "Pwned by a no-cors fetch", author: "mallory"})});
	await attempt("log out everywhere", "/api/auth/logout-all", {method: "POST", mode: "no-cors"});
	window.results = results;
})();
</script>
{{end}}
{{define "socket"}}<!doctype html><title>Chat</title>
<script>
window.socket = "connecting";
const ws = new WebSocket({{.Socket}});
ws.onopen = () => { window.socket = "open"; };
ws.onclose = (e) => { if (window.socket !== "open") window.socket = "closed " + e.code; };
</script>
{{end}}
`))

// attacker serves attackerPages; the test sets what they target.
type attacker struct {
	*httptest.Server
	mu     sync.Mutex
	base   string // the Warden site
	socket string // the chat socket URL, with a ticket the attacker was handed
}

func startAttacker(t *testing.T, base string) *attacker {
	a := &attacker{base: base}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		data := struct{ Base, Socket string }{a.base, a.socket}
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if attackerPages.Lookup(strings.TrimPrefix(r.URL.Path, "/")) == nil {
			w.WriteHeader(http.StatusNoContent) // the favicon
			return
		}
		if err := attackerPages.ExecuteTemplate(w, strings.TrimPrefix(r.URL.Path, "/"), data); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

// refusals waits (at most waitTimeout) until the server has refused n
// forged method requests to path, and checks that each was answered 403
// and that nothing else reached the route. The access line is written
// when the handler returns, which may be a moment after the browser saw
// the answer.
func (s *site) refusals(t *testing.T, method, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var refused, answered []logLine
	for {
		refused, answered = s.find("cross-origin request refused", method, path), s.find("request", method, path)
		if len(refused) >= n && len(answered) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, l := range answered {
		if l.Status != http.StatusForbidden {
			t.Errorf("%s %s answered %d, want 403", method, path, l.Status)
		}
	}
	if len(refused) != n || len(answered) != n {
		t.Errorf("%s %s: %d refused, %d answered, want %d forged requests refused", method, path, len(refused), len(answered), n)
	}
}

// TestCrossOriginAttacks has a signed-in victim visit an attacker's pages
// that forge requests with the victim's session cookie: auto-submitted
// forms, fetches with credentials, and the chat socket opened with a
// ticket the attacker was handed. Each is refused at the server (403),
// and the API shows nothing changed.
func TestCrossOriginAttacks(t *testing.T) {
	browser(t) // skips before the server starts
	s := server(t)
	evil := startAttacker(t, s.base)
	if strings.TrimPrefix(evil.URL, "http://") == strings.TrimPrefix(s.base, "http://") {
		t.Fatal("the attacker's site must be another origin")
	}

	victim := newTab(t, "alice")
	login(t, victim, s.base, "alice", pw)
	victim.open(t, s.base+"/books")
	// The attacker's page opens in the victim's browser: the same cookies.
	lure := victim.sameBrowser(t, "attacker's page")

	// What the attacks would change, through the API (a bearer client).
	tok := s.token(t, "alice")
	status, room := s.api(t, "POST", "/api/chat/rooms", tok, `{"name":"Private"}`)
	if status != 201 {
		t.Fatalf("room: %d %v", status, room)
	}
	roomID := jsonNumber(room["id"])
	_, books := s.api(t, "GET", "/api/books", "", "")
	_, profile := s.api(t, "GET", "/api/users/alice", "", "")

	t.Run("an auto-submitted form adding a book", func(t *testing.T) {
		lure.visit(t, evil.URL+"/form-books")
		lure.waitFor(t, `location.href === `+js(s.base+"/api/books")+` && document.body.innerText.includes("Cross-origin request refused")`, "the server's refusal shown")
		if !lure.logged(`status of 403 .*` + regexp.QuoteMeta(s.base+"/api/books") + `$`) {
			t.Errorf("the browser saw no 403; it logged %q", lure.problems())
		}
		s.refusals(t, "POST", "/api/books", 1)
	})

	t.Run("an auto-submitted form logging out everywhere", func(t *testing.T) {
		lure.visit(t, evil.URL+"/form-logout-all")
		lure.waitFor(t, `location.href === `+js(s.base+"/api/auth/logout-all")+` && document.body.innerText.includes("Cross-origin request refused")`, "the server's refusal shown")
		if !lure.logged(`status of 403 .*` + regexp.QuoteMeta(s.base+"/api/auth/logout-all") + `$`) {
			t.Errorf("the browser saw no 403; it logged %q", lure.problems())
		}
		s.refusals(t, "POST", "/api/auth/logout-all", 1)
	})

	t.Run("fetches with credentials: 'include'", func(t *testing.T) {
		lure.visit(t, evil.URL+"/fetch")
		lure.waitFor(t, `window.results`, "the page's fetches settled")
		got := eval[map[string]string](t, lure, `window.results`)
		want := map[string]string{
			// The preflight finds no CORS grant: the PATCH is never sent.
			"patch profile": "failed TypeError",
			// Sent with the cookie and refused; the page may not read
			// the answer either: no CORS grant, and no-cors answers are
			// blocked by Cross-Origin-Resource-Policy: same-origin.
			"add book":           "failed TypeError",
			"add book, no-cors":  "failed TypeError",
			"log out everywhere": "failed TypeError",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %q, want %q", k, got[k], v)
			}
		}
		s.refusals(t, "POST", "/api/books", 3)
		s.refusals(t, "POST", "/api/auth/logout-all", 2)
		if l := s.find("request", "PATCH", "/api/users/me"); len(l) > 0 {
			t.Errorf("a cross-origin PATCH reached the server: %+v", l)
		}
	})

	t.Run("nothing changed", func(t *testing.T) {
		if _, now := s.api(t, "GET", "/api/books", "", ""); now["count"] != books["count"] {
			t.Errorf("books: %v, were %v", now["count"], books["count"])
		}
		if _, now := s.api(t, "GET", "/api/users/alice", "", ""); now["bio"] != profile["bio"] || now["visibility"] != profile["visibility"] {
			t.Errorf("profile: %v, was %v", now, profile)
		}
		// Logout-all would have ended every login: the token and the
		// cookie still work.
		if status, me := s.api(t, "GET", "/api/auth/me", tok, ""); status != 200 {
			t.Errorf("alice's token: %d %v", status, me)
		}
		if status := eval[int](t, victim, `fetch("/api/auth/me").then((r) => r.status)`); status != 200 {
			t.Errorf("alice's cookie: %d", status)
		}
	})

	t.Run("the chat socket, with a valid ticket the attacker was handed", func(t *testing.T) {
		// The victim's page asks for a ticket as the console does; the
		// test hands it to the attacker's page.
		ctx, cancel := context.WithTimeout(victim.ctx, actionTimeout)
		defer cancel()
		ticket, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/api/ws-ticket", {method: "POST"}).then((r) => r.json()).then((j) => j.ticket)`, chromedp.EvalAwaitPromise))
		if err != nil || ticket == "" {
			t.Fatalf("no ticket: %v", err)
		}
		path := "/ws/chat/" + roomID
		evil.mu.Lock()
		evil.socket = "ws://" + strings.TrimPrefix(s.base, "http://") + path + "?ticket=" + ticket
		evil.mu.Unlock()

		lure.visit(t, evil.URL+"/socket")
		lure.waitFor(t, `window.socket && window.socket !== "connecting"`, "the socket settled")
		if got := eval[string](t, lure, `window.socket`); got != "closed 1006" {
			t.Errorf("the attacker's socket: %q, want it never opened (closed 1006)", got)
		}
		if !lure.logged(`WebSocket connection to '` + regexp.QuoteMeta("ws://"+strings.TrimPrefix(s.base, "http://")+path) + `\?ticket=REDACTED' failed: .*403`) {
			t.Errorf("the browser did not report a 403 handshake; it logged %q", lure.problems())
		}
		refused := s.waitLog(t, "websocket refused", "", path)
		if refused.Origin != evil.URL {
			t.Errorf("refused origin %q, want %q", refused.Origin, evil.URL)
		}
		// No connection: the one request for the socket was answered
		// 403, not upgraded (101).
		s.waitLog(t, "request", "GET", path)
		if l := s.find("request", "GET", path); len(l) != 1 || l[0].Status != http.StatusForbidden {
			t.Errorf("GET %s answered %+v, want one 403", path, l)
		}

		// The Origin check came before the ticket, so the ticket is
		// unspent: the victim's own page opens the socket with it and
		// chats (a spent ticket would close with 4001 at once).
		ctx2, cancel2 := context.WithTimeout(victim.ctx, actionTimeout)
		defer cancel2()
		got, err := chromedp.Run(ctx2, chromedp.Evaluate[string](`new Promise((resolve) => {
			const ws = new WebSocket("ws://" + location.host + `+js(path+"?ticket="+ticket)+`);
			const timer = setTimeout(() => resolve("no answer"), 10000);
			ws.onopen = () => ws.send(JSON.stringify({message: "same origin works"}));
			ws.onmessage = (e) => {
				const f = JSON.parse(e.data);
				if (f.type === "chat_message" && f.message === "same origin works") { clearTimeout(timer); ws.close(1000); resolve("echoed"); }
			};
			ws.onclose = (e) => { clearTimeout(timer); resolve("closed " + e.code); };
		})`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("the same-origin socket: %v", err)
		}
		if got != "echoed" {
			t.Errorf("the same-origin socket with the same ticket: %q, want a working chat", got)
		}
	})

	if probs := victim.problems(); len(probs) > 0 {
		t.Errorf("the victim's console: %q", probs)
	}
	// The attacker's page logs its failures: the refused fetches and
	// socket; anything else is unexpected.
	if probs := lure.problems(
		`^network error: Failed to load resource: the server responded with a status of 403 \(Forbidden\) .*/api/(books|auth/logout-all)$`,
		`^javascript error: Access to fetch at '.*/api/(users/me|books)' from origin '.*' has been blocked by CORS policy`,
		`^network error: Failed to load resource: net::ERR_FAILED .*/api/(users/me|books)$`,
		`^network error: Failed to load resource: net::ERR_BLOCKED_BY_RESPONSE.NotSameOrigin .*/api/(books|auth/logout-all)$`,
		`^network error: WebSocket connection to .* failed`,
	); len(probs) > 0 {
		t.Errorf("the attacker's console: %q", probs)
	}
}
