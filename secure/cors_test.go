package secure_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/cors"

	"github.com/wardenhq/warden/secure"
)

const appOrigin = "https://app.example.com"

func mustCORS(t testing.TB, p secure.CORSPolicy) *secure.CORS {
	t.Helper()
	c, err := secure.NewCORS(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// accessControl returns every Access-Control-* response header.
func accessControl(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = v
		}
	}
	return out
}

func varies(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

// corsServer serves a CORS-wrapped handler that answers 200 "handler" and
// records whether it ran.
func corsServer(t *testing.T, c *secure.CORS) (*httptest.Server, *bool) {
	t.Helper()
	reached := new(bool)
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*reached = true
		w.Write([]byte("handler"))
	})))
	t.Cleanup(srv.Close)
	return srv, reached
}

func TestCORSActualRequests(t *testing.T) {
	c := mustCORS(t, secure.CORSPolicy{
		AllowedOrigins: []string{appOrigin, "http://localhost:3000"},
		ExposedHeaders: []string{"RateLimit", "Retry-After"},
	})
	srv, _ := corsServer(t, c)
	tests := []struct {
		name     string
		method   string
		origins  []string // Origin fields to send
		wantACAO string   // "" means no Access-Control-* header at all
	}{
		{name: "allowed origin is echoed exactly", origins: []string{appOrigin}, wantACAO: appOrigin},
		{name: "allowed http origin with port", origins: []string{"http://localhost:3000"}, wantACAO: "http://localhost:3000"},
		{name: "allowed origin on POST", method: "POST", origins: []string{appOrigin}, wantACAO: appOrigin},
		{name: "unlisted origin gets nothing", origins: []string{"https://evil.net"}},
		{name: "suffix trick gets nothing", origins: []string{"https://app.example.com.evil.net"}},
		{name: "prefix trick gets nothing", origins: []string{"https://evilapp.example.com"}},
		{name: "subdomain gets nothing", origins: []string{"https://x.app.example.com"}},
		{name: "parent domain gets nothing", origins: []string{"https://example.com"}},
		{name: "other port gets nothing", origins: []string{"https://app.example.com:8443"}},
		{name: "http instead of https gets nothing", origins: []string{"http://app.example.com"}},
		{name: "https instead of http gets nothing", origins: []string{"https://localhost:3000"}},
		{name: "null gets nothing", origins: []string{"null"}},
		{name: "upper case gets nothing (no browser sends it)", origins: []string{"HTTPS://APP.EXAMPLE.COM"}},
		{name: "trailing slash gets nothing", origins: []string{appOrigin + "/"}},
		{name: "explicit default port gets nothing", origins: []string{appOrigin + ":443"}},
		{name: "two Origin fields get nothing", origins: []string{appOrigin, appOrigin}},
		{name: "allowed origin listed after another gets nothing", origins: []string{"https://evil.net", appOrigin}},
		{name: "comma-joined origins get nothing", origins: []string{appOrigin + ", https://evil.net"}},
		{name: "no Origin gets nothing", origins: nil},
		{name: "wildcard Origin gets nothing", origins: []string{"*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, srv.URL, nil)
			for _, o := range tt.origins {
				req.Header.Add("Origin", o)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d", resp.StatusCode)
			}
			if !varies(resp.Header, "Origin") {
				t.Errorf("Vary = %q, want Origin on every response", resp.Header.Values("Vary"))
			}
			ac := accessControl(resp.Header)
			if tt.wantACAO == "" {
				if len(ac) != 0 {
					t.Errorf("unexpected CORS headers %v", ac)
				}
				return
			}
			if got := resp.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != tt.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.wantACAO)
			}
			if got := resp.Header.Get("Access-Control-Expose-Headers"); got != "Ratelimit, Retry-After" {
				t.Errorf("Access-Control-Expose-Headers = %q", got)
			}
			if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("credentials allowed without AllowCredentials: %q", got)
			}
		})
	}
}

func TestCORSCredentials(t *testing.T) {
	for _, allow := range []bool{false, true} {
		c := mustCORS(t, secure.CORSPolicy{AllowedOrigins: []string{appOrigin}, AllowCredentials: allow})
		srv, _ := corsServer(t, c)
		for _, origin := range []string{appOrigin, "https://evil.net"} {
			for _, preflight := range []bool{false, true} {
				req, _ := http.NewRequest("GET", srv.URL, nil)
				if preflight {
					req.Method = "OPTIONS"
					req.Header.Set("Access-Control-Request-Method", "POST")
				}
				req.Header.Set("Origin", origin)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := ""
				if allow && origin == appOrigin {
					want = "true"
				}
				if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != want {
					t.Errorf("AllowCredentials=%v origin=%s preflight=%v: Allow-Credentials = %q, want %q", allow, origin, preflight, got, want)
				}
			}
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	c := mustCORS(t, secure.CORSPolicy{
		AllowedOrigins: []string{appOrigin},
		AllowedMethods: []string{"GET", "POST", "PATCH"},
		AllowedHeaders: []string{"Content-Type", "Authorization"},
		MaxAge:         5 * time.Minute,
	})
	srv, reached := corsServer(t, c)
	tests := []struct {
		name    string
		origin  string
		method  string
		headers string
		allowed bool
	}{
		{name: "allowed origin, method and headers", origin: appOrigin, method: "PATCH", headers: "authorization,content-type", allowed: true},
		{name: "allowed without request headers", origin: appOrigin, method: "POST", allowed: true},
		{name: "unlisted origin gets no CORS headers", origin: "https://evil.net", method: "POST"},
		{name: "null origin gets no CORS headers", origin: "null", method: "POST"},
		{name: "suffix trick gets no CORS headers", origin: "https://app.example.com.evil.net", method: "POST"},
		{name: "disallowed method", origin: appOrigin, method: "DELETE"},
		{name: "lower-case method is a different method", origin: appOrigin, method: "patch"},
		{name: "disallowed header", origin: appOrigin, method: "POST", headers: "x-evil"},
		{name: "one disallowed header among allowed ones", origin: appOrigin, method: "POST", headers: "authorization,content-type,x-evil"},
		{name: "no origin", method: "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			*reached = false
			req, _ := http.NewRequest("OPTIONS", srv.URL+"/api/books", nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			req.Header.Set("Access-Control-Request-Method", tt.method)
			if tt.headers != "" {
				req.Header.Set("Access-Control-Request-Headers", tt.headers)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("status = %d, want 204", resp.StatusCode)
			}
			if *reached {
				t.Error("preflight reached the handler")
			}
			for _, v := range []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"} {
				if !varies(resp.Header, v) {
					t.Errorf("Vary = %q, want %s", resp.Header.Values("Vary"), v)
				}
			}
			ac := accessControl(resp.Header)
			if !tt.allowed {
				if len(ac) != 0 {
					t.Errorf("unexpected CORS headers %v", ac)
				}
				return
			}
			want := http.Header{
				"Access-Control-Allow-Origin":  {appOrigin},
				"Access-Control-Allow-Methods": {tt.method},
				"Access-Control-Max-Age":       {"300"},
			}
			if tt.headers != "" {
				want["Access-Control-Allow-Headers"] = []string{tt.headers}
			}
			for k, v := range want {
				if !slices.Equal(ac[k], v) {
					t.Errorf("%s = %q, want %q", k, ac[k], v)
				}
			}
			if len(ac) != len(want) {
				t.Errorf("CORS headers %v, want exactly %v", ac, want)
			}
		})
	}
}

func TestCORSDefaults(t *testing.T) {
	c := mustCORS(t, secure.CORSPolicy{AllowedOrigins: []string{appOrigin}})
	srv, _ := corsServer(t, c)
	req, _ := http.NewRequest("OPTIONS", srv.URL, nil)
	req.Header.Set("Origin", appOrigin)
	req.Header.Set("Access-Control-Request-Method", "DELETE")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != appOrigin {
		t.Errorf("default methods/headers refused DELETE with authorization: ACAO %q", got)
	}
	if got := resp.Header.Get("Access-Control-Max-Age"); got != "600" {
		t.Errorf("Access-Control-Max-Age = %q, want 600", got)
	}
}

func TestCORSWithoutOriginsAddsNothing(t *testing.T) {
	for name, c := range map[string]*secure.CORS{
		"empty policy": mustCORS(t, secure.CORSPolicy{AllowCredentials: true}),
		"nil":          nil,
	} {
		t.Run(name, func(t *testing.T) {
			srv, reached := corsServer(t, c)
			for _, method := range []string{"GET", "OPTIONS"} {
				*reached = false
				req, _ := http.NewRequest(method, srv.URL, nil)
				req.Header.Set("Origin", appOrigin)
				req.Header.Set("Access-Control-Request-Method", "POST")
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if ac := accessControl(resp.Header); len(ac) != 0 {
					t.Errorf("%s: CORS headers %v", method, ac)
				}
				if !*reached {
					t.Errorf("%s: handler not reached", method)
				}
			}
			if c.AllowsOrigin(appOrigin) || len(c.Origins()) != 0 {
				t.Error("origin allowed")
			}
		})
	}
}

func TestNewCORSRefuses(t *testing.T) {
	tests := []struct {
		name    string
		policy  secure.CORSPolicy
		errPart string
	}{
		{name: "star", policy: secure.CORSPolicy{AllowedOrigins: []string{"*"}}, errPart: "wildcards are not allowed"},
		{name: "star with credentials", policy: secure.CORSPolicy{AllowedOrigins: []string{"*"}, AllowCredentials: true}, errPart: "wildcards are not allowed"},
		{name: "subdomain wildcard", policy: secure.CORSPolicy{AllowedOrigins: []string{"https://*.a.com"}}, errPart: "wildcards are not allowed"},
		{name: "null", policy: secure.CORSPolicy{AllowedOrigins: []string{"null"}}, errPart: `"null" origin`},
		{name: "trailing slash", policy: secure.CORSPolicy{AllowedOrigins: []string{"https://a.com/"}}, errPart: "remove the trailing slash"},
		{name: "path", policy: secure.CORSPolicy{AllowedOrigins: []string{"https://a.com/path"}}, errPart: "no path"},
		{name: "ftp", policy: secure.CORSPolicy{AllowedOrigins: []string{"ftp://a.com"}}, errPart: "scheme must be https or http"},
		{name: "bare host", policy: secure.CORSPolicy{AllowedOrigins: []string{"a.com"}}, errPart: "scheme://host[:port]"},
		{name: "empty entry", policy: secure.CORSPolicy{AllowedOrigins: []string{""}}, errPart: "empty"},
		{name: "names the bad entry's index", policy: secure.CORSPolicy{AllowedOrigins: []string{"https://ok.com", "https://a.com/"}}, errPart: "AllowedOrigins[1]"},
		{name: "star method", policy: secure.CORSPolicy{AllowedMethods: []string{"*"}}, errPart: `AllowedMethods[0]: "*"`},
		{name: "lower-case well-known method", policy: secure.CORSPolicy{AllowedMethods: []string{"patch"}}, errPart: "write PATCH"},
		{name: "TRACE", policy: secure.CORSPolicy{AllowedMethods: []string{"TRACE"}}, errPart: "never send TRACE"},
		{name: "method with space", policy: secure.CORSPolicy{AllowedMethods: []string{"GET POST"}}, errPart: "not a method name"},
		{name: "star header", policy: secure.CORSPolicy{AllowedHeaders: []string{"*"}}, errPart: `AllowedHeaders[0]: "*"`},
		{name: "header with colon", policy: secure.CORSPolicy{AllowedHeaders: []string{"X-A:"}}, errPart: "not a header name"},
		{name: "star exposed header", policy: secure.CORSPolicy{ExposedHeaders: []string{"*"}}, errPart: `ExposedHeaders[0]: "*"`},
		{name: "negative max age", policy: secure.CORSPolicy{MaxAge: -time.Second}, errPart: "MaxAge"},
		{name: "fractional max age", policy: secure.CORSPolicy{MaxAge: 1500 * time.Millisecond}, errPart: "whole number of seconds"},
		{name: "too long max age", policy: secure.CORSPolicy{MaxAge: 48 * time.Hour}, errPart: "at most 24h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := secure.NewCORS(tt.policy)
			if err == nil {
				t.Fatalf("accepted; origins %v", c.Origins())
			}
			if !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("err = %q, want it to contain %q", err, tt.errPart)
			}
		})
	}
}

func TestNewCORSReportsEveryProblem(t *testing.T) {
	_, err := secure.NewCORS(secure.CORSPolicy{
		AllowedOrigins: []string{"*", "https://ok.com", "null"},
		AllowedHeaders: []string{"*"},
	})
	if !errors.Is(err, secure.ErrInvalidOrigin) {
		t.Errorf("err %v does not wrap ErrInvalidOrigin", err)
	}
	for _, part := range []string{"AllowedOrigins[0]", "AllowedOrigins[2]", "AllowedHeaders[0]"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("err = %v, want it to mention %s", err, part)
		}
	}
}

func TestNewCORSNormalisesAndMergesOrigins(t *testing.T) {
	c := mustCORS(t, secure.CORSPolicy{AllowedOrigins: []string{
		"https://App.Example.COM", "https://app.example.com:443", "HTTP://localhost:3000", "https://app.example.com",
	}})
	want := []string{"https://app.example.com", "http://localhost:3000"}
	if got := c.Origins(); !slices.Equal(got, want) {
		t.Errorf("Origins = %q, want %q", got, want)
	}
	if !c.AllowsOrigin("https://app.example.com") || c.AllowsOrigin("https://App.Example.COM") {
		t.Error("AllowsOrigin must match the normal form exactly")
	}
}

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"https://example.com", "https://example.com"},
		{"HTTPS://EXAMPLE.com", "https://example.com"},
		{"https://example.com:443", "https://example.com"},
		{"http://example.com:80", "http://example.com"},
		{"http://example.com:443", "http://example.com:443"},
		{"https://example.com:8443", "https://example.com:8443"},
		{"https://example.com:08443", "https://example.com:8443"},
		{"http://localhost", "http://localhost"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://[0:0::1]", "http://[::1]"},
		{"http://[2001:DB8::1]", "http://[2001:db8::1]"},
		{"https://xn--bcher-kva.example", "https://xn--bcher-kva.example"},
		{"https://a-b.c0", "https://a-b.c0"},
		{"", ""},
		{"*", ""},
		{"null", ""},
		{"NULL", ""},
		{"https://*.example.com", ""},
		{"https://example.*", ""},
		{"https://example.com/", ""},
		{"https://example.com/path", ""},
		{"https://example.com?q", ""},
		{"https://example.com#f", ""},
		{"https://example.com\\", ""},
		{"https://user@example.com", ""},
		{"https://user:pw@example.com", ""},
		{"ftp://example.com", ""},
		{"file://example.com", ""},
		{"javascript://example.com", ""},
		{"//example.com", ""},
		{"example.com", ""},
		{"https://", ""},
		{"https://:443", ""},
		{"https://example.com:", ""},
		{"https://example.com:0", ""},
		{"https://example.com:65536", ""},
		{"https://example.com:-1", ""},
		{"https://example.com:+1", ""},
		{"https://example.com:1:2", ""},
		{"https://example.com.", ""},
		{"https://.example.com", ""},
		{"https://exa..mple.com", ""},
		{"https://-example.com", ""},
		{"https://example-.com", ""},
		{"https://ex_ample.com", ""},
		{"https://bücher.example", ""},
		{"https://exa mple.com", ""},
		{" https://example.com", ""},
		{"https://example.com\n", ""},
		{"https://" + strings.Repeat("a", 64) + ".com", ""},
		{"https://example.123", ""},
		{"https://0x7f.1", ""},
		{"https://127.1", ""},
		{"https://127.000.0.1", ""},
		{"https://999.1.1.1", ""},
		{"https://[::ffff:1.2.3.4]", ""},
		{"https://[fe80::1%25eth0]", ""},
		{"https://[::1", ""},
		{"https://[::1]x", ""},
		{"https://[1.2.3.4]", ""},
		{"https://::1", ""},
	}
	for _, tt := range tests {
		got, err := secure.ParseOrigin(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseOrigin(%q) = %q, want an error", tt.in, got)
			} else if !errors.Is(err, secure.ErrInvalidOrigin) {
				t.Errorf("ParseOrigin(%q) error %v does not wrap ErrInvalidOrigin", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestRSCorsAloneIsNotStrict pins the rs/cors v1.11.1 behaviours that
// NewCORS works around, so that an upgrade that changes them is noticed.
func TestRSCorsAloneIsNotStrict(t *testing.T) {
	serve := func(c *cors.Cors, origins ...string) http.Header {
		h := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest("GET", "/", nil)
		for _, o := range origins {
			r.Header.Add("Origin", o)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Header()
	}
	listed := cors.New(cors.Options{AllowedOrigins: []string{appOrigin}})

	// It matches case-insensitively and echoes the request's spelling.
	if got := serve(listed, "HTTPS://APP.EXAMPLE.COM").Get("Access-Control-Allow-Origin"); got != "HTTPS://APP.EXAMPLE.COM" {
		t.Errorf("rs/cors no longer echoes a case-folded match (got %q); the origin function may be simplified", got)
	}
	// With several Origin fields it echoes all of them.
	if got := serve(listed, appOrigin, "https://evil.net").Values("Access-Control-Allow-Origin"); len(got) != 2 {
		t.Errorf("rs/cors with two Origin fields echoed %q", got)
	}
	// An empty list allows every origin.
	if got := serve(cors.New(cors.Options{}), "https://evil.net").Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("rs/cors with no origins sent %q", got)
	}
	// It rejects "null" unless listed, and adds Vary without an Origin.
	if got := accessControl(serve(listed, "null")); len(got) != 0 {
		t.Errorf("rs/cors answered null with %v", got)
	}
	if got := serve(listed); !varies(got, "Origin") {
		t.Errorf("rs/cors without Origin: Vary %q", got.Values("Vary"))
	}
}
