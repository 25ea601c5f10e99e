// Package checkcache remembers "not revoked" answers of a shared revocation
// store, so that a request does not pay a round trip to Redis or the
// database for a token that was checked a moment ago.
//
// Contract: a remembered answer is used only while all of these hold,
// otherwise the caller asks the store again:
//   - it is younger than MaxAge (revoke.MaxPropagation leaves the bound);
//   - the invalidation feed (Redis pub/sub, a database poll) has confirmed,
//     no longer ago than its own deadline, that this instance hears of
//     every revocation (Confirm);
//   - no revocation has been heard of since the store was asked
//     (Invalidate), on this instance or another.
//
// The last rule is enforced with a generation counter read before the store
// is asked (Begin) and compared when the answer is stored (Remember), so an
// answer that raced with a revocation is never kept. Only "not revoked"
// answers are kept: "revoked" is final, and errors are never cached.
package checkcache

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/revoke"
)

// MaxAge is the default longest time an answer is trusted: below
// revoke.MaxPropagation (5 s), leaving a second for the feed's own delay.
const MaxAge = 4 * time.Second

// maxEntries bounds the cache; when full it starts again empty, which
// costs one store round trip per live token and nothing else.
const maxEntries = 100_000

// Key returns the key under which the answer for t is remembered, and
// false when it is not to be remembered. The key must stand for every
// field the answer depends on (the token, its login, its holder and its
// issue time):
//   - a token with an id ("jti") is keyed by the id alone: the id names
//     one token, whose login, holder and issue time its signature fixes;
//   - a credential without one but bound to a login (a session cookie,
//     auth.Sessions) is keyed by its login, holder and issue time
//     together, in a form that begins with a NUL byte;
//   - a token id that begins with a NUL byte is never remembered, so that
//     the two kinds of key can never meet, nor is a credential bound to
//     no login and without an id.
func Key(t revoke.Token) (string, bool) {
	switch {
	case t.ID != "":
		return t.ID, t.ID[0] != 0
	case t.Session == "":
		return "", false
	}
	// Lengths first, so that no two different triples share a key.
	b := make([]byte, 0, 1+len(t.Session)+len(t.Subject)+48)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(len(t.Session)), 10)
	b = append(b, ':')
	b = append(b, t.Session...)
	b = strconv.AppendInt(b, int64(len(t.Subject)), 10)
	b = append(b, ':')
	b = append(b, t.Subject...)
	if t.IssuedAt.IsZero() {
		b = append(b, 'z')
	} else {
		b = strconv.AppendInt(b, t.IssuedAt.UnixNano(), 10)
	}
	return string(b), true
}

// Cache is safe for concurrent use. The zero value is not usable; use New.
type Cache struct {
	maxAge     time.Duration
	now        func() time.Time
	generation atomic.Uint64
	trustUntil atomic.Int64 // Unix nanoseconds; 0 while the feed is down

	mu      sync.RWMutex
	entries map[string]entry
}

type entry struct {
	generation uint64
	checkedAt  int64
}

// New returns an empty cache; maxAge 0 means MaxAge, now nil means
// time.Now.
func New(maxAge time.Duration, now func() time.Time) *Cache {
	if maxAge <= 0 {
		maxAge = MaxAge
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{maxAge: maxAge, now: now, entries: map[string]entry{}}
}

// Fresh reports whether key was found not revoked recently enough to be
// trusted now.
func (c *Cache) Fresh(key string) bool {
	now := c.now().UnixNano()
	if now >= c.trustUntil.Load() {
		return false
	}
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	return ok && e.generation == c.generation.Load() && now-e.checkedAt < int64(c.maxAge)
}

// Begin returns the generation to pass to Remember; call it before asking
// the store.
func (c *Cache) Begin() uint64 { return c.generation.Load() }

// Remember records that key was not revoked when the store was asked,
// unless a revocation was heard of since Begin returned generation.
func (c *Cache) Remember(key string, generation uint64) {
	now := c.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if generation != c.generation.Load() {
		return
	}
	if len(c.entries) >= maxEntries {
		clear(c.entries)
	}
	c.entries[key] = entry{generation: generation, checkedAt: now}
}

// Invalidate forgets every answer: a revocation was made or heard of.
func (c *Cache) Invalidate() {
	c.generation.Add(1)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// Confirm records that the feed is up and, as of now, has delivered every
// revocation made before now; answers may be trusted until `until` unless
// confirmed again. When trust had lapsed, answers stored meanwhile are
// forgotten: a revocation may have gone unheard while they were checked.
func (c *Cache) Confirm(until time.Time) {
	if c.now().UnixNano() >= c.trustUntil.Load() {
		c.Invalidate()
	}
	c.trustUntil.Store(until.UnixNano())
}

// Lost records that the feed is down: revocations may be missed, so no
// answer is trusted and every one held is forgotten.
func (c *Cache) Lost() {
	c.trustUntil.Store(0)
	c.Invalidate()
}
