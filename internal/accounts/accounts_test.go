package accounts_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/storetest"
)

func TestHappyPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		reg := h.expect(h.call("POST", "/api/auth/register", map[string]string{
			"username": "alice", "email": "alice@example.com", "password": goodPassword, "first_name": "Alice",
		}, ""), 201)
		user := reg.Body["user"].(map[string]any)
		if user["username"] != "alice" || user["email"] != "alice@example.com" || user["id"] == "" || reg.Body["message"] == "" {
			t.Fatalf("register body %v", reg.Body)
		}
		if reg.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("no Cache-Control: no-store")
		}

		// Not verified yet: the right password gets 403, not tokens.
		r := h.expect(h.login("alice", goodPassword), 403)
		if !strings.Contains(r.Body["error"].(string), "not verified") {
			t.Fatalf("unverified login: %v", r.Body)
		}
		// A wrong password for an unverified account is still a plain 401.
		h.expect(h.login("alice", "wrong password entirely"), 401)

		token := h.lastToken("alice@example.com", "https://books.example.com/verify-email?token=")
		v := h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": token}, ""), 200)
		if v.Body["access"] == "" || v.Body["refresh"] == "" || v.Body["user"].(map[string]any)["first_name"] != "Alice" {
			t.Fatalf("verify body %v", v.Body)
		}

		l := h.expect(h.login("alice@example.com", goodPassword), 200)
		access, refresh := l.Body["access"].(string), l.Body["refresh"].(string)
		if len(refresh) < 43 {
			t.Fatalf("refresh token has %d characters; want at least 256 bits", len(refresh))
		}
		for _, k := range []string{"id", "username", "email", "first_name", "last_name"} {
			if _, ok := l.Body["user"].(map[string]any)[k]; !ok {
				t.Fatalf("login user lacks %s: %v", k, l.Body)
			}
		}

		me := h.expect(h.call("GET", "/api/auth/me", nil, access), 200)
		if me.Body["username"] != "alice" || me.Body["email_verified"] != true || me.Body["is_admin"] != false {
			t.Fatalf("me %v", me.Body)
		}
		for _, k := range []string{"id", "first_name", "last_name", "is_staff", "permissions"} {
			if _, ok := me.Body[k]; !ok {
				t.Fatalf("me lacks %s", k)
			}
		}
		h.expect(h.call("GET", "/api/auth/me/", nil, access), 200) // trailing slash
		h.expect(h.call("GET", "/api/auth/me", nil, ""), 401)

		ref := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": refresh}, ""), 200)
		newAccess, newRefresh := ref.Body["access"].(string), ref.Body["refresh"].(string)
		if newRefresh == refresh {
			t.Fatal("refresh token was not rotated")
		}
		h.expect(h.call("GET", "/api/auth/me", nil, newAccess), 200)

		sessions := h.expect(h.call("GET", "/api/auth/sessions", nil, newAccess), 200)
		list := sessions.Body["sessions"].([]any)
		if len(list) != 2 { // the verification login and this one
			t.Fatalf("sessions %v", list)
		}
		current := 0
		for _, s := range list {
			m := s.(map[string]any)
			for _, k := range []string{"id", "created_at", "last_used_at", "user_agent", "ip", "current"} {
				if _, ok := m[k]; !ok {
					t.Fatalf("session lacks %s", k)
				}
			}
			if m["current"] == true {
				current++
			}
		}
		if current != 1 {
			t.Fatalf("%d current sessions", current)
		}

		h.expect(h.call("POST", "/api/auth/logout", map[string]string{"refresh_token": newRefresh}, newAccess), 200)
		h.expect(h.call("GET", "/api/auth/me", nil, newAccess), 401)
		h.expect(h.call("GET", "/api/auth/me", nil, access), 401) // same login, older access token
		h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": newRefresh}, ""), 401)
		// The verification login is untouched by this logout.
		h.expect(h.call("GET", "/api/auth/me", nil, v.Body["access"].(string)), 200)

		logs := h.logs.String()
		for _, secret := range []string{goodPassword, token, refresh, newRefresh, access} {
			if strings.Contains(logs, secret) {
				t.Fatalf("a secret reached the log: %q", secret[:8])
			}
		}
		if !strings.Contains(logs, `"event":"login_succeeded"`) || !strings.Contains(logs, `"event":"logout"`) {
			t.Fatal("security events missing from the log")
		}
	})
}

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.registerVerified("bob")
		wrong := h.expect(h.login("bob", "not the password at all"), 401)
		unknown := h.expect(h.login("nobody", "not the password at all"), 401)
		if wrong.Raw != unknown.Raw || wrong.Header.Get("WWW-Authenticate") != unknown.Header.Get("WWW-Authenticate") {
			t.Fatalf("wrong password %q vs unknown user %q", wrong.Raw, unknown.Raw)
		}
		// Unknown users pay for a hash too.
		if h.hasher.Stats().PeakInFlight < 1 {
			t.Fatal("no hash computed")
		}
	})
}

func TestRegistrationDoesNotRevealTakenEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		first := h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "carol", "email": "carol@example.com", "password": goodPassword}, ""), 201)
		again := h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "carol2", "email": "Carol@Example.com", "password": goodPassword}, ""), 201)
		if first.Body["message"] != again.Body["message"] {
			t.Fatal("messages differ")
		}
		a, b := first.Body["user"].(map[string]any), again.Body["user"].(map[string]any)
		if len(a["id"].(string)) != len(b["id"].(string)) || a["id"] == b["id"] {
			t.Fatalf("ids %v %v", a["id"], b["id"])
		}
		// The owner gets a notice without a token, not a second link.
		mails := h.mails("carol@example.com")
		if len(mails) != 2 {
			t.Fatalf("%d mails to carol", len(mails))
		}
		var notices int
		for _, m := range mails {
			if strings.Contains(m, "tried to register") {
				notices++
				if tokenInLink.MatchString(m) {
					t.Fatal("the notice carries a token")
				}
			}
		}
		if notices != 1 {
			t.Fatalf("%d notices", notices)
		}
		// carol2 holds its name, as a registration with a free address
		// would (a pending registration: see oracle_test.go).
		h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "carol2", "email": "c2@example.com", "password": goodPassword}, ""), 400)
		// A taken username is a 400 naming the field.
		r := h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "CAROL", "email": "other@example.com", "password": goodPassword}, ""), 400)
		if _, ok := r.Body["fields"].(map[string]any)["username"]; !ok {
			t.Fatalf("fields %v", r.Body)
		}
	})
}

func TestPasswordResetDoesNotRevealAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		access, _ := h.registerVerified("dave")
		known := h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "dave@example.com"}, ""), 200)
		unknown := h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "nobody@example.com"}, ""), 200)
		if known.Raw != unknown.Raw {
			t.Fatalf("known %q vs unknown %q", known.Raw, unknown.Raw)
		}
		reset := h.lastToken("dave@example.com", "/reset-password")
		// Reset never logs in and ends every session.
		r := h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": reset, "password": "a brand new passphrase"}, ""), 200)
		if _, ok := r.Body["access"]; ok {
			t.Fatal("reset logged the user in")
		}
		h.expect(h.call("GET", "/api/auth/me", nil, access), 401)
		h.expect(h.login("dave", goodPassword), 401)
		h.expect(h.login("dave", "a brand new passphrase"), 200)
		// The token is single use.
		h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": reset, "password": "yet another passphrase"}, ""), 400)
	})
}

func TestExpiredAndUsedTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "erin", "email": "erin@example.com", "password": goodPassword}, ""), 201)
		verify := h.lastToken("erin@example.com", "/verify-email")
		h.clock.Advance(25 * time.Hour)
		h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": verify}, ""), 400)
		// A new link works once; the expired one stays dead.
		h.expect(h.call("POST", "/api/auth/resend-verification", map[string]string{"email": "erin@example.com"}, ""), 200)
		fresh := h.lastToken("erin@example.com", "/verify-email")
		if fresh == verify {
			t.Fatal("resend reused the token")
		}
		h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": fresh}, ""), 200)
		h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": fresh}, ""), 400)

		h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "erin@example.com"}, ""), 200)
		reset := h.lastToken("erin@example.com", "/reset-password")
		h.clock.Advance(61 * time.Minute)
		h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": reset, "password": "a brand new passphrase"}, ""), 400)
		h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": "forged-token-value-forged-token-value", "password": "a brand new passphrase"}, ""), 400)
		// resend for unknown and verified addresses answers the same.
		a := h.expect(h.call("POST", "/api/auth/resend-verification", map[string]string{"email": "nobody@example.com"}, ""), 200)
		b := h.expect(h.call("POST", "/api/auth/resend-verification", map[string]string{"email": "erin@example.com"}, ""), 200)
		if a.Raw != b.Raw {
			t.Fatal("resend answers differ")
		}
	})
}

func TestRefreshReuseRevokesTheWholeLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e, grace: 2 * time.Second})
		_, r1 := h.registerVerified("frank")
		second := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r1}, ""), 200)
		r2, a2 := second.Body["refresh"].(string), second.Body["access"].(string)
		third := h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r2}, ""), 200)
		r3, a3 := third.Body["refresh"].(string), third.Body["access"].(string)

		h.clock.Advance(10 * time.Second) // past the grace window
		h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r1}, ""), 401)
		// Every token descended from the login is dead, the newest included.
		h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": r3}, ""), 401)
		h.expect(h.call("GET", "/api/auth/me", nil, a3), 401)
		h.expect(h.call("GET", "/api/auth/me", nil, a2), 401)
		if !strings.Contains(h.logs.String(), `"event":"refresh_token_reuse"`) {
			t.Fatal("reuse not logged as a security event")
		}
	})
}

func TestConcurrentRefresh(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		race := func(t *testing.T, h *harness, refresh string, n int) (ok int) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := h.call("POST", "/api/auth/refresh", map[string]string{"refresh": refresh}, "")
					mu.Lock()
					defer mu.Unlock()
					if r.Status == 200 {
						ok++
					} else if r.Status != 401 {
						t.Errorf("status %d: %s", r.Status, r.Raw)
					}
				}()
			}
			wg.Wait()
			return ok
		}
		t.Run("inside the grace window both tabs succeed", func(t *testing.T) {
			h := newHarness(t, options{engine: e, grace: 30 * time.Second})
			_, refresh := h.registerVerified("gina")
			if ok := race(t, h, refresh, 2); ok != 2 {
				t.Fatalf("%d of 2 succeeded", ok)
			}
		})
		t.Run("without a grace window exactly one succeeds", func(t *testing.T) {
			h := newHarness(t, options{engine: e, grace: -1})
			_, refresh := h.registerVerified("hank")
			if ok := race(t, h, refresh, 8); ok != 1 {
				t.Fatalf("%d of 8 succeeded", ok)
			}
		})
	})
}

func TestAccessTokensDieWithTheirSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		t.Run("logout-all", func(t *testing.T) {
			a1, _ := h.registerVerified("ivan")
			a2 := h.expect(h.login("ivan", goodPassword), 200).Body["access"].(string)
			h.expect(h.call("POST", "/api/auth/logout-all", nil, a1), 200)
			h.expect(h.call("GET", "/api/auth/me", nil, a1), 401)
			h.expect(h.call("GET", "/api/auth/me", nil, a2), 401)
		})
		t.Run("password change keeps the session that made it", func(t *testing.T) {
			a1, _ := h.registerVerified("judy")
			other := h.expect(h.login("judy", goodPassword), 200).Body
			r := h.expect(h.call("PATCH", "/api/auth/password", map[string]string{"current_password": "wrong password here", "new_password": "another fine passphrase"}, a1), 400)
			if _, ok := r.Body["fields"].(map[string]any)["current_password"]; !ok {
				t.Fatalf("fields %v", r.Body)
			}
			h.expect(h.call("PATCH", "/api/auth/password", map[string]string{"current_password": goodPassword, "new_password": "another fine passphrase"}, a1), 200)
			h.expect(h.call("GET", "/api/auth/me", nil, a1), 200)
			h.expect(h.call("GET", "/api/auth/me", nil, other["access"].(string)), 401)
			h.expect(h.call("POST", "/api/auth/refresh", map[string]string{"refresh": other["refresh"].(string)}, ""), 401)
			h.expect(h.login("judy", "another fine passphrase"), 200)
			var noticed bool
			for _, m := range h.mails("judy@example.com") {
				noticed = noticed || strings.Contains(m, "password was changed")
			}
			if !noticed {
				t.Fatal("no password-changed notice")
			}
		})
		t.Run("ending one session", func(t *testing.T) {
			a1, _ := h.registerVerified("kate")
			a2 := h.expect(h.login("kate", goodPassword), 200).Body["access"].(string)
			list := h.expect(h.call("GET", "/api/auth/sessions", nil, a1), 200).Body["sessions"].([]any)
			var other string
			for _, s := range list {
				if m := s.(map[string]any); m["current"] != true {
					other = m["id"].(string)
				}
			}
			h.expect(h.call("DELETE", "/api/auth/sessions/"+other, nil, a1), 204)
			h.expect(h.call("GET", "/api/auth/me", nil, a2), 401)
			h.expect(h.call("DELETE", "/api/auth/sessions/"+other, nil, a1), 404)
			// Someone else's session id is not found either.
			l, _ := h.registerVerified("liam")
			mine := h.expect(h.call("GET", "/api/auth/sessions", nil, l), 200).Body["sessions"].([]any)[0].(map[string]any)["id"].(string)
			h.expect(h.call("DELETE", "/api/auth/sessions/"+mine, nil, a1), 404)
			h.expect(h.call("GET", "/api/auth/me", nil, l), 200)
		})
	})
}

func TestHostileInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		t.Run("mass assignment is ignored", func(t *testing.T) {
			h.expect(h.call("POST", "/api/auth/register", map[string]any{
				"username": "mallory", "email": "mallory@example.com", "password": goodPassword,
				"is_admin": true, "is_staff": true, "is_superuser": true, "email_verified": true, "permissions": []string{"books.add_book"}, "id": "1",
			}, ""), 201)
			h.expect(h.login("mallory", goodPassword), 403) // still unverified
			token := h.lastToken("mallory@example.com", "/verify-email")
			access := h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": token}, ""), 200).Body["access"].(string)
			me := h.expect(h.call("GET", "/api/auth/me", nil, access), 200).Body
			if me["is_admin"] != false || me["is_staff"] != false || len(me["permissions"].([]any)) != 0 || me["id"] == "1" {
				t.Fatalf("mass assignment took effect: %v", me)
			}
		})
		cases := []struct {
			name, path, body, contentType string
			want                          int
		}{
			{"malformed JSON", "/api/auth/login", `{"username": "a", "password": `, "application/json", 400},
			{"not an object", "/api/auth/login", `["a","b"]`, "application/json", 400},
			{"wrong types", "/api/auth/register", `{"username": 5, "email": [], "password": {}}`, "application/json", 400},
			{"trailing data", "/api/auth/login", `{"username":"a","password":"b"} {}`, "application/json", 400},
			{"duplicate keys", "/api/auth/login", `{"username":"a","username":"b","password":"c"}`, "application/json", 400},
			{"wrong content type", "/api/auth/login", `{"username":"a","password":"b"}`, "text/plain", 415},
			{"oversize body", "/api/auth/register", `{"username":"` + strings.Repeat("a", 20000) + `"}`, "application/json", 413},
			{"empty body", "/api/auth/refresh", ``, "application/json", 400},
			{"oversize refresh token", "/api/auth/refresh", `{"refresh":"` + strings.Repeat("a", 300) + `"}`, "application/json", 401},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", h.srv.URL+tc.path, strings.NewReader(tc.body))
				req.Header.Set("Content-Type", tc.contentType)
				resp, err := h.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
					t.Fatalf("status %d (%s), want %d", resp.StatusCode, resp.Header.Get("Content-Type"), tc.want)
				}
			})
		}
	})
}

func TestPasswordPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		cases := []struct {
			name, username, password string
			ok                       bool
		}{
			{"7 characters", "pp1", "abcdefg", false},
			{"8 characters", "pp2", "zq8!vT3x", true},
			{"129 characters", "pp3", strings.Repeat("x7", 64) + "y", false},
			{"common password", "pp4", "password", false},
			{"common password any case", "pp5", "Password123", false},
			{"all digits", "pp6", "84736251904", false},
			{"similar to the username", "sebastian", "sebastian2024", false},
			{"multi-byte characters count as one each", "pp8", "ééééééé", false},
			{"a passphrase", "pp9", "plenty of words in a row", true},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := h.call("POST", "/api/auth/register", map[string]string{"username": tc.username, "email": fmt.Sprintf("p%d@example.com", i), "password": tc.password}, "")
				if tc.ok {
					h.expect(r, 201)
					return
				}
				h.expect(r, 400)
				if msgs, _ := r.Body["fields"].(map[string]any)["password"].([]any); len(msgs) == 0 {
					t.Fatalf("no password messages: %v", r.Body)
				}
			})
		}
	})
}

func TestThrottling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		t.Run("per-IP limit on login", func(t *testing.T) {
			h := newHarness(t, options{engine: e, authPerMin: 5})
			for range 5 {
				h.expect(h.login("nobody", "whatever password"), 401)
			}
			r := h.expect(h.login("nobody", "whatever password"), 429)
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
			// Other endpoints have their own budget.
			h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "x@example.com"}, ""), 200)
		})
		t.Run("per-account backoff looks the same for unknown users", func(t *testing.T) {
			// Frozen: the 1 s back-off must not pass while a loaded machine
			// hashes the next attempt.
			h := newHarness(t, options{engine: e, frozenClock: true})
			h.registerVerified("nina")
			for _, name := range []string{"nina", "ghost"} {
				for i := range 5 {
					h.expect(h.login(name, fmt.Sprintf("wrong password %d", i)), 401)
				}
				r := h.expect(h.login(name, goodPassword), 429)
				if r.Header.Get("Retry-After") != "1" {
					t.Fatalf("%s: Retry-After %q", name, r.Header.Get("Retry-After"))
				}
			}
			// The delay passes; the right password then works and clears it.
			h.clock.Advance(2 * time.Second)
			h.expect(h.login("nina", goodPassword), 200)
			h.expect(h.login("nina", "wrong password again"), 401)
			h.expect(h.login("nina", goodPassword), 200)
		})
		t.Run("concurrent failures are all counted", func(t *testing.T) {
			h := newHarness(t, options{engine: e, frozenClock: true})
			// Racing attempts are checked (401) or refused before hashing
			// (429: the backoff, or the name's share of the hasher).
			statuses := parallel(6, func(i int) response { return h.login("zed", fmt.Sprintf("wrong password %d", i)) })
			if statuses[401]+statuses[429] != 6 || statuses[401] == 0 {
				t.Fatalf("statuses %v", statuses)
			}
			// Every checked one counted: the five free failures are spent
			// after exactly the rest.
			for i := statuses[401]; i < 5; i++ {
				h.expect(h.login("zed", fmt.Sprintf("later wrong password %d", i)), 401)
			}
			h.expect(h.login("zed", "another wrong one"), 429)
		})
		t.Run("after 100 failures a reset is needed", func(t *testing.T) {
			h := newHarness(t, options{engine: e})
			h.registerVerified("olga")
			for i := range 100 {
				h.clock.Advance(16 * time.Minute) // wait out each delay
				h.expect(h.login("olga", fmt.Sprintf("wrong %d password", i)), 401)
			}
			h.clock.Advance(time.Hour)
			r := h.expect(h.login("olga", goodPassword), 429)
			if !strings.Contains(r.Body["error"].(string), "reset") {
				t.Fatalf("%v", r.Body)
			}
			h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "olga@example.com"}, ""), 200)
			reset := h.lastToken("olga@example.com", "/reset-password")
			h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": reset, "password": "the reset passphrase"}, ""), 200)
			h.expect(h.login("olga", "the reset passphrase"), 200)
		})
	})
}

func TestParallelLoginsStayWithinTheHashingBound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		// Room for two hashes at the default 19 MiB; 50 logins at once.
		h := newHarness(t, options{engine: e, hashBudget: 2 * 19 << 20, hashMaxWait: 200 * time.Millisecond})
		h.registerVerified("pat")
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := h.login("pat", goodPassword)
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
				if (r.Status == 503 || r.Status == 429) && r.Header.Get("Retry-After") == "" {
					t.Errorf("%d without Retry-After", r.Status)
				}
			}()
		}
		wg.Wait()
		st := h.hasher.Stats()
		if st.PeakInFlight > st.Slots || st.Slots != 2 {
			t.Fatalf("peak %d hashes in flight with %d slots", st.PeakInFlight, st.Slots)
		}
		// 429: the account's share of the hasher is taken, or its
		// attempts in flight, counted in advance, reached the backoff.
		if statuses[200]+statuses[503]+statuses[429] != 50 || statuses[200] == 0 {
			t.Fatalf("statuses %v", statuses)
		}
	})
}

func TestStoredAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.registerVerified("quinn")
		ctx := context.Background()
		k, err := h.svc.CreateAPIKey(ctx, "reporting", "quinn", []string{"reports.view"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		me := h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", k.Key), 200).Body
		if me["username"] != "quinn" || len(me["permissions"].([]any)) != 1 {
			t.Fatalf("me via key %v", me)
		}
		// The secret never shows in the identity or the log.
		// The secret is base64url and may itself contain "_": cut after the id.
		secret := strings.TrimPrefix(k.Key, "wdn_"+k.ID+"_")
		if strings.Contains(h.logs.String(), secret) {
			t.Fatal("key secret in the log")
		}
		h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", k.Key+"x"), 401)
		h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", strings.Replace(k.Key, k.ID, "nosuchid", 1)), 401)
		// API keys cannot change passwords or list sessions.
		h.expect(h.call("GET", "/api/auth/sessions", nil, "", "X-API-Key", k.Key), 401)
		if err := h.svc.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", k.Key), 401)

		short, err := h.svc.CreateAPIKey(ctx, "temp", "", nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", short.Key), 200)
		h.clock.Advance(2 * time.Hour)
		h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", short.Key), 401)
	})
}

func TestFailedMailDoesNotFailRegistration(t *testing.T) {
	// A real SMTP client against a port where nothing listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := newHarness(t, options{engine: storetest.Engines()[0], smtpURL: "smtp://" + addr})
	h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "zoe", "email": "zoe@example.com", "password": goodPassword}, ""), 201)
	h.svc.Wait()
	logs := h.logs.String()
	if !strings.Contains(logs, "mail") || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Fatalf("the failed send was not logged:\n%s", logs)
	}
	if strings.Contains(logs, "zoe@example.com") {
		t.Fatal("the log names the full recipient address")
	}
	// The account exists: registering the name again is refused.
	h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "zoe", "email": "zoe2@example.com", "password": goodPassword}, ""), 400)
}
