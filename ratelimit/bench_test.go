package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/wardenhq/warden/ratelimit"
)

const benchKeys = 100_000

// benchLimiter returns a Memory holding benchKeys live buckets (the default
// MaxKeys) and their keys, shaped like ByIP keys.
func benchLimiter(b *testing.B) (*ratelimit.Memory, []string) {
	b.Helper()
	m, err := ratelimit.NewMemory(ratelimit.Policy{Rate: 1e6, Burst: 1_000_000}, ratelimit.MemoryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, benchKeys)
	ctx := context.Background()
	for i := range keys {
		keys[i] = "ip:10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
		if _, err := m.Allow(ctx, keys[i]); err != nil {
			b.Fatal(err)
		}
	}
	if m.Len() != benchKeys {
		b.Fatalf("Len = %d after inserting %d keys", m.Len(), benchKeys)
	}
	return m, keys
}

// BenchmarkMemoryAllow_100kKeys measures Allow on keys the limiter already
// holds, with 100,000 live buckets, so it pays the cache misses of a real
// working set rather than one hot key.
func BenchmarkMemoryAllow_100kKeys(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		m, keys := benchLimiter(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Allow(ctx, keys[i]); err != nil {
				b.Fatal(err)
			}
			if i++; i == len(keys) {
				i = 0
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		m, keys := benchLimiter(b)
		var worker atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine walks the keys from its own offset, so they
			// meet on a shard only as often as real clients would.
			i := int(worker.Add(1)*7919) % len(keys)
			for pb.Next() {
				if _, err := m.Allow(ctx, keys[i]); err != nil {
					b.Error(err)
					return
				}
				if i++; i == len(keys) {
					i = 0
				}
			}
		})
	})
}

// BenchmarkMiddlewareByIP measures the whole middleware for one client:
// key, decision and headers, without the network.
func BenchmarkMiddlewareByIP(b *testing.B) {
	m, err := ratelimit.NewMemory(ratelimit.Policy{Rate: 1e9, Burst: 1_000_000}, ratelimit.MemoryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	h := ratelimit.Middleware(nil, m, ratelimit.ByIP())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		clear(w.Header())
		h.ServeHTTP(w, r)
	}
}
