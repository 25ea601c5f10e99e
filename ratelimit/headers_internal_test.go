package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"
)

// wantLimit is the RateLimit value as the draft spells it, formatted the
// slow, obvious way: t in whole seconds rounded up, at least 1 (as
// Retry-After), remaining never below 0.
func wantLimit(name string, d Decision) string {
	return fmt.Sprintf("%q;r=%d;t=%d", name, max(d.Remaining, 0), max(1, int64((d.Reset+time.Second-1)/time.Second)))
}

// TestHeadersMatchTheirDecision sets the headers for many decisions,
// among them values that share a slot of the recent-values table and
// values seen before, and checks every response against its own decision.
func TestHeadersMatchTheirDecision(t *testing.T) {
	h := newHeaders(Policy{Name: "api", Rate: 2, Burst: 600})
	var ds []Decision
	for r := -2; r < 700; r++ {
		for _, reset := range []time.Duration{0, time.Nanosecond, time.Second, 1500 * time.Millisecond, 300 * time.Second} {
			ds = append(ds, Decision{Allowed: r > 0, Remaining: r, Reset: reset})
		}
	}
	for pass := range 2 { // the second pass finds many in the table
		for _, d := range ds {
			hdr := http.Header{}
			h.set(hdr, d)
			if got, want := hdr.Get("RateLimit"), wantLimit("api", d); got != want {
				t.Fatalf("pass %d, %+v: RateLimit = %q, want %q", pass, d, got, want)
			}
			if got := hdr.Get("RateLimit-Policy"); got != `"api";q=600;w=300` {
				t.Fatalf("RateLimit-Policy = %q", got)
			}
		}
	}
}

// TestHeadersSharedValuesStayIntact: a handler that adds to the headers
// of one response (Header.Add appends) must not change the next one's.
func TestHeadersSharedValuesStayIntact(t *testing.T) {
	h := newHeaders(Policy{Name: "api", Rate: 1, Burst: 10})
	d := Decision{Allowed: true, Remaining: 9, Reset: time.Second}
	first := http.Header{}
	h.set(first, d)
	first.Add("RateLimit", "tampered")
	first.Add("RateLimit-Policy", "tampered")
	second := http.Header{}
	h.set(second, d)
	if len(second["Ratelimit"]) != 1 || len(second["Ratelimit-Policy"]) != 1 ||
		second.Get("RateLimit") != `"api";r=9;t=1` || second.Get("RateLimit-Policy") != `"api";q=10;w=10` {
		t.Fatalf("second response: %v", second)
	}
}

// TestHeadersConcurrent: goroutines setting different decisions at once
// each get their own (run with -race).
func TestHeadersConcurrent(t *testing.T) {
	h := newHeaders(Policy{Name: "api", Rate: 100, Burst: 1000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 2000 {
				d := Decision{Allowed: true, Remaining: rng.IntN(1000), Reset: time.Duration(rng.IntN(10)) * time.Second}
				hdr := http.Header{}
				h.set(hdr, d)
				if got, want := hdr.Get("RateLimit"), wantLimit("api", d); got != want {
					t.Errorf("RateLimit = %q, want %q", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkHeaders measures setting the two headers on a fresh header
// map: "steady" repeats one decision (a client well within its limit),
// "draining" changes the remaining count on every call (one client
// spending its burst), so that every value is new.
func BenchmarkHeaders(b *testing.B) {
	h := newHeaders(Policy{Name: "caller_ip", Rate: 1e6 / 60.0, Burst: 1_000_000})
	b.Run("steady", func(b *testing.B) {
		d := Decision{Allowed: true, Remaining: 999_999, Reset: time.Millisecond}
		b.ReportAllocs()
		for b.Loop() {
			h.set(make(http.Header, 2), d)
		}
	})
	b.Run("draining", func(b *testing.B) {
		d := Decision{Allowed: true, Remaining: 999_999, Reset: time.Millisecond}
		b.ReportAllocs()
		for b.Loop() {
			if d.Remaining--; d.Remaining < 0 {
				d.Remaining = 999_999
			}
			h.set(make(http.Header, 2), d)
		}
	})
}
