package bench_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/wardenhq/warden/bench/internal/benchproc"
	"github.com/wardenhq/warden/internal/benchfixture"
)

// discardWriter is a cheap http.ResponseWriter: it keeps the status and
// counts the body. Each request gets a fresh header map, as net/http gives
// every request one, so the pipeline pays for the headers it adds.
type discardWriter struct {
	header http.Header
	status int
	bytes  int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.bytes += len(b)
	return len(b), nil
}

func (w *discardWriter) reset() {
	w.header = make(http.Header)
	w.status = 0
	w.bytes = 0
}

func newFixture(b *testing.B, o benchfixture.Options) *benchfixture.Fixture {
	b.Helper()
	f, err := benchfixture.NewFixture(o)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// newRequest returns a GET as net/http's server would hand it over: a
// peer address, no body, and (for the pipeline) a bearer token and an
// allowed Origin.
func newRequest(b *testing.B, f *benchfixture.Fixture, withCredentials bool) *http.Request {
	b.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://api.example.com"+benchfixture.Path, nil)
	if err != nil {
		b.Fatal(err)
	}
	r.RemoteAddr = "192.0.2.10:51234"
	r.Body = http.NoBody
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "warden-bench")
	if withCredentials {
		r.Header.Set("Authorization", f.Authorization())
		r.Header.Set("Origin", benchfixture.Origin)
	}
	return r
}

// serveOnce checks, before timing, that h answers r as the benchmark
// expects: 200, the handler's body, and for the pipeline its headers.
func serveOnce(b *testing.B, h http.Handler, r *http.Request, pipeline bool) {
	b.Helper()
	w := &discardWriter{}
	w.reset()
	h.ServeHTTP(w, r)
	if w.status != http.StatusOK || w.bytes != len(benchfixture.ResponseBody) {
		b.Fatalf("status %d, %d body bytes; want 200 and %d", w.status, w.bytes, len(benchfixture.ResponseBody))
	}
	if !pipeline {
		return
	}
	for _, name := range []string{"Access-Control-Allow-Origin", "X-Content-Type-Options", "Strict-Transport-Security", "Ratelimit", "X-Request-Id"} {
		if w.header.Get(name) == "" {
			b.Fatalf("pipeline response lacks %s; headers %v", name, w.header)
		}
	}
}

// runServe times h on r, serially and from parallel goroutines (each with
// its own request and writer).
func runServe(b *testing.B, h http.Handler, r *http.Request, pipeline bool) {
	serveOnce(b, h, r, pipeline)
	b.Run("serial", func(b *testing.B) {
		w := &discardWriter{}
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := r.Clone(context.Background())
			w := &discardWriter{}
			for pb.Next() {
				w.reset()
				h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Errorf("status %d", w.status)
					return
				}
			}
		})
	})
}

// BenchmarkJWTVerifyHS256 measures auth.JWT.Verify alone on a valid HS256
// token: parse, HMAC, claim checks and the revocation lookup.
func BenchmarkJWTVerifyHS256(b *testing.B) {
	f := newFixture(b, benchfixture.Options{})
	r := newRequest(b, f, true)
	if id, err := f.JWT.Verify(r, f.Token); err != nil || id.UserID != benchfixture.UserID {
		b.Fatalf("Verify = %v, %v", id, err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.JWT.Verify(r, f.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := f.JWT.Verify(r, f.Token); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkPipeline measures one request through the whole Router: JWT
// HS256 with revocation, IsAuthenticated, CORS, the memory rate limit,
// security headers and the access log (JSON to io.Discard).
func BenchmarkPipeline(b *testing.B) {
	f := newFixture(b, benchfixture.Options{})
	runServe(b, f.Router, newRequest(b, f, true), true)
}

// BenchmarkBareHandler measures the same JSON handler with no pipeline, on
// the same request.
func BenchmarkBareHandler(b *testing.B) {
	f := newFixture(b, benchfixture.Options{})
	runServe(b, benchfixture.Handler(), newRequest(b, f, true), false)
}

// BenchmarkBareWithHeaders measures a bare handler that sends the body and
// every header the pipeline's answer carried (values shared between
// answers, as bench/compare's bare+headers server does): the in-process
// counterpart of that comparison.
func BenchmarkBareWithHeaders(b *testing.B) {
	f := newFixture(b, benchfixture.Options{})
	r := newRequest(b, f, true)
	w := &discardWriter{}
	w.reset()
	f.Router.ServeHTTP(w, r)
	h := w.header.Clone()
	h.Del("Content-Type")
	h.Del("Content-Length")
	runServe(b, benchproc.Bare{Body: []byte(benchfixture.ResponseBody), Header: h}.Handler(), r, true)
}

// BenchmarkPipelineWithout drops one stage at a time, serially, so that the
// difference from BenchmarkPipeline/serial is roughly that stage's cost.
func BenchmarkPipelineWithout(b *testing.B) {
	stages := []struct {
		name string
		opts benchfixture.Options
	}{
		{"AccessLog", benchfixture.Options{NoAccessLog: true}},
		// The access line through a slog.Record rather than appended by
		// the LogWriter: what the LogWriter's own formatting saves.
		{"LogWriterFormatting", benchfixture.Options{Logger: benchfixture.SlogDiscardLogger()}},
		{"Auth", benchfixture.Options{NoAuth: true}},
		{"CORS", benchfixture.Options{NoCORS: true}},
		{"RateLimit", benchfixture.Options{NoRateLimit: true}},
		{"All", benchfixture.Options{NoAccessLog: true, NoAuth: true, NoCORS: true, NoRateLimit: true}},
	}
	for _, s := range stages {
		b.Run(s.name, func(b *testing.B) {
			f := newFixture(b, s.opts)
			r := newRequest(b, f, true)
			serveOnce(b, f.Router, r, false)
			w := &discardWriter{}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				f.Router.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
