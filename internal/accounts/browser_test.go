package accounts_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/storetest"
)

// Browser mode through real HTTP: a client that keeps the cookies the
// server sets and sends the Fetch metadata a page of the site sends.

// browser keeps its cookies as a browser keeps those of one site (by
// name; __Host- cookies have one path and no domain) and sends
// Sec-Fetch-Site and Origin as a page at origin would.
type browser struct {
	h       *harness
	cookies map[string]string
	site    string // Sec-Fetch-Site; none sent when empty
	origin  string // Origin; none sent when empty
}

func (h *harness) browser() *browser {
	return &browser{h: h, cookies: map[string]string{}, site: "same-origin", origin: h.srv.URL}
}

// do sends one request with the browser's cookies and headers, and keeps
// what the answer sets or deletes.
func (b *browser) do(method, path string, body any) response {
	b.h.t.Helper()
	var extra []string
	if len(b.cookies) > 0 {
		var pairs []string
		for name, value := range b.cookies {
			pairs = append(pairs, name+"="+value)
		}
		slices.Sort(pairs)
		extra = append(extra, "Cookie", strings.Join(pairs, "; "))
	}
	if b.site != "" {
		extra = append(extra, "Sec-Fetch-Site", b.site)
	}
	if b.origin != "" && method != http.MethodGet {
		extra = append(extra, "Origin", b.origin)
	}
	r := b.h.call(method, path, body, "", extra...)
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			b.h.t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return r
}

// login signs name in, in cookie mode.
func (b *browser) login(name string) response {
	b.h.t.Helper()
	return b.do("POST", "/api/auth/login", map[string]string{"username": name, "password": goodPassword, "mode": "cookie"})
}

func (b *browser) session() string { return b.cookies[accounts.SessionCookie] }

// clone is another browser holding a copy of b's cookies (a stolen or
// kept copy of the cookie).
func (b *browser) clone() *browser {
	c := *b
	c.cookies = map[string]string{}
	for k, v := range b.cookies {
		c.cookies[k] = v
	}
	return &c
}

// cookieSessions returns the ids of the cookie logins in a sessions list.
func cookieSessions(r response) (ids []string, current string) {
	for _, s := range r.Body["sessions"].([]any) {
		m := s.(map[string]any)
		if m["cookie"] == true {
			ids = append(ids, m["id"].(string))
		}
		if m["current"] == true {
			current = m["id"].(string)
		}
	}
	return ids, current
}

// TestCookieLoginIsALogin is API.md's browser mode end to end: the
// cookie, no token, /me, the sessions list, ending it from elsewhere.
func TestCookieLoginIsALogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		access, _ := h.registerVerified("alice")
		b := h.browser()
		r := h.expect(b.login("alice"), 200)

		// The answer: the user, no token, the cookie exactly as specified.
		if len(r.Body) != 1 || r.Body["user"].(map[string]any)["username"] != "alice" {
			t.Fatalf("cookie login body %v", r.Body)
		}
		var session, device string
		for _, line := range r.Header.Values("Set-Cookie") {
			switch {
			case strings.HasPrefix(line, accounts.SessionCookie+"="):
				session = line
			case strings.HasPrefix(line, "__Host-warden_device="):
				device = line
			}
		}
		if want := accounts.SessionCookie + "=" + b.session() + "; Path=/; Max-Age=604800; HttpOnly; Secure; SameSite=Lax"; session != want || len(b.session()) != 43 {
			t.Fatalf("session cookie %q\nwant           %q", session, want)
		}
		if c, err := http.ParseSetCookie(device); err != nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Value == "" {
			t.Fatalf("device cookie %q", device)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Error("a cookie-setting answer without no-store")
		}

		me := h.expect(b.do("GET", "/api/auth/me", nil), 200)
		if me.Body["username"] != "alice" || me.Body["auth_backend"] != auth.BackendSession {
			t.Fatalf("me %v", me.Body)
		}
		if h.expect(h.call("GET", "/api/auth/me", nil, access), 200).Body["auth_backend"] != auth.BackendJWT {
			t.Error("a token's me does not say jwt")
		}

		// Listed like any login, current for the cookie.
		list := h.expect(b.do("GET", "/api/auth/sessions", nil), 200)
		ids, current := cookieSessions(list)
		if len(list.Body["sessions"].([]any)) != 2 || len(ids) != 1 || current != ids[0] {
			t.Fatalf("sessions seen with the cookie: %v", list.Body)
		}
		if _, current := cookieSessions(h.expect(h.call("GET", "/api/auth/sessions", nil, access), 200)); current == ids[0] || current == "" {
			t.Fatal("the token's current session is the cookie's")
		}

		// Ended from the other login: the cookie is refused at once, and
		// the refusal deletes it, so that the browser goes on anonymously
		// rather than being refused everywhere.
		value := b.session()
		h.expect(h.call("DELETE", "/api/auth/sessions/"+ids[0], nil, access), 204)
		h.expect(b.do("GET", "/api/auth/me", nil), 401)
		if b.session() != "" {
			t.Error("a refused cookie was not deleted")
		}
		h.expect(h.call("GET", "/api/auth/me", nil, access), 200)

		if strings.Contains(h.logs.String(), value) {
			t.Error("the cookie value reached the log")
		}
	})
}

func TestCookieLogout(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0]})
	h.registerVerified("bob")
	b := h.browser()
	h.expect(b.login("bob"), 200)
	kept := b.clone()

	// Without any browser header the cookie cannot change state.
	forged := b.clone()
	forged.site, forged.origin = "", ""
	h.expect(forged.do("POST", "/api/auth/logout", nil), 403)
	forged.site, forged.origin = "cross-site", "https://evil.example"
	h.expect(forged.do("POST", "/api/auth/logout", nil), 403)
	h.expect(b.do("GET", "/api/auth/me", nil), 200)

	// No body needed; the cookie is deleted and its session ended.
	r := h.expect(b.do("POST", "/api/auth/logout", nil), 200)
	if b.session() != "" {
		t.Fatalf("the cookie was not cleared: %q", r.Header.Values("Set-Cookie"))
	}
	h.expect(kept.do("GET", "/api/auth/me", nil), 401)

	// Ending the current session through DELETE clears it too.
	h.expect(b.login("bob"), 200)
	_, current := cookieSessions(h.expect(b.do("GET", "/api/auth/sessions", nil), 200))
	h.expect(b.do("DELETE", "/api/auth/sessions/"+current, nil), 204)
	if b.session() != "" {
		t.Fatal("ending the current session left its cookie")
	}
}

// TestCookieSessionEndsWithTheUsersEvents: logout-all, a password change
// elsewhere and a reset end a cookie login as they end token logins; a
// password change made with the cookie keeps it.
func TestCookieSessionEndsWithTheUsersEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		access, _ := h.registerVerified("carol")
		b := h.browser()

		h.expect(b.login("carol"), 200)
		h.expect(h.call("POST", "/api/auth/logout-all", nil, access), 200)
		h.expect(b.do("GET", "/api/auth/me", nil), 401)

		access = h.expect(h.login("carol", goodPassword), 200).Body["access"].(string)
		h.expect(b.login("carol"), 200)
		h.expect(h.call("PATCH", "/api/auth/password", map[string]string{"current_password": goodPassword, "new_password": "another long passphrase"}, access), 200)
		h.expect(b.do("GET", "/api/auth/me", nil), 401)
		h.expect(h.call("GET", "/api/auth/me", nil, access), 200)

		// A change made with the cookie keeps the cookie's login and ends
		// the token's.
		h.expect(b.do("POST", "/api/auth/login", map[string]string{"username": "carol", "password": "another long passphrase", "mode": "cookie"}), 200)
		h.expect(b.do("PATCH", "/api/auth/password", map[string]string{"current_password": "another long passphrase", "new_password": goodPassword}), 200)
		h.expect(b.do("GET", "/api/auth/me", nil), 200)
		h.expect(h.call("GET", "/api/auth/me", nil, access), 401)

		// A reset ends it.
		h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "carol@example.com"}, ""), 200)
		reset := h.lastToken("carol@example.com", "/reset-password")
		h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": reset, "password": "a third long passphrase"}, ""), 200)
		h.expect(b.do("GET", "/api/auth/me", nil), 401)

		// Logging out of the cookie ends everything of the user too, and
		// clears it.
		h.expect(b.do("POST", "/api/auth/login", map[string]string{"username": "carol", "password": "a third long passphrase", "mode": "cookie"}), 200)
		access = h.expect(h.login("carol", "a third long passphrase"), 200).Body["access"].(string)
		h.expect(b.do("POST", "/api/auth/logout-all", nil), 200)
		if b.session() != "" {
			t.Error("logout-all left the cookie")
		}
		h.expect(h.call("GET", "/api/auth/me", nil, access), 401)
	})
}

// TestLoginCSRF: a login asking for the cookie must come from the site or
// a trusted origin, and is refused before any password work.
func TestLoginCSRF(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0]})
	h.registerVerified("dora")
	cookieLogin := map[string]string{"username": "dora", "password": "wrong wrong wrong", "mode": "cookie"}
	for _, tt := range []struct {
		name         string
		site, origin string
	}{
		{"cross-site form", "cross-site", "https://evil.example"},
		{"same-site, untrusted origin", "same-site", "https://blog.example.com"},
		{"neither header", "", ""},
		{"old browser, other origin", "", "https://evil.example"},
		{"opaque origin", "", "null"},
	} {
		for range 3 {
			b := h.browser()
			b.site, b.origin = tt.site, tt.origin
			r := h.expect(b.do("POST", "/api/auth/login", cookieLogin), 403)
			if len(r.Header.Values("Set-Cookie")) != 0 {
				t.Fatalf("%s: a refused login set a cookie", tt.name)
			}
		}
	}
	// Fifteen refused wrong passwords were never checked: no backoff.
	h.expect(h.login("dora", goodPassword), 200)

	for _, tt := range []struct {
		name         string
		site, origin string
	}{
		{"same origin", "same-origin", ""},
		{"trusted origin", "same-site", trustedOrigin},
		{"old browser, Origin is the host", "", "SELF"},
		{"old browser, trusted Origin", "", trustedOrigin},
	} {
		b := h.browser()
		b.site = tt.site
		b.origin = strings.Replace(tt.origin, "SELF", h.srv.URL, 1)
		h.expect(b.login("dora"), 200)
		h.expect(b.do("GET", "/api/auth/me", nil), 200)
	}

	// Token mode is unchanged: no browser headers needed.
	r := h.expect(h.call("POST", "/api/auth/login", map[string]string{"username": "dora", "password": goodPassword, "mode": "token"}, ""), 200)
	if r.Body["access"] == nil || len(r.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("token mode: %v %v", r.Body, r.Header.Values("Set-Cookie"))
	}
	for _, mode := range []string{"session", "Cookie", "cookie ", "both"} {
		r := h.expect(h.call("POST", "/api/auth/login", map[string]string{"username": "dora", "password": goodPassword, "mode": mode}, "", "Sec-Fetch-Site", "same-origin"), 400)
		if f, _ := r.Body["fields"].(map[string]any); f["mode"] == nil {
			t.Errorf("mode %q: %v", mode, r.Body)
		}
	}
	h.expect(h.call("POST", "/api/auth/login", `{"username":"dora","password":"`+goodPassword+`","mode":5}`, ""), 400)
}

func TestVerifyEmailCookieMode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "erin", "email": "erin@example.com", "password": goodPassword}, ""), 201)
		link := h.lastToken("erin@example.com", "/verify-email")

		// Refused before the link is spent.
		forged := h.browser()
		forged.site, forged.origin = "cross-site", "https://evil.example"
		h.expect(forged.do("POST", "/api/auth/verify-email", map[string]string{"token": link, "mode": "cookie"}), 403)
		h.expect(h.browser().do("POST", "/api/auth/verify-email", map[string]string{"token": link, "mode": "tokens"}), 400)

		b := h.browser()
		r := h.expect(b.do("POST", "/api/auth/verify-email", map[string]string{"token": link, "mode": "cookie"}), 200)
		if r.Body["message"] == nil || r.Body["user"] == nil || r.Body["access"] != nil || r.Body["refresh"] != nil || r.Body["device"] != nil {
			t.Fatalf("verify body %v", r.Body)
		}
		if b.session() == "" || b.cookies["__Host-warden_device"] == "" {
			t.Fatalf("cookies %v", b.cookies)
		}
		me := h.expect(b.do("GET", "/api/auth/me", nil), 200)
		if me.Body["email_verified"] != true || me.Body["auth_backend"] != "session" {
			t.Fatalf("me %v", me.Body)
		}
		// The link is single use in either mode.
		h.expect(h.browser().do("POST", "/api/auth/verify-email", map[string]string{"token": link, "mode": "cookie"}), 400)
	})
}

// TestCookieRotation: a login never adopts the cookie it was sent, and
// ends the session that cookie belonged to (no fixation, no leftovers).
func TestCookieRotation(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0]})
	h.registerVerified("fay")
	h.registerVerified("gil")

	// A value planted before login: refused, replaced, still refused.
	planted, _, _ := auth.NewSessionSecret()
	b := h.browser()
	b.cookies[accounts.SessionCookie] = planted
	h.expect(b.do("GET", "/api/auth/me", nil), 401)
	h.expect(b.login("fay"), 200)
	if b.session() == planted || b.session() == "" {
		t.Fatal("the login kept the planted value")
	}
	attacker := h.browser()
	attacker.cookies[accounts.SessionCookie] = planted
	h.expect(attacker.do("GET", "/api/auth/me", nil), 401)

	// Logging in again (as anyone) ends the session the browser held.
	before := b.clone()
	h.expect(b.login("fay"), 200)
	if b.session() == before.session() {
		t.Fatal("a second login kept the session id")
	}
	h.expect(before.do("GET", "/api/auth/me", nil), 401)
	ids, _ := cookieSessions(h.expect(b.do("GET", "/api/auth/sessions", nil), 200))
	if len(ids) != 1 {
		t.Fatalf("cookie sessions after re-login: %v", ids)
	}
	fay := b.clone()
	h.expect(b.login("gil"), 200)
	h.expect(fay.do("GET", "/api/auth/me", nil), 401)
	if h.expect(b.do("GET", "/api/auth/me", nil), 200).Body["username"] != "gil" {
		t.Fatal("the new login is not gil's")
	}
	// Another browser of the same user is another session, untouched.
	other := h.browser()
	h.expect(other.login("gil"), 200)
	h.expect(b.do("GET", "/api/auth/me", nil), 200)
	h.expect(other.do("GET", "/api/auth/me", nil), 200)
}

// TestPrivilegeChangeEndsCookieSessions: a grant or revocation ends the
// user's cookie sessions (the next login carries the new privileges
// under a new id); token logins get it at their next refresh, as before.
func TestPrivilegeChangeEndsCookieSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		ctx := context.Background()
		access, _ := h.registerVerified("hana")
		b := h.browser()
		h.expect(b.login("hana"), 200)

		if err := h.svc.GrantPermission(ctx, "hana", "books.add_book"); err != nil {
			t.Fatal(err)
		}
		h.expect(b.do("GET", "/api/auth/me", nil), 401)
		h.expect(h.call("GET", "/api/auth/me", nil, access), 200)

		h.expect(b.login("hana"), 200)
		if perms := h.expect(b.do("GET", "/api/auth/me", nil), 200).Body["permissions"].([]any); len(perms) != 1 || perms[0] != "books.add_book" {
			t.Fatalf("permissions after the new login: %v", perms)
		}
		// No change, nothing ends.
		if err := h.svc.GrantPermission(ctx, "hana", "books.add_book"); err != nil {
			t.Fatal(err)
		}
		h.expect(b.do("GET", "/api/auth/me", nil), 200)
		if err := h.svc.RevokePermission(ctx, "hana", "books.add_book"); err != nil {
			t.Fatal(err)
		}
		h.expect(b.do("GET", "/api/auth/me", nil), 401)
	})
}

func TestCookieLifetimes(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0], frozenClock: true})
	h.registerVerified("ivy")
	idle := h.browser()
	h.expect(idle.login("ivy"), 200)
	busy := h.browser()
	h.expect(busy.login("ivy"), 200)

	for range 2 {
		h.clock.Advance(23 * time.Hour)
		h.expect(idle.do("GET", "/api/auth/me", nil), 200)
	}
	h.clock.Advance(25 * time.Hour)
	h.expect(idle.do("GET", "/api/auth/me", nil), 401)
	// An idle session is no longer listed.
	access := h.expect(h.login("ivy", goodPassword), 200).Body["access"].(string)
	ids, _ := cookieSessions(h.expect(h.call("GET", "/api/auth/sessions", nil, access), 200))
	if len(ids) != 0 {
		t.Fatalf("idle cookie sessions listed: %v", ids)
	}

	busy = h.browser()
	h.expect(busy.login("ivy"), 200)
	for elapsed := time.Duration(0); elapsed < 7*24*time.Hour; elapsed += 20 * time.Hour {
		h.expect(busy.do("GET", "/api/auth/me", nil), 200)
		h.clock.Advance(20 * time.Hour)
	}
	h.expect(busy.do("GET", "/api/auth/me", nil), 401)
}

func TestHostileSessionCookiesOnTheServer(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0]})
	h.registerVerified("joan")
	b := h.browser()
	h.expect(b.login("joan"), 200)
	v := b.session()
	flipped := []byte(v)
	flipped[5] ^= 2
	for name, cookie := range map[string]string{
		"tampered":   accounts.SessionCookie + "=" + string(flipped),
		"duplicated": accounts.SessionCookie + "=" + v + "; " + accounts.SessionCookie + "=" + v,
		"oversize":   accounts.SessionCookie + "=" + strings.Repeat("A", 6000),
		"truncated":  accounts.SessionCookie + "=" + v[:20],
	} {
		r := h.call("GET", "/api/auth/me", nil, "", "Cookie", cookie)
		if r.Status != 401 {
			t.Errorf("%s: %d", name, r.Status)
		}
	}
	// A bearer token decides before a cookie: the identity is the token's.
	access, _ := h.registerVerified("kim")
	r := h.expect(h.call("GET", "/api/auth/me", nil, access, "Cookie", accounts.SessionCookie+"="+v), 200)
	if r.Body["username"] != "kim" || r.Body["auth_backend"] != "jwt" {
		t.Fatalf("token and cookie: %v", r.Body)
	}
	if strings.Contains(h.logs.String(), v) {
		t.Fatal("a cookie value reached the log")
	}
}
