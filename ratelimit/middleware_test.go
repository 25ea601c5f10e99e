package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/logtest"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "ok")
})

func serve(t *testing.T, l ratelimit.Limiter, key ratelimit.KeyFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(ratelimit.Middleware(nil, l, key)(okHandler))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, srv *httptest.Server, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(body)}
}

// wantProblem checks that r is a problem document for status.
func wantProblem(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, problem.ContentType)
	}
	var p problem.Problem
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if p.Status != status || p.Detail == "" {
		t.Errorf("problem = %+v, want status %d and a detail", p, status)
	}
}

func TestMiddlewareSendsRateLimitHeadersThen429(t *testing.T) {
	clock := newFakeClock()
	// One token every two seconds, two banked: the window is four seconds.
	m := newMemory(t, ratelimit.Policy{Name: "api", Rate: 0.5, Burst: 2}, ratelimit.MemoryOptions{Now: clock.Now})
	srv := serve(t, m, ratelimit.ByIP())

	for i, want := range []struct {
		status     int
		rateLimit  string
		retryAfter string
	}{
		{http.StatusOK, `"api";r=1;t=2`, ""},
		{http.StatusOK, `"api";r=0;t=4`, ""},
		{http.StatusTooManyRequests, `"api";r=0;t=4`, "2"},
	} {
		r := get(t, srv, nil)
		if r.status != want.status {
			t.Fatalf("request %d: status = %d, want %d", i+1, r.status, want.status)
		}
		if got := r.header.Get("RateLimit-Policy"); got != `"api";q=2;w=4` {
			t.Errorf("request %d: RateLimit-Policy = %q", i+1, got)
		}
		if got := r.header.Get("RateLimit"); got != want.rateLimit {
			t.Errorf("request %d: RateLimit = %q, want %q", i+1, got, want.rateLimit)
		}
		if got := r.header.Get("Retry-After"); got != want.retryAfter {
			t.Errorf("request %d: Retry-After = %q, want %q", i+1, got, want.retryAfter)
		}
		if want.status == http.StatusTooManyRequests {
			wantProblem(t, r, http.StatusTooManyRequests)
		} else if r.body != "ok" {
			t.Errorf("request %d: body = %q, want the handler's", i+1, r.body)
		}
	}

	clock.Advance(2 * time.Second)
	if r := get(t, srv, nil); r.status != http.StatusOK {
		t.Errorf("after waiting Retry-After, status = %d, want 200", r.status)
	}
}

func TestMiddlewareRoundsSecondsUp(t *testing.T) {
	for _, tc := range []struct {
		name           string
		policy         ratelimit.Policy
		wantPolicy     string
		wantRetryAfter string
	}{
		// A third of a second to the next token is still "1", never "0".
		{"fraction of a second", ratelimit.Policy{Rate: 3, Burst: 1}, `"default";q=1;w=1`, "1"},
		{"one and a half seconds", ratelimit.Policy{Rate: 2.0 / 3, Burst: 1}, `"default";q=1;w=2`, "2"},
		{"one a minute", ratelimit.Policy{Name: "slow", Rate: 1.0 / 60, Burst: 10}, `"slow";q=10;w=600`, "60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			srv := serve(t, newMemory(t, tc.policy, ratelimit.MemoryOptions{Now: clock.Now}), ratelimit.ByIP())
			var r response
			for range tc.policy.Burst + 1 {
				r = get(t, srv, nil)
			}
			wantProblem(t, r, http.StatusTooManyRequests)
			if got := r.header.Get("Retry-After"); got != tc.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantRetryAfter)
			}
			if got := r.header.Get("RateLimit-Policy"); got != tc.wantPolicy {
				t.Errorf("RateLimit-Policy = %q, want %q", got, tc.wantPolicy)
			}
		})
	}
}

func TestMiddlewareKeyLength(t *testing.T) {
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 10}, ratelimit.MemoryOptions{})
	srv := serve(t, m, ratelimit.ByHeader("X-Client"))
	const prefix = len("hdr:")
	for _, tc := range []struct {
		name   string
		value  string
		status int
	}{
		{"key of exactly 256 bytes", strings.Repeat("a", 256-prefix), http.StatusOK},
		{"key of 257 bytes", strings.Repeat("b", 257-prefix), http.StatusBadRequest},
		{"key of 4 KiB", strings.Repeat("c", 4096), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, srv, map[string]string{"X-Client": tc.value})
			if tc.status == http.StatusOK {
				if r.status != http.StatusOK {
					t.Fatalf("status = %d, want 200", r.status)
				}
				return
			}
			wantProblem(t, r, tc.status)
			if strings.Contains(r.body, tc.value[:32]) {
				t.Error("the 400 body echoes the key")
			}
			if r.header.Get("RateLimit") != "" {
				t.Error("a refused key got RateLimit headers")
			}
		})
	}
	if m.Len() != 1 {
		t.Errorf("Len() = %d, want 1: over-long keys must not be stored", m.Len())
	}
}

// failing is a Limiter whose store is down.
type failing struct{ calls int }

func (f *failing) Allow(context.Context, string) (ratelimit.Decision, error) {
	f.calls++
	return ratelimit.Decision{}, errors.New("redis: connection refused")
}

func (f *failing) Policy() ratelimit.Policy { return ratelimit.Policy{Rate: 1, Burst: 1} }

func TestMiddlewareFailsClosedWhenTheLimiterErrs(t *testing.T) {
	srv := serve(t, &failing{}, ratelimit.ByIP())
	r := get(t, srv, nil)
	wantProblem(t, r, http.StatusServiceUnavailable)
	if got := r.header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	if strings.Contains(r.body, "redis") {
		t.Errorf("the 503 body leaks the internal error: %s", r.body)
	}
	if r.header.Get("RateLimit") != "" {
		t.Error("an undecided request got a RateLimit header")
	}
}

func TestMiddlewarePanicsOnMisconfiguration(t *testing.T) {
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{})
	for _, tc := range []struct {
		name string
		l    ratelimit.Limiter
		key  ratelimit.KeyFunc
	}{
		{"nil limiter", nil, ratelimit.ByIP()},
		{"nil key func", m, nil},
		{"invalid policy", &badPolicy{}, ratelimit.ByIP()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Middleware did not panic")
				}
			}()
			ratelimit.Middleware(nil, tc.l, tc.key)
		})
	}
}

type badPolicy struct{ failing }

func (badPolicy) Policy() ratelimit.Policy { return ratelimit.Policy{Rate: 0, Burst: 1} }

func TestMiddlewareLogsToTheGivenLogger(t *testing.T) {
	var logs logtest.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	srv := httptest.NewServer(ratelimit.Middleware(logger, &failing{}, ratelimit.ByIP())(okHandler))
	t.Cleanup(srv.Close)
	wantProblem(t, get(t, srv, nil), http.StatusServiceUnavailable)
	if !strings.Contains(logs.String(), "rate limiter unavailable") {
		t.Errorf("the limiter error did not reach the configured logger: %q", logs.String())
	}
}
