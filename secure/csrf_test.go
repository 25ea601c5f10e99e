package secure_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden/secure"
)

const sessionCookie = "__Host-app_session"

func mustCSRF(t testing.TB, o secure.CSRFOptions) *secure.CSRF {
	t.Helper()
	c, err := secure.NewCSRF(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCSRFMiddleware drives a real server behind CSRF.Middleware with the
// requests browsers (and other clients) send.
func TestCSRFMiddleware(t *testing.T) {
	c := mustCSRF(t, secure.CSRFOptions{TrustedOrigins: []string{"https://App.Example.com:443"}, Cookies: []string{sessionCookie}})
	reached := 0
	srv := httptest.NewServer(c.Middleware(slog.New(slog.NewTextHandler(io.Discard, nil)))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()
	self := srv.URL // http://127.0.0.1:port: the origin a page of this server has
	cookie := sessionCookie + "=v"

	tests := []struct {
		name    string
		method  string
		headers []string // name, value pairs; "Cookie" for the session
		want    int
	}{
		{"same-origin fetch", "POST", []string{"Cookie", cookie, "Sec-Fetch-Site", "same-origin", "Origin", self}, 204},
		{"user-typed navigation", "POST", []string{"Cookie", cookie, "Sec-Fetch-Site", "none"}, 204},
		{"cross-site form post", "POST", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, 403},
		{"same-site but another origin", "POST", []string{"Cookie", cookie, "Sec-Fetch-Site", "same-site", "Origin", "https://blog.example.com"}, 403},
		{"cross-site from a trusted origin", "PATCH", []string{"Cookie", cookie, "Sec-Fetch-Site", "same-site", "Origin", "https://app.example.com"}, 204},
		{"old browser, Origin is the host", "POST", []string{"Cookie", cookie, "Origin", self}, 204},
		{"old browser, trusted Origin", "DELETE", []string{"Cookie", cookie, "Origin", "https://app.example.com"}, 204},
		{"old browser, another Origin", "POST", []string{"Cookie", cookie, "Origin", "https://evil.example"}, 403},
		{"opaque origin (sandboxed frame)", "POST", []string{"Cookie", cookie, "Origin", "null"}, 403},
		{"unknown Sec-Fetch-Site value", "POST", []string{"Cookie", cookie, "Sec-Fetch-Site", "elsewhere"}, 403},
		{"neither header", "POST", []string{"Cookie", cookie}, 403},
		{"neither header, PUT", "PUT", []string{"Cookie", cookie}, 403},
		{"neither header, custom method", "PURGE", []string{"Cookie", cookie}, 403},
		{"empty headers count as none", "POST", []string{"Cookie", cookie, "Sec-Fetch-Site", "", "Origin", ""}, 403},
		{"origin differing only in scheme is still trusted only exactly", "POST", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", "http://app.example.com"}, 403},
		{"session cookie among others", "POST", []string{"Cookie", "theme=dark; " + cookie + "; x=1", "Sec-Fetch-Site", "cross-site"}, 403},
		{"cross-site GET is a safe method", "GET", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site"}, 204},
		{"cross-site HEAD", "HEAD", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site"}, 204},
		{"cross-site OPTIONS (preflight)", "OPTIONS", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site"}, 204},
		{"bearer request without headers", "POST", []string{"Authorization", "Bearer abc"}, 204},
		{"API key request without headers", "DELETE", []string{"X-API-Key", "k"}, 204},
		{"another cookie only", "POST", []string{"Cookie", "theme=dark"}, 204},
		{"cookie name differing in case", "POST", []string{"Cookie", strings.ToLower(sessionCookie) + "=v"}, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+"/api/x", nil)
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			before := reached
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 403 {
				if reached != before {
					t.Error("the handler ran for a refused request")
				}
				var p map[string]any
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
					t.Errorf("content type %q", ct)
				}
				if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p["status"] != float64(403) {
					t.Errorf("problem %v %v", p, err)
				}
			}
		})
	}

	// Repeated headers: a browser sends each once.
	for _, h := range []string{"Origin", "Sec-Fetch-Site"} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/x", nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Add(h, map[string]string{"Origin": self, "Sec-Fetch-Site": "same-origin"}[h])
		req.Header.Add(h, map[string]string{"Origin": self, "Sec-Fetch-Site": "same-origin"}[h])
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s twice: %d, want 403", h, resp.StatusCode)
		}
	}
}

// TestCSRFCheckIgnoresCookies: Check judges any request, for a login
// that asks for a cookie it does not have yet (login CSRF).
func TestCSRFCheckIgnoresCookies(t *testing.T) {
	c := mustCSRF(t, secure.CSRFOptions{Cookies: []string{sessionCookie}})
	r := httptest.NewRequest("POST", "http://api.example.com/login", nil)
	if err := c.Check(r); !errors.Is(err, secure.ErrCrossOrigin) {
		t.Errorf("a login with neither header: %v", err)
	}
	if c.Protects(r) {
		t.Error("Protects covers a request without the cookie")
	}
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if err := c.Check(r); !errors.Is(err, secure.ErrCrossOrigin) {
		t.Errorf("a cross-site login: %v", err)
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if err := c.Check(r); err != nil {
		t.Errorf("a same-origin login: %v", err)
	}

	// Without cookie names every unsafe request is covered.
	all := mustCSRF(t, secure.CSRFOptions{})
	if !all.Protects(httptest.NewRequest("POST", "/", nil)) || all.Protects(httptest.NewRequest("GET", "/", nil)) {
		t.Error("an empty cookie list must cover every unsafe request, and no safe one")
	}
}

func TestNewCSRFRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]secure.CSRFOptions{
		"wildcard origin":      {TrustedOrigins: []string{"*"}},
		"null origin":          {TrustedOrigins: []string{"null"}},
		"origin with a path":   {TrustedOrigins: []string{"https://app.example.com/"}},
		"invalid cookie name":  {Cookies: []string{"a b"}},
		"empty cookie name":    {Cookies: []string{""}},
		"cookie name with '='": {Cookies: []string{"a=b"}},
	} {
		if _, err := secure.NewCSRF(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
