package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/storetest"
	"github.com/wardenhq/warden/revoke"
)

// tokenRoutes are the routes that accept this server's access tokens, one
// per kind: the accounts feature's own and the library's demo routes.
var tokenRoutes = []string{"/api/auth/me", "/api/demo/jwt", "/api/demo/permission", "/api/demo/admin"}

// honoured reports, per route, whether base accepts access: 401 means
// refused; any other status (200, or 403 for a guard) means the token
// authenticated.
func honoured(t *testing.T, base, access string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, route := range tokenRoutes {
		status, _, _ := call(t, "GET", base+route, map[string]string{"Authorization": "Bearer " + access}, "")
		out[route] = status != 401
	}
	return out
}

func wantHonoured(t *testing.T, what, base, access string, want bool) {
	t.Helper()
	for route, got := range honoured(t, base, access) {
		if got != want {
			t.Errorf("%s on %s: honoured %v, want %v", what, route, got, want)
		}
	}
}

// eventuallyRefused waits, at most revoke.MaxPropagation, for every route
// of base to refuse access.
func eventuallyRefused(t *testing.T, what, base, access string) {
	t.Helper()
	err := redistest.Eventually(revoke.MaxPropagation, func() error {
		for route, ok := range honoured(t, base, access) {
			if ok {
				return fmt.Errorf("%s still honoured", route)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func login(t *testing.T, base, name, password string) (access, refresh string) {
	t.Helper()
	status, _, body := call(t, "POST", base+"/api/auth/login", jsonCT, `{"username":"`+name+`","password":"`+password+`"}`)
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	return body["access"].(string), body["refresh"].(string)
}

const pw = "correct horse battery staple"

// TestRevocationReachesEveryRoute is the review's reproduction: after
// logout-all, a password change or a reset in one session, the other
// sessions' access tokens were refused by /api/auth/me only, and still
// accepted by every library route.
func TestRevocationReachesEveryRoute(t *testing.T) {
	base, a := start(t, map[string]string{"WARDEN_AUTH_RATE_PER_MINUTE": "1000"})
	newUser := func(name string) {
		t.Helper()
		_, err := a.Accounts().CreateUser(t.Context(), accounts.RegisterInput{Username: name, Email: name + "@example.com", Password: pw}, accounts.CreateOptions{Verified: true})
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("logout-all", func(t *testing.T) {
		newUser("lena")
		accessA, _ := login(t, base, "lena", pw)
		accessB, _ := login(t, base, "lena", pw)
		wantHonoured(t, "session B before", base, accessB, true)
		if status, _, _ := call(t, "POST", base+"/api/auth/logout-all", map[string]string{"Authorization": "Bearer " + accessA, "Content-Type": "application/json"}, `{}`); status != 200 {
			t.Fatalf("logout-all: %d", status)
		}
		wantHonoured(t, "session B after logout-all", base, accessB, false)
		wantHonoured(t, "session A after logout-all", base, accessA, false)
		// A login right after, in the same second, is a new login.
		accessC, _ := login(t, base, "lena", pw)
		wantHonoured(t, "a login after logout-all", base, accessC, true)
	})

	t.Run("password change ends the other logins only", func(t *testing.T) {
		newUser("mona")
		accessA, _ := login(t, base, "mona", pw)
		accessB, _ := login(t, base, "mona", pw)
		status, _, body := call(t, "PATCH", base+"/api/auth/password", map[string]string{"Authorization": "Bearer " + accessA, "Content-Type": "application/json"},
			`{"current_password":"`+pw+`","new_password":"a different long passphrase"}`)
		if status != 200 {
			t.Fatalf("change password: %d %v", status, body)
		}
		wantHonoured(t, "the other session after a password change", base, accessB, false)
		wantHonoured(t, "the changing session", base, accessA, true)
	})

	t.Run("logout ends its own login everywhere", func(t *testing.T) {
		newUser("nina")
		accessA, refreshA := login(t, base, "nina", pw)
		accessB, _ := login(t, base, "nina", pw)
		if status, _, _ := call(t, "POST", base+"/api/auth/logout", map[string]string{"Authorization": "Bearer " + accessA, "Content-Type": "application/json"}, `{"refresh_token":"`+refreshA+`"}`); status != 200 {
			t.Fatalf("logout: %d", status)
		}
		wantHonoured(t, "the logged-out session", base, accessA, false)
		wantHonoured(t, "another session", base, accessB, true)
	})

	t.Run("operator revocation", func(t *testing.T) {
		newUser("olga")
		access, _ := login(t, base, "olga", pw)
		if _, err := a.Accounts().RevokeUserSessions(t.Context(), "olga"); err != nil {
			t.Fatal(err)
		}
		wantHonoured(t, "after warden sessions revoke", base, access, false)
	})
}

// TestRevocationReachesOtherInstances runs two instances on one server
// database, with Redis and without it, and revokes through one.
func TestRevocationReachesOtherInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		if e.Name == "sqlite" {
			t.Skip("instances on several machines share a server database")
		}
		for _, shared := range []string{"redis", "database"} {
			t.Run(shared, func(t *testing.T) {
				env := map[string]string{
					"WARDEN_DATABASE_URL":         e.NewURL(t),
					"WARDEN_SECRET_KEY":           "revocation-test-secret-shared-by-instances",
					"WARDEN_AUTH_RATE_PER_MINUTE": "1000",
				}
				if shared == "redis" {
					env["WARDEN_REDIS_URL"] = redistest.URL(t)
					env["WARDEN_REDIS_PREFIX"] = redistest.Prefix(t)
				}
				base0, a0 := start(t, env)
				base1, _ := start(t, env)
				if _, err := a0.Accounts().CreateUser(t.Context(), accounts.RegisterInput{Username: "pia", Email: "pia@example.com", Password: pw}, accounts.CreateOptions{Verified: true}); err != nil {
					t.Fatal(err)
				}
				accessA, _ := login(t, base0, "pia", pw)
				accessB, _ := login(t, base1, "pia", pw)
				// Both instances have seen (and may cache) B's token.
				wantHonoured(t, "B on instance 0", base0, accessB, true)
				wantHonoured(t, "B on instance 1", base1, accessB, true)
				start := time.Now()
				if status, _, _ := call(t, "POST", base0+"/api/auth/logout-all", map[string]string{"Authorization": "Bearer " + accessA, "Content-Type": "application/json"}, `{}`); status != 200 {
					t.Fatalf("logout-all: %d", status)
				}
				wantHonoured(t, "B on the instance that revoked", base0, accessB, false)
				eventuallyRefused(t, "B on the other instance", base1, accessB)
				t.Logf("refused on the other instance after %v", time.Since(start))
			})
		}
	})
}
