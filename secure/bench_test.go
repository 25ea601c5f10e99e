package secure_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardenhq/warden/secure"
)

// benchWriter reuses one header map, so allocations counted are the
// middleware's own, not the map a real server creates per response.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

var nop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func runBench(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := &benchWriter{h: make(http.Header, 16)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

func BenchmarkHeaders(b *testing.B) {
	tp := mustProxies(b, "10.0.0.0/8")
	plain := httptest.NewRequest("GET", "/api/books", nil)
	plain.TLS = nil
	plain.RemoteAddr = "203.0.113.1:4000"
	proxied := httptest.NewRequest("GET", "/api/books", nil)
	proxied.TLS = nil
	proxied.RemoteAddr = "10.0.0.1:4000"
	proxied.Header.Set("X-Forwarded-Proto", "https")

	b.Run("default", func(b *testing.B) {
		runBench(b, mustHeaders(b, secure.HeaderOptions{}).Handler(nop), plain)
	})
	b.Run("production", func(b *testing.B) {
		runBench(b, mustHeaders(b, secure.HeaderOptions{Production: true}).Handler(nop), plain)
	})
	b.Run("trusted_proxy_https", func(b *testing.B) {
		runBench(b, mustHeaders(b, secure.HeaderOptions{TrustedProxies: tp}).Handler(nop), proxied)
	})
}

func BenchmarkCORS(b *testing.B) {
	c := mustCORS(b, secure.CORSPolicy{
		AllowedOrigins:   []string{"https://other.example.com", appOrigin, "http://localhost:3000"},
		AllowCredentials: true,
	})
	h := c.Handler(nop)
	req := func(method, origin string, preflight bool) *http.Request {
		r := httptest.NewRequest(method, "/api/books", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if preflight {
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		}
		return r
	}
	b.Run("no_origin", func(b *testing.B) { runBench(b, h, req("GET", "", false)) })
	b.Run("allowed", func(b *testing.B) { runBench(b, h, req("GET", appOrigin, false)) })
	b.Run("unlisted", func(b *testing.B) { runBench(b, h, req("GET", "https://evil.net", false)) })
	b.Run("preflight_allowed", func(b *testing.B) { runBench(b, h, req("OPTIONS", appOrigin, true)) })
	b.Run("preflight_unlisted", func(b *testing.B) { runBench(b, h, req("OPTIONS", "https://evil.net", true)) })
}

func BenchmarkHeaderLimits(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, k := range []string{"Accept", "Authorization", "User-Agent", "Cookie", "Accept-Encoding", "Accept-Language"} {
		r.Header.Set(k, "some typical value of moderate length")
	}
	runBench(b, secure.HeaderLimits(0, 0)(nop), r)
}

func BenchmarkClientIP(b *testing.B) {
	tp := mustProxies(b, "10.0.0.0/8, fd00::/8")
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:443"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.9, 10.2.2.2")
	b.ReportAllocs()
	for b.Loop() {
		_ = tp.ClientIPFrom(r)
	}
}
