// Package revoke records revoked token ids (JWT "jti") until the tokens they
// name expire.
//
// Contract: a Store answers IsRevoked truthfully or returns an error; it
// never answers "not revoked" when it does not know. Callers must treat an
// error as "revoked" (fail closed). Entries live only as long as the token
// they name, so a Store's size is bounded by the revocation rate times the
// token lifetime. The memory Store refuses a new entry when full rather
// than forgetting a live one, because forgetting would silently un-revoke a
// token.
package revoke

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrFull is returned by Revoke when the memory store holds its maximum
// number of live entries.
var ErrFull = errors.New("revoke: store is full of live entries")

// ErrInvalidID is returned for an empty token id.
var ErrInvalidID = errors.New("revoke: empty token id")

// Store is a revocation list of token ids.
type Store interface {
	// Revoke marks id as revoked until expiresAt (the token's own expiry).
	Revoke(ctx context.Context, id string, expiresAt time.Time) error
	// IsRevoked reports whether id is revoked. An error means the answer
	// is unknown; callers must refuse the token.
	IsRevoked(ctx context.Context, id string) (bool, error)
}

// DefaultMaxEntries bounds a Memory store created with MaxEntries 0.
const DefaultMaxEntries = 1_000_000

// Memory is an in-process Store for a single instance. Safe for concurrent
// use.
type Memory struct {
	mu         sync.RWMutex
	entries    map[string]int64 // id -> expiry, Unix nanoseconds
	maxEntries int
	now        func() time.Time
	nextSweep  int64
}

// MemoryOptions configures a Memory store; the zero value is usable.
type MemoryOptions struct {
	// MaxEntries bounds the live entries; DefaultMaxEntries when 0.
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
	return &Memory{entries: make(map[string]int64), maxEntries: opts.MaxEntries, now: opts.Now}
}

// sweepInterval spaces out full scans for expired entries so that a burst
// of revocations does not scan the map once per call.
const sweepInterval = int64(time.Minute)

// Revoke implements Store. A token that has already expired needs no entry.
func (m *Memory) Revoke(_ context.Context, id string, expiresAt time.Time) error {
	if id == "" {
		return ErrInvalidID
	}
	now := m.now().UnixNano()
	exp := expiresAt.UnixNano()
	if exp <= now {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.entries[id]; ok {
		m.entries[id] = max(old, exp)
		return nil
	}
	if len(m.entries) >= m.maxEntries || now >= m.nextSweep {
		m.sweepLocked(now)
	}
	if len(m.entries) >= m.maxEntries {
		return ErrFull
	}
	m.entries[id] = exp
	return nil
}

func (m *Memory) sweepLocked(now int64) {
	for id, exp := range m.entries {
		if exp <= now {
			delete(m.entries, id)
		}
	}
	m.nextSweep = now + sweepInterval
}

// IsRevoked implements Store. It never fails.
func (m *Memory) IsRevoked(_ context.Context, id string) (bool, error) {
	m.mu.RLock()
	exp, ok := m.entries[id]
	m.mu.RUnlock()
	return ok && exp > m.now().UnixNano(), nil
}

// Len returns the number of entries held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}
