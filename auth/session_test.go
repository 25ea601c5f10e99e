package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/revoke"
)

// sessionClock is a clock tests move by hand.
type sessionClock struct{ now atomic.Int64 }

func newSessionClock() *sessionClock {
	c := &sessionClock{}
	c.now.Store(time.Now().UnixNano())
	return c
}
func (c *sessionClock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *sessionClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// touchCounter is a MemorySessionStore that counts the writes of last use.
type touchCounter struct {
	*auth.MemorySessionStore
	touches atomic.Int64
	down    atomic.Bool
}

func (s *touchCounter) TouchSession(ctx context.Context, id string, t time.Time) error {
	s.touches.Add(1)
	return s.MemorySessionStore.TouchSession(ctx, id, t)
}

func (s *touchCounter) LookupSession(ctx context.Context, d [sha256.Size]byte) (*auth.Session, error) {
	if s.down.Load() {
		return nil, errors.New("connection refused")
	}
	return s.MemorySessionStore.LookupSession(ctx, d)
}

// sessionRig is a Sessions backend on a memory store behind a real
// server that echoes the identity.
type sessionRig struct {
	t        *testing.T
	clock    *sessionClock
	store    *touchCounter
	revoked  *revoke.Memory
	sessions *auth.Sessions
	srv      *httptest.Server
	n        atomic.Int64
}

func newSessionRig(t *testing.T, revocation revoke.Store) *sessionRig {
	t.Helper()
	rig := &sessionRig{t: t, clock: newSessionClock()}
	rig.store = &touchCounter{MemorySessionStore: auth.NewMemorySessionStore(0, rig.clock.Now)}
	if revocation == nil {
		rig.revoked = revoke.NewMemory(revoke.MemoryOptions{Now: rig.clock.Now})
		revocation = rig.revoked
	}
	var err error
	rig.sessions, err = auth.NewSessions(auth.SessionsConfig{
		Store: rig.store, CookieName: "__Host-test_session", Revocation: revocation, Now: rig.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	rig.srv = server(t, rig.sessions)
	return rig
}

// login starts a session of user, as an application's login handler
// does, and returns the cookie value and the session id.
func (rig *sessionRig) login(user string, perms ...string) (value, sid string) {
	rig.t.Helper()
	value, digest, err := auth.NewSessionSecret()
	if err != nil {
		rig.t.Fatal(err)
	}
	now := rig.clock.Now()
	sid = user + "-login-" + string(rune('a'+rig.n.Add(1)))
	if err := rig.store.Add(digest, auth.Session{ID: sid, UserID: user, CreatedAt: now, LastSeenAt: now, IsStaff: true, Permissions: perms}); err != nil {
		rig.t.Fatal(err)
	}
	return value, sid
}

// send makes one request with the raw Cookie header lines given.
func (rig *sessionRig) send(cookies ...string) (*http.Response, map[string]any) {
	rig.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rig.srv.URL, nil)
	for _, c := range cookies {
		req.Header.Add("Cookie", c)
	}
	resp, err := rig.srv.Client().Do(req)
	if err != nil {
		rig.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func (rig *sessionRig) status(value string) int {
	rig.t.Helper()
	resp, _ := rig.send("__Host-test_session=" + value)
	return resp.StatusCode
}

func TestSessionCookieAuthenticates(t *testing.T) {
	rig := newSessionRig(t, nil)
	value, _ := rig.login("alice", "books.add_book")
	resp, body := rig.send("theme=dark; __Host-test_session=" + value + "; other=1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if body["user_id"] != "alice" || body["backend"] != auth.BackendSession || body["staff"] != true {
		t.Errorf("identity %v", body)
	}
	if perms, _ := body["permissions"].([]any); len(perms) != 1 || perms[0] != "books.add_book" {
		t.Errorf("permissions %v", body["permissions"])
	}
	// No cookie: the request goes on anonymously (the guard answers).
	if resp, _ := rig.send(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous: %d", resp.StatusCode)
	}
	if resp, _ := rig.send("session=" + value); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the value under another name: %d", resp.StatusCode)
	}
}

func TestSessionIdentityNamesTheLogin(t *testing.T) {
	rig := newSessionRig(t, nil)
	value, sid := rig.login("alice")
	created := rig.clock.Now()
	var got *auth.Identity
	h := auth.Middleware(quietLogger, rig.sessions)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = auth.FromContext(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "__Host-test_session="+value)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got == nil {
		t.Fatal("no identity")
	}
	if got.SessionID != sid || !got.IssuedAt.Equal(created) || !got.ExpiresAt.Equal(created.Add(auth.DefaultSessionMax)) || got.TokenID != "" || got.Claims != nil {
		t.Errorf("identity %+v", got)
	}
	if strings.Contains(got.SessionID+got.UserID+got.TokenID, value) {
		t.Error("the identity carries the cookie value")
	}
}

func TestSessionLifetimes(t *testing.T) {
	rig := newSessionRig(t, nil)
	value, _ := rig.login("alice")

	// Used within the idle timeout, the session lives past it...
	rig.clock.Advance(23 * time.Hour)
	if s := rig.status(value); s != http.StatusOK {
		t.Fatalf("after 23h: %d", s)
	}
	rig.clock.Advance(23 * time.Hour)
	if s := rig.status(value); s != http.StatusOK {
		t.Fatalf("after 46h, used at 23h: %d", s)
	}
	// ...unused for the idle timeout, it ends.
	rig.clock.Advance(auth.DefaultSessionIdle)
	if s := rig.status(value); s != http.StatusUnauthorized {
		t.Fatalf("idle for 24h: %d, want 401", s)
	}

	// However much it is used, it ends at its absolute lifetime.
	busy, _ := rig.login("bob")
	for elapsed := time.Duration(0); elapsed < auth.DefaultSessionMax; elapsed += 12 * time.Hour {
		if s := rig.status(busy); s != http.StatusOK {
			t.Fatalf("used every 12h, at %v: %d", elapsed, s)
		}
		rig.clock.Advance(12 * time.Hour)
	}
	// Last used 12h ago: only the absolute lifetime can refuse it.
	if s := rig.status(busy); s != http.StatusUnauthorized {
		t.Fatalf("at the absolute lifetime: %d, want 401", s)
	}
}

func TestSessionLastUseIsWrittenAtMostOncePerMinute(t *testing.T) {
	rig := newSessionRig(t, nil)
	value, _ := rig.login("alice")
	for range 20 {
		if s := rig.status(value); s != http.StatusOK {
			t.Fatal(s)
		}
	}
	if n := rig.store.touches.Load(); n != 0 {
		t.Fatalf("%d writes within the first minute", n)
	}
	rig.clock.Advance(auth.SessionTouchInterval)
	for range 20 {
		rig.status(value)
	}
	if n := rig.store.touches.Load(); n != 1 {
		t.Fatalf("%d writes for 20 requests a minute later, want 1", n)
	}
}

func TestSessionRevocationGrains(t *testing.T) {
	rig := newSessionRig(t, nil)
	ctx := context.Background()
	ended, endedSID := rig.login("alice")
	other, _ := rig.login("alice")
	bob, _ := rig.login("bob")

	if err := rig.sessions.RevokeSession(ctx, endedSID); err != nil {
		t.Fatal(err)
	}
	if s := rig.status(ended); s != http.StatusUnauthorized {
		t.Errorf("revoked session: %d", s)
	}
	if s := rig.status(other); s != http.StatusOK {
		t.Errorf("another session of the user: %d", s)
	}

	// Everything of a user up to now; a session started later stands.
	if err := rig.sessions.RevokeUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if s := rig.status(other); s != http.StatusUnauthorized {
		t.Errorf("session before the user's revocation: %d", s)
	}
	rig.clock.Advance(time.Millisecond)
	again, _ := rig.login("alice")
	if s := rig.status(again); s != http.StatusOK {
		t.Errorf("session after the user's revocation: %d", s)
	}
	if s := rig.status(bob); s != http.StatusOK {
		t.Errorf("another user: %d", s)
	}

	// A revocation outlives a token's lifetime: it lasts as long as a
	// session can.
	rig.clock.Advance(auth.DefaultSessionMax - time.Hour)
	revoked, err := rig.revoked.Check(ctx, revoke.Token{Session: endedSID, Subject: "alice"})
	if err != nil || !revoked {
		t.Errorf("revocation forgotten before the session's lifetime: %v %v", revoked, err)
	}
}

func TestSessionEndedInTheStoreIsRefused(t *testing.T) {
	rig := newSessionRig(t, nil)
	value, sid := rig.login("alice")
	rig.store.End(sid)
	if s := rig.status(value); s != http.StatusUnauthorized {
		t.Fatalf("ended session: %d", s)
	}
	other, _ := rig.login("carol")
	rig.store.EndUser("carol")
	if s := rig.status(other); s != http.StatusUnauthorized {
		t.Fatalf("ended user: %d", s)
	}
}

// TestSessionHostileCookies: every malformed, unknown, repeated or
// planted cookie is refused, and never matches a session by accident.
func TestSessionHostileCookies(t *testing.T) {
	rig := newSessionRig(t, nil)
	value, _ := rig.login("alice")
	flipped := []byte(value)
	flipped[10] ^= 1
	unknown, _, _ := auth.NewSessionSecret()
	cases := map[string][]string{
		"tampered":            {"__Host-test_session=" + string(flipped)},
		"unknown":             {"__Host-test_session=" + unknown},
		"truncated":           {"__Host-test_session=" + value[:len(value)-1]},
		"extended":            {"__Host-test_session=" + value + "A"},
		"oversize":            {"__Host-test_session=" + strings.Repeat("A", 4000)},
		"empty":               {"__Host-test_session="},
		"padded":              {"__Host-test_session=" + value[:len(value)-1] + "="},
		"standard base64":     {"__Host-test_session=" + strings.Replace(value, value[:1], "+", 1)},
		"duplicated in one":   {"__Host-test_session=" + value + "; __Host-test_session=" + value},
		"duplicated in two":   {"__Host-test_session=" + value, "__Host-test_session=" + value},
		"valid after invalid": {"__Host-test_session=" + unknown + "; __Host-test_session=" + value},
	}
	for name, cookies := range cases {
		t.Run(name, func(t *testing.T) {
			resp, body := rig.send(cookies...)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate")
			}
			// The browser is told to drop the cookie it would send on.
			if c, err := http.ParseSetCookie(resp.Header.Get("Set-Cookie")); err != nil || c.Name != "__Host-test_session" || c.MaxAge >= 0 {
				t.Errorf("refusal without clearing the cookie: %q", resp.Header.Get("Set-Cookie"))
			}
			if raw, _ := json.Marshal(body); strings.Contains(string(raw), value) || strings.Contains(string(raw), unknown) {
				t.Error("the answer repeats the cookie")
			}
		})
	}
}

// TestSessionFixation: a value planted before login (by another site, a
// shared computer, a URL) is never honoured: only a value the login
// minted is, and a login never adopts the one it was sent.
func TestSessionFixation(t *testing.T) {
	rig := newSessionRig(t, nil)
	planted, _, _ := auth.NewSessionSecret()
	if s := rig.status(planted); s != http.StatusUnauthorized {
		t.Fatalf("planted cookie before login: %d", s)
	}
	minted, _ := rig.login("alice")
	if minted == planted {
		t.Fatal("the login reused the planted value")
	}
	if s := rig.status(planted); s != http.StatusUnauthorized {
		t.Fatalf("planted cookie after login: %d", s)
	}
	if s := rig.status(minted); s != http.StatusOK {
		t.Fatalf("minted cookie: %d", s)
	}
}

func TestSessionStoresThatCannotAnswerFailClosed(t *testing.T) {
	t.Run("session store", func(t *testing.T) {
		rig := newSessionRig(t, nil)
		value, _ := rig.login("alice")
		rig.store.down.Store(true)
		resp, _ := rig.send("__Host-test_session=" + value)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", resp.StatusCode)
		}
		if sc := resp.Header.Get("Set-Cookie"); sc != "" {
			t.Errorf("an outage cleared the cookie: %q", sc)
		}
	})
	t.Run("revocation list", func(t *testing.T) {
		rig := newSessionRig(t, failingStore{})
		value, _ := rig.login("alice")
		if s := rig.status(value); s != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", s)
		}
	})
}

func TestSessionCookieAttributes(t *testing.T) {
	rig := newSessionRig(t, nil)
	value, _, err := auth.NewSessionSecret()
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	rig.sessions.SetCookie(w, value)
	want := "__Host-test_session=" + value + "; Path=/; Max-Age=604800; HttpOnly; Secure; SameSite=Lax"
	if got := w.Header().Get("Set-Cookie"); got != want {
		t.Fatalf("Set-Cookie %q\nwant        %q", got, want)
	}
	c, err := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
	if err != nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge != 604800 {
		t.Fatalf("parsed %+v %v", c, err)
	}
	w = httptest.NewRecorder()
	rig.sessions.ClearCookie(w)
	c, err = http.ParseSetCookie(w.Header().Get("Set-Cookie"))
	if err != nil || c.Name != "__Host-test_session" || c.Value != "" || c.MaxAge >= 0 || !c.Secure || c.Path != "/" {
		t.Fatalf("clearing cookie %q: %+v %v", w.Header().Get("Set-Cookie"), c, err)
	}
	if s := rig.sessions.Scheme(); s.Type != "apiKey" || s.In != "cookie" || s.ParamName != "__Host-test_session" {
		t.Errorf("scheme %+v", s)
	}
	a, b, _ := auth.NewSessionSecret()
	if a == value || len(a) != 43 || b != auth.SessionDigest(a) {
		t.Errorf("secrets are not fresh 256-bit values: %q", a)
	}
}

func TestNewSessionsRefusesUnsafeConfiguration(t *testing.T) {
	store := auth.NewMemorySessionStore(0, nil)
	cases := map[string]auth.SessionsConfig{
		"no store":                {},
		"no __Host- prefix":       {Store: store, CookieName: "session"},
		"__Secure- prefix only":   {Store: store, CookieName: "__Secure-session"},
		"bare prefix":             {Store: store, CookieName: "__Host-"},
		"invalid name":            {Store: store, CookieName: "__Host-a b"},
		"idle beyond max":         {Store: store, IdleTimeout: 48 * time.Hour, MaxLifetime: 24 * time.Hour},
		"idle below the minimum":  {Store: store, IdleTimeout: time.Minute},
		"max beyond browser caps": {Store: store, MaxLifetime: 401 * 24 * time.Hour},
		"negative max":            {Store: store, MaxLifetime: -time.Hour},
	}
	for name, cfg := range cases {
		if _, err := auth.NewSessions(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := auth.NewSessions(auth.SessionsConfig{Store: store})
	if err != nil || s.CookieName() != auth.DefaultSessionCookie || s.IdleTimeout() != auth.DefaultSessionIdle || s.MaxLifetime() != auth.DefaultSessionMax {
		t.Fatalf("defaults: %v", err)
	}
	if err := s.RevokeSession(context.Background(), "x"); !errors.Is(err, auth.ErrNoRevocation) {
		t.Errorf("revoking without a list: %v", err)
	}
}

// TestWatcherEndsConnectionsOfARevokedSession: Sessions is the Checker of
// streams opened with the cookie.
func TestWatcherEndsConnectionsOfARevokedSession(t *testing.T) {
	rig := newSessionRig(t, nil)
	w := auth.NewWatcher(rig.sessions, auth.WatcherOptions{Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	identity := func(value string) *auth.Identity {
		var id *auth.Identity
		h := auth.Middleware(quietLogger, rig.sessions)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { id = auth.FromContext(r.Context()) }))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", "__Host-test_session="+value)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if id == nil {
			t.Fatal("no identity")
		}
		return id
	}
	a, sid := rig.login("alice")
	b, _ := rig.login("alice")
	endA, endedA := ended()
	endB, endedB := ended()
	w.Watch(identity(a), endA)
	w.Watch(identity(b), endB)
	if err := rig.sessions.Check(ctx, identity(b)); err != nil {
		t.Fatalf("Check of a live session: %v", err)
	}

	if err := rig.sessions.RevokeSession(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if err := waitEnd(t, endedA, 5*time.Second); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("end reason %v", err)
	}
	select {
	case err := <-endedB:
		t.Fatalf("another session's connection ended: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	// The absolute lifetime ends connections too.
	rig.clock.Advance(auth.DefaultSessionMax)
	if err := waitEnd(t, endedB, 5*time.Second); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("end reason %v", err)
	}
}

func TestMemorySessionStore(t *testing.T) {
	clk := newSessionClock()
	m := auth.NewMemorySessionStore(time.Hour, clk.Now)
	_, d1, _ := auth.NewSessionSecret()
	_, d2, _ := auth.NewSessionSecret()
	now := clk.Now()
	if err := m.Add(d1, auth.Session{ID: "s1", UserID: "u", CreatedAt: now, LastSeenAt: now}); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"same id":     m.Add(d2, auth.Session{ID: "s1", UserID: "u", CreatedAt: now}),
		"same digest": m.Add(d1, auth.Session{ID: "s2", UserID: "u", CreatedAt: now}),
		"no user":     m.Add(d2, auth.Session{ID: "s3"}),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Sessions past their lifetime are forgotten at the next Add.
	clk.Advance(2 * time.Hour)
	if err := m.Add(d2, auth.Session{ID: "s2", UserID: "u", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 1 {
		t.Fatalf("Len %d after the sweep, want 1", n)
	}
	// Concurrent touches and lookups are safe.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_ = m.TouchSession(context.Background(), "s2", clk.Now().Add(time.Duration(i)))
			_, _ = m.LookupSession(context.Background(), d2)
		})
	}
	wg.Wait()
}
