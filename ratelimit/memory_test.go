package ratelimit_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/ratelimit"
)

var ctx = context.Background()

func allow(t testing.TB, l ratelimit.Limiter, key string) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(ctx, key)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

func TestMemoryAllowsBurstThenRefuses(t *testing.T) {
	clock := newFakeClock()
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 3}, ratelimit.MemoryOptions{Now: clock.Now})
	want := []ratelimit.Decision{
		{Allowed: true, Limit: 3, Remaining: 2, Reset: 1 * time.Second},
		{Allowed: true, Limit: 3, Remaining: 1, Reset: 2 * time.Second},
		{Allowed: true, Limit: 3, Remaining: 0, Reset: 3 * time.Second},
		{Allowed: false, Limit: 3, Remaining: 0, RetryAfter: time.Second, Reset: 3 * time.Second},
		{Allowed: false, Limit: 3, Remaining: 0, RetryAfter: time.Second, Reset: 3 * time.Second},
	}
	for i, w := range want {
		if got := allow(t, m, "ip:192.0.2.1"); got != w {
			t.Errorf("request %d: got %+v, want %+v", i+1, got, w)
		}
	}
}

func TestMemoryRefillsOverTime(t *testing.T) {
	// Two tokens a second: one every 500ms, at most four banked.
	policy := ratelimit.Policy{Rate: 2, Burst: 4}
	for _, tc := range []struct {
		name    string
		wait    time.Duration
		allowed int
	}{
		{"no wait", 0, 0},
		{"just under one interval", 499 * time.Millisecond, 0},
		{"one interval", 500 * time.Millisecond, 1},
		{"one and a half intervals", 750 * time.Millisecond, 1},
		{"three intervals", 1500 * time.Millisecond, 3},
		{"full refill", 2 * time.Second, 4},
		{"long idle stays capped at burst", time.Hour, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			m := newMemory(t, policy, ratelimit.MemoryOptions{Now: clock.Now})
			for range policy.Burst {
				allow(t, m, "k")
			}
			clock.Advance(tc.wait)
			got := 0
			for allow(t, m, "k").Allowed {
				got++
			}
			if got != tc.allowed {
				t.Errorf("after %v, %d requests allowed, want %d", tc.wait, got, tc.allowed)
			}
		})
	}
}

func TestMemoryRefusalTimings(t *testing.T) {
	clock := newFakeClock()
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 2}, ratelimit.MemoryOptions{Now: clock.Now})
	allow(t, m, "k")
	allow(t, m, "k")
	clock.Advance(250 * time.Millisecond)
	got := allow(t, m, "k")
	want := ratelimit.Decision{Limit: 2, RetryAfter: 750 * time.Millisecond, Reset: 1750 * time.Millisecond}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	clock.Advance(750 * time.Millisecond)
	got = allow(t, m, "k")
	want = ratelimit.Decision{Allowed: true, Limit: 2, Remaining: 0, Reset: 2 * time.Second}
	if got != want {
		t.Errorf("after waiting RetryAfter: got %+v, want %+v", got, want)
	}
}

func TestMemoryKeysHaveSeparateBuckets(t *testing.T) {
	clock := newFakeClock()
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{Now: clock.Now})
	if !allow(t, m, "ip:192.0.2.1").Allowed {
		t.Fatal("first request of the first key refused")
	}
	if allow(t, m, "ip:192.0.2.1").Allowed {
		t.Fatal("second request of the first key allowed")
	}
	if !allow(t, m, "ip:192.0.2.2").Allowed {
		t.Fatal("another key was refused because of the first")
	}
}

func TestMemoryToleratesAClockGoingBackwards(t *testing.T) {
	clock := newFakeClock()
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{Now: clock.Now})
	allow(t, m, "k")
	clock.Advance(-time.Hour)
	if d := allow(t, m, "k"); d.Allowed || d.RetryAfter <= 0 {
		t.Errorf("after the clock went back, got %+v, want a refusal", d)
	}
	clock.Advance(100 * 365 * 24 * time.Hour) // far beyond any window
	if d := allow(t, m, "k"); !d.Allowed || d.Remaining != 0 {
		t.Errorf("after the clock jumped ahead, got %+v, want one allowed request", d)
	}
}

func TestMemoryKeyLength(t *testing.T) {
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{})
	for _, tc := range []struct {
		name    string
		key     string
		wantErr error
	}{
		{"empty", "", nil},
		{"exactly 256 bytes", strings.Repeat("k", 256), nil},
		{"257 bytes", strings.Repeat("k", 257), ratelimit.ErrKeyTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Allow(ctx, tc.key)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Allow() error = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if m.Len() != 2 {
		t.Errorf("Len() = %d, want 2: the refused key must not take a bucket", m.Len())
	}
}

func TestMemoryNeverHoldsMoreThanMaxKeys(t *testing.T) {
	for _, maxKeys := range []int{1, 4, 100, 1000, 20_000} {
		t.Run(strconv.Itoa(maxKeys), func(t *testing.T) {
			m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{MaxKeys: maxKeys})
			for i := range 3 * maxKeys {
				allow(t, m, "ip:"+strconv.Itoa(i))
				if n := m.Len(); n > maxKeys {
					t.Fatalf("after %d keys, Len() = %d, above MaxKeys %d", i+1, n, maxKeys)
				}
			}
			if n := m.Len(); n != maxKeys {
				t.Errorf("after 3*MaxKeys keys, Len() = %d, want MaxKeys %d", n, maxKeys)
			}
		})
	}
}

func TestMemoryDefaultMaxKeysIs100k(t *testing.T) {
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{})
	for i := range ratelimit.DefaultMaxKeys + 1000 {
		allow(t, m, "ip:"+strconv.Itoa(i))
	}
	if n := m.Len(); n != 100_000 {
		t.Errorf("Len() = %d, want 100000", n)
	}
}

// Eviction is observable from outside: an evicted key's bucket comes back
// full.
func TestMemoryEvictionSparesRecentlyUsedKeys(t *testing.T) {
	for _, maxKeys := range []int{2, 8, 64} {
		t.Run(strconv.Itoa(maxKeys), func(t *testing.T) {
			clock := newFakeClock()
			// One token a day: nothing refills during the test.
			m := newMemory(t, ratelimit.Policy{Rate: 1.0 / 86400, Burst: 1}, ratelimit.MemoryOptions{MaxKeys: maxKeys, Now: clock.Now})
			const kept, idle = "kept", "idle"
			allow(t, m, kept) // drains its bucket
			allow(t, m, idle)
			// A flood of new keys, with the kept key used between each.
			for i := range 50 * maxKeys {
				if d := allow(t, m, kept); d.Allowed {
					t.Fatalf("after %d new keys the recently used key was evicted (its bucket came back full)", i)
				}
				allow(t, m, "flood-"+strconv.Itoa(i))
			}
			if m.Len() != maxKeys {
				t.Errorf("Len() = %d, want %d", m.Len(), maxKeys)
			}
			if d := allow(t, m, idle); !d.Allowed {
				t.Error("the idle key was never evicted: its drained bucket survived the flood")
			}
		})
	}
}

// With all buckets in one shard and the limit reached, a key for another
// shard must take a bucket from there without exceeding MaxKeys.
func TestMemoryEvictsAcrossShardsWhenItsShardIsEmpty(t *testing.T) {
	const maxKeys = 128
	m := newMemory(t, ratelimit.Policy{Rate: 1.0 / 86400, Burst: 2}, ratelimit.MemoryOptions{MaxKeys: maxKeys})
	if m.Shards() < 2 {
		t.Fatalf("need at least 2 shards, have %d", m.Shards())
	}
	var inZero []string
	var other string
	for i := 0; len(inZero) < maxKeys || other == ""; i++ {
		k := "k" + strconv.Itoa(i)
		if m.ShardOf(k) == 0 {
			if len(inZero) < maxKeys {
				inZero = append(inZero, k)
			}
		} else if other == "" {
			other = k
		}
	}
	for _, k := range inZero {
		allow(t, m, k)
	}
	if m.Len() != maxKeys {
		t.Fatalf("Len() = %d, want %d", m.Len(), maxKeys)
	}
	if d := allow(t, m, other); d.Remaining != 1 {
		t.Fatalf("first request of the new key: %+v", d)
	}
	if d := allow(t, m, other); d.Remaining != 0 || !d.Allowed {
		t.Fatalf("second request of the new key: %+v, want its bucket kept", d)
	}
	if m.Len() != maxKeys {
		t.Errorf("Len() = %d, want %d", m.Len(), maxKeys)
	}
	if err := m.CheckInvariants(); err != nil {
		t.Error(err)
	}
}

// A shard may hold at most twice its fair share, which bounds the memory of
// each shard's table whatever the hash distribution.
func TestMemoryCapsEachShard(t *testing.T) {
	m := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{})
	limit := 2 * ((ratelimit.DefaultMaxKeys + m.Shards() - 1) / m.Shards())
	n := 0
	for i := 0; n < limit+100; i++ {
		k := "k" + strconv.Itoa(i)
		if m.ShardOf(k) == 0 {
			allow(t, m, k)
			n++
		}
	}
	if m.Len() != limit {
		t.Errorf("one shard holds %d buckets, want its cap %d", m.Len(), limit)
	}
}

func TestMemoryConcurrentRequestsOnOneKeyShareItsBurst(t *testing.T) {
	const burst, workers, each = 100, 16, 50
	clock := newFakeClock()
	m := newMemory(t, ratelimit.Policy{Rate: 1.0 / 86400, Burst: burst}, ratelimit.MemoryOptions{Now: clock.Now})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				d, err := m.Allow(ctx, "shared")
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != burst {
		t.Errorf("%d requests allowed, want exactly the burst of %d", got, burst)
	}
}

func TestMemoryConcurrentChurnStaysBounded(t *testing.T) {
	const maxKeys = 200
	m := newMemory(t, ratelimit.Policy{Rate: 10, Burst: 5}, ratelimit.MemoryOptions{MaxKeys: maxKeys})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				// Mix returning keys with a stream of new ones.
				k := "hot-" + strconv.Itoa(i%20)
				if i%2 == 1 {
					k = "new-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				}
				if _, err := m.Allow(ctx, k); err != nil {
					t.Error(err)
					return
				}
				if n := m.Len(); n > maxKeys {
					t.Errorf("Len() = %d, above MaxKeys %d", n, maxKeys)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := m.CheckInvariants(); err != nil {
		t.Error(err)
	}
}

// Churn through evictions, table growth and probe runs that wrap around,
// and check that every surviving bucket can still be found.
func TestMemoryTablesStayConsistentUnderChurn(t *testing.T) {
	for _, maxKeys := range []int{1, 3, 7, 50, 200, 5000} {
		t.Run(strconv.Itoa(maxKeys), func(t *testing.T) {
			clock := newFakeClock()
			m := newMemory(t, ratelimit.Policy{Rate: 1.0 / 86400, Burst: 3}, ratelimit.MemoryOptions{MaxKeys: maxKeys, Now: clock.Now})
			// Twice as many keys as fit, revisited in a scattered order.
			every := 97 + maxKeys/10 // a check scans every table
			for i := range 20 * maxKeys {
				allow(t, m, "k"+strconv.Itoa(i*7919%(2*maxKeys+3)))
				if i%every == 0 {
					if err := m.CheckInvariants(); err != nil {
						t.Fatalf("after %d requests: %v", i+1, err)
					}
				}
			}
			if err := m.CheckInvariants(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
