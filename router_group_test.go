package warden_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/secure"
)

// header returns middleware that marks responses with name, to see which
// middleware ran and in what order.
func header(name string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("X-Ran", name)
			next.ServeHTTP(w, r)
		})
	}
}

func TestWithAndGroupCompose(t *testing.T) {
	f := newFixture(t, warden.Config{}, func(r *warden.Router, j *auth.JWT) {
		r.Use(header("router"))
		signedIn := r.With(warden.Auth(j), warden.Require(guard.IsAuthenticated))
		signedIn.Get("/me", ok)
		r.With(warden.NoStore()).Group("/api/v1", func(r *warden.Router) {
			r.Get("/", ok, warden.Require(guard.AllowAny))
			r.Get("/open", ok, warden.Require(guard.AllowAny))
			r.Group("/admin", func(r *warden.Router) {
				r.Get("/items/{id}", ok, warden.Auth(j), warden.Require(guard.IsAdminUser), warden.Wrap(header("route")))
			})
		})
		// The view made by With does not leak its options into the router.
		r.Get("/plain", ok, public)
	})
	user := map[string]string{"Authorization": "Bearer " + token(t, "1", nil)}
	admin := map[string]string{"Authorization": "Bearer " + token(t, "2", map[string]any{"is_admin": true})}

	if resp, _ := f.do(t, "GET", "/me", nil, nil); resp.StatusCode != 401 {
		t.Errorf("With's guard not applied: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/me", nil, user); resp.StatusCode != 200 {
		t.Errorf("With's auth not applied: %d", resp.StatusCode)
	}
	resp, body := f.do(t, "GET", "/api/v1/open/", nil, nil)
	if resp.StatusCode != 200 || body["path"] != "/api/v1/open/" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("group route: %d %v cache-control %q", resp.StatusCode, body, resp.Header.Get("Cache-Control"))
	}
	// "/" in a group is the group's path (and its slash variant), not a subtree.
	for path, want := range map[string]int{"/api/v1": 200, "/api/v1/": 200, "/api/v1/else": 404} {
		if resp, _ := f.do(t, "GET", path, nil, nil); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if resp, _ := f.do(t, "GET", "/api/v1/admin/items/9", nil, user); resp.StatusCode != 403 {
		t.Errorf("nested group guard: %d", resp.StatusCode)
	}
	resp, body = f.do(t, "GET", "/api/v1/admin/items/9", nil, admin)
	if resp.StatusCode != 200 || body["id"] != "9" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("nested group: %d %v", resp.StatusCode, body)
	}
	if got := strings.Join(resp.Header.Values("X-Ran"), ","); got != "router,route" {
		t.Errorf("middleware order %q, want router,route", got)
	}
	resp, _ = f.do(t, "GET", "/plain", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") == "no-store" {
		t.Errorf("/plain picked up a view's options: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	// Router-wide middleware runs for requests that match no route too.
	resp, _ = f.do(t, "GET", "/nowhere", nil, nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Ran") != "router" {
		t.Errorf("unrouted request: %d X-Ran %q", resp.StatusCode, resp.Header.Get("X-Ran"))
	}
}

func TestUseOnAViewPanics(t *testing.T) {
	r, err := warden.NewRouter(warden.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Use on a With view did not panic")
		}
	}()
	r.With(warden.NoStore()).Use(header("x"))
}

func TestTrustedProxiesAreSetOnce(t *testing.T) {
	tp, err := secure.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warden.NewRouter(warden.Config{Headers: secure.HeaderOptions{TrustedProxies: tp}}); err == nil {
		t.Fatal("trusted proxies in Headers were accepted; they must be set in Config.TrustedProxies only")
	}
	// Config.TrustedProxies reaches the HSTS decision: a trusted proxy's
	// X-Forwarded-Proto: https earns Strict-Transport-Security.
	r, err := warden.NewRouter(warden.Config{TrustedProxies: tp})
	if err != nil {
		t.Fatal(err)
	}
	r.Get("/x", ok, public)
	req := httptest.NewRequest("GET", "/x", nil)
	req.RemoteAddr = "10.1.2.3:5555"
	req.Header.Set("X-Forwarded-Proto", "https")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Header().Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS behind a trusted proxy that says https")
	}
}

func TestRequestIDReachesHandlers(t *testing.T) {
	f := newFixture(t, warden.Config{}, func(r *warden.Router, _ *auth.JWT) {
		r.Get("/id", func(w http.ResponseWriter, r *http.Request) {
			warden.WriteJSON(w, http.StatusOK, map[string]string{"id": warden.RequestID(r.Context())})
		}, public)
	})
	resp, body := f.do(t, "GET", "/id", nil, nil)
	if id := resp.Header.Get("X-Request-Id"); id == "" || body["id"] != id {
		t.Fatalf("RequestID %q, header %q", body["id"], id)
	}
	if got := warden.RequestID(httptest.NewRequest("GET", "/", nil).Context()); got != "" {
		t.Fatalf("RequestID outside a router = %q", got)
	}
}

func TestWithIdentityLeavesTheParentRequestAlone(t *testing.T) {
	var parent, child *auth.Identity
	f := newFixture(t, warden.Config{}, func(r *warden.Router, j *auth.JWT) {
		r.Get("/x", func(w http.ResponseWriter, r *http.Request) {
			r2 := auth.WithIdentity(r, &auth.Identity{UserID: "impersonated"})
			parent, child = auth.FromContext(r.Context()), auth.FromContext(r2.Context())
			warden.WriteJSON(w, http.StatusOK, nil)
		}, warden.Auth(j), warden.Require(guard.IsAuthenticated))
	})
	if resp, _ := f.do(t, "GET", "/x", nil, map[string]string{"Authorization": "Bearer " + token(t, "7", nil)}); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if parent == nil || parent.UserID != "7" || child == nil || child.UserID != "impersonated" {
		t.Fatalf("parent %+v child %+v", parent, child)
	}
	if !strings.Contains(f.logs.String(), `"user_id":"7"`) {
		t.Fatalf("the access log lost the authenticated user: %s", f.logs.String())
	}
}

func TestARouteWithoutAGuardIsRefused(t *testing.T) {
	r, err := warden.NewRouter(warden.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		v := recover()
		if msg, _ := v.(string); !strings.Contains(msg, "GET /open has no guard") || !strings.Contains(msg, "guard.AllowAny") {
			t.Fatalf("panic %v, want a message naming the route and guard.AllowAny", v)
		}
	}()
	r.Get("/open", ok, warden.NoStore())
}
