package accounts_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/storetest"
)

// The tests in this file go through the HTTP surface only: API.md's rule
// that register, login (by username or by address), resend-verification
// and password-reset cannot tell a registered address from a free one.
// The work each request does (statements, hashes, jobs) is compared in
// oracle_work_test.go; the time it takes is measured in bench/timing.

func (h *harness) register(username, email, pw string) response {
	h.t.Helper()
	return h.call("POST", "/api/auth/register", map[string]string{"username": username, "email": email, "password": pw}, "")
}

// sameAnswer fails unless a and b have the same status, the same body
// (but for the members in vary, which must have the same type) and the
// same headers (but for those that change with every request).
func sameAnswer(t testing.TB, what string, a, b response, vary ...string) {
	t.Helper()
	if a.Status != b.Status {
		t.Fatalf("%s: status %d vs %d: %s | %s", what, a.Status, b.Status, a.Raw, b.Raw)
	}
	if len(vary) == 0 && a.Raw != b.Raw {
		t.Fatalf("%s: bodies differ:\n%s\n%s", what, a.Raw, b.Raw)
	}
	for k := range a.Body {
		if _, ok := b.Body[k]; !ok {
			t.Fatalf("%s: member %q only in %s", what, k, a.Raw)
		}
	}
	for k, v := range a.Body {
		if fmt.Sprintf("%T", v) != fmt.Sprintf("%T", b.Body[k]) {
			t.Fatalf("%s: member %q differs in type", what, k)
		}
	}
	if len(vary) > 0 {
		for k, v := range a.Body {
			varies := false
			for _, m := range vary {
				varies = varies || m == k
			}
			if !varies && fmt.Sprint(v) != fmt.Sprint(b.Body[k]) {
				t.Fatalf("%s: member %q: %v vs %v", what, k, v, b.Body[k])
			}
		}
	}
	perRequest := map[string]bool{"Date": true, "X-Request-Id": true, "Ratelimit": true, "Content-Length": true}
	for k := range a.Header {
		if _, ok := b.Header[k]; !ok {
			t.Fatalf("%s: header %s only on one answer", what, k)
		}
		if !perRequest[k] && a.Header.Get(k) != b.Header.Get(k) {
			t.Fatalf("%s: header %s: %q vs %q", what, k, a.Header.Get(k), b.Header.Get(k))
		}
	}
	if len(a.Header) != len(b.Header) {
		t.Fatalf("%s: %d vs %d headers", what, len(a.Header), len(b.Header))
	}
}

// TestRegistrationWithATakenAddressAnswersLikeAFreeOne is the oracle the
// review found: registering a taken address left nothing behind, so
// logging in with the chosen username and password answered 401, where a
// free address gave 403 "not verified". Now both leave a registration that
// answers 403 by username and by address, and the address's owner is
// untouched.
func TestRegistrationWithATakenAddressAnswersLikeAFreeOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.registerVerified("owner")
		// An address can also be taken by a registration that was never
		// verified; that must not show either.
		h.expect(h.register("sleeper", "sleeper@example.com", goodPassword), 201)

		addresses := []struct{ label, email string }{
			{"taken by a verified account", "Owner@Example.com"},
			{"taken by an unverified account", "sleeper@example.com"},
			{"free", "free@example.com"},
		}
		type outcome struct{ reg, byName, byAddress, wrong, second, firstAgain response }
		var got []outcome
		for i, a := range addresses {
			name, pw := fmt.Sprintf("probe%d", i), fmt.Sprintf("probe number %d passphrase", i)
			var o outcome
			o.reg = h.expect(h.register(name, a.email, pw), 201)
			if u := o.reg.Body["user"].(map[string]any); u["username"] != name || u["email"] != a.email || len(u["id"].(string)) != 36 {
				t.Fatalf("%s: register body %s", a.label, o.reg.Raw)
			}
			o.byName = h.expect(h.login(name, pw), 403)
			if !strings.Contains(o.byName.Body["error"].(string), "not verified") {
				t.Fatalf("%s: %s", a.label, o.byName.Raw)
			}
			o.byAddress = h.expect(h.login(a.email, pw), 403)
			o.wrong = h.expect(h.login(a.email, "not the probe password"), 401)
			// A second registration on the address answers alike, and
			// both passwords keep answering 403 by address.
			h.expect(h.register(name+"b", a.email, pw+" two"), 201)
			o.second = h.expect(h.login(a.email, pw+" two"), 403)
			o.firstAgain = h.expect(h.login(a.email, pw), 403)
			got = append(got, o)
		}
		for i := 1; i < len(got); i++ {
			what := addresses[i].label + " vs " + addresses[0].label
			sameAnswer(t, what+": register", got[0].reg, got[i].reg, "user")
			sameAnswer(t, what+": login by username", got[0].byName, got[i].byName)
			sameAnswer(t, what+": login by address", got[0].byAddress, got[i].byAddress)
			sameAnswer(t, what+": wrong password by address", got[0].wrong, got[i].wrong)
			sameAnswer(t, what+": second registration by address", got[0].second, got[i].second)
			sameAnswer(t, what+": first registration again", got[0].firstAgain, got[i].firstAgain)
		}

		// The owners keep their addresses: their own password logs them
		// in by address (or answers their own 403), unchanged.
		h.expect(h.login("owner@example.com", goodPassword), 200)
		h.expect(h.login("sleeper@example.com", goodPassword), 403)

		// A registration on a taken address can never be verified: no
		// link is made for it. The owner gets a notice (without a link)
		// per attempt instead, and its own links only.
		var links, notices int
		for _, m := range h.mails("owner@example.com") {
			if strings.Contains(m, "tried to register") {
				notices++
				if tokenInLink.MatchString(m) {
					t.Fatal("the notice carries a token")
				}
			} else if tokenInLink.MatchString(m) {
				links++
			}
		}
		if links != 1 || notices != 2 {
			t.Fatalf("owner mailbox: %d links, %d notices; want its own 1 link and 2 notices", links, notices)
		}
		// The unverified owner verifies with its own link and logs in;
		// the registrations that claimed its address stay unverified.
		h.expect(h.call("POST", "/api/auth/resend-verification", map[string]string{"email": "sleeper@example.com"}, ""), 200)
		h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": h.lastToken("sleeper@example.com", "/verify-email")}, ""), 200)
		h.expect(h.login("sleeper@example.com", goodPassword), 200)
		h.expect(h.login("probe1", "probe number 1 passphrase"), 403)
		h.expect(h.login("sleeper@example.com", "probe number 1 passphrase"), 403)
		// A reset of the owner's address reaches the owner only, and
		// changes nothing for the pending registration. (An hour later:
		// the owner's mail budget went on the notices.)
		h.clock.Advance(time.Hour)
		h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "owner@example.com"}, ""), 200)
		h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": h.lastToken("owner@example.com", "/reset-password"), "password": "a completely fresh passphrase"}, ""), 200)
		h.expect(h.login("owner@example.com", "a completely fresh passphrase"), 200)
		h.expect(h.login("probe0", "probe number 0 passphrase"), 403)

		// The username of a registration on a taken address is taken, as
		// any registration's is: 400 with fields.username.
		for _, name := range []string{"probe0", "PROBE2"} {
			r := h.expect(h.register(name, "someone.else@example.com", goodPassword), 400)
			if _, ok := r.Body["fields"].(map[string]any)["username"]; !ok {
				t.Fatalf("%s: %s", name, r.Raw)
			}
		}
		for _, secret := range []string{"probe number 0 passphrase", "probe number 2 passphrase"} {
			if strings.Contains(h.logs.String(), secret) {
				t.Fatal("a password reached the log")
			}
		}
	})
}

// TestRegistrationsLapse: an unverified registration holds its username
// for RegistrationTTL (7 days), whether its address was free or taken;
// resend-verification restarts the week for both. Then both lapse alike:
// 401, and the name (and a free address) can be registered again.
func TestRegistrationsLapse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.registerVerified("keeper")
		regs := []struct{ name, email, pw string }{
			{"lapse-taken", "keeper@example.com", "lapsing passphrase one"},
			{"lapse-free", "lapse@example.com", "lapsing passphrase two"},
		}
		for _, r := range regs {
			h.expect(h.register(r.name, r.email, r.pw), 201)
		}
		check := func(status int) {
			t.Helper()
			var answers []response
			for _, r := range regs {
				answers = append(answers, h.expect(h.login(r.name, r.pw), status), h.expect(h.login(r.email, r.pw), status))
			}
			sameAnswer(t, "by username", answers[0], answers[2])
			sameAnswer(t, "by address", answers[1], answers[3])
		}
		h.clock.Advance(6 * 24 * time.Hour)
		check(403)
		for _, r := range regs {
			h.expect(h.call("POST", "/api/auth/resend-verification", map[string]string{"email": r.email}, ""), 200)
		}
		h.svc.Wait()
		h.clock.Advance(6 * 24 * time.Hour) // 12 days after registering, 6 after the resend
		check(403)
		h.clock.Advance(25 * time.Hour) // a week and a day after the resend
		check(401)

		// The names are free again, and so is the free address.
		h.expect(h.register("lapse-taken", "new1@example.com", goodPassword), 201)
		h.expect(h.register("lapse-free", "new2@example.com", goodPassword), 201)
		h.expect(h.register("lapse-again", "lapse@example.com", goodPassword), 201)
		h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": h.lastToken("lapse@example.com", "/verify-email")}, ""), 200)
		h.expect(h.login("lapse@example.com", goodPassword), 200)
		// The owner of the taken address never noticed.
		h.expect(h.login("keeper@example.com", goodPassword), 200)
	})
}

// TestMailIsLimitedPerRecipient: whatever asks for them (registration,
// resend, reset; from any client address), an inbox gets a burst of 3
// mails, then one per 10 minutes, and at most 10 in a burst per day. The
// answers do not change when a mail is dropped, and the log names no
// address.
func TestMailIsLimitedPerRecipient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e, trustLoopbackProxy: true})
		h.expect(h.register("mia", "mia@example.com", goodPassword), 201)
		var answers []response
		for i := range 6 {
			// From six client addresses: the per-IP limits do not matter.
			from := fmt.Sprintf("203.0.113.%d", i+1)
			path := "/api/auth/resend-verification"
			if i%2 == 1 {
				path = "/api/auth/password-reset"
			}
			answers = append(answers, h.expect(h.call("POST", path, map[string]string{"email": "MIA@example.com"}, "", "X-Forwarded-For", from), 200))
		}
		sameAnswer(t, "resend sent vs dropped", answers[0], answers[4])
		sameAnswer(t, "reset sent vs dropped", answers[1], answers[5])
		if n := len(h.mails("mia@example.com")); n != 3 {
			t.Fatalf("%d mails to one inbox in a burst; want 3", n)
		}
		var throttled int
		for _, line := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(line, "mail written to outbox") {
				continue // the development outbox names its files' recipients
			}
			if strings.Contains(strings.ToLower(line), "mia@example.com") {
				t.Fatalf("the log names the address: %s", line)
			}
			if strings.Contains(line, `"event":"mail_throttled"`) {
				throttled++
			}
		}
		if throttled != 4 {
			t.Fatalf("%d mail_throttled events, want 4", throttled)
		}
		// Another inbox has its own budget.
		h.expect(h.register("noa", "noa@example.com", goodPassword), 201)
		if n := len(h.mails("noa@example.com")); n != 1 {
			t.Fatalf("noa got %d mails", n)
		}
		// One more per 10 minutes, up to 10 in the day. (Twelve steps: the
		// daily bucket, refilling one per 2.4 hours, has no new token yet.)
		resend := func() {
			h.expect(h.call("POST", "/api/auth/resend-verification", map[string]string{"email": "mia@example.com"}, ""), 200)
		}
		for step := range 12 {
			h.clock.Advance(10*time.Minute + time.Second)
			resend()
			resend() // the second within the 10 minutes is dropped
			if n := len(h.mails("mia@example.com")); n != min(4+step, 10) {
				t.Fatalf("after %d steps of 10 minutes: %d mails, want %d", step+1, n, min(4+step, 10))
			}
		}
		// The next day brings a new burst (up to the 10-minute limit).
		h.clock.Advance(24 * time.Hour)
		for range 5 {
			resend()
		}
		if n := len(h.mails("mia@example.com")); n != 13 {
			t.Fatalf("a day later: %d mails, want 13", n)
		}
		// Notices to an address's owner count too.
		h.registerVerified("olive")
		for i := range 5 {
			h.expect(h.register(fmt.Sprintf("olive-probe%d", i), "olive@example.com", goodPassword), 201)
		}
		if n := len(h.mails("olive@example.com")); n != 3 {
			t.Fatalf("olive got %d mails; want her link and 2 notices", n)
		}
	})
}

// TestBackoffLooksTheSameForATakenAddress: the failed-login backoff is no
// oracle either. Wrong guesses by address and by the registration's
// username share one counter whether the address was free (the
// registration owns it) or taken (the owner's counter, which guesses by
// address always used).
func TestBackoffLooksTheSameForATakenAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.registerVerified("holder")
		probes := []struct{ name, email, pw string }{
			{"guess-taken", "holder@example.com", "taken probe passphrase"},
			{"guess-free", "guess@example.com", "free probe passphrase"},
		}
		var throttled, throttledByAddress []response
		for _, p := range probes {
			h.expect(h.register(p.name, p.email, p.pw), 201)
			for i := range 5 {
				h.expect(h.login(p.email, fmt.Sprintf("wrong guess %d", i)), 401)
			}
			throttled = append(throttled, h.expect(h.login(p.name, p.pw), 429))
		}
		sameAnswer(t, "by username after guesses by address", throttled[0], throttled[1])
		h.clock.Advance(20 * time.Minute)
		for _, p := range probes {
			// The right password answers 403 and is given back: the count
			// stays, so one more wrong guess backs off again.
			h.expect(h.login(p.name, p.pw), 403)
			h.clock.Advance(2 * time.Second)
			h.expect(h.login(p.name, "one more wrong guess"), 401)
			throttledByAddress = append(throttledByAddress, h.expect(h.login(p.email, p.pw), 429))
		}
		sameAnswer(t, "by address after guesses by username", throttledByAddress[0], throttledByAddress[1])
	})
}
