package benchfixture_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/benchfixture"
)

// TestFixture checks that the benchmarked pipeline does its work: the
// token is accepted, CORS, rate-limit and security headers are set, a
// request without the token is refused, and concurrent requests are
// answered alike (run with -race).
func TestFixture(t *testing.T) {
	f, err := benchfixture.NewFixture(benchfixture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(withToken bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, benchfixture.Path, nil)
		r.Header.Set("Origin", benchfixture.Origin)
		if withToken {
			r.Header.Set("Authorization", f.Authorization())
		}
		w := httptest.NewRecorder()
		f.Router.ServeHTTP(w, r)
		return w
	}

	w := get(true)
	if w.Code != http.StatusOK || w.Body.String() != benchfixture.ResponseBody {
		t.Fatalf("got %d %q, want 200 %q", w.Code, w.Body, benchfixture.ResponseBody)
	}
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin": benchfixture.Origin,
		"X-Content-Type-Options":      "nosniff",
		"RateLimit-Policy":            `"bench";q=10000000;w=1`,
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if w.Header().Get("Strict-Transport-Security") == "" || w.Header().Get("X-Request-Id") == "" {
		t.Errorf("missing HSTS or request id: %v", w.Header())
	}
	if w := get(false); w.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", w.Code)
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if w := get(true); w.Code != http.StatusOK {
					t.Errorf("concurrent request: %d", w.Code)
					return
				}
			}
		})
	}
	wg.Wait()

	bare := httptest.NewRecorder()
	benchfixture.Handler().ServeHTTP(bare, httptest.NewRequest(http.MethodGet, benchfixture.Path, nil))
	if bare.Code != http.StatusOK || bare.Body.String() != benchfixture.ResponseBody {
		t.Errorf("bare handler: %d %q", bare.Code, bare.Body)
	}
}
