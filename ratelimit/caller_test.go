package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/ratelimit"
)

func TestPerCallerCountsUsersByIDAndOthersByAddress(t *testing.T) {
	anon := newMemory(t, ratelimit.Policy{Name: "anon", Rate: 0.001, Burst: 2}, ratelimit.MemoryOptions{})
	user := newMemory(t, ratelimit.Policy{Name: "user", Rate: 0.001, Burst: 3}, ratelimit.MemoryOptions{})
	h := ratelimit.PerCaller(nil, anon, user)(okHandler)
	do := func(peer, userID string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		if userID != "" {
			r = auth.WithIdentity(r, &auth.Identity{UserID: userID, Backend: auth.BackendJWT})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// Anonymous: two per address; a neighbour in the same IPv6 /64 shares
	// the bucket, another /64 does not.
	for i, want := range []int{200, 200, 429} {
		if got := do("[2001:db8::1]:1000", ""); got != want {
			t.Fatalf("anonymous request %d: %d, want %d", i, got, want)
		}
	}
	if got := do("[2001:db8::2]:1000", ""); got != 429 {
		t.Fatalf("same /64: %d, want 429", got)
	}
	if got := do("[2001:db8:0:1::1]:1000", ""); got != 200 {
		t.Fatalf("another /64: %d, want 200", got)
	}
	// A signed-in caller counts as the user wherever it comes from, and
	// the exhausted address does not limit it.
	for i, want := range []int{200, 200, 200, 429} {
		if got := do("[2001:db8::1]:1000", "u1"); got != want {
			t.Fatalf("user request %d: %d, want %d", i, got, want)
		}
	}
	if got := do("192.0.2.9:1000", "u1"); got != 429 {
		t.Fatalf("same user from elsewhere: %d, want 429", got)
	}
	// A nil limiter leaves that kind of caller alone.
	free := ratelimit.PerCaller(nil, nil, nil)(okHandler)
	for range 5 {
		w := httptest.NewRecorder()
		free.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("no limiters: %d", w.Code)
		}
	}
}
