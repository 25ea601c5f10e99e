package accounts_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/accounts/redisfailures"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/storetest"
)

// parallel makes n calls at once and counts their statuses.
func parallel(n int, call func(i int) response) map[int]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range n {
		wg.Go(func() {
			r := call(i)
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return statuses
}

func (h *harness) changePassword(access, current, next string) response {
	h.t.Helper()
	return h.call("PATCH", "/api/auth/password", map[string]string{"current_password": current, "new_password": next}, access)
}

// TestConcurrentWrongPasswordsAreCheckedAtMostFreeTimes: the per-account
// backoff cannot be raced. Forty wrong passwords sent at once for one
// account (and for one unknown name) get at most five answers that
// checked the password; the rest are refused before hashing. The share of
// the hasher per account is lifted, so that only the counter refuses.
func TestConcurrentWrongPasswordsAreCheckedAtMostFreeTimes(t *testing.T) {
	run := func(t *testing.T, o options) {
		o.hashesPerKey = 1000
		o.frozenClock = true
		h := newHarness(t, o)
		h.registerVerified("ruth")
		for _, name := range []string{"ruth", "nobody-by-that-name"} {
			statuses := parallel(40, func(i int) response {
				return h.login(name, fmt.Sprintf("wrong password %d", i))
			})
			if statuses[401] == 0 || statuses[401] > 5 || statuses[401]+statuses[429] != 40 {
				t.Fatalf("%s: statuses %v; want at most 5 checked (401), the rest 429", name, statuses)
			}
			// Every checked one counted: the free failures are spent after
			// exactly the rest, and then even the right password waits.
			for i := statuses[401]; i < 5; i++ {
				h.expect(h.login(name, fmt.Sprintf("later wrong password %d", i)), 401)
			}
			h.expect(h.login(name, goodPassword), 429)
		}
		h.clock.Advance(2 * time.Second)
		h.expect(h.login("ruth", goodPassword), 200)
	}
	storetest.Each(t, func(t *testing.T, e storetest.Engine) { run(t, options{engine: e}) })
	t.Run("redis", func(t *testing.T) {
		counter := redisfailures.New(redistest.Open(t), redistest.Prefix(t))
		run(t, options{engine: storetest.Engines()[0], failures: counter})
	})
}

// TestChangePasswordCountsFailures: wrong current passwords count in the
// account's failed-login counter, so the NIST backoff applies to them.
func TestChangePasswordCountsFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		t.Run("backoff after five wrong current passwords", func(t *testing.T) {
			h := newHarness(t, options{engine: e, frozenClock: true})
			access, _ := h.registerVerified("sara")
			for i := range 5 {
				r := h.expect(h.changePassword(access, fmt.Sprintf("wrong guess %d", i), "another fine passphrase"), 400)
				if _, ok := r.Body["fields"].(map[string]any)["current_password"]; !ok {
					t.Fatalf("fields %v", r.Body)
				}
			}
			r := h.expect(h.changePassword(access, goodPassword, "another fine passphrase"), 429)
			if r.Header.Get("Retry-After") != "1" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("Retry-After %q, Content-Type %q", r.Header.Get("Retry-After"), r.Header.Get("Content-Type"))
			}
			// One counter: logins of the account wait too.
			h.expect(h.login("sara", goodPassword), 429)
			h.clock.Advance(2 * time.Second)
			h.expect(h.changePassword(access, goodPassword, "another fine passphrase"), 200)
			h.expect(h.login("sara", "another fine passphrase"), 200)
		})
	})
}

// TestChangePasswordNeedsResetAfterTheMaximum: past MaxFailures, a
// password change answers like a login: a reset is needed. The failures
// are recorded straight into the counter (kept in a database of its own)
// rather than paid for with a hundred hashes.
func TestChangePasswordNeedsResetAfterTheMaximum(t *testing.T) {
	ctx := context.Background()
	counterDB, err := store.Open(ctx, storetest.Engines()[0].NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { counterDB.Close() })
	if err := accounts.Migrate(ctx, counterDB); err != nil {
		t.Fatal(err)
	}
	counter := accounts.NewSQLFailures(counterDB)
	h := newHarness(t, options{engine: storetest.Engines()[0], failures: counter, frozenClock: true})
	access, _ := h.registerVerified("tess")
	id := h.expect(h.call("GET", "/api/auth/me", nil, access), 200).Body["id"].(string)
	for range accounts.MaxFailures {
		if _, err := counter.Record(ctx, "u:"+id, h.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r := h.expect(h.changePassword(access, goodPassword, "another fine passphrase"), 429)
	if !strings.Contains(r.Body["error"].(string), "reset") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("%v", r.Body)
	}
}

// TestChangePasswordIsRateLimitedPerUser: the route has a limit per
// user, separate from the failure counter (three calls here, where the
// counter would allow five) and from other users.
func TestChangePasswordIsRateLimitedPerUser(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0], authPerMin: 3})
	una, _ := h.registerVerified("una")
	vic, _ := h.registerVerified("vic")
	for i := range 3 {
		h.expect(h.changePassword(una, fmt.Sprintf("wrong guess %d", i), "another fine passphrase"), 400)
	}
	r := h.expect(h.changePassword(una, goodPassword, "another fine passphrase"), 429)
	if !strings.Contains(r.Header.Get("RateLimit-Policy"), `"password"`) || r.Header.Get("Retry-After") == "" {
		t.Fatalf("RateLimit-Policy %q, Retry-After %q", r.Header.Get("RateLimit-Policy"), r.Header.Get("Retry-After"))
	}
	h.expect(h.changePassword(vic, "wrong guess for vic", "another fine passphrase"), 400)
}

// TestPasswordFloodLeavesOtherUsersLoggingIn: one account that keeps
// forty password changes in flight gets refusals for itself (429), takes
// at most its share of the hashing budget, and another user's logins
// during the flood succeed.
func TestPasswordFloodLeavesOtherUsersLoggingIn(t *testing.T) {
	// Four hashes at the default 19 MiB.
	h := newHarness(t, options{engine: storetest.Engines()[0], hashBudget: 4 * 19 << 20, hashMaxWait: 2 * time.Second})
	amy, _ := h.registerVerified("amy")
	h.registerVerified("ben")
	var mu sync.Mutex
	flood := map[int]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 40 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Half guess; half know the password but pick a refused
				// new one, which the failure counter does not limit.
				var r response
				if (w+i)%2 == 0 {
					r = h.changePassword(amy, fmt.Sprintf("wrong guess %d", i), "another fine passphrase")
				} else {
					r = h.changePassword(amy, goodPassword, "password")
				}
				mu.Lock()
				flood[r.Status]++
				mu.Unlock()
			}
		})
	}
	for deadline := time.Now().Add(5 * time.Second); h.hasher.Stats().InFlight == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the flood fill what it can
	var ben []int
	for range 3 {
		ben = append(ben, h.login("ben", goodPassword).Status)
	}
	close(stop)
	wg.Wait()
	if ben[0] != 200 || ben[1] != 200 || ben[2] != 200 {
		t.Errorf("ben's logins during the flood: %v", ben)
	}
	for status := range flood {
		if status != 400 && status != 429 {
			t.Errorf("flood statuses %v; want 400 and 429 only", flood)
		}
	}
	if flood[429] == 0 {
		t.Errorf("flood statuses %v; want refusals", flood)
	}
	// Two of amy's hashes and one of ben's at most.
	if peak := h.hasher.Stats().PeakInFlight; peak > 3 {
		t.Errorf("peak %d hashes in flight", peak)
	}
}

// TestAuthLimitKeysIPv6ByNetwork: the per-IP limits of the public routes
// put every address of one IPv6 /64 (which one host usually holds) into
// one bucket, and keep IPv4 addresses apart.
func TestAuthLimitKeysIPv6ByNetwork(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0], authPerMin: 5, trustLoopbackProxy: true})
	n := 0
	from := func(ip string) response {
		t.Helper()
		n++ // a new name each time, so that no account backoff applies
		return h.call("POST", "/api/auth/login", map[string]string{"username": fmt.Sprintf("nobody%d", n), "password": "whatever password"}, "", "X-Forwarded-For", ip)
	}
	for i := range 5 {
		h.expect(from(fmt.Sprintf("2001:db8:1:2::%x", i+1)), 401)
	}
	r := h.expect(from("2001:db8:1:2:ffff:ffff:ffff:ffff"), 429)
	if !strings.Contains(r.Header.Get("RateLimit-Policy"), `"login"`) {
		t.Fatalf("RateLimit-Policy %q", r.Header.Get("RateLimit-Policy"))
	}
	h.expect(from("2001:db8:1:3::1"), 401) // the next /64
	for range 5 {
		h.expect(from("198.51.100.7"), 401)
	}
	h.expect(from("198.51.100.7"), 429)
	h.expect(from("198.51.100.8"), 401) // IPv4 per address
	// The other public routes key the same way.
	for i := range 5 {
		h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "x@example.com"}, "", "X-Forwarded-For", fmt.Sprintf("2001:db8:9:9::%x", i+1)), 200)
	}
	h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "x@example.com"}, "", "X-Forwarded-For", "2001:db8:9:9::99"), 429)
}
