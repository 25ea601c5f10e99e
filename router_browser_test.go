package warden_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/secure"
)

// browserFixture is a router in browser mode: a session-cookie backend
// beside bearer tokens, CSRF for the cookie, a Host allow-list and an
// exempt health check.
func browserFixture(t *testing.T) (*fixture, *auth.Sessions, string) {
	t.Helper()
	store := auth.NewMemorySessionStore(0, nil)
	sessions, err := auth.NewSessions(auth.SessionsConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	value, digest, err := auth.NewSessionSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := store.Add(digest, auth.Session{ID: "login-1", UserID: "alice", CreatedAt: now, LastSeenAt: now}); err != nil {
		t.Fatal(err)
	}
	csrf, err := secure.NewCSRF(secure.CSRFOptions{TrustedOrigins: []string{"https://app.example.com"}, Cookies: []string{sessions.CookieName()}})
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := secure.NewHosts([]string{"api.example.com", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, warden.Config{CSRF: csrf, AllowedHosts: hosts}, func(r *warden.Router, j *auth.JWT) {
		ok := func(w http.ResponseWriter, r *http.Request) {
			id := auth.FromContext(r.Context())
			backend := ""
			if id != nil {
				backend = id.Backend
			}
			warden.WriteJSON(w, http.StatusOK, map[string]string{"backend": backend})
		}
		signedIn := r.With(warden.Auth(j, sessions), warden.Require(guard.IsAuthenticated))
		signedIn.Get("/api/me", ok)
		signedIn.Post("/api/things", ok)
		// A public route without any backend still gets CSRF for a
		// request carrying the cookie: the protection is router-wide.
		r.Post("/api/public", ok, public)
		r.Get("/healthz", ok, public, warden.AnyHost())
	})
	return f, sessions, value
}

func TestRouterCSRFCoversEveryCookieRequest(t *testing.T) {
	f, sessions, value := browserFixture(t)
	cookie := sessions.CookieName() + "=" + value
	bearer := "Bearer " + token(t, "bob", nil)
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		want    int
		backend string
	}{
		{"cookie, safe method", "GET", "/api/me", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 200, "session"},
		{"cookie, same-origin write", "POST", "/api/things", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"}, 200, "session"},
		{"cookie, trusted origin", "POST", "/api/things", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-site", "Origin": "https://app.example.com"}, 200, "session"},
		{"cookie, forged write", "POST", "/api/things", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, ""},
		{"cookie, neither header", "POST", "/api/things", map[string]string{"Cookie": cookie}, 403, ""},
		{"cookie on a public route", "POST", "/api/public", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"cookie on no route at all", "POST", "/api/nowhere", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"an invalid cookie is checked too", "POST", "/api/things", map[string]string{"Cookie": sessions.CookieName() + "=forged", "Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"bearer without browser headers", "POST", "/api/things", map[string]string{"Authorization": bearer}, 200, "jwt"},
		{"bearer with a cross-site header", "POST", "/api/things", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site"}, 200, "jwt"},
		{"anonymous public write", "POST", "/api/public", nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, tt.method, tt.path, nil, tt.headers)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.want, body)
			}
			if tt.want == 200 && body["backend"] != tt.backend {
				t.Errorf("backend %v, want %q", body["backend"], tt.backend)
			}
			if tt.want == 403 && (body["detail"] != secure.CSRFRefusal || resp.Header.Get("X-Content-Type-Options") != "nosniff") {
				t.Errorf("refusal %v", body)
			}
		})
	}
	if !strings.Contains(f.logs.String(), "cross-origin request refused") {
		t.Error("refusals are not logged")
	}
	if strings.Contains(f.logs.String(), value) {
		t.Error("the cookie value reached the log")
	}
}

func TestRouterHostAllowList(t *testing.T) {
	f, _, _ := browserFixture(t)
	for _, tt := range []struct {
		host, method, path string
		want               int
	}{
		{"api.example.com", "GET", "/healthz", 200},
		{"api.example.com:8443", "POST", "/api/public", 200},
		{"127.0.0.1", "POST", "/api/public", 200},
		{"rebound.evil.example", "POST", "/api/public", 400},
		{"rebound.evil.example", "GET", "/api/me", 400},
		{"rebound.evil.example", "GET", "/api/nowhere", 400},
		// Load balancers probe health by address.
		{"10.0.0.7:8080", "GET", "/healthz", 200},
		{"10.0.0.7:8080", "HEAD", "/healthz", 200},
		{"10.0.0.7:8080", "GET", "/healthz/", 200},
		{"10.0.0.7:8080", "POST", "/healthz", 400},
	} {
		req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, nil)
		req.Host = tt.host
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s Host %s: %d, want %d", tt.method, tt.path, tt.host, resp.StatusCode, tt.want)
		}
	}
}

func TestRouterDocumentsBrowserModeProblems(t *testing.T) {
	sessions, err := auth.NewSessions(auth.SessionsConfig{Store: auth.NewMemorySessionStore(0, nil)})
	if err != nil {
		t.Fatal(err)
	}
	csrf, _ := secure.NewCSRF(secure.CSRFOptions{Cookies: []string{sessions.CookieName()}})
	hosts, _ := secure.NewHosts([]string{"api.example.com"})
	r, err := warden.NewRouter(warden.Config{CSRF: csrf, AllowedHosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	h := func(http.ResponseWriter, *http.Request) {}
	r.Post("/write", h, warden.Auth(sessions), public)
	r.Get("/read", h, warden.Auth(sessions), public)
	r.Get("/healthz", h, public, warden.AnyHost())
	for _, ri := range r.Routes() {
		_, forbidden := ri.Problems[http.StatusForbidden]
		_, badHost := ri.Problems[http.StatusBadRequest]
		switch ri.Pattern {
		case "/write":
			if !forbidden || !badHost {
				t.Errorf("POST /write problems %v", ri.Problems)
			}
		case "/read":
			if forbidden || !badHost {
				t.Errorf("GET /read problems %v", ri.Problems)
			}
		case "/healthz":
			if badHost {
				t.Errorf("an AnyHost route lists 400: %v", ri.Problems)
			}
		}
	}
}
