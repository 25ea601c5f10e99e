package revoke

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxEntries bounds a Memory store created with MaxEntries 0.
const DefaultMaxEntries = 1_000_000

// Memory is an in-process Store for a single instance: revocations are
// lost when the process ends. Safe for concurrent use.
type Memory struct {
	mu         sync.RWMutex
	tokens     map[string]int64 // jti -> expiry, Unix nanoseconds
	sessions   map[string]int64 // sid -> until
	users      map[string]userMark
	maxEntries int
	now        func() time.Time
	nextSweep  int64
}

// userMark is a user's not-before instant and how long it matters.
type userMark struct{ before, until int64 }

// MemoryOptions configures a Memory store; the zero value is usable.
type MemoryOptions struct {
	// MaxEntries bounds the live entries of all grains together;
	// DefaultMaxEntries when 0.
	MaxEntries int
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// NewMemory returns an empty memory store.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{
		tokens: map[string]int64{}, sessions: map[string]int64{}, users: map[string]userMark{},
		maxEntries: opts.MaxEntries, now: opts.Now,
	}
}

// sweepInterval spaces out full scans for expired entries so that a burst
// of revocations does not scan the maps once per call.
const sweepInterval = int64(time.Minute)

// Revoke implements Store. A token that has already expired needs no entry.
func (m *Memory) Revoke(_ context.Context, id string, expiresAt time.Time) error {
	return m.mark(m.tokens, id, expiresAt)
}

// RevokeSession implements Store.
func (m *Memory) RevokeSession(_ context.Context, sid string, until time.Time) error {
	return m.mark(m.sessions, sid, until)
}

// mark records key in one of the id maps until `until`, keeping the later
// of two expiries.
func (m *Memory) mark(entries map[string]int64, key string, until time.Time) error {
	if key == "" {
		return ErrInvalidID
	}
	now, exp := m.now().UnixNano(), until.UnixNano()
	if exp <= now {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := entries[key]; ok {
		entries[key] = max(old, exp)
		return nil
	}
	if err := m.roomLocked(now); err != nil {
		return err
	}
	entries[key] = exp
	return nil
}

// RevokeUser implements Store.
func (m *Memory) RevokeUser(_ context.Context, subject string, before, until time.Time) error {
	if subject == "" {
		return ErrInvalidID
	}
	now := m.now().UnixNano()
	mark := userMark{before: before.UnixNano(), until: until.UnixNano()}
	if mark.until <= now {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.users[subject]; ok {
		m.users[subject] = userMark{before: max(old.before, mark.before), until: max(old.until, mark.until)}
		return nil
	}
	if err := m.roomLocked(now); err != nil {
		return err
	}
	m.users[subject] = mark
	return nil
}

// roomLocked makes room for one entry, sweeping expired ones when full or
// when a sweep is due.
func (m *Memory) roomLocked(now int64) error {
	if m.lenLocked() >= m.maxEntries || now >= m.nextSweep {
		m.sweepLocked(now)
	}
	if m.lenLocked() >= m.maxEntries {
		return ErrFull
	}
	return nil
}

func (m *Memory) lenLocked() int { return len(m.tokens) + len(m.sessions) + len(m.users) }

func (m *Memory) sweepLocked(now int64) {
	for _, entries := range []map[string]int64{m.tokens, m.sessions} {
		for k, exp := range entries {
			if exp <= now {
				delete(entries, k)
			}
		}
	}
	for k, u := range m.users {
		if u.until <= now {
			delete(m.users, k)
		}
	}
	m.nextSweep = now + sweepInterval
}

// Check implements Store. It never fails.
func (m *Memory) Check(_ context.Context, t Token) (bool, error) {
	now := m.now().UnixNano()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if exp, ok := m.tokens[t.ID]; ok && exp > now {
		return true, nil
	}
	if t.Session != "" {
		if until, ok := m.sessions[t.Session]; ok && until > now {
			return true, nil
		}
	}
	if u, ok := m.users[t.Subject]; ok && u.until > now && CoveredBy(t.IssuedAt, u.before) {
		return true, nil
	}
	return false, nil
}

// Len returns the number of entries held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.lenLocked()
}
