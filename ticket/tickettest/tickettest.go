// Package tickettest checks that a ticket.Store keeps the package ticket
// contract, so that every backend is held to the same tests: redeemed at
// most once on any instance, even under concurrent calls; never
// overwritten while live; expired after its TTL; the same arguments
// refused. It is meant for tests only.
package tickettest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/ticket"
)

// Run tests the Stores that newStores returns: two or more instances that
// share their tickets (clients of one server, or one Store several times),
// fresh for each test.
func Run(t *testing.T, newStores func(t *testing.T) []ticket.Store) {
	ctx := context.Background()
	pair := func(t *testing.T) (ticket.Store, ticket.Store) {
		inst := newStores(t)
		if len(inst) < 2 {
			t.Fatalf("tickettest: %d instances, want two or more", len(inst))
		}
		return inst[0], inst[1]
	}
	t.Run("redeemed once, on any instance", func(t *testing.T) {
		a, b := pair(t)
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
		a, _ := pair(t)
		if _, ok, err := a.Redeem(ctx, "tk-never"); err != nil || ok {
			t.Errorf("Redeem = %v, %v", ok, err)
		}
	})
	t.Run("expires", func(t *testing.T) {
		a, b := pair(t)
		if err := a.Issue(ctx, "tk-2", "v", 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(120 * time.Millisecond)
		if _, ok, err := b.Redeem(ctx, "tk-2"); err != nil || ok {
			t.Errorf("Redeem after the TTL = %v, %v", ok, err)
		}
	})
	t.Run("never overwritten", func(t *testing.T) {
		a, b := pair(t)
		if err := a.Issue(ctx, "tk-3", "first", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := b.Issue(ctx, "tk-3", "second", time.Minute); !errors.Is(err, ticket.ErrExists) {
			t.Errorf("Issue of a live ticket: %v, want ErrExists", err)
		}
		if v, ok, _ := a.Redeem(ctx, "tk-3"); !ok || v != "first" {
			t.Errorf("Redeem = %q, %v; want the first value", v, ok)
		}
	})
	t.Run("empty value", func(t *testing.T) {
		a, _ := pair(t)
		if err := a.Issue(ctx, "tk-4", "", time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := a.Redeem(ctx, "tk-4"); err != nil || !ok || v != "" {
			t.Errorf("Redeem = %q, %v, %v", v, ok, err)
		}
	})
	t.Run("invalid arguments", func(t *testing.T) {
		a, _ := pair(t)
		bad := []struct {
			name, ticket, value string
			ttl                 time.Duration
		}{
			{"empty ticket", "", "v", time.Minute},
			{"long ticket", strings.Repeat("t", ticket.MaxBytes+1), "v", time.Minute},
			{"long value", "tk", strings.Repeat("v", ticket.MaxValueBytes+1), time.Minute},
			{"zero TTL", "tk", "v", 0},
			{"sub-millisecond TTL", "tk", "v", time.Microsecond},
			{"long TTL", "tk", "v", ticket.MaxTTL + time.Second},
		}
		for _, tt := range bad {
			if err := a.Issue(ctx, tt.ticket, tt.value, tt.ttl); !errors.Is(err, ticket.ErrInvalid) {
				t.Errorf("%s: Issue error = %v, want ErrInvalid", tt.name, err)
			}
		}
		if _, _, err := a.Redeem(ctx, ""); !errors.Is(err, ticket.ErrInvalid) {
			t.Errorf("Redeem of an empty ticket: %v", err)
		}
	})
	t.Run("concurrent redeems: exactly one wins", func(t *testing.T) {
		inst := newStores(t)
		for round := range 5 {
			tk := "tk-race-" + strconv.Itoa(round)
			if err := inst[0].Issue(ctx, tk, "prize", time.Minute); err != nil {
				t.Fatal(err)
			}
			var wins atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 20 {
				wg.Go(func() {
					<-start
					v, ok, err := inst[i%len(inst)].Redeem(ctx, tk)
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
}
