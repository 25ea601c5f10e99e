package ratelimit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// keyServer answers each request with the key that key gives it, behind the
// middleware that runs before rate limiting in a real pipeline.
func keyServer(t *testing.T, key ratelimit.KeyFunc, before func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, key(r))
	})
	if before != nil {
		h = before(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// asUser authenticates requests that carry X-Test-User, as an auth backend
// would.
func asUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-Test-User"); u != "" {
			r = auth.WithIdentity(r, &auth.Identity{UserID: u, Backend: auth.BackendJWT})
		}
		next.ServeHTTP(w, r)
	})
}

func trusting(t *testing.T, proxies string) func(http.Handler) http.Handler {
	t.Helper()
	tp, err := secure.ParseTrustedProxies(proxies)
	if err != nil {
		t.Fatal(err)
	}
	return secure.ClientIPMiddleware(tp)
}

func TestKeyFuncs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    ratelimit.KeyFunc
		before func(http.Handler) http.Handler
		header map[string]string
		want   string
	}{
		{"ByIP uses the peer", ratelimit.ByIP(), nil, nil, "ip:127.0.0.1"},
		{"ByIP ignores forwarding headers from an untrusted peer", ratelimit.ByIP(), nil,
			map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}, "ip:127.0.0.1"},
		{"ByIP ignores forwarding headers without a trusted proxy", ratelimit.ByIP(), trusting(t, ""),
			map[string]string{"X-Forwarded-For": "203.0.113.9"}, "ip:127.0.0.1"},
		{"ByIP believes a trusted proxy", ratelimit.ByIP(), trusting(t, "127.0.0.1"),
			map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}, "ip:203.0.113.9"},
		{"ByIPPrefix groups an IPv6 /64", ratelimit.ByIPPrefix(32, 64), trusting(t, "127.0.0.1"),
			map[string]string{"X-Forwarded-For": "2001:db8:1:2:aaaa:bbbb:cccc:dddd"}, "ip:2001:db8:1:2::/64"},
		{"ByIPPrefix groups an IPv4 /24", ratelimit.ByIPPrefix(24, 64), trusting(t, "127.0.0.1"),
			map[string]string{"X-Forwarded-For": "203.0.113.77"}, "ip:203.0.113.0/24"},
		{"ByHeader uses the header", ratelimit.ByHeader("x-api-client"), nil,
			map[string]string{"X-Api-Client": "mobile-app"}, "hdr:mobile-app"},
		{"ByHeader falls back to the IP", ratelimit.ByHeader("X-Api-Client"), nil, nil, "ip:127.0.0.1"},
		{"ByHeader treats an empty value as absent", ratelimit.ByHeader("X-Api-Client"), nil,
			map[string]string{"X-Api-Client": ""}, "ip:127.0.0.1"},
		{"ByUser uses the authenticated user", ratelimit.ByUser(), asUser,
			map[string]string{"X-Test-User": "u-42"}, "user:u-42"},
		{"ByUser falls back to the IP when anonymous", ratelimit.ByUser(), asUser, nil, "ip:127.0.0.1"},
		{"ByUser cannot be claimed by a header", ratelimit.ByUser(), nil,
			map[string]string{"X-Test-User": "u-42"}, "ip:127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := keyServer(t, tc.key, tc.before)
			if got := get(t, srv, tc.header).body; got != tc.want {
				t.Errorf("key = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKeyFuncConstructorsRejectBadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func()
	}{
		{"empty header name", func() { ratelimit.ByHeader("") }},
		{"header name with a space", func() { ratelimit.ByHeader("X Client") }},
		{"header name with a colon", func() { ratelimit.ByHeader("X-Client:") }},
		{"IPv4 prefix over 32", func() { ratelimit.ByIPPrefix(33, 64) }},
		{"IPv6 prefix over 128", func() { ratelimit.ByIPPrefix(24, 129) }},
		{"negative prefix", func() { ratelimit.ByIPPrefix(-1, 64) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.make()
		})
	}
}

// Users and addresses must never share a bucket by accident: a user id that
// looks like an address still gets its own key.
func TestKeyKindsDoNotCollide(t *testing.T) {
	m := newMemory(t, ratelimit.Policy{Rate: 1.0 / 86400, Burst: 1}, ratelimit.MemoryOptions{})
	srv := httptest.NewServer(asUser(ratelimit.Middleware(nil, m, ratelimit.ByUser())(okHandler)))
	t.Cleanup(srv.Close)
	if r := get(t, srv, nil); r.status != http.StatusOK {
		t.Fatalf("anonymous request: %d", r.status)
	}
	if r := get(t, srv, map[string]string{"X-Test-User": "127.0.0.1"}); r.status != http.StatusOK {
		t.Errorf("user named like the address was limited by the address's bucket: %d", r.status)
	}
}
