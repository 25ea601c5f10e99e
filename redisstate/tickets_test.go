package redisstate_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/redisstate"
)

// ticketStores returns each implementation as several instances sharing
// state: three Redis clients under one prefix, or one MemoryTickets.
func ticketStores(t *testing.T) map[string][]redisstate.TicketStore {
	stores := map[string][]redisstate.TicketStore{}
	mem := redisstate.NewMemoryTickets()
	stores["memory"] = []redisstate.TicketStore{mem, mem, mem}
	if redistestURLSet() {
		prefix := redistest.Prefix(t)
		for range 3 {
			stores["redis"] = append(stores["redis"], redisstate.NewTickets(redistest.Open(t), prefix))
		}
	}
	return stores
}

func TestTickets(t *testing.T) {
	for name, inst := range ticketStores(t) {
		t.Run(name, func(t *testing.T) {
			a, b := inst[0], inst[1]
			t.Run("redeemed once, on any instance", func(t *testing.T) {
				if err := a.Issue(ctx, "tk-1", "user:42", time.Minute); err != nil {
					t.Fatal(err)
				}
				v, ok, err := b.Redeem(ctx, "tk-1")
				if err != nil || !ok || v != "user:42" {
					t.Fatalf("Redeem = %q, %v, %v; want user:42, true", v, ok, err)
				}
				if v, ok, err := a.Redeem(ctx, "tk-1"); err != nil || ok || v != "" {
					t.Errorf("second Redeem = %q, %v, %v; want nothing", v, ok, err)
				}
			})
			t.Run("unknown", func(t *testing.T) {
				if _, ok, err := a.Redeem(ctx, "tk-never"); err != nil || ok {
					t.Errorf("Redeem = %v, %v", ok, err)
				}
			})
			t.Run("expires", func(t *testing.T) {
				if err := a.Issue(ctx, "tk-2", "v", 50*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				time.Sleep(120 * time.Millisecond)
				if _, ok, err := b.Redeem(ctx, "tk-2"); err != nil || ok {
					t.Errorf("Redeem after the TTL = %v, %v", ok, err)
				}
			})
			t.Run("never overwritten", func(t *testing.T) {
				if err := a.Issue(ctx, "tk-3", "first", time.Minute); err != nil {
					t.Fatal(err)
				}
				if err := b.Issue(ctx, "tk-3", "second", time.Minute); !errors.Is(err, redisstate.ErrTicketExists) {
					t.Errorf("Issue of a live ticket: %v, want ErrTicketExists", err)
				}
				if v, ok, _ := a.Redeem(ctx, "tk-3"); !ok || v != "first" {
					t.Errorf("Redeem = %q, %v; want the first value", v, ok)
				}
			})
			t.Run("empty value", func(t *testing.T) {
				if err := a.Issue(ctx, "tk-4", "", time.Minute); err != nil {
					t.Fatal(err)
				}
				if v, ok, err := a.Redeem(ctx, "tk-4"); err != nil || !ok || v != "" {
					t.Errorf("Redeem = %q, %v, %v", v, ok, err)
				}
			})
			t.Run("invalid arguments", func(t *testing.T) {
				bad := []struct {
					name, ticket, value string
					ttl                 time.Duration
				}{
					{"empty ticket", "", "v", time.Minute},
					{"long ticket", strings.Repeat("t", redisstate.MaxTicketBytes+1), "v", time.Minute},
					{"long value", "tk", strings.Repeat("v", redisstate.MaxTicketValueBytes+1), time.Minute},
					{"zero TTL", "tk", "v", 0},
					{"sub-millisecond TTL", "tk", "v", time.Microsecond},
					{"long TTL", "tk", "v", redisstate.MaxTicketTTL + time.Second},
				}
				for _, tt := range bad {
					if err := a.Issue(ctx, tt.ticket, tt.value, tt.ttl); !errors.Is(err, redisstate.ErrInvalidTicket) {
						t.Errorf("%s: Issue error = %v, want ErrInvalidTicket", tt.name, err)
					}
				}
				if _, _, err := a.Redeem(ctx, ""); !errors.Is(err, redisstate.ErrInvalidTicket) {
					t.Errorf("Redeem of an empty ticket: %v", err)
				}
			})
			t.Run("concurrent redeems: exactly one wins", func(t *testing.T) {
				for round := range 5 {
					ticket := "tk-race-" + strconv.Itoa(round)
					if err := a.Issue(ctx, ticket, "prize", time.Minute); err != nil {
						t.Fatal(err)
					}
					var wins atomic.Int64
					var wg sync.WaitGroup
					start := make(chan struct{})
					for i := range 20 {
						wg.Go(func() {
							<-start
							v, ok, err := inst[i%len(inst)].Redeem(ctx, ticket)
							if err != nil {
								t.Error(err)
							}
							if ok {
								if v != "prize" {
									t.Errorf("value %q", v)
								}
								wins.Add(1)
							}
						})
					}
					close(start)
					wg.Wait()
					if wins.Load() != 1 {
						t.Fatalf("round %d: %d redeems succeeded, want exactly 1", round, wins.Load())
					}
				}
			})
		})
	}
}

func TestTicketsStoredAsDigests(t *testing.T) {
	c := redistest.Open(t)
	prefix := redistest.Prefix(t)
	s := redisstate.NewTickets(c, prefix)
	if err := s.Issue(ctx, "bearer-s3cret-ticket", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	keys, err := redistest.Keys(ctx, c, prefix)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %q, %v", keys, err)
	}
	if strings.Contains(keys[0], "s3cret") {
		t.Errorf("key %q shows the ticket", keys[0])
	}
	if ttl := c.PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL = %v", ttl)
	}
}

func TestMemoryTicketsBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := &redisstate.MemoryTickets{MaxTickets: 2, Now: clock}

	if err := m.Issue(ctx, "a", "1", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Issue(ctx, "b", "2", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := m.Issue(ctx, "c", "3", time.Minute); !errors.Is(err, redisstate.ErrFull) {
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
