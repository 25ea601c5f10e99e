package accounts_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/storetest"
)

// The read caches of GET /me and the session cookie (readcache.go),
// through real HTTP on every engine: what they save, and that no change
// is hidden longer than the contract says.

// readCacheTTL mirrors the package's: how long a change made elsewhere
// may go unseen.
const readCacheTTL = time.Second

func ptr(s string) *string { return &s }

// meOf asks for /me with the access token and returns the answer's body.
func (h *harness) meOf(access string) map[string]any {
	h.t.Helper()
	return h.expect(h.call("GET", "/api/auth/me", nil, access), 200).Body
}

// TestMeReadsTheAccountOncePerSecond counts statements: /me reads the
// account once, then answers from the cache until its second is over; a
// cookie's session is read and kept the same way, and its last use is
// still written once when it is due, not on every request.
func TestMeReadsTheAccountOncePerSecond(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		db, statements := countingDB(t, e)
		h := newHarness(t, options{engine: e, db: db, frozenClock: true})
		access, _ := h.registerVerified("olga")
		b := h.browser()
		h.expect(b.login("olga"), 200)

		count := func(what string, want int64, do func()) {
			t.Helper()
			before := statements.Load()
			do()
			if n := statements.Load() - before; n != want {
				t.Errorf("%s: %d statements, want %d", what, n, want)
			}
		}
		count("first /me", 1, func() { h.meOf(access) })
		count("ten more", 0, func() {
			for range 10 {
				h.meOf(access)
			}
		})
		h.clock.Advance(readCacheTTL)
		count("a second later", 1, func() { h.meOf(access) })

		h.clock.Advance(readCacheTTL)
		// The session and the account.
		count("first cookie /me", 2, func() { h.expect(b.do("GET", "/api/auth/me", nil), 200) })
		count("ten more with the cookie", 0, func() {
			for range 10 {
				h.expect(b.do("GET", "/api/auth/me", nil), 200)
			}
		})
		// Once the last use is a minute old: read, touched, account read
		// again; then the touched session is read once more and kept.
		h.clock.Advance(auth.SessionTouchInterval)
		count("cookie /me due a touch", 3, func() { h.expect(b.do("GET", "/api/auth/me", nil), 200) })
		count("after the touch", 1, func() {
			for range 10 {
				h.expect(b.do("GET", "/api/auth/me", nil), 200)
			}
		})
	})
}

// TestMeShowsAChangeOnTheNextRequest: every change this instance makes
// to what /me shows is visible on the next request, however recently /me
// was answered from the cache (the clock stands still: no entry expires).
func TestMeShowsAChangeOnTheNextRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e, frozenClock: true})
		ctx := context.Background()
		access, _ := h.registerVerified("pia")
		id := h.meOf(access)["id"].(string)

		if err := h.svc.UpdateNames(ctx, id, ptr("Pia"), nil); err != nil {
			t.Fatal(err)
		}
		if me := h.meOf(access); me["first_name"] != "Pia" {
			t.Fatalf("after a rename: %v", me)
		}
		if err := h.svc.GrantPermission(ctx, "pia", "books.add_book"); err != nil {
			t.Fatal(err)
		}
		if perms := h.meOf(access)["permissions"].([]any); len(perms) != 1 || perms[0] != "books.add_book" {
			t.Fatalf("after a grant: %v", perms)
		}
		if err := h.svc.RevokePermission(ctx, "pia", "books.add_book"); err != nil {
			t.Fatal(err)
		}
		if perms := h.meOf(access)["permissions"].([]any); len(perms) != 0 {
			t.Fatalf("after a revocation: %v", perms)
		}
		// A password change keeps the caller's login; its /me still
		// answers, from the row as it now is.
		h.expect(h.call("PATCH", "/api/auth/password", map[string]string{"current_password": goodPassword, "new_password": "another long passphrase"}, access), 200)
		if me := h.meOf(access); me["first_name"] != "Pia" || me["email_verified"] != true {
			t.Fatalf("after a password change: %v", me)
		}
	})
}

// TestMeRacingWrites: requests filling the cache while the account
// changes never leave an older value behind: once a change has returned,
// the next /me shows it, whatever the concurrent requests read.
func TestMeRacingWrites(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0], frozenClock: true})
	ctx := context.Background()
	access, _ := h.registerVerified("quinn")
	id := h.meOf(access)["id"].(string)

	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				// Errors end the loop; the main goroutine reports what matters.
				if r := h.call("GET", "/api/auth/me", nil, access); r.Status != 200 {
					return
				}
			}
		}()
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	for i := range 30 {
		name := fmt.Sprint("Quinn", i)
		if err := h.svc.UpdateNames(ctx, id, ptr(name), nil); err != nil {
			t.Fatal(err)
		}
		if me := h.meOf(access); me["first_name"] != name {
			t.Fatalf("change %d: /me answered %v", i, me["first_name"])
		}
	}
}

// TestMeAcrossInstances: two instances on one database, each with its own
// caches and, here, its own revocation list (nothing shared but the
// database). A change made through one shows on the other once its
// second is over; so does the end of a cookie login, whose row is then
// read again (with a shared list, as warden serve has, the revocation
// holds sooner).
func TestMeAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		db, err := store.Open(ctx, e.NewURL(t))
		if err != nil {
			t.Fatal(err)
		}
		a := newHarness(t, options{engine: e, db: db, frozenClock: true})
		b := newHarness(t, options{engine: e, db: db, frozenClock: true})
		access, _ := a.registerVerified("rosa")
		id := b.meOf(access)["id"].(string)

		if err := a.svc.UpdateNames(ctx, id, nil, ptr("Reyes")); err != nil {
			t.Fatal(err)
		}
		if me := a.meOf(access); me["last_name"] != "Reyes" {
			t.Fatalf("the instance that changed it: %v", me)
		}
		b.clock.Advance(readCacheTTL)
		if me := b.meOf(access); me["last_name"] != "Reyes" {
			t.Fatalf("the other instance, a second later: %v", me)
		}
		if err := a.svc.GrantPermission(ctx, "rosa", "books.add_book"); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(readCacheTTL)
		if perms := b.meOf(access)["permissions"].([]any); len(perms) != 1 {
			t.Fatalf("the other instance, a second after a grant: %v", perms)
		}

		// A cookie login made on a, used on b, ended on a.
		onA := a.browser()
		a.expect(onA.login("rosa"), 200)
		onB := onA.clone()
		onB.h = b
		b.expect(onB.do("GET", "/api/auth/me", nil), 200)
		a.expect(onA.do("POST", "/api/auth/logout", nil), 200)
		a.expect(a.call("GET", "/api/auth/me", nil, "", "Cookie", accounts.SessionCookie+"="+onB.session()), 401)
		b.clock.Advance(readCacheTTL)
		b.expect(onB.do("GET", "/api/auth/me", nil), 401)
	})
}
