package warden_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/logtest"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// public is the explicit guard of a route anyone may call.
var public = warden.Require(guard.AllowAny)

var secret = []byte("router-test-secret-of-at-least-32-bytes!")

type fixture struct {
	srv  *httptest.Server
	logs *logtest.Buffer
	jwt  *auth.JWT
}

func newFixture(t *testing.T, cfg warden.Config, register func(*warden.Router, *auth.JWT)) *fixture {
	t.Helper()
	logs := &logtest.Buffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	r, err := warden.NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	j, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	register(r, j)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, logs: logs, jwt: j}
}

func token(t *testing.T, sub string, extra map[string]any) string {
	t.Helper()
	s := auth.Signer{Algorithm: "HS256", Key: secret}
	tok, err := s.Sign(sub, extra)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Raw
}

func (f *fixture) do(t *testing.T, method, path string, body io.Reader, headers map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	warden.WriteJSON(w, http.StatusOK, map[string]string{"path": r.URL.Path, "id": r.PathValue("id")})
})

func TestRoutingAndProblems(t *testing.T) {
	f := newFixture(t, warden.Config{}, func(r *warden.Router, _ *auth.JWT) {
		r.Get("/api/items/{id}", ok, public)
		r.Post("/api/items", ok, public)
		r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("secret internal state") }, public)
		r.Get("/teapot", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "handler's own 404", http.StatusNotFound)
		}), public)
	})
	t.Run("trailing slash is served identically", func(t *testing.T) {
		for _, p := range []string{"/api/items/7", "/api/items/7/"} {
			resp, body := f.do(t, "GET", p, nil, nil)
			if resp.StatusCode != 200 || body["id"] != "7" {
				t.Fatalf("%s: %d %v", p, resp.StatusCode, body)
			}
		}
		if resp, _ := f.do(t, "POST", "/api/items/", strings.NewReader("{}"), nil); resp.StatusCode != 200 {
			t.Fatalf("POST with slash: %d", resp.StatusCode)
		}
	})
	t.Run("unknown path is a 404 problem", func(t *testing.T) {
		resp, body := f.do(t, "GET", "/nope", nil, nil)
		if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json; charset=utf-8" || body["status"] != 404.0 || body["error"] == "" {
			t.Fatalf("%d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Fatal("security headers missing on 404")
		}
	})
	t.Run("wrong method is a 405 problem with Allow", func(t *testing.T) {
		resp, body := f.do(t, "DELETE", "/api/items/7", nil, nil)
		if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "GET") || body["status"] != 405.0 {
			t.Fatalf("%d allow=%q %v", resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	})
	t.Run("a handler's own 404 is left alone", func(t *testing.T) {
		resp, _ := f.do(t, "GET", "/teapot", nil, nil)
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
	t.Run("a panic is a logged 500 problem and the server keeps serving", func(t *testing.T) {
		resp, body := f.do(t, "GET", "/boom", nil, nil)
		if resp.StatusCode != 500 || body["status"] != 500.0 {
			t.Fatalf("%d %v", resp.StatusCode, body)
		}
		if strings.Contains(fmt.Sprint(body), "secret internal state") || strings.Contains(fmt.Sprint(body), "goroutine") {
			t.Fatal("the panic leaks into the response")
		}
		if !strings.Contains(f.logs.String(), "secret internal state") {
			t.Fatal("the panic was not logged")
		}
		if resp, _ := f.do(t, "GET", "/api/items/1", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("after panic: %d", resp.StatusCode)
		}
	})
}

func TestAccessLogRedactsSecrets(t *testing.T) {
	f := newFixture(t, warden.Config{}, func(r *warden.Router, _ *auth.JWT) { r.Get("/x", ok, public) })
	secrets := []string{"s3cr3t-bearer", "s3cr3t-cookie", "s3cr3t-apikey", "s3cr3t-query-token", "s3cr3t-query-password", "s3cr3t-ticket"}
	resp, _ := f.do(t, "GET", "/x?token=s3cr3t-query-token&password=s3cr3t-query-password&ticket=s3cr3t-ticket&page=2", nil, map[string]string{
		"Authorization": "Bearer s3cr3t-bearer",
		"Cookie":        "session=s3cr3t-cookie",
		"X-API-Key":     "s3cr3t-apikey",
	})
	id := resp.Header.Get("X-Request-Id")
	logs := f.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Fatalf("log contains %q:\n%s", s, logs)
		}
	}
	if id == "" || !strings.Contains(logs, id) || !strings.Contains(logs, "page=2") || !strings.Contains(logs, "token=REDACTED") {
		t.Fatalf("log line lacks request id or query:\n%s", logs)
	}
}

func TestRedactQuery(t *testing.T) {
	cases := map[string]string{
		"":                       "",
		"page=2":                 "page=2",
		"token=abc&page=2":       "token=REDACTED&page=2",
		"refresh_token=x":        "refresh_token=REDACTED",
		"API_KEY=x&Password=y":   "API_KEY=REDACTED&Password=REDACTED",
		"flag&ticket=t":          "flag&ticket=REDACTED",
		"client_secret=a=b":      "client_secret=REDACTED",
		"%74oken=x&pass%77ord=y": "%74oken=REDACTED&pass%77ord=REDACTED",
		// Credentials whose names say nothing of secrets.
		"jwt=eyJhbGciOiJIUzI1NiJ9.e30.sig&page=2": "jwt=REDACTED&page=2",
		"refresh=rt_abc": "refresh=REDACTED",
		"access=a&otp=123456&credential=c&bearer=b": "access=REDACTED&otp=REDACTED&credential=REDACTED&bearer=REDACTED",
		// Values of anything not known to be harmless, free text included.
		"q=hello%20world&code=1234567": "q=REDACTED&code=REDACTED",
		"cursor=b3BhcXVl&next=/x":      "cursor=REDACTED&next=REDACTED",
		"email=a%40example.com":        "email=REDACTED",
		// Harmless parameters, also percent-encoded or in another case.
		"page=1&page_size=50&per_page=5&limit=10&offset=20":     "page=1&page_size=50&per_page=5&limit=10&offset=20",
		"sort=-created&order=asc&order_by=title":                "sort=-created&order=asc&order_by=title",
		"fields=id,title&include=a&expand=b&format=json":        "fields=id,title&include=a&expand=b&format=json",
		"lang=en&visibility=public&since=2024-01-01&until=2025": "lang=en&visibility=public&since=2024-01-01&until=2025",
		"%70age=3&PAGE_SIZE=50&Sort=title":                      "%70age=3&PAGE_SIZE=50&Sort=title",
		"page=&limit":                                           "page=&limit",
		// A ';' may split the pair for a proxy: "jwt" would be a parameter.
		"page=1;jwt=eyJ": "page=REDACTED",
		// Near misses of harmless names.
		"pages=1&page%=2&%zz=3&\u017fort=x&page+=4": "pages=REDACTED&page%=REDACTED&%zz=REDACTED&\u017fort=REDACTED&page+=REDACTED",
	}
	for in, want := range cases {
		if got := warden.RedactQuery(in); got != want {
			t.Errorf("RedactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRouteOptions(t *testing.T) {
	limiter, err := ratelimit.NewMemory(ratelimit.Policy{Name: "t", Rate: 0.001, Burst: 2}, ratelimit.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, warden.Config{}, func(r *warden.Router, j *auth.JWT) {
		r.Get("/user", ok, warden.Auth(j), warden.Require(guard.IsAuthenticated), warden.NoStore())
		r.Get("/admin", ok, warden.Auth(j), warden.Require(guard.IsAdminUser))
		r.Post("/small", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var v any
			if secure.DecodeJSON(w, r, &v) {
				warden.WriteJSON(w, 200, v)
			}
		}), warden.BodyLimit(64), public)
		r.Get("/limited", ok, warden.Limit(limiter, nil), public)
	})
	user := map[string]string{"Authorization": "Bearer " + token(t, "1", nil)}

	resp, _ := f.do(t, "GET", "/user", nil, nil)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("anonymous: %d", resp.StatusCode)
	}
	resp, _ = f.do(t, "GET", "/user", nil, user)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("user: %d cache-control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if resp, _ = f.do(t, "GET", "/admin", nil, user); resp.StatusCode != 403 {
		t.Fatalf("non-admin: %d", resp.StatusCode)
	}
	admin := map[string]string{"Authorization": "Bearer " + token(t, "2", map[string]any{"is_admin": true})}
	if resp, _ = f.do(t, "GET", "/admin", nil, admin); resp.StatusCode != 200 {
		t.Fatalf("admin: %d", resp.StatusCode)
	}

	jsonCT := map[string]string{"Content-Type": "application/json"}
	if resp, _ = f.do(t, "POST", "/small", strings.NewReader(`{"a":1}`), jsonCT); resp.StatusCode != 200 {
		t.Fatalf("small body: %d", resp.StatusCode)
	}
	if resp, _ = f.do(t, "POST", "/small", strings.NewReader(`{"a":"`+strings.Repeat("x", 100)+`"}`), jsonCT); resp.StatusCode != 413 {
		t.Fatalf("large body: %d", resp.StatusCode)
	}

	// The client's X-Forwarded-For is not believed from an untrusted peer,
	// so rotating it does not buy a fresh bucket.
	for i := range 2 {
		if resp, _ = f.do(t, "GET", "/limited", nil, map[string]string{"X-Forwarded-For": fmt.Sprintf("10.0.0.%d", i)}); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ = f.do(t, "GET", "/limited", nil, map[string]string{"X-Forwarded-For": "10.9.9.9", "X-Real-IP": "10.8.8.8"})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit") == "" || resp.Header.Get("RateLimit-Policy") == "" {
		t.Fatalf("spoofed XFF: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestHeaderLimitsThroughTheRouter(t *testing.T) {
	f := newFixture(t, warden.Config{}, func(r *warden.Router, _ *auth.JWT) { r.Get("/x", ok, public) })
	many := map[string]string{}
	for i := range 101 {
		many[fmt.Sprintf("X-H-%d", i)] = "v"
	}
	if resp, _ := f.do(t, "GET", "/x", nil, many); resp.StatusCode != 431 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("101 headers: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := f.do(t, "GET", "/x", nil, map[string]string{"X-Big": strings.Repeat("a", 8193)}); resp.StatusCode != 431 {
		t.Fatalf("8193-byte value: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/x", nil, map[string]string{"X-Big": strings.Repeat("a", 4000)}); resp.StatusCode != 200 {
		t.Fatalf("4000-byte value: %d", resp.StatusCode)
	}
}

func TestCORSPerRoute(t *testing.T) {
	global, err := secure.NewCORS(secure.CORSPolicy{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	partner, err := secure.NewCORS(secure.CORSPolicy{AllowedOrigins: []string{"https://partner.example.org"}, AllowCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, warden.Config{CORS: global}, func(r *warden.Router, _ *auth.JWT) {
		r.Get("/a", ok, public)
		r.Patch("/a", ok, public)
		r.Get("/partner", ok, warden.CORS(partner), public)
		r.Get("/private", ok, warden.CORS(nil), public)
	})
	cases := []struct {
		name, method, path, origin string
		reqMethod                  string
		wantOrigin                 string
		wantStatus                 int
	}{
		{"global origin on a default route", "GET", "/a", "https://app.example.com", "", "https://app.example.com", 200},
		{"unlisted origin gets nothing", "GET", "/a", "https://evil.example", "", "", 200},
		{"suffix trick", "GET", "/a", "https://app.example.com.evil.net", "", "", 200},
		{"prefix trick", "GET", "/a", "https://evilapp.example.com", "", "", 200},
		{"null origin", "GET", "/a", "null", "", "", 200},
		{"http instead of https", "GET", "/a", "http://app.example.com", "", "", 200},
		{"preflight for PATCH", "OPTIONS", "/a", "https://app.example.com", "PATCH", "https://app.example.com", 204},
		{"preflight from an unlisted origin", "OPTIONS", "/a", "https://evil.example", "PATCH", "", 204},
		{"override replaces the global policy", "GET", "/partner", "https://app.example.com", "", "", 200},
		{"override allows its own origin", "GET", "/partner", "https://partner.example.org", "", "https://partner.example.org", 200},
		{"CORS(nil) disables cross-origin access", "GET", "/private", "https://app.example.com", "", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Origin": tc.origin}
			if tc.reqMethod != "" {
				h["Access-Control-Request-Method"] = tc.reqMethod
			}
			resp, _ := f.do(t, tc.method, tc.path, nil, h)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tc.wantOrigin)
			}
			if tc.wantOrigin == "" {
				for k := range resp.Header {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Fatalf("CORS header %s sent to a refused origin", k)
					}
				}
			}
		})
	}
	resp, _ := f.do(t, "GET", "/partner", nil, map[string]string{"Origin": "https://partner.example.org"})
	if resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatal("credentials flag missing")
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
		t.Fatal("Vary: Origin missing")
	}
}

func TestConflictingCORSOnOnePathPanicsAtRegistration(t *testing.T) {
	a, _ := secure.NewCORS(secure.CORSPolicy{AllowedOrigins: []string{"https://a.example"}})
	b, _ := secure.NewCORS(secure.CORSPolicy{AllowedOrigins: []string{"https://b.example"}})
	r, err := warden.NewRouter(warden.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.Get("/x", ok, warden.CORS(a), public)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	r.Post("/x", ok, warden.CORS(b), public)
}

func TestStreamingThroughThePipeline(t *testing.T) {
	f := newFixture(t, warden.Config{}, func(r *warden.Router, _ *auth.JWT) {
		r.Get("/stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Error(err)
				}
			}
		}), public)
	})
	resp, err := f.srv.Client().Get(f.srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "data: 2") {
		t.Fatalf("body %q", b)
	}
}
