package metrics_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func contains(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("no line %q in the scrape", l)
		}
	}
}

func TestSeriesThroughARouter(t *testing.T) {
	m := metrics.New(slog.New(slog.DiscardHandler))
	r, err := warden.NewRouter(warden.Config{Observer: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	j, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: []byte("metrics-test-secret-of-32-bytes-or-more")}}})
	if err != nil {
		t.Fatal(err)
	}
	r.Get("/api/books/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
		warden.Auth(j), warden.Require(guard.AllowAny))
	srv := httptest.NewServer(r)
	defer srv.Close()
	get := func(path, authz string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/api/books/1", "")
	get("/api/books/2", "")
	get("/api/books/3", "Bearer forged")
	get("/secret-path-of-a-scanner", "")

	// The observer runs once the response is out: wait for the last one.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(scrape(t, m), `warden_http_requests_total{route="unmatched",status="404"} 1`) {
		if time.Now().After(deadline) {
			t.Fatal("the unmatched request was not counted within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	text := scrape(t, m)
	contains(t, text,
		`warden_http_requests_total{route="GET /api/books/{id}",status="204"} 2`,
		`warden_http_requests_total{route="GET /api/books/{id}",status="401"} 1`,
		`warden_http_request_duration_seconds_count{route="GET /api/books/{id}"} 3`,
		`warden_http_request_duration_seconds_count{route="unmatched"} 1`,
		`warden_auth_failures_total{reason="invalid"} 1`,
		// Every reason is there from the start.
		`warden_auth_failures_total{reason="expired"} 0`,
		`warden_auth_failures_total{reason="revoked"} 0`,
		`warden_auth_failures_total{reason="unavailable"} 0`,
	)
	for _, leak := range []string{"secret-path-of-a-scanner", "/api/books/1", "forged"} {
		if strings.Contains(text, leak) {
			t.Errorf("the scrape holds request text %q", leak)
		}
	}
	// The standard collectors are registered.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if !strings.Contains(text, "\n"+name+" ") {
			t.Errorf("no %s", name)
		}
	}
}

func TestDirectObservations(t *testing.T) {
	m := metrics.New(nil)
	m.Request("POST /api/auth/login", 429, 3*time.Millisecond)
	m.RateLimited("auth")
	m.RateLimited("auth")
	m.AuthFailure(auth.FailureRevoked)
	contains(t, scrape(t, m),
		`warden_http_requests_total{route="POST /api/auth/login",status="429"} 1`,
		`warden_http_request_duration_seconds_bucket{route="POST /api/auth/login",le="0.001"} 0`,
		`warden_http_request_duration_seconds_bucket{route="POST /api/auth/login",le="0.005"} 1`,
		`warden_rate_limited_total{policy="auth"} 2`,
		`warden_auth_failures_total{reason="revoked"} 1`,
	)
}

func TestGaugeAndCounterFuncs(t *testing.T) {
	m := metrics.New(nil)
	var mu sync.Mutex
	open := 3.0
	m.GaugeFunc("warden_test_open", "Open things.", func() float64 { mu.Lock(); defer mu.Unlock(); return open })
	m.CounterFunc("warden_test_refused_total", "Refused things.", func() float64 { return 7 })
	contains(t, scrape(t, m), "warden_test_open 3", "warden_test_refused_total 7")
	mu.Lock()
	open = 1
	mu.Unlock()
	contains(t, scrape(t, m), "warden_test_open 1")

	for name, register := range map[string]func(){
		"a duplicate name":            func() { m.GaugeFunc("warden_test_open", "Again.", func() float64 { return 0 }) },
		"a name taken by a series":    func() { m.CounterFunc("warden_http_requests_total", "Again.", func() float64 { return 0 }) },
		"an invalid name":             func() { m.GaugeFunc("warden test", "Spaces.", func() float64 { return 0 }) },
		"an invalid name for counter": func() { m.CounterFunc("1st_total", "Digit first.", func() float64 { return 0 }) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			register()
		})
	}
}

func TestSeparateRegistries(t *testing.T) {
	// Two Metrics in one process (two servers in a test) neither collide
	// nor see each other's series.
	a, b := metrics.New(nil), metrics.New(nil)
	a.GaugeFunc("warden_test_gauge", "A.", func() float64 { return 1 })
	b.GaugeFunc("warden_test_gauge", "B.", func() float64 { return 2 })
	a.RateLimited("only_a")
	if text := scrape(t, b); strings.Contains(text, "only_a") || !strings.Contains(text, "warden_test_gauge 2\n") {
		t.Fatalf("b's scrape:\n%s", text)
	}
}

func TestConcurrentObservations(t *testing.T) {
	m := metrics.New(nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				m.Request("GET /r", 200+(g+i)%3, time.Millisecond)
				m.AuthFailure(auth.FailureExpired)
			}
		})
	}
	wg.Wait()
	text := scrape(t, m)
	contains(t, text,
		`warden_http_request_duration_seconds_count{route="GET /r"} 4000`,
		`warden_auth_failures_total{reason="expired"} 4000`,
	)
}
