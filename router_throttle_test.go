package warden_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/ratelimit"
)

func memoryLimiter(t *testing.T, burst int) ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.NewMemory(ratelimit.Policy{Name: "t", Rate: 0.001, Burst: burst}, ratelimit.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestThrottleCountsCallersAcrossRoutes(t *testing.T) {
	throttle := ratelimit.PerCaller(slog.New(slog.DiscardHandler), memoryLimiter(t, 2), memoryLimiter(t, 3))
	var routes []warden.RouteInfo
	f := newFixture(t, warden.Config{Throttle: throttle}, func(r *warden.Router, j *auth.JWT) {
		r.Get("/a", ok, warden.Auth(j), public)
		r.Get("/b", ok, public)
		r.Get("/admin", ok, warden.Auth(j), warden.Require(guard.IsAdminUser))
		r.Get("/healthz", ok, public, warden.Unthrottled())
		routes = r.Routes()
	})
	get := func(path string, headers map[string]string) *http.Response {
		t.Helper()
		resp, _ := f.do(t, "GET", path, nil, headers)
		return resp
	}

	// Anonymous callers share one allowance per address, across routes.
	if get("/a", nil).StatusCode != 200 || get("/b", nil).StatusCode != 200 {
		t.Fatal("within the anonymous allowance")
	}
	resp := get("/a", nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Policy") == "" {
		t.Fatalf("over the anonymous allowance: %d %v", resp.StatusCode, resp.Header)
	}
	// An exempt route is never throttled.
	for range 5 {
		if resp := get("/healthz", nil); resp.StatusCode != 200 || resp.Header.Get("RateLimit") != "" {
			t.Fatalf("exempt route: %d %v", resp.StatusCode, resp.Header)
		}
	}

	// The throttle runs after authentication: a signed-in caller draws
	// from its user's allowance, not from its exhausted address, and one
	// user's use leaves another's whole.
	alice := map[string]string{"Authorization": "Bearer " + token(t, "alice", nil)}
	bob := map[string]string{"Authorization": "Bearer " + token(t, "bob", nil)}
	for i := range 3 {
		if resp := get("/a", alice); resp.StatusCode != 200 {
			t.Fatalf("alice's request %d: %d", i, resp.StatusCode)
		}
	}
	if resp := get("/a", alice); resp.StatusCode != 429 {
		t.Fatalf("alice over her allowance: %d", resp.StatusCode)
	}
	// Before the guards: refused requests count, and an exhausted caller
	// learns nothing more from them.
	if resp := get("/admin", bob); resp.StatusCode != 403 {
		t.Fatalf("bob, not an admin: %d", resp.StatusCode)
	}
	for i := range 2 {
		if resp := get("/a", bob); resp.StatusCode != 200 {
			t.Fatalf("bob within his allowance, request %d: %d", i, resp.StatusCode)
		}
	}
	if resp := get("/admin", bob); resp.StatusCode != 429 {
		t.Fatalf("bob over his allowance on a guarded route: %d", resp.StatusCode)
	}

	// The route table says which routes the throttle covers.
	for _, ri := range routes {
		throttled := ri.Pattern != "/healthz"
		if ri.Throttled != throttled || (ri.Problems[429] != "") != throttled {
			t.Errorf("%s: Throttled %v, 429 %q", ri.Pattern, ri.Throttled, ri.Problems[429])
		}
	}
}

func TestNoThrottleByDefault(t *testing.T) {
	f := newFixture(t, warden.Config{}, func(r *warden.Router, j *auth.JWT) {
		r.Get("/a", ok, public)
		for _, ri := range r.Routes() {
			if ri.Throttled || ri.Problems[429] != "" {
				t.Errorf("%s throttled without Config.Throttle", ri.Pattern)
			}
		}
	})
	for range 20 {
		if resp, _ := f.do(t, "GET", "/a", nil, nil); resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
	}
}
