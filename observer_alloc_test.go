//go:build !race

// The race detector changes allocation counts; this test measures them.

package warden_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
)

type discardObserver struct{}

func (discardObserver) Request(string, int, time.Duration) {}
func (discardObserver) AuthFailure(auth.Failure)           {}
func (discardObserver) RateLimited(string)                 {}

// TestObserverAddsNoAllocation serves the same requests with and without
// an Observer: telling it must not allocate, for a routed request, an
// unmatched one and an authentication refusal alike.
func TestObserverAddsNoAllocation(t *testing.T) {
	j, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(o warden.Observer, path, authz string) float64 {
		r, err := warden.NewRouter(warden.Config{Logger: slog.New(slog.DiscardHandler), DisableAccessLog: true, Observer: o})
		if err != nil {
			t.Fatal(err)
		}
		r.Get("/api/books/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, public, warden.Auth(j))
		req := httptest.NewRequest("GET", path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		return testing.AllocsPerRun(200, func() {
			r.ServeHTTP(httptest.NewRecorder(), req)
		})
	}
	for _, tc := range []struct{ name, path, authz string }{
		{"routed", "/api/books/7", ""},
		{"unmatched", "/nowhere", ""},
		{"refused by authentication", "/api/books/7", "Bearer not.a.token"},
	} {
		without, with := allocs(nil, tc.path, tc.authz), allocs(discardObserver{}, tc.path, tc.authz)
		if with > without {
			t.Errorf("%s: %.1f allocations with an Observer, %.1f without", tc.name, with, without)
		}
	}
}
