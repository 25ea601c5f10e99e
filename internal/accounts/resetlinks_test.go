package accounts_test

import (
	"testing"

	"github.com/wardenhq/warden/internal/storetest"
)

// TestResetLinksDieWithPasswordChangeAndLogoutAll: a reset link requested
// before the owner changed the password, or logged out everywhere, must not
// set a password afterwards (it did: finding 7 of the security review).
func TestResetLinksDieWithPasswordChangeAndLogoutAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		requestReset := func(email string) string {
			t.Helper()
			h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": email}, ""), 200)
			return h.lastToken(email, "/reset-password")
		}
		confirm := func(token string) response {
			t.Helper()
			return h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": token, "password": "an attacker's new passphrase"}, "")
		}

		access, _ := h.registerVerified("gwen")
		stale := requestReset("gwen@example.com")
		h.expect(h.call("PATCH", "/api/auth/password", map[string]string{"current_password": goodPassword, "new_password": "a completely different phrase"}, access), 200)
		h.expect(confirm(stale), 400)
		h.expect(h.login("gwen", "a completely different phrase"), 200)

		access, _ = h.registerVerified("hugo")
		stale = requestReset("hugo@example.com")
		h.expect(h.call("POST", "/api/auth/logout-all", map[string]string{}, access), 200)
		h.expect(confirm(stale), 400)
		h.expect(h.login("hugo", goodPassword), 200)

		// A link requested afterwards works as usual.
		h.expect(confirm(requestReset("hugo@example.com")), 200)
	})
}
