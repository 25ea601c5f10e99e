// Package redisrevoke is a revoke.Store in Redis, shared by every Warden
// instance that uses the same Redis and prefix: a token revoked through one
// instance is refused by all of them from the next request on.
//
// # Contract
//
// Each revoked id is one key, <prefix>revoked:<id>, that Redis deletes when
// the token it names expires (SET with PXAT, so entries live exactly as
// long as they matter and the denylist stays as small as the revocation
// rate times the token lifetime). Revoking an id again keeps the later of
// the two expiries, never shortening a revocation. Revoke and IsRevoked
// each take one round trip to Redis.
//
// # Failure behaviour
//
// Every Redis error is returned, wrapped. IsRevoked never answers "not
// revoked" when it could not ask: callers (the JWT backend) treat its error
// as "revoked" and answer 503, so an outage refuses tokens rather than
// letting revoked ones through (fail closed). The client reconnects by
// itself, so answers resume when Redis does, without a restart.
//
// Revocations live only in Redis: a Redis that restarts without
// persistence forgets them, and tokens revoked before the restart pass
// again until they expire. Run Redis with persistence (appendonly yes) or
// with replicas and failover for a revocation list that survives. Expiry
// follows the Redis server's clock; keep it in step with the instances'
// (NTP), as token expiry checks need anyway. Requires Redis 7.0 or later.
package redisrevoke

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/revoke"
)

// Store is a revoke.Store in Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

var _ revoke.Store = (*Store)(nil)

// New returns a Store that keeps its keys under prefix (for example
// "warden:"). Every instance must use the same prefix to share the list.
func New(client redis.UniversalClient, prefix string) *Store {
	return &Store{client: client, prefix: prefix, now: time.Now}
}

func (s *Store) key(id string) string { return s.prefix + "revoked:" + id }

// Revoke implements revoke.Store. A token that has already expired needs
// no entry and is skipped without a round trip.
func (s *Store) Revoke(ctx context.Context, id string, expiresAt time.Time) error {
	if id == "" {
		return revoke.ErrInvalidID
	}
	if !expiresAt.After(s.now()) {
		return nil
	}
	// Round up to the millisecond, so the entry never expires before the
	// token does.
	ms := expiresAt.Add(time.Millisecond - time.Nanosecond).UnixMilli()
	at := strconv.FormatInt(ms, 10)
	k := s.key(id)
	// SET NX creates the entry; PEXPIREAT GT lengthens an existing one and
	// never shortens it. Both go in one MULTI/EXEC: one round trip.
	cmds, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "SET", k, "1", "PXAT", at, "NX")
		p.Do(ctx, "PEXPIREAT", k, at, "GT")
		return nil
	})
	// A SET NX that finds the key answers nil; that is no failure. Any
	// other error, of the transaction or of either command, is.
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisrevoke: revoking a token: %w", err)
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("redisrevoke: revoking a token: %w", err)
		}
	}
	return nil
}

// IsRevoked implements revoke.Store: one EXISTS. On error the answer is
// unknown and the caller must refuse the token.
func (s *Store) IsRevoked(ctx context.Context, id string) (bool, error) {
	n, err := s.client.Exists(ctx, s.key(id)).Result()
	if err != nil {
		return false, fmt.Errorf("redisrevoke: checking a token: %w", err)
	}
	return n > 0, nil
}
