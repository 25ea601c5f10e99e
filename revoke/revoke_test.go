package revoke_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/revoke/revoketest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestMemoryEntriesExpireWithTheToken(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	m := revoke.NewMemory(revoke.MemoryOptions{Now: c.Now})
	if err := m.Revoke(ctx, "a", c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r, _ := m.Check(ctx, revoke.Token{ID: "a"}); !r {
		t.Fatal("a not revoked")
	}
	if r, _ := m.Check(ctx, revoke.Token{ID: "b"}); r {
		t.Fatal("b revoked")
	}
	c.Add(2 * time.Minute)
	if r, _ := m.Check(ctx, revoke.Token{ID: "a"}); r {
		t.Fatal("a still revoked after its token expired")
	}
	// An already expired token needs no entry.
	if err := m.Revoke(ctx, "old", c.Now().Add(-time.Second)); err != nil || m.Len() != 1 {
		t.Fatalf("err %v len %d", err, m.Len())
	}
	if err := m.Revoke(ctx, "", c.Now().Add(time.Minute)); !errors.Is(err, revoke.ErrInvalidID) {
		t.Fatalf("empty id: %v", err)
	}
}

func TestMemoryRefusesWhenFullInsteadOfForgetting(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	m := revoke.NewMemory(revoke.MemoryOptions{MaxEntries: 3, Now: c.Now})
	for i := range 3 {
		if err := m.Revoke(ctx, fmt.Sprint(i), c.Now().Add(time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Revoke(ctx, "x", c.Now().Add(time.Hour)); !errors.Is(err, revoke.ErrFull) {
		t.Fatalf("full store: %v", err)
	}
	for i := range 3 {
		if r, _ := m.Check(ctx, revoke.Token{ID: fmt.Sprint(i)}); !r {
			t.Fatalf("entry %d forgotten", i)
		}
	}
	// Once an entry expires, its room is reclaimed.
	c.Add(90 * time.Second)
	if err := m.Revoke(ctx, "x", c.Now().Add(time.Hour)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if m.Len() != 3 {
		t.Fatalf("len %d", m.Len())
	}
}

func TestMemoryConcurrentUse(t *testing.T) {
	ctx := context.Background()
	m := revoke.NewMemory(revoke.MemoryOptions{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprintf("%d-%d", g, i)
				if err := m.Revoke(ctx, id, time.Now().Add(time.Minute)); err != nil {
					t.Error(err)
					return
				}
				if r, err := m.Check(ctx, revoke.Token{ID: id}); err != nil || !r {
					t.Errorf("%s: %v %v", id, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestMemorySessionAndUserGrains(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	m := revoke.NewMemory(revoke.MemoryOptions{Now: c.Now})
	revoketest.Grains(t, m, c.Now)
	// Marks are forgotten once nothing they cover can be live.
	c.Add(2 * time.Hour)
	if r, _ := m.Check(ctx, revoke.Token{ID: "a", Session: "login-1", Subject: "u1", IssuedAt: c.Now().Add(-3 * time.Hour)}); r {
		t.Fatal("marks outlived their until")
	}
}
