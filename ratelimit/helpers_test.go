package ratelimit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/ratelimit"
)

// fakeClock is a clock that moves only when told, so refill tests need no
// sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newMemory(t testing.TB, p ratelimit.Policy, opts ratelimit.MemoryOptions) *ratelimit.Memory {
	t.Helper()
	m, err := ratelimit.NewMemory(p, opts)
	if err != nil {
		t.Fatalf("NewMemory(%+v): %v", p, err)
	}
	return m
}
