package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"time"
)

// ErrSessionExists is returned by MemorySessionStore.Add for a session id
// or digest it already holds.
var ErrSessionExists = errors.New("sessions: session already stored")

// MemorySessionStore is a SessionStore in this process, for a single
// instance and for tests: sessions are lost when the process ends. It
// forgets a session once MaxLifetime has passed since it started, so its
// size is bounded by the login rate times the lifetime. Safe for
// concurrent use.
type MemorySessionStore struct {
	maxLifetime time.Duration
	now         func() time.Time

	mu        sync.Mutex
	byDigest  map[[sha256.Size]byte]*Session
	digestOf  map[string][sha256.Size]byte // session id -> digest
	nextSweep time.Time
}

// NewMemorySessionStore returns an empty store that forgets sessions
// maxLifetime after they started (DefaultSessionMax when 0): give it the
// MaxLifetime of the Sessions that reads it. now is the clock (time.Now
// when nil).
func NewMemorySessionStore(maxLifetime time.Duration, now func() time.Time) *MemorySessionStore {
	if maxLifetime <= 0 {
		maxLifetime = DefaultSessionMax
	}
	if now == nil {
		now = time.Now
	}
	return &MemorySessionStore{maxLifetime: maxLifetime, now: now,
		byDigest: map[[sha256.Size]byte]*Session{}, digestOf: map[string][sha256.Size]byte{}}
}

// Add stores session s under the digest of its cookie value
// (NewSessionSecret). It refuses a session id or digest already held.
func (m *MemorySessionStore) Add(digest [sha256.Size]byte, s Session) error {
	if s.ID == "" || s.UserID == "" {
		return errors.New("sessions: a session needs an ID and a UserID")
	}
	s.Permissions = slices.Clone(s.Permissions)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked()
	if _, dup := m.digestOf[s.ID]; dup {
		return ErrSessionExists
	}
	if _, dup := m.byDigest[digest]; dup {
		return ErrSessionExists
	}
	m.byDigest[digest] = &s
	m.digestOf[s.ID] = digest
	return nil
}

// End marks session id ended (logout): lookups find it ended until it is
// forgotten. It reports whether the store held the session.
func (m *MemorySessionStore) End(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.digestOf[id]
	if ok {
		m.byDigest[d].Ended = true
	}
	return ok
}

// EndUser marks every session of userID ended and returns their ids.
func (m *MemorySessionStore) EndUser(userID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for _, s := range m.byDigest {
		if s.UserID == userID && !s.Ended {
			s.Ended = true
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// LookupSession implements SessionStore. It returns a copy.
func (m *MemorySessionStore) LookupSession(_ context.Context, digest [sha256.Size]byte) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byDigest[digest]
	if !ok {
		return nil, nil
	}
	c := *s
	c.Permissions = slices.Clone(s.Permissions)
	return &c, nil
}

// TouchSession implements SessionStore; LastSeenAt only moves forward.
func (m *MemorySessionStore) TouchSession(_ context.Context, id string, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.digestOf[id]; ok && t.After(m.byDigest[d].LastSeenAt) {
		m.byDigest[d].LastSeenAt = t
	}
	return nil
}

// Len returns the number of sessions held.
func (m *MemorySessionStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byDigest)
}

// sweepLocked forgets sessions past their lifetime, at most once per
// SessionTouchInterval so that a burst of logins does not scan the map
// each time.
func (m *MemorySessionStore) sweepLocked() {
	now := m.now()
	if now.Before(m.nextSweep) {
		return
	}
	for d, s := range m.byDigest {
		if !now.Before(s.CreatedAt.Add(m.maxLifetime)) {
			delete(m.byDigest, d)
			delete(m.digestOf, s.ID)
		}
	}
	m.nextSweep = now.Add(SessionTouchInterval)
}
