package accounts

import (
	"context"
	"crypto/sha256"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/auth"
)

// Read caches. Two reads run on every signed-in request of a busy client
// and were most of the cost of GET /api/auth/me: the account it shows,
// and, for a browser, the session its cookie names. Each is kept for
// readCacheTTL in this process, so that a client polling /me costs one
// query per second instead of one per request.
//
// Freshness, on the instance that makes a change: every write of this
// package to an account that can be cached (names, verification,
// permissions, password; nothing here changes a username, an address or
// the staff and admin flags after creation) forgets that account's entry
// once it has committed, deletions only ever concern accounts that are
// never cached (see accountView), and every statement that ends logins
// forgets every cached session once it has ended some; the next request
// reads the database.
// A read that raced with such a write is not kept (see ttlCache), so a
// change is visible on the next request here.
//
// On other instances and after operator commands (warden user grant,
// which runs in a process of its own), entries are not told: they expire.
// readCacheTTL is therefore the longest a change made elsewhere can go
// unseen, one second. That was chosen over invalidating through Redis:
// it holds the same on every deployment (one SQLite host, a shared
// MySQL or PostgreSQL without Redis, operator commands with no
// subscription), and it has no failure mode of its own, where a lost
// subscription would have to stop the cache being trusted, as
// revoke/internal/checkcache does for revocations.
//
// What a stale entry cannot do is grant access:
//   - /me's is_staff, is_admin and permissions are informational. Every
//     guard judges the request's auth.Identity, built from the access
//     token's claims (fixed when it was issued, up to its 15 minutes) or
//     from the session row read with the cookie; none reads the account.
//   - A cached session is served only while it is not ended and its last
//     use is younger than auth.SessionTouchInterval (so a touch is never
//     skipped, and idleness is never judged from an old value); its
//     absolute lifetime runs from its start, which never changes, and is
//     judged by auth.Sessions on every request; its privileges cannot
//     change while it lives (a change ends the user's cookie sessions);
//     and the revocation list is still asked on
//     every request (auth.Sessions), so a logout, logout-all, password
//     event or operator revocation holds on the next request on the
//     instance that made it and within revoke.MaxPropagation on every
//     other, as for access tokens (API.md). A session ended in the
//     database alone (its revocation failed and was answered 503) is
//     refused on other instances within readCacheTTL.

// readCacheTTL is how long a read is reused; see above.
const readCacheTTL = time.Second

// readCacheShards and readCacheShardMax bound each cache: 16 × 1024
// entries. A full shard drops its expired entries, then arbitrary ones,
// which costs a query each and nothing else.
const (
	readCacheShards   = 16
	readCacheShardMax = 1024
)

// ttlCache is a bounded map whose entries live ttl. A value read from the
// database is kept only if no forget happened since the read began
// (begin, then put): otherwise a read that started before a write
// committed could store what the write replaced, after the write forgot
// it.
type ttlCache[K comparable, V any] struct {
	ttl        time.Duration
	now        func() time.Time
	seed       maphash.Seed
	generation atomic.Uint64
	shards     [readCacheShards]ttlShard[K, V]
}

type ttlShard[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v     V
	until int64 // Unix nanoseconds
}

func newTTLCache[K comparable, V any](ttl time.Duration, now func() time.Time) *ttlCache[K, V] {
	c := &ttlCache[K, V]{ttl: ttl, now: now, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[K]ttlEntry[V]{}
	}
	return c
}

func (c *ttlCache[K, V]) shard(k K) *ttlShard[K, V] {
	return &c.shards[maphash.Comparable(c.seed, k)%readCacheShards]
}

// get returns the value kept for k, if it has not expired.
func (c *ttlCache[K, V]) get(k K) (V, bool) {
	s := c.shard(k)
	s.mu.Lock()
	e, ok := s.m[k]
	s.mu.Unlock()
	if !ok || c.now().UnixNano() >= e.until {
		var zero V
		return zero, false
	}
	return e.v, true
}

// begin returns the generation to hand to put; call it before reading the
// database.
func (c *ttlCache[K, V]) begin() uint64 { return c.generation.Load() }

// put keeps v for k unless something was forgotten since begin returned
// generation.
func (c *ttlCache[K, V]) put(k K, v V, generation uint64) {
	now := c.now().UnixNano()
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked under the shard's lock, which forget takes after moving the
	// generation: a forget of k either comes after this put and deletes
	// it, or came before and is seen here.
	if c.generation.Load() != generation {
		return
	}
	if len(s.m) >= readCacheShardMax {
		for key, e := range s.m {
			if now >= e.until {
				delete(s.m, key)
			}
		}
		for key := range s.m {
			if len(s.m) < readCacheShardMax {
				break
			}
			delete(s.m, key)
		}
	}
	s.m[k] = ttlEntry[V]{v: v, until: now + int64(c.ttl)}
}

// forget drops k; reads in flight are not kept.
func (c *ttlCache[K, V]) forget(k K) {
	c.generation.Add(1)
	s := c.shard(k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// forgetAll drops every entry; reads in flight are not kept.
func (c *ttlCache[K, V]) forgetAll() {
	c.generation.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// len counts the entries, for tests.
func (c *ttlCache[K, V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// accountView is what /me shows of an account: User without the password
// hash, which has no business in a cache.
type accountView struct {
	ID, Username, Email, FirstName, LastName string
	IsStaff, IsAdmin, EmailVerified          bool
	Permissions                              []string // shared between requests: never modified
}

// readCaches are the repository's caches.
type readCaches struct {
	accounts *ttlCache[string, *accountView]
	sessions *ttlCache[[sha256.Size]byte, auth.Session]
}

func newReadCaches(now func() time.Time) readCaches {
	return readCaches{
		accounts: newTTLCache[string, *accountView](readCacheTTL, now),
		sessions: newTTLCache[[sha256.Size]byte, auth.Session](readCacheTTL, now),
	}
}

// accountView returns what /me shows of account id, from the cache or the
// database. Only verified accounts are kept: the rows this package
// deletes (lapsed registrations, by statements that name no account) are
// all unverified, so no deletion leaves an entry behind; the verification
// itself is a write that forgets.
func (r *repo) accountView(ctx context.Context, id string) (*accountView, error) {
	if v, ok := r.caches.accounts.get(id); ok {
		return v, nil
	}
	generation := r.caches.accounts.begin()
	u, err := r.userByID(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &accountView{ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		IsStaff: u.IsStaff, IsAdmin: u.IsAdmin, EmailVerified: u.EmailVerified, Permissions: u.Permissions}
	if u.EmailVerified {
		r.caches.accounts.put(id, v, generation)
	}
	return v, nil
}

// accountChanged forgets what is cached of account id; call it after
// every write to its row has committed (or failed: forgetting is never
// wrong).
func (r *repo) accountChanged(id string) { r.caches.accounts.forget(id) }

// sessionsEnded forgets every cached session when a statement or
// transaction that ends logins ended some, or failed (it may have
// committed all the same); call it once that is known, after the commit.
// Endings are rare next to lookups, so one generation for all of them is
// enough; one that ended nothing (a DELETE /sessions/{id} of an unknown
// id, which any signed-in client can send) keeps the cache.
func (r *repo) sessionsEnded(ended bool, err error) {
	if ended || err != nil {
		r.caches.sessions.forgetAll()
	}
}

// cachedSession returns the session cached under digest, if it may be
// served at now: see the package's rules above.
func (r *repo) cachedSession(digest [sha256.Size]byte, now time.Time) (*auth.Session, bool) {
	s, ok := r.caches.sessions.get(digest)
	if !ok || !servable(&s, now) {
		return nil, false
	}
	return &s, true
}

// servable reports whether a session read earlier may be answered from
// the cache at now: live, and used recently enough that auth.Sessions
// neither touches it nor judges its idleness (which needs the stored last
// use, which other instances move).
func servable(s *auth.Session, now time.Time) bool {
	return !s.Ended && now.Sub(s.LastSeenAt) < auth.SessionTouchInterval
}
