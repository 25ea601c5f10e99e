package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/app"
)

// metricsAddr waits until Serve has opened the metrics listener.
func metricsAddr(t *testing.T, a *app.App) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if addr := a.MetricsAddr(); addr != "" {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatal("no metrics listener within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fetchText(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrapeUntil scrapes url until every pattern matches a line (the router
// observes a request once its response is out, so the last one may lag
// behind the client), and returns the last scrape.
func scrapeUntil(t *testing.T, url string, patterns ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, text := fetchText(t, "GET", url)
		if status != 200 {
			t.Fatalf("scrape: %d %s", status, text)
		}
		var missing []string
		for _, p := range patterns {
			if !regexp.MustCompile(`(?m)^` + p + `$`).MatchString(text) {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("not in the scrape within 5s: %q\n%s", missing, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	base, a := start(t, map[string]string{"WARDEN_METRICS_ADDR": "127.0.0.1:0"})
	metrics := "http://" + metricsAddr(t, a) + "/metrics"

	for range 2 {
		if status, _ := fetchText(t, "GET", base+"/healthz"); status != 200 {
			t.Fatalf("healthz: %d", status)
		}
	}
	// Authentication refusals, by reason; an anonymous request is the
	// guard's refusal, not a failed authentication.
	revoked, err := a.Signer().Sign("carol", nil)
	if err != nil {
		t.Fatal(err)
	}
	carol := map[string]string{"Authorization": "Bearer " + revoked.Raw}
	if status, _, _ := call(t, "POST", base+"/api/demo/logout", carol, ""); status != 200 {
		t.Fatalf("logout: %d", status)
	}
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer forged.token.text"}, carol} {
		if status, _, _ := call(t, "GET", base+"/api/demo/jwt", h, ""); status != 401 {
			t.Fatalf("jwt route with %v: %d", h, status)
		}
	}
	// A route's own rate limit (burst 5).
	for range 7 {
		call(t, "GET", base+"/api/demo/limited", nil, "")
	}
	// The main listener has no /metrics: it is an unmatched request there.
	if status, body := fetchText(t, "GET", base+"/metrics"); status != 404 || strings.Contains(body, "warden_http_requests_total") {
		t.Fatalf("GET /metrics on the API listener: %d %.80q", status, body)
	}
	fetchText(t, "GET", base+"/wp-login.php?token=secret-in-the-query")

	text := scrapeUntil(t, metrics,
		`warden_http_requests_total\{route="GET /healthz",status="200"\} 2`,
		`warden_http_requests_total\{route="GET /api/demo/jwt",status="401"\} 3`,
		`warden_http_requests_total\{route="POST /api/demo/logout",status="200"\} 1`,
		`warden_http_requests_total\{route="GET /api/demo/limited",status="429"\} [1-2]`,
		`warden_http_requests_total\{route="unmatched",status="404"\} 2`,
		`warden_http_request_duration_seconds_count\{route="GET /healthz"\} 2`,
		`warden_auth_failures_total\{reason="invalid"\} 1`,
		`warden_auth_failures_total\{reason="revoked"\} 1`,
		`warden_auth_failures_total\{reason="expired"\} 0`,
		`warden_rate_limited_total\{policy="demo"\} [1-2]`,
		`warden_password_hash_waiting 0`,
		`warden_password_hash_in_flight 0`,
		`warden_password_hash_slots [1-9][0-9]*`,
		`warden_password_hash_busy_total 0`,
		`warden_websockets_open 0`,
		`warden_websockets_max 10000`,
		`warden_sse_streams_open 0`,
		`warden_sse_streams_max 1000`,
		`warden_db_connections_max (8|9|1[0-6])`, // SQLite: 2 per CPU, 8 to 16
		`warden_db_connections_in_use [0-9]+`,
		`warden_db_connection_waits_total [0-9]+`,
		`go_goroutines [0-9]+`,
	)
	for _, leak := range []string{"wp-login", "secret-in-the-query", "forged", revoked.Raw} {
		if strings.Contains(text, leak) {
			t.Errorf("the scrape holds request text %q", leak)
		}
	}
	// Scrapes do not go through the API's router, and the metrics
	// listener serves GET /metrics only.
	if strings.Contains(text, `route="GET /metrics"`) {
		t.Error("a scrape was counted as an API request")
	}
	if status, _ := fetchText(t, "POST", metrics); status != 405 {
		t.Errorf("POST /metrics: %d", status)
	}
	if status, _ := fetchText(t, "GET", strings.TrimSuffix(metrics, "/metrics")+"/healthz"); status != 404 {
		t.Errorf("the API on the metrics listener: %d", status)
	}
}

func TestMetricsAreOffByDefault(t *testing.T) {
	base, a := start(t, nil)
	// Nothing to register with: the realtime wiring may call it all the
	// same.
	a.RegisterGauge("warden_test_open", "Open things.", func() float64 { return 1 })
	if addr := a.MetricsAddr(); addr != "" {
		t.Fatalf("metrics listener at %s without WARDEN_METRICS_ADDR", addr)
	}
	if status, _ := fetchText(t, "GET", base+"/metrics"); status != 404 {
		t.Fatalf("GET /metrics: %d", status)
	}
}

func TestRegisteredGaugesAndShutdown(t *testing.T) {
	a, ln := newApp(t, map[string]string{"WARDEN_METRICS_ADDR": "127.0.0.1:0"})
	defer a.Close()
	open := 0
	a.RegisterGauge("warden_test_streams_open", "Open test streams.", func() float64 { return float64(open) })
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second gauge of the same name was accepted")
			}
		}()
		a.RegisterGauge("warden_test_streams_open", "Again.", func() float64 { return 0 })
	}()
	open = 3 // set before Serve starts: read only by scrapes

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	addr := metricsAddr(t, a)
	scrapeUntil(t, "http://"+addr+"/metrics", `# HELP warden_test_streams_open Open test streams\.`, `warden_test_streams_open 3`)

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s")
	}
	// Serve shut the metrics listener down with the API's.
	if got := a.MetricsAddr(); got != "" {
		t.Fatalf("MetricsAddr after Serve: %q", got)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("the metrics listener still accepts connections")
	}
}

func TestMetricsListenFailureIsAStartupError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	a, ln := newApp(t, map[string]string{"WARDEN_METRICS_ADDR": taken.Addr().String()})
	defer a.Close()
	served := make(chan error, 1)
	go func() { served <- a.Serve(context.Background(), ln) }()
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "metrics") {
			t.Fatalf("Serve: %v, want a metrics listen error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve kept running without its metrics listener")
	}
	// The API did not start half-way: its listener is closed.
	if conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		conn.Close()
		t.Fatal("the API listener still accepts connections")
	}
}

// TestDatabasePoolSize: WARDEN_DB_MAX_CONNS replaces the pool's own size,
// as the pool's gauge shows.
func TestDatabasePoolSize(t *testing.T) {
	_, a := start(t, map[string]string{"WARDEN_METRICS_ADDR": "127.0.0.1:0", "WARDEN_DB_MAX_CONNS": "3"})
	scrapeUntil(t, "http://"+metricsAddr(t, a)+"/metrics", `warden_db_connections_max 3`)
}
