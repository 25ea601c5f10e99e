// Package redisrevoke is a revoke.Store in Redis, shared by every Warden
// instance that uses the same Redis and prefix: a revocation made through
// one instance holds on that instance from the next request and on every
// other within revoke.MaxPropagation.
//
// # Contract
//
// Each revocation is one key that Redis deletes once it can no longer
// matter (SET with PXAT): <prefix>revoked:<jti> for a token,
// <prefix>revoked-sid:<sid> for a login, <prefix>user-nbf:<sub> holding a
// user's not-before instant in Unix nanoseconds. Revoking again keeps the
// later expiry and the later instant, never shortening a revocation. Every
// write also publishes on the channel <prefix>revocations, in the same
// MULTI/EXEC: one round trip. Check asks for all three keys with one MGET.
//
// Check answers from a local cache of "not revoked" answers (see
// revoke/internal/checkcache) only while this Store's subscription to the
// revocations channel is confirmed up (see internal/redissub): every
// message on it, and every loss of it, forgets the cache; a ping every
// PingInterval confirms it, and a subscription that stops answering is
// taken for lost. While the subscription is down, every Check asks Redis.
//
// # Redis Cluster
//
// With a Cluster client (redis+cluster://) every key and the channel are
// named under the prefix as a hash tag (rediskey.HashTag):
// {<prefix>}revoked:<jti>, {<prefix>}revoked-sid:<sid>,
// {<prefix>}user-nbf:<sub> and {<prefix>}revocations. They share one hash slot, so the MGET and the MULTI/EXEC stay single
// commands on one shard, which holds the whole revocation list (it is
// small: entries live at most a token lifetime). The channel is sharded
// (SPUBLISH inside the MULTI/EXEC, SSUBSCRIBE), so the writer and every
// subscriber meet on that shard's master and a pong there proves that
// every revocation written before it has been heard; cluster-wide PUBLISH
// would cross the cluster bus, which drops messages silently while a link
// between nodes is down. When that master fails, Check and the writes
// fail (fail closed, below) and the subscription is lost, so no cached
// answer is trusted; once a replica has been promoted the client finds it
// by itself and the subscription is made again on it. Even a subscription
// left on a partitioned former master that still answers pings trusts no
// answer older than checkcache.MaxAge, inside revoke.MaxPropagation.
//
// On a single node and with Sentinel the names carry no braces and the
// channel is plain pub/sub, as before Cluster was supported, so that
// instances of older and newer versions share one list during a rolling
// upgrade.
//
// # Failure behaviour
//
// Every Redis error is returned, wrapped. Check never answers "not
// revoked" when it could not ask: callers (auth.JWT) treat its error as
// "revoked" and answer 503, so an outage refuses tokens rather than
// letting revoked ones through (fail closed). The client reconnects by
// itself, so answers resume when Redis does, without a restart.
//
// Revocations live only in Redis: a Redis that restarts without
// persistence forgets them, and tokens revoked before the restart pass
// again until they expire. Run Redis with persistence (appendonly yes) or
// with replicas and failover for a revocation list that survives;
// replication is asynchronous, so a revocation acknowledged by a master
// that crashes before its replica has it is lost all the same. Expiry
// follows the Redis server's clock; keep it in step with the instances'
// (NTP), as token expiry checks need anyway. Requires Redis 7.0 or later.
package redisrevoke

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/rediskey"
	"github.com/wardenhq/warden/internal/redissub"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/revoke/internal/checkcache"
)

// PingInterval is how often the subscription is pinged. Each answer
// confirms it for two intervals, so the cache stops being trusted within
// two intervals of the last answer; after three without one the
// connection is taken for lost and made again.
const PingInterval = time.Second

// Store is a revoke.Store in Redis. It is safe for concurrent use. Close
// stops its subscription.
type Store struct {
	client redis.UniversalClient
	// keys starts every key and the channel: the prefix, or in a Cluster
	// the prefix as a hash tag.
	keys    string
	sharded bool
	now     func() time.Time
	cache   *checkcache.Cache
	stop    context.CancelFunc
	done    sync.WaitGroup
}

var _ revoke.Store = (*Store)(nil)

// New returns a Store that keeps its keys under prefix (for example
// "warden:") and subscribes to its revocations channel. Every instance
// must use the same prefix to share the list.
func New(client redis.UniversalClient, prefix string) *Store {
	ctx, stop := context.WithCancel(context.Background())
	s := &Store{client: client, keys: prefix, sharded: redissub.Sharded(client), now: time.Now, cache: checkcache.New(0, nil), stop: stop}
	if s.sharded {
		s.keys = rediskey.HashTag(prefix)
	}
	s.done.Add(1)
	go s.watch(ctx)
	return s
}

// Close stops the subscription; Check then always asks Redis. It does not
// close the client.
func (s *Store) Close() error {
	s.stop()
	s.done.Wait()
	return nil
}

func (s *Store) channel() string { return s.keys + "revocations" }

// Revoke implements revoke.Store. A token that has already expired needs
// no entry and is skipped without a round trip.
func (s *Store) Revoke(ctx context.Context, id string, expiresAt time.Time) error {
	return s.mark(ctx, s.keys+"revoked:"+id, id, expiresAt)
}

// RevokeSession implements revoke.Store.
func (s *Store) RevokeSession(ctx context.Context, sid string, until time.Time) error {
	return s.mark(ctx, s.keys+"revoked-sid:"+sid, sid, until)
}

// mark sets key until `until` and publishes the change.
func (s *Store) mark(ctx context.Context, key, id string, until time.Time) error {
	if id == "" {
		return revoke.ErrInvalidID
	}
	if !until.After(s.now()) {
		return nil
	}
	at := pxat(until)
	// SET NX creates the entry; PEXPIREAT GT lengthens an existing one and
	// never shortens it.
	return s.write(ctx, func(p redis.Pipeliner) {
		p.Do(ctx, "SET", key, "1", "PXAT", at, "NX")
		p.Do(ctx, "PEXPIREAT", key, at, "GT")
	})
}

// raiseScript keeps the larger of the stored and the given not-before
// instant (ARGV[1], Unix nanoseconds) and the later expiry (ARGV[2], Unix
// milliseconds).
const raiseScript = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'NX')
redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
return 1
`

// RevokeUser implements revoke.Store.
func (s *Store) RevokeUser(ctx context.Context, subject string, before, until time.Time) error {
	if subject == "" {
		return revoke.ErrInvalidID
	}
	if !until.After(s.now()) {
		return nil
	}
	key := s.keys + "user-nbf:" + subject
	nanos := strconv.FormatInt(before.UnixNano(), 10)
	return s.write(ctx, func(p redis.Pipeliner) {
		// EVAL, not EVALSHA: inside MULTI a missing script cannot be
		// retried, and the script is small.
		p.Eval(ctx, raiseScript, []string{key}, nanos, pxat(until))
	})
}

// pxat rounds t up to the millisecond, so an entry never expires before
// what it covers does.
func pxat(t time.Time) string {
	return strconv.FormatInt(t.Add(time.Millisecond-time.Nanosecond).UnixMilli(), 10)
}

// write runs cmds and a PUBLISH (SPUBLISH in a Cluster) in one MULTI/EXEC, then forgets this
// instance's cached answers, so the revocation holds here on the next
// request whatever the subscription is doing.
func (s *Store) write(ctx context.Context, cmds func(redis.Pipeliner)) error {
	results, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		cmds(p)
		redissub.Publish(ctx, p, s.sharded, s.channel(), "1")
		return nil
	})
	s.cache.Invalidate()
	// A SET NX that finds the key answers nil; that is no failure. Any
	// other error, of the transaction or of a command, is.
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisrevoke: revoking: %w", err)
	}
	for _, c := range results {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("redisrevoke: revoking: %w", err)
		}
	}
	return nil
}

// Check implements revoke.Store: a cached "not revoked" while the
// subscription is confirmed, otherwise one MGET. On error the answer is
// unknown and the caller must refuse the token.
func (s *Store) Check(ctx context.Context, t revoke.Token) (bool, error) {
	key, cacheable := checkcache.Key(t)
	if cacheable && s.cache.Fresh(key) {
		return false, nil
	}
	generation := s.cache.Begin()
	sid := "\x00" // no login: a key no write makes
	if t.Session != "" {
		sid = t.Session
	}
	vals, err := s.client.MGet(ctx, s.keys+"revoked:"+t.ID, s.keys+"revoked-sid:"+sid, s.keys+"user-nbf:"+t.Subject).Result()
	if err != nil {
		return false, fmt.Errorf("redisrevoke: checking a token: %w", err)
	}
	if vals[0] != nil || vals[1] != nil {
		return true, nil
	}
	if v, ok := vals[2].(string); ok {
		nbf, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false, fmt.Errorf("redisrevoke: malformed not-before for a user: %w", err)
		}
		if revoke.CoveredBy(t.IssuedAt, nbf) {
			return true, nil
		}
	}
	if cacheable {
		s.cache.Remember(key, generation)
	}
	return false, nil
}

// watch keeps the subscription to the revocations channel and tells the
// cache whether it can be trusted, until ctx ends.
func (s *Store) watch(ctx context.Context) {
	defer s.done.Done()
	defer s.cache.Lost()
	sub := redissub.Subscribe(ctx, s.client, s.channel(), PingInterval)
	defer sub.Close()
	for {
		ev, err := sub.Next()
		if err != nil {
			return
		}
		switch ev.Kind {
		case redissub.Up, redissub.Alive:
			// (Re)subscribed, or alive: every revocation published before
			// now has reached us.
			s.cache.Confirm(s.now().Add(2 * PingInterval))
		case redissub.Message:
			s.cache.Invalidate()
		case redissub.Down:
			// Revocations may go unheard: trust nothing until the
			// subscription is back.
			s.cache.Lost()
		}
	}
}
