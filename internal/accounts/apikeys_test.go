package accounts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/storetest"
)

// TestPasswordResetRevokesTheOwnersAPIKeys: a reset ends the owner's keys
// unless a key was made to survive one; other users' keys and keys
// without an owner are untouched, and a later reset finds nothing more.
func TestPasswordResetRevokesTheOwnersAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e})
		h.registerVerified("rosa")
		h.registerVerified("saul")
		ctx := context.Background()
		create := func(o accounts.APIKeyOptions) string {
			t.Helper()
			k, err := h.svc.CreateAPIKeyWith(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			return k.Key
		}
		plain := create(accounts.APIKeyOptions{Name: "laptop script", Username: "rosa"})
		legacy, err := h.svc.CreateAPIKey(ctx, "old call", "rosa", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		kept := create(accounts.APIKeyOptions{Name: "backup job", Username: "rosa", SurvivesReset: true})
		others := create(accounts.APIKeyOptions{Name: "saul's", Username: "saul"})
		unowned := create(accounts.APIKeyOptions{Name: "monitoring"})
		all := []string{plain, legacy.Key, kept, others, unowned}
		for _, k := range all {
			h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", k), 200)
		}

		h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "rosa@example.com"}, ""), 200)
		reset := h.lastToken("rosa@example.com", "/reset-password")
		h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": reset, "password": "a brand new passphrase"}, ""), 200)

		h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", plain), 401)
		h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", legacy.Key), 401)
		for _, k := range []string{kept, others, unowned} {
			h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", k), 200)
		}
		logs := h.logs.String()
		if !strings.Contains(logs, `"event":"api_keys_revoked"`) || !strings.Contains(logs, `"count":2`) {
			t.Fatal("the revocation is not logged with its count")
		}
		for _, k := range all {
			if strings.Contains(logs, k[len(k)-20:]) {
				t.Fatal("a key secret reached the log")
			}
		}
		// Logging out everywhere is not a reset: keys stay.
		access := h.expect(h.login("rosa", "a brand new passphrase"), 200).Body["access"].(string)
		h.expect(h.call("POST", "/api/auth/logout-all", nil, access), 200)
		h.expect(h.call("GET", "/api/auth/me", nil, "", "X-API-Key", kept), 200)
	})
}

func TestAPIKeyLifetimeCannotBeNegative(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0]})
	if _, err := h.svc.CreateAPIKeyWith(context.Background(), accounts.APIKeyOptions{Name: "x", TTL: -1}); err == nil {
		t.Fatal("a negative lifetime was accepted")
	}
}
