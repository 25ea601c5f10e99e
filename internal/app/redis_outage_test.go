package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/revoke"
)

// TestRedisOutage stops a private Redis under a running server: revocation
// checks refuse tokens with 503 (never 200), rate limits fall back to the
// instance's memory (still limiting), and both return to Redis by
// themselves once it is back.
func TestRedisOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	base, a := start(t, map[string]string{
		"WARDEN_REDIS_URL":    srv.URL(),
		"WARDEN_REDIS_PREFIX": "outage:",
		"WARDEN_SECRET_KEY":   "redis-outage-test-secret-32-bytes-long",
	})
	tok, err := a.Signer().Sign("xena", nil)
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok.Raw}
	if status, _, _ := call(t, "GET", base+"/api/demo/jwt", bearer, ""); status != 200 {
		t.Fatalf("before the outage: %d", status)
	}

	srv.Stop()
	// A "not revoked" answer cached while the instance's subscription to
	// revocations was up may serve until the instance notices the lost
	// link, within revoke.MaxPropagation; from then on, 503.
	var (
		status int
		hdr    http.Header
		body   map[string]any
	)
	err = redistest.Eventually(revoke.MaxPropagation, func() error {
		status, hdr, body = call(t, "GET", base+"/api/demo/jwt", bearer, "")
		if status != 503 {
			return fmt.Errorf("status %d", status)
		}
		return nil
	})
	if err != nil || hdr.Get("Retry-After") == "" {
		t.Fatalf("revocation check during the outage: %d %v", status, body)
	}
	for range 5 {
		if status, _, _ := call(t, "GET", base+"/api/demo/jwt", bearer, ""); status != 503 {
			t.Fatalf("a check during the outage answered %d after an earlier 503", status)
		}
	}
	if d := strings.ToLower(fmt.Sprint(body["detail"])); strings.Contains(d, "refused") || strings.Contains(d, "127.0.0.1") {
		t.Fatalf("problem leaks the cause: %s", d)
	}
	if status, _, _ := call(t, "GET", base+"/readyz", nil, ""); status != 503 {
		t.Fatalf("readyz during the outage: %d", status)
	}
	// Logins need the shared failure counter: 503, not a login without it.
	status, _, _ = call(t, "POST", base+"/api/auth/login", map[string]string{"Content-Type": "application/json"}, `{"username":"xena","password":"whatever it is"}`)
	if status != 503 {
		t.Fatalf("login during the outage: %d", status)
	}
	// The demo limit (burst 5) still limits, from memory: neither
	// unlimited nor failing every request.
	var statuses []int
	for range 7 {
		s, _, _ := call(t, "GET", base+"/api/demo/limited", nil, "")
		statuses = append(statuses, s)
	}
	if fmt.Sprint(statuses) != "[200 200 200 200 200 429 429]" {
		t.Fatalf("limited route during the outage: %v", statuses)
	}

	srv.Start()
	err = redistest.Eventually(10*time.Second, func() error {
		if s, _, _ := call(t, "GET", base+"/api/demo/jwt", bearer, ""); s != 200 {
			return fmt.Errorf("status %d", s)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after Redis returned: %v", err)
	}
	if status, _, _ := call(t, "GET", base+"/readyz", nil, ""); status != 200 {
		t.Fatalf("readyz after recovery: %d", status)
	}
	// Revocation works again through Redis.
	if status, _, _ := call(t, "POST", base+"/api/demo/logout", bearer, ""); status != 200 {
		t.Fatalf("revoke after recovery: %d", status)
	}
	if status, _, _ := call(t, "GET", base+"/api/demo/jwt", bearer, ""); status != 401 {
		t.Fatalf("revoked token after recovery: %d", status)
	}
}
