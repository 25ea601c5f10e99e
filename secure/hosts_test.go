package secure_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden/secure"
)

func mustHosts(t testing.TB, entries ...string) *secure.Hosts {
	t.Helper()
	h, err := secure.NewHosts(entries)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHostsAllows(t *testing.T) {
	h := mustHosts(t, "api.example.com", "Books.Example.COM.", "localhost:8080", "127.0.0.1", "[::1]:8443", "2001:db8::1")
	tests := map[string]bool{
		"api.example.com":          true,
		"API.Example.Com":          true,
		"api.example.com:443":      true, // no port listed: any port
		"api.example.com.":         true, // the same DNS name
		"books.example.com":        true,
		"localhost:8080":           true,
		"localhost:08080":          true,
		"localhost":                false, // listed with a port only
		"localhost:8081":           false,
		"127.0.0.1:9999":           true,
		"[::1]:8443":               true,
		"[::1]:8444":               false,
		"[2001:db8::1]":            true,
		"[2001:0db8:0::1]:80":      true,
		"evil.example":             false,
		"api.example.com.evil.com": false,
		"evil.com#api.example.com": false,
		"api.example.com@evil.com": false,
		"sub.api.example.com":      false, // no wildcards
		"":                         false,
		"api.example.com:":         true,
		"api.example.com:99999":    false,
		"api.example.com:-1":       false,
		"api.example.com:80:80":    false,
		"api.example.com..":        false,
		"api_example.com":          false,
		"[fe80::1%25eth0]":         false,
		"[::1":                     false,
		"127.0.0.1:8080:1":         false,
		strings.Repeat("a", 300):   false,
		"аpi.example.com":          false, // Cyrillic а
	}
	for host, want := range tests {
		if got := h.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestNewHostsRefusesBadEntries(t *testing.T) {
	for _, entries := range [][]string{
		nil,
		{""},
		{" "},
		{"*"},
		{"*.example.com"},
		{"https://api.example.com"},
		{"api.example.com/"},
		{"api.example.com:0"},
		{"api.example.com:70000"},
		{"exa mple.com"},
		{"[fe80::1%eth0]"},
		{"api.example.com", "bad host"},
	} {
		if _, err := secure.NewHosts(entries); err == nil {
			t.Errorf("%q accepted", entries)
		}
	}
}

// TestHostsHandler sends requests with forged Host headers through a real
// server: unlisted names get a 400 problem before the handler, except on
// exempt requests.
func TestHostsHandler(t *testing.T) {
	h := mustHosts(t, "api.example.com")
	exempt := func(r *http.Request) bool { return r.URL.Path == "/healthz" }
	srv := httptest.NewServer(h.Handler(exempt, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()
	for _, tt := range []struct {
		host, path string
		want       int
	}{
		{"api.example.com", "/api/books", 204},
		{"api.example.com:8443", "/api/books", 204},
		{"rebound.evil.example", "/api/books", 400},
		{srv.Listener.Addr().String(), "/api/books", 400},
		{srv.Listener.Addr().String(), "/healthz", 204},
		{"rebound.evil.example", "/nowhere", 400},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
		req.Host = tt.host
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Host %s %s: %d, want %d", tt.host, tt.path, resp.StatusCode, tt.want)
		}
		if tt.want == 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("Host %s: content type %q", tt.host, resp.Header.Get("Content-Type"))
		}
	}
}

// FuzzHosts checks both parsers: an entry list either is refused or
// allows its own entries; a Host value is allowed only when it names a
// listed host.
func FuzzHosts(f *testing.F) {
	for _, seed := range [][2]string{
		{"api.example.com", "api.example.com:443"},
		{"localhost:8080", "LOCALHOST:8080"},
		{"[::1]", "[::1]:1"},
		{"127.0.0.1", "127.0.0.1."},
		{"a.b", "a.b.:80"},
		{"x", "x:"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, entry, host string) {
		h, err := secure.NewHosts([]string{entry})
		if err != nil {
			return
		}
		if !h.Allows(strings.TrimSpace(entry)) {
			t.Fatalf("entry %q does not allow itself", entry)
		}
		if !h.Allows(host) {
			return
		}
		// An allowed Host names the entry's host: listed the other way
		// round, it allows the entry.
		name := host
		if hn, _, err := net.SplitHostPort(host); err == nil {
			name = hn
			if strings.Contains(hn, ":") {
				name = "[" + hn + "]"
			}
		}
		back, err := secure.NewHosts([]string{name})
		if err != nil || !back.Allows(strings.TrimSpace(entry)) {
			t.Fatalf("entry %q allowed Host %q, which names another host (%v)", entry, host, err)
		}
	})
}
