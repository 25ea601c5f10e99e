package ticket

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxTickets bounds a Memory whose MaxTickets is 0.
const DefaultMaxTickets = 100_000

// Memory is a Store in process memory, for a single instance. The zero
// value is ready to use; set the fields before the first call. Safe for
// concurrent use.
//
// It holds at most MaxTickets live tickets and refuses new ones with
// ErrFull beyond that, rather than evicting a live ticket, so a flood of
// issued tickets cannot invalidate others; each entry is bounded by
// MaxBytes and MaxValueBytes.
type Memory struct {
	// MaxTickets bounds the live tickets; DefaultMaxTickets when 0.
	MaxTickets int
	// Now replaces the clock, for tests.
	Now func() time.Time

	mu        sync.Mutex
	tickets   map[string]memTicket
	nextSweep time.Time
}

type memTicket struct {
	value   string
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory with the default bound.
func NewMemory() *Memory { return &Memory{} }

// sweepEvery spaces out full scans for expired tickets.
const sweepEvery = time.Minute

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Issue implements Store.
func (m *Memory) Issue(ctx context.Context, ticket, value string, ttl time.Duration) error {
	if err := CheckIssue(ticket, value, ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := m.now()
	limit := m.MaxTickets
	if limit <= 0 {
		limit = DefaultMaxTickets
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tickets == nil {
		m.tickets = make(map[string]memTicket)
	}
	if t, ok := m.tickets[ticket]; ok {
		if now.Before(t.expires) {
			return ErrExists
		}
		delete(m.tickets, ticket)
	}
	if len(m.tickets) >= limit || !now.Before(m.nextSweep) {
		for k, t := range m.tickets {
			if !now.Before(t.expires) {
				delete(m.tickets, k)
			}
		}
		m.nextSweep = now.Add(sweepEvery)
	}
	if len(m.tickets) >= limit {
		return ErrFull
	}
	m.tickets[ticket] = memTicket{value: value, expires: now.Add(ttl)}
	return nil
}

// Redeem implements Store.
func (m *Memory) Redeem(ctx context.Context, ticket string) (string, bool, error) {
	if err := CheckTicket(ticket); err != nil {
		return "", false, err
	}
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	now := m.now()
	m.mu.Lock()
	t, ok := m.tickets[ticket]
	if ok {
		delete(m.tickets, ticket)
	}
	m.mu.Unlock()
	if !ok || !now.Before(t.expires) {
		return "", false, nil
	}
	return t.value, true, nil
}

// Len returns the number of tickets held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tickets)
}
