package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultJWTCacheSize is the number of verified tokens a JWT backend
// remembers when JWTConfig.CacheSize is 0.
const DefaultJWTCacheSize = 8192

// verifiedCache remembers tokens that passed every check that depends only
// on the token itself (signature, algorithm, kid, crit, iss, aud, typ,
// sub, lifetime), so a client presenting the same token again skips
// parsing and the signature check, which are most of the cost of a
// request. What depends on time is checked again on every hit (exp and nbf
// against the clock, and the lifetime rule, by the caller), and the
// revocation list is always asked. Entries are keyed by the SHA-256 of the
// token: the cache holds no credential, and a lookup compares digests, not
// secrets. Only verified tokens are ever inserted, so a client cannot fill
// the cache with forgeries.
type verifiedCache struct {
	shards      [16]cacheShard
	maxPerShard int
}

type cacheShard struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*cachedToken
}

type cachedToken struct {
	id       Identity
	notAfter time.Time // exp + leeway
	notFrom  time.Time // nbf (or iat) - leeway
}

func newVerifiedCache(size int) *verifiedCache {
	if size <= 0 {
		return nil
	}
	c := &verifiedCache{maxPerShard: max(size/len(verifiedCache{}.shards), 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]*cachedToken)
	}
	return c
}

func (c *verifiedCache) shard(key *[sha256.Size]byte) *cacheShard {
	return &c.shards[key[0]%uint8(len(c.shards))]
}

// get returns a copy of the identity cached for key when the token is
// within its validity window at now.
func (c *verifiedCache) get(key *[sha256.Size]byte, now time.Time) (*Identity, bool) {
	s := c.shard(key)
	s.mu.Lock()
	e := s.m[*key]
	s.mu.Unlock()
	if e == nil || !now.Before(e.notAfter) || now.Before(e.notFrom) {
		return nil, false
	}
	id := e.id // a copy: handlers may not change what other requests see
	return &id, true
}

// len counts the entries, for tests.
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += len(c.shards[i].m)
		c.shards[i].mu.Unlock()
	}
	return n
}

// put remembers a verified identity. A full shard first drops expired
// entries, then an arbitrary one.
func (c *verifiedCache) put(key *[sha256.Size]byte, id *Identity, notFrom, notAfter, now time.Time) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.maxPerShard {
		for k, e := range s.m {
			if !now.Before(e.notAfter) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.maxPerShard {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[*key] = &cachedToken{id: *id, notFrom: notFrom, notAfter: notAfter}
}
