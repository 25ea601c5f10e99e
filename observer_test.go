package warden_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/secure"
)

// recorder is an Observer that writes down what it is told, one line per
// call, such as "GET /x 200", "auth expired", "limited t".
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) Request(route string, status int, d time.Duration) {
	if d < 0 {
		r.add("negative duration")
	}
	r.add(fmt.Sprintf("%s %d", route, status))
}

func (r *recorder) AuthFailure(reason auth.Failure) { r.add("auth " + string(reason)) }

func (r *recorder) RateLimited(policy string) { r.add("limited " + policy) }

// expect waits (the observer is called once the response is out, so
// possibly after the client has read it) until the recorder holds as many
// events as want, checks them and forgets them.
func (r *recorder) expect(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.events)
		if len(got) >= len(want) {
			r.events = nil
		}
		r.mu.Unlock()
		if len(got) >= len(want) {
			if !slices.Equal(got, want) {
				t.Fatalf("observed %q, want %q", got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("observed %q within 5s, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestObserverSeesRoutePatternsNotPaths(t *testing.T) {
	rec := &recorder{}
	cors, err := secure.NewCORS(secure.CORSPolicy{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, warden.Config{Observer: rec, CORS: cors}, func(r *warden.Router, _ *auth.JWT) {
		r.Get("/api/books/{id}", ok, public)
		r.Delete("/api/books/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, public)
		r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") }, public)
		r.Get("/teapot", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }, public)
		r.Group("/api/shelf", func(r *warden.Router) { r.Get("/", ok, public) })
	})
	many := map[string]string{}
	for i := range 101 {
		many[fmt.Sprintf("X-H-%d", i)] = "v"
	}
	preflight := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"}
	cases := []struct {
		name, method, path string
		headers            map[string]string
		want               string
	}{
		{"a matched route", "GET", "/api/books/7", nil, "GET /api/books/{id} 200"},
		{"another id, the same series", "GET", "/api/books/8", nil, "GET /api/books/{id} 200"},
		{"the trailing-slash variant", "GET", "/api/books/7/", nil, "GET /api/books/{id} 200"},
		{"hostile text in a wildcard", "GET", "/api/books/%3Cscript%3E%0A", nil, "GET /api/books/{id} 200"},
		{"HEAD on a GET route", "HEAD", "/api/books/7", nil, "GET /api/books/{id} 200"},
		{"another method on the same path", "DELETE", "/api/books/7", nil, "DELETE /api/books/{id} 204"},
		{"the CORS preflight", "OPTIONS", "/api/books/7", preflight, "OPTIONS /api/books/{id} 204"},
		{"a group's own path", "GET", "/api/shelf", nil, "GET /api/shelf 200"},
		{"a handler's own status", "GET", "/teapot", nil, "GET /teapot 418"},
		{"a panic", "GET", "/boom", nil, "GET /boom 500"},
		{"no route", "GET", "/wp-admin/" + strings.Repeat("x", 200), nil, "unmatched 404"},
		{"no route for the method", "POST", "/api/books/7", nil, "unmatched 405"},
		{"refused before routing", "GET", "/api/books/7", many, "unmatched 431"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.do(t, tc.method, tc.path, nil, tc.headers)
			rec.expect(t, tc.want)
		})
	}
}

// downKeys is an API-key store that cannot be reached.
type downKeys struct{}

func (downKeys) Lookup(context.Context, string) (*auth.Identity, error) {
	return nil, errors.New("connection refused")
}

func TestObserverSeesAuthFailures(t *testing.T) {
	rec := &recorder{}
	revoked := revoke.NewMemory(revoke.MemoryOptions{})
	j, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: secret}}, Revocation: revoked})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewAPIKeys(auth.APIKeysConfig{Sources: []auth.APIKeySource{downKeys{}}})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, warden.Config{Observer: rec}, func(r *warden.Router, _ *auth.JWT) {
		r.Get("/me", ok, warden.Auth(j), warden.Require(guard.IsAuthenticated))
		r.Get("/keys", ok, warden.Auth(keys), warden.Require(guard.IsAuthenticated))
	})
	signer := auth.Signer{Algorithm: "HS256", Key: secret}
	valid, err := signer.Sign("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := signer.Sign("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := revoked.Revoke(context.Background(), gone.ID, gone.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	past := auth.Signer{Algorithm: "HS256", Key: secret, Now: func() time.Time { return time.Now().Add(-time.Hour) }}
	expired, err := past.Sign("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := (&auth.Signer{Algorithm: "HS256", Key: []byte("another-secret-of-at-least-32-bytes!!")}).Sign("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(raw string) map[string]string { return map[string]string{"Authorization": "Bearer " + raw} }

	cases := []struct {
		name    string
		path    string
		headers map[string]string
		want    []string
	}{
		{"a valid token", "/me", bearer(valid.Raw), []string{"GET /me 200"}},
		{"no credential is the guard's refusal, not authentication's", "/me", nil, []string{"GET /me 401"}},
		{"garbage", "/me", bearer("not.a.token"), []string{"GET /me 401", "auth invalid"}},
		{"an empty bearer", "/me", map[string]string{"Authorization": "Bearer"}, []string{"GET /me 401", "auth invalid"}},
		{"a forged signature", "/me", bearer(forged.Raw), []string{"GET /me 401", "auth invalid"}},
		{"an expired token", "/me", bearer(expired.Raw), []string{"GET /me 401", "auth expired"}},
		{"a revoked token", "/me", bearer(gone.Raw), []string{"GET /me 401", "auth revoked"}},
		{"a store that cannot answer", "/keys", map[string]string{"X-API-Key": strings.Repeat("k", 40)}, []string{"GET /keys 503", "auth unavailable"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.do(t, "GET", tc.path, nil, tc.headers)
			rec.expect(t, tc.want...)
		})
	}
	t.Run("two API keys", func(t *testing.T) { // Header.Set in f.do cannot send two
		req, err := http.NewRequest("GET", f.srv.URL+"/keys", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Add("X-API-Key", "one")
		req.Header.Add("X-API-Key", "two")
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		rec.expect(t, "GET /keys 401", "auth invalid")
	})
}

func TestFailureOfAForeignBackendStaysInTheSet(t *testing.T) {
	rec := &recorder{}
	// A backend outside package auth that invents its own Kind is counted
	// as invalid: the label set cannot grow from outside.
	odd := backendFunc(func(*http.Request) (*auth.Identity, error) {
		return nil, &auth.CredentialError{Reason: "No.", Kind: auth.Failure("user alice@example.com typed hunter2")}
	})
	f := newFixture(t, warden.Config{Observer: rec}, func(r *warden.Router, _ *auth.JWT) {
		r.Get("/x", ok, warden.Auth(odd), public)
	})
	f.do(t, "GET", "/x", nil, nil)
	rec.expect(t, "GET /x 401", "auth invalid")
	if got := auth.Failures(); !slices.Equal(got, []auth.Failure{auth.FailureInvalid, auth.FailureExpired, auth.FailureRevoked, auth.FailureUnavailable}) {
		t.Fatalf("Failures() = %q", got)
	}
}

type backendFunc func(*http.Request) (*auth.Identity, error)

func (f backendFunc) Authenticate(r *http.Request) (*auth.Identity, error) { return f(r) }
func (backendFunc) Challenge() string                                      { return auth.Challenge }

func TestObserverSeesRateLimitRefusals(t *testing.T) {
	rec := &recorder{}
	route, err := ratelimit.NewMemory(ratelimit.Policy{Name: "search", Rate: 0.001, Burst: 1}, ratelimit.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	anon, err := ratelimit.NewMemory(ratelimit.Policy{Name: "caller_anon", Rate: 0.001, Burst: 2}, ratelimit.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	throttle := ratelimit.PerCaller(slog.New(slog.DiscardHandler), anon, nil)
	f := newFixture(t, warden.Config{Observer: rec, Throttle: throttle}, func(r *warden.Router, _ *auth.JWT) {
		r.Get("/search", ok, warden.Limit(route, nil), public)
		r.Get("/other", ok, public)
	})
	f.do(t, "GET", "/search", nil, nil)
	rec.expect(t, "GET /search 200")
	f.do(t, "GET", "/search", nil, nil)
	rec.expect(t, "GET /search 429", "limited search")
	// The router-wide throttle, built outside the router, is observed by
	// its own policy's name: this is the caller's third request.
	f.do(t, "GET", "/other", nil, nil)
	rec.expect(t, "GET /other 429", "limited caller_anon")
}

func TestWithoutObserverNothingChanges(t *testing.T) {
	// The zero Config observes nothing; the pipeline serves as before.
	f := newFixture(t, warden.Config{}, func(r *warden.Router, _ *auth.JWT) { r.Get("/x", ok, public) })
	if resp, _ := f.do(t, "GET", "/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
