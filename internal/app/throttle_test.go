package app_test

import (
	"testing"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/storetest"
)

// The router-wide throttle, with small limits: the 601st anonymous request
// of a minute is the 4th here.
func TestRouterWideThrottle(t *testing.T) {
	base, a := start(t, map[string]string{"WARDEN_RATE_ANON_PER_MINUTE": "3", "WARDEN_RATE_USER_PER_MINUTE": "5"})
	if _, err := a.Accounts().CreateUser(t.Context(), accounts.RegisterInput{Username: "uma", Email: "uma@example.com", Password: "correct horse battery staple"},
		accounts.CreateOptions{Verified: true}); err != nil {
		t.Fatal(err)
	}
	// The login is an anonymous request like any other: 1 of 3.
	status, _, body := call(t, "POST", base+"/api/auth/login", jsonCT, `{"username":"uma","password":"correct horse battery staple"}`)
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	bearer := map[string]string{"Authorization": "Bearer " + body["access"].(string)}

	for i := range 2 {
		if status, _, _ := call(t, "GET", base+"/api/books", nil, ""); status != 200 {
			t.Fatalf("anonymous request %d: %d", i+2, status)
		}
	}
	status, h, _ := call(t, "GET", base+"/api/demo/public", nil, "")
	if status != 429 || h.Get("Retry-After") == "" || h.Get("RateLimit") == "" || h.Get("RateLimit-Policy") == "" {
		t.Fatalf("4th anonymous request: %d %v", status, h)
	}
	// Health checks are exempt: a load balancer polls them from one
	// address.
	for range 10 {
		for _, p := range []string{"/healthz", "/readyz"} {
			if status, _, _ := call(t, "GET", base+p, nil, ""); status != 200 {
				t.Fatalf("%s: %d", p, status)
			}
		}
	}
	// A signed-in caller is counted as the user, after authentication,
	// not by its exhausted address.
	for i := range 5 {
		if status, _, _ := call(t, "GET", base+"/api/books", bearer, ""); status != 200 {
			t.Fatalf("user request %d: %d", i+1, status)
		}
	}
	if status, _, _ := call(t, "GET", base+"/api/auth/me", bearer, ""); status != 429 {
		t.Fatalf("6th user request: %d", status)
	}
}

func TestRouterWideThrottleOff(t *testing.T) {
	base, _ := start(t, map[string]string{"WARDEN_RATE_ANON_PER_MINUTE": "0"})
	for i := range 20 {
		if status, h, _ := call(t, "GET", base+"/api/books", nil, ""); status != 200 || h.Get("RateLimit") != "" {
			t.Fatalf("request %d: %d %v", i, status, h)
		}
	}
}

// With Redis, the throttle is shared: instances behind one load balancer
// count a caller once.
func TestRouterWideThrottleIsShared(t *testing.T) {
	redistest.URL(t) // skips without WARDEN_TEST_REDIS_URL
	e := storetest.Engines()[len(storetest.Engines())-1]
	if e.Name == "sqlite" {
		t.Skip("instances on several machines share a server database")
	}
	c := startCluster(t, e, map[string]string{"WARDEN_RATE_ANON_PER_MINUTE": "3"})
	for i := range 3 {
		if status, _, _ := call(t, "GET", c.bases[i]+"/api/books", nil, ""); status != 200 {
			t.Fatalf("instance %d: %d", i, status)
		}
	}
	if status, _, _ := call(t, "GET", c.bases[0]+"/api/books", nil, ""); status != 429 {
		t.Fatalf("4th request, on instance 0: %d", status)
	}
}
