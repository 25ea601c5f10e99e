package secure_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

var wantSecurityHeaders = map[string]string{
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Referrer-Policy":              "no-referrer",
	"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
}

func mustHeaders(t testing.TB, o secure.HeaderOptions) *secure.Headers {
	t.Helper()
	h, err := secure.NewHeaders(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHeadersOnEveryResponse(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	mux.HandleFunc("GET /problem", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, http.StatusForbidden, "No.")
	})
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mustHeaders(t, secure.HeaderOptions{}).Handler(mux))
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	for _, path := range []string{"/ok", "/problem", "/error", "/redirect", "/empty", "/not-found", "/ok/"} {
		t.Run(path, func(t *testing.T) {
			for _, method := range []string{"GET", "POST", "HEAD"} {
				req, _ := http.NewRequest(method, srv.URL+path, nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				for k, v := range wantSecurityHeaders {
					if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
						t.Errorf("%s %s: %s = %q, want %q", method, path, k, got, v)
					}
				}
				if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
					t.Errorf("%s %s: HSTS %q on plain HTTP outside production", method, path, got)
				}
			}
		})
	}
}

func TestHSTSConditions(t *testing.T) {
	tp := mustProxies(t, "10.0.0.0/8")
	const twoYears = "max-age=63072000; includeSubDomains"
	tests := []struct {
		name   string
		opts   secure.HeaderOptions
		remote string
		tls    bool
		proto  string
		want   string
	}{
		{name: "plain HTTP in development has none", remote: "203.0.113.1:1"},
		{name: "production always has it", opts: secure.HeaderOptions{Production: true}, remote: "203.0.113.1:1", want: twoYears},
		{name: "TLS connection has it", remote: "203.0.113.1:1", tls: true, want: twoYears},
		{name: "trusted proxy reporting https has it", opts: secure.HeaderOptions{TrustedProxies: tp}, remote: "10.1.1.1:1", proto: "https", want: twoYears},
		{name: "trusted proxy reporting http has none", opts: secure.HeaderOptions{TrustedProxies: tp}, remote: "10.1.1.1:1", proto: "http"},
		{name: "forged X-Forwarded-Proto from an untrusted peer is ignored", opts: secure.HeaderOptions{TrustedProxies: tp}, remote: "203.0.113.1:1", proto: "https"},
		{name: "X-Forwarded-Proto without configured proxies is ignored", remote: "10.1.1.1:1", proto: "https"},
		{name: "custom max-age", opts: secure.HeaderOptions{Production: true, HSTSMaxAge: 24 * time.Hour}, remote: "203.0.113.1:1", want: "max-age=86400; includeSubDomains"},
		{name: "preload", opts: secure.HeaderOptions{Production: true, HSTSPreload: true}, remote: "203.0.113.1:1", want: twoYears + "; preload"},
		{name: "preload with one year", opts: secure.HeaderOptions{Production: true, HSTSPreload: true, HSTSMaxAge: secure.MinHSTSPreloadMaxAge}, remote: "203.0.113.1:1", want: "max-age=31536000; includeSubDomains; preload"},
		{name: "preload is never sent over plain HTTP in development", opts: secure.HeaderOptions{HSTSPreload: true}, remote: "203.0.113.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustHeaders(t, tt.opts).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			r.TLS = nil
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Header().Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("HSTS = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHeadersHandlerMayOverride(t *testing.T) {
	s := mustHeaders(t, secure.HeaderOptions{})
	h := s.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		w.Header().Add("X-Frame-Options", "SAMEORIGIN")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if got := w.Header().Get("Cross-Origin-Resource-Policy"); got != "cross-origin" {
		t.Errorf("CORP = %q", got)
	}
	// Add must copy the shared slice, not write into it: another
	// response still gets exactly one X-Frame-Options.
	w2 := httptest.NewRecorder()
	s.Handler(http.NotFoundHandler()).ServeHTTP(w2, httptest.NewRequest("GET", "/", nil))
	if got := w2.Header().Values("X-Frame-Options"); len(got) != 1 || got[0] != "DENY" {
		t.Errorf("second response X-Frame-Options = %q: shared header slice was modified", got)
	}
}

func TestNewHeadersOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    secure.HeaderOptions
		errPart string
		wantCSP string
	}{
		{name: "zero value is the default policy", wantCSP: secure.DefaultCSP},
		{name: "custom CSP is used verbatim", opts: secure.HeaderOptions{CSP: "default-src 'self'"}, wantCSP: "default-src 'self'"},
		{name: "CSP with a line break is refused", opts: secure.HeaderOptions{CSP: "default-src 'self'\r\nSet-Cookie: a=b"}, errPart: "not printable ASCII"},
		{name: "CSP with non-ASCII is refused", opts: secure.HeaderOptions{CSP: "default-src 'self' https://exämple.com"}, errPart: "not printable ASCII"},
		{name: "CSP with surrounding spaces is refused", opts: secure.HeaderOptions{CSP: " default-src 'self'"}, errPart: "spaces"},
		{name: "negative HSTS max-age is refused", opts: secure.HeaderOptions{HSTSMaxAge: -time.Second}, errPart: "below one second"},
		{name: "sub-second HSTS max-age is refused", opts: secure.HeaderOptions{HSTSMaxAge: time.Millisecond}, errPart: "below one second"},
		// The preload list rejects max-age under a year; a header it would
		// reject is refused at start-up instead.
		{name: "preload with a short max-age is refused", opts: secure.HeaderOptions{HSTSPreload: true, HSTSMaxAge: 364 * 24 * time.Hour}, errPart: "at least one year"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := secure.NewHeaders(tt.opts)
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.Handler(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if got := w.Header().Get("Content-Security-Policy"); got != tt.wantCSP {
				t.Errorf("CSP = %q, want %q", got, tt.wantCSP)
			}
		})
	}
}

func TestNilHeadersUsesDefaults(t *testing.T) {
	var h *secure.Headers
	w := httptest.NewRecorder()
	h.Handler(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	for k, v := range wantSecurityHeaders {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestNoStore(t *testing.T) {
	h := secure.NoStore(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, http.StatusUnauthorized, "Log in.")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/api/auth/login", nil))
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := w.Header().Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q", got)
	}
}
