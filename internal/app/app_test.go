package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/config"
)

const apiKey = "wdn_ci_0123456789abcdef0123456789abcdef"

// newApp builds an App from the test defaults and extra settings, and a
// loopback listener for it.
func newApp(t *testing.T, extra map[string]string) (*app.App, net.Listener) {
	t.Helper()
	vars := map[string]string{
		"WARDEN_DATA_DIR":             t.TempDir(),
		"WARDEN_API_KEYS":             "ci:" + apiKey + ":demo.read",
		"WARDEN_CORS_ALLOWED_ORIGINS": "https://app.example.com",
	}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return a, ln
}

// start serves a real App on a loopback port until the test ends.
func start(t *testing.T, extra map[string]string) (string, *app.App) {
	t.Helper()
	a, ln := newApp(t, extra)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return "http://" + ln.Addr().String(), a
}

func call(t *testing.T, method, url string, headers map[string]string, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func TestDemoRoutesEndToEnd(t *testing.T) {
	base, a := start(t, nil)
	tok, err := a.Signer().Sign("alice", map[string]any{"permissions": []string{"demo.read"}})
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok.Raw}
	plain, err := a.Signer().Sign("bob", nil)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		want    int
		user    string
	}{
		{"health", "GET", "/healthz", nil, 200, ""},
		{"ready", "GET", "/readyz", nil, 200, ""},
		{"public", "GET", "/api/demo/public", nil, 200, ""},
		{"jwt route anonymous", "GET", "/api/demo/jwt", nil, 401, ""},
		{"jwt route with token", "GET", "/api/demo/jwt", bearer, 200, "alice"},
		{"jwt route refuses an API key", "GET", "/api/demo/jwt", map[string]string{"X-API-Key": apiKey}, 401, ""},
		{"apikey route with key", "GET", "/api/demo/apikey", map[string]string{"X-API-Key": apiKey}, 200, "apikey:ci"},
		{"apikey route refuses a token", "GET", "/api/demo/apikey", bearer, 401, ""},
		{"apikey route with a wrong key", "GET", "/api/demo/apikey", map[string]string{"X-API-Key": apiKey + "x"}, 401, ""},
		{"permission with token", "GET", "/api/demo/permission", bearer, 200, "alice"},
		{"permission with key", "GET", "/api/demo/permission", map[string]string{"X-API-Key": apiKey}, 200, "apikey:ci"},
		{"permission missing", "GET", "/api/demo/permission", map[string]string{"Authorization": "Bearer " + plain.Raw}, 403, ""},
		{"admin refused", "GET", "/api/demo/admin", bearer, 403, ""},
		{"echo", "POST", "/api/demo/echo", map[string]string{"Content-Type": "application/json"}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := call(t, tc.method, base+tc.path, tc.headers, `{"a":1}`)
			if status != tc.want {
				t.Fatalf("status %d, want %d (%v)", status, tc.want, body)
			}
			if tc.user != "" && body["user_id"] != tc.user {
				t.Fatalf("user %v, want %s", body["user_id"], tc.user)
			}
		})
	}

	t.Run("echo body limit", func(t *testing.T) {
		status, _, _ := call(t, "POST", base+"/api/demo/echo", map[string]string{"Content-Type": "application/json"}, `"`+strings.Repeat("x", 2000)+`"`)
		if status != 413 {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		var last int
		var hdr http.Header
		for range 7 {
			last, hdr, _ = call(t, "GET", base+"/api/demo/limited", nil, "")
		}
		if last != 429 || hdr.Get("Retry-After") == "" {
			t.Fatalf("status %d", last)
		}
	})
	t.Run("cors", func(t *testing.T) {
		_, hdr, _ := call(t, "OPTIONS", base+"/api/demo/jwt", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}, "")
		if hdr.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("preflight headers %v", hdr)
		}
	})
	t.Run("revoking a token refuses it on the next request", func(t *testing.T) {
		own, _ := a.Signer().Sign("carol", nil)
		h := map[string]string{"Authorization": "Bearer " + own.Raw}
		if status, _, _ := call(t, "POST", base+"/api/demo/logout", h, ""); status != 200 {
			t.Fatalf("logout %d", status)
		}
		if status, _, body := call(t, "GET", base+"/api/demo/jwt", h, ""); status != 401 || !strings.Contains(body["detail"].(string), "revoked") {
			t.Fatalf("after logout %d %v", status, body)
		}
	})
}

func TestProductionRefusesToStartWithoutASecret(t *testing.T) {
	_, err := config.Load(nil, func(k string) (string, bool) {
		v, ok := map[string]string{"WARDEN_ENV": "production", "WARDEN_PUBLIC_URL": "https://x.example"}[k]
		return v, ok
	})
	if err == nil || !strings.Contains(err.Error(), "WARDEN_SECRET_KEY") {
		t.Fatalf("err %v", err)
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	a, ln := newApp(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	// A request whose body is still arriving when shutdown begins.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/api/demo/echo", pr)
	req.Header.Set("Content-Type", "application/json")
	answered := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	if _, err := pw.Write([]byte(`{"slow":`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server start the handler
	cancel()
	time.Sleep(100 * time.Millisecond) // shutdown is now waiting for the request
	if _, err := pw.Write([]byte(`true}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if status := <-answered; status != 200 {
		t.Fatalf("in-flight request: status %d", status)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	a.Close()
}
