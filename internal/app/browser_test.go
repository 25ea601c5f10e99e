package app_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/storetest"
)

// Browser mode through the real server: the session cookie on the
// accounts routes, the book club, tickets, sockets and event streams, with
// CSRF router-wide; the Host allow-list; HSTS preload.

// cookieClient is a browser page of the site: it keeps the session
// cookie and sends the Fetch metadata of a same-origin request.
type cookieClient struct {
	base, session string
	site, origin  string
}

func (c *cookieClient) headers(extra map[string]string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if c.session != "" {
		h["Cookie"] = accounts.SessionCookie + "=" + c.session
	}
	if c.site != "" {
		h["Sec-Fetch-Site"] = c.site
	}
	if c.origin != "" {
		h["Origin"] = c.origin
	}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

func (c *cookieClient) call(t *testing.T, method, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	status, header, out := call(t, method, c.base+path, c.headers(nil), body)
	for _, line := range header.Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == accounts.SessionCookie {
			c.session = ck.Value
			if ck.MaxAge < 0 {
				c.session = ""
			}
		}
	}
	return status, header, out
}

func TestBrowserModeEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		base, a := start(t, map[string]string{"WARDEN_DATABASE_URL": e.NewURL(t), "WARDEN_AUTH_RATE_PER_MINUTE": "1000"})
		for _, name := range []string{"alice", "bob"} {
			if _, err := a.Accounts().CreateUser(t.Context(), accounts.RegisterInput{Username: name, Email: name + "@example.com", Password: pw}, accounts.CreateOptions{Verified: true}); err != nil {
				t.Fatal(err)
			}
		}
		bobAccess, _ := login(t, base, "bob", pw)
		bob := map[string]string{"Authorization": "Bearer " + bobAccess, "Content-Type": "application/json"}

		alice := &cookieClient{base: base, site: "same-origin", origin: base}
		status, _, body := alice.call(t, "POST", "/api/auth/login", `{"username":"alice","password":"`+pw+`","mode":"cookie"}`)
		if status != 200 || alice.session == "" || body["access"] != nil {
			t.Fatalf("cookie login: %d %v", status, body)
		}
		if status, _, body := alice.call(t, "GET", "/api/auth/me", ""); status != 200 || body["auth_backend"] != "session" {
			t.Fatalf("me: %d %v", status, body)
		}

		// The book club takes the cookie; a write needs the browser's
		// headers, from the site or an allowed origin.
		forged := *alice
		forged.site, forged.origin = "cross-site", "https://evil.example"
		if status, _, _ := forged.call(t, "POST", "/api/chat/rooms", `{"name":"forged"}`); status != 403 {
			t.Fatalf("forged room: %d", status)
		}
		bare := *alice
		bare.site, bare.origin = "", ""
		if status, _, _ := bare.call(t, "POST", "/api/chat/rooms", `{"name":"bare"}`); status != 403 {
			t.Fatalf("room without browser headers: %d", status)
		}
		allowed := *alice
		allowed.site, allowed.origin = "same-site", "https://app.example.com" // WARDEN_CORS_ALLOWED_ORIGINS
		if status, _, _ := allowed.call(t, "PATCH", "/api/users/me", `{"bio":"reader"}`); status != 200 {
			t.Fatalf("write from the allowed origin: %d", status)
		}
		status, _, body = alice.call(t, "POST", "/api/chat/rooms", `{"name":"readers"}`)
		if status != 201 {
			t.Fatalf("room: %d %v", status, body)
		}
		room := strconv.FormatInt(int64(body["id"].(float64)), 10)
		if status, _, _ := alice.call(t, "POST", "/api/chat/rooms/"+room+"/members", `{"username":"bob"}`); status != 204 {
			t.Fatalf("add bob: %d", status)
		}

		// A ticket with the cookie opens the chat socket.
		status, _, body = alice.call(t, "POST", "/api/ws-ticket", "")
		if status != 200 {
			t.Fatalf("ticket: %d %v", status, body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sock, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws/chat/"+room+"?ticket="+body["ticket"].(string), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sock.CloseNow()
		// Read the socket all along, as a browser does: a peer that
		// stops reading holds up the close handshake.
		sockClosed := make(chan websocket.StatusCode, 1)
		go func() {
			for {
				if _, _, err := sock.Read(context.Background()); err != nil {
					sockClosed <- websocket.CloseStatus(err)
					return
				}
			}
		}()

		// The event stream with the cookie alone.
		req, _ := http.NewRequest("GET", base+"/api/events", nil)
		req.Header.Set("Cookie", accounts.SessionCookie+"="+alice.session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("events with the cookie: %d", resp.StatusCode)
		}
		events := &stream{r: bufio.NewReader(resp.Body), body: resp.Body}
		if status, _, _ := call(t, "POST", base+"/api/users/alice/follow", bob, ""); status != 204 {
			t.Fatalf("follow: %d", status)
		}
		if ev := events.next(t); ev.name != "follower" || !strings.Contains(ev.data, "bob") {
			t.Fatalf("alice's stream: %+v", ev)
		}

		// Logging out (no body) clears the cookie and ends the socket and
		// the stream within 5 s.
		kept := alice.session
		if status, _, _ := alice.call(t, "POST", "/api/auth/logout", ""); status != 200 || alice.session != "" {
			t.Fatalf("logout: %d, cookie %q", status, alice.session)
		}
		events.expectEnd(t)
		select {
		case code := <-sockClosed:
			if code != 4001 {
				t.Fatalf("socket after logout: close %d, want 4001", code)
			}
		case <-time.After(6 * time.Second):
			t.Fatal("the socket is still open 6 s after logout")
		}
		alice.session = kept
		if status, _, _ := alice.call(t, "GET", "/api/auth/me", ""); status != 401 {
			t.Fatalf("the logged-out cookie: %d", status)
		}
	})
}

func TestAllowedHosts(t *testing.T) {
	base, _ := start(t, map[string]string{"WARDEN_ALLOWED_HOSTS": "api.example.com, 127.0.0.1"})
	for _, tt := range []struct {
		host, path string
		want       int
	}{
		{"", "/api/books", 200}, // 127.0.0.1:port
		{"api.example.com", "/api/books", 200},
		{"rebound.evil.example", "/api/books", 400},
		{"rebound.evil.example", "/api/auth/me", 400},
		{"10.1.2.3:8080", "/healthz", 200},
		{"10.1.2.3:8080", "/readyz", 200},
		{"10.1.2.3:8080", "/api/openapi.json", 400},
	} {
		req, _ := http.NewRequest("GET", base+tt.path, nil)
		if tt.host != "" {
			req.Host = tt.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s Host %q: %d, want %d", tt.path, tt.host, resp.StatusCode, tt.want)
		}
	}
	for _, bad := range []string{"*", "https://api.example.com", ",", "api.example.com:0"} {
		if _, err := config.Load(nil, func(k string) (string, bool) {
			v, ok := map[string]string{"WARDEN_ALLOWED_HOSTS": bad}[k]
			return v, ok
		}); err == nil || !strings.Contains(err.Error(), "WARDEN_ALLOWED_HOSTS") {
			t.Errorf("WARDEN_ALLOWED_HOSTS=%q: %v", bad, err)
		}
	}
}

func TestHSTSPreloadSetting(t *testing.T) {
	production := map[string]string{
		"WARDEN_ENV":                  "production",
		"WARDEN_SECRET_KEY":           "q7Vx2mK9pR4tW8zB1nC6hJ3sD5fG0aL2eY7uI4oP9wQ1rT6kM3xZ8vN5bH2jF0gA",
		"WARDEN_PUBLIC_URL":           "https://books.example.com",
		"WARDEN_CORS_ALLOWED_ORIGINS": "https://app.example.com",
	}
	for _, tc := range []struct {
		preload string
		want    string
	}{
		{"", "max-age=63072000; includeSubDomains"},
		{"true", "max-age=63072000; includeSubDomains; preload"},
	} {
		env := merge(production, map[string]string{})
		if tc.preload != "" {
			env["WARDEN_HSTS_PRELOAD"] = tc.preload
		}
		base, _ := start(t, env)
		_, header, _ := call(t, "GET", base+"/healthz", nil, "")
		if got := header.Get("Strict-Transport-Security"); got != tc.want {
			t.Errorf("WARDEN_HSTS_PRELOAD=%q: %q, want %q", tc.preload, got, tc.want)
		}
		if got := header.Get("X-XSS-Protection"); got != "" {
			t.Errorf("X-XSS-Protection %q: obsolete, replaced by the CSP", got)
		}
	}
}

func TestSessionLifetimeSettings(t *testing.T) {
	load := func(env map[string]string) error {
		_, err := config.Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		return err
	}
	cfg, err := config.Load(nil, func(string) (string, bool) { return "", false })
	if err != nil || cfg.SessionIdle != 24*time.Hour || cfg.SessionMax != 7*24*time.Hour {
		t.Fatalf("defaults: %v %v %v", cfg, err, err)
	}
	for _, env := range []map[string]string{
		{"WARDEN_SESSION_IDLE": "48h", "WARDEN_SESSION_MAX": "24h"},
		{"WARDEN_SESSION_IDLE": "1m"},
		{"WARDEN_SESSION_MAX": "10000h"},
		{"WARDEN_SESSION_MAX": "soon"},
	} {
		if err := load(env); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	if err := load(map[string]string{"WARDEN_SESSION_IDLE": "30m", "WARDEN_SESSION_MAX": "12h"}); err != nil {
		t.Errorf("short lifetimes: %v", err)
	}
}
