package ticket_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/ticket"
	"github.com/wardenhq/warden/ticket/tickettest"
)

var ctx = context.Background()

func TestMemory(t *testing.T) {
	tickettest.Run(t, func(t *testing.T) []ticket.Store {
		m := ticket.NewMemory()
		return []ticket.Store{m, m, m}
	})
}

func TestMemoryBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := &ticket.Memory{MaxTickets: 2, Now: clock}

	if err := m.Issue(ctx, "a", "1", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Issue(ctx, "b", "2", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := m.Issue(ctx, "c", "3", time.Minute); !errors.Is(err, ticket.ErrFull) {
		t.Fatalf("third live ticket: %v, want ErrFull", err)
	}
	if m.Len() != 2 {
		t.Errorf("Len = %d after a refusal", m.Len())
	}
	// Once "a" expires, its place is free; live "b" was never evicted.
	advance(2 * time.Second)
	if err := m.Issue(ctx, "c", "3", time.Minute); err != nil {
		t.Fatalf("after an expiry: %v", err)
	}
	if v, ok, _ := m.Redeem(ctx, "b"); !ok || v != "2" {
		t.Errorf("live ticket b: %q, %v", v, ok)
	}
	if _, ok, _ := m.Redeem(ctx, "a"); ok {
		t.Error("expired ticket a redeemed")
	}
	// An expired ticket may be issued again.
	if err := m.Issue(ctx, "x", "1", time.Second); err != nil {
		t.Fatal(err)
	}
	advance(time.Second)
	if err := m.Issue(ctx, "x", "2", time.Second); err != nil {
		t.Errorf("reissuing an expired ticket: %v", err)
	}
}
