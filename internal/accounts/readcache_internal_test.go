package accounts

import (
	"fmt"
	"testing"
	"time"
)

// TestTTLCacheKeepsNoReadThatRacedAWrite plays the interleavings that
// concurrent requests hit only by chance: a value read before a write
// committed must not be kept once the write has forgotten the entry.
func TestTTLCacheKeepsNoReadThatRacedAWrite(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTTLCache[string, int](time.Second, func() time.Time { return now })

	g := c.begin()
	c.forget("a") // a write of a committed while a's read was under way
	c.put("a", 1, g)
	if _, ok := c.get("a"); ok {
		t.Fatal("a read older than a write was kept")
	}
	g = c.begin()
	c.forgetAll()
	c.put("a", 1, g)
	if _, ok := c.get("a"); ok {
		t.Fatal("a read older than a write to everything was kept")
	}
	// A read begun after the write is kept, for ttl.
	c.put("a", 2, c.begin())
	if v, ok := c.get("a"); !ok || v != 2 {
		t.Fatalf("get = %v, %v", v, ok)
	}
	now = now.Add(time.Second - 1)
	if _, ok := c.get("a"); !ok {
		t.Fatal("expired early")
	}
	now = now.Add(1)
	if _, ok := c.get("a"); ok {
		t.Fatal("served after its ttl")
	}
}

// TestTTLCacheIsBounded: a flood of distinct keys (ids of many users,
// cookies of many sessions) never holds more than the bound.
func TestTTLCacheIsBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTTLCache[string, int](time.Second, func() time.Time { return now })
	limit := readCacheShards * readCacheShardMax
	for i := range 3 * limit {
		c.put(fmt.Sprint("k", i), i, c.begin())
	}
	if n := c.len(); n > limit || n < limit/2 {
		t.Fatalf("%d entries, bound %d", n, limit)
	}
	// The newest entry is always kept.
	last := fmt.Sprint("k", 3*limit-1)
	if _, ok := c.get(last); !ok {
		t.Fatal("the newest entry was dropped")
	}
}
