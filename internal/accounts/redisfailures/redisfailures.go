// Package redisfailures is an accounts.FailureCounter in Redis, shared by
// every Warden instance that uses the same Redis and prefix: failed logins
// through any instance count toward one back-off.
//
// # Contract
//
// Each login key's counter is one hash, <prefix>loginfail:<digest>,
// holding the count and the time of the last failure. Record updates both
// and sets the hash to expire accounts.FailureMemory later in one atomic
// script, so that concurrent failures on several instances are all
// counted and counters that go idle disappear by themselves. Failures and
// Record also treat an entry whose last failure lies more than
// accounts.FailureMemory before the caller's now as none, exactly as the
// database counter does, whatever the Redis clock says. The last failure
// kept is the latest any instance reported, so an instance with a slow
// clock cannot shorten another's back-off. Reserve, which the service
// calls before it checks a password, reads the counter, applies
// accounts.Backoff and counts the attempt if admitted in one script too,
// so that racing attempts through any instances cannot all be admitted;
// Release takes one such attempt back. Each call is one round trip.
//
// Login keys are stored as 128-bit SHA-256 digests, never in clear: they
// may be names typed into the wrong field (a password). Every key starts
// with the prefix given to New, so deployments may share a Redis by
// prefix.
//
// # Failure behaviour
//
// Every Redis error is returned, wrapped; no method guesses. The accounts
// service fails closed on it: a login whose failure count cannot be read
// or recorded is refused (503). The client reconnects by itself, so
// answers resume when Redis does. Counters live only in Redis: a Redis
// that restarts without persistence forgets them, and counting starts
// again at zero. Requires Redis 4.0 or later (HSET of several fields).
package redisfailures

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/rediskey"
)

// recordScript adds one failure to the hash in KEYS[1]. ARGV[1] is the
// caller's now and ARGV[2] accounts.FailureMemory, both in milliseconds. A
// counter whose last failure is older than that starts again at one. The
// last time kept is the latest any instance reported, so an instance with
// a slow clock cannot shorten another's back-off.
const recordScript = `
local now, mem = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'n', 'last')
local n, last = tonumber(v[1]), tonumber(v[2])
if not n or not last or now - last > mem then
  n, last = 0, now
end
n = n + 1
if now > last then
  last = now
end
redis.call('HSET', KEYS[1], 'n', n, 'last', string.format('%d', last))
redis.call('PEXPIRE', KEYS[1], mem)
return n
`

var record = redis.NewScript(recordScript)

// Counter counts consecutive failed logins per key in Redis. Safe for
// concurrent use.
type Counter struct {
	client redis.UniversalClient
	prefix string
}

var _ accounts.FailureCounter = (*Counter)(nil)

// New returns counters under prefix (for example "warden:"). Every
// instance must use the same prefix to share the counts.
func New(client redis.UniversalClient, prefix string) *Counter {
	return &Counter{client: client, prefix: prefix}
}

// key names k's hash by a digest: 128 bits of its SHA-256, base64url, so
// that a login name (or a password typed as one) is never stored.
func (c *Counter) key(k string) string {
	return rediskey.Digest(c.prefix, "loginfail", k)
}

// Failures implements accounts.FailureCounter: the count under key and
// the time of the last failure, or zero and the zero time when there is
// none or the last one lies more than accounts.FailureMemory before now.
// One HMGET.
func (c *Counter) Failures(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	v, err := c.client.HMGet(ctx, c.key(key), "n", "last").Result()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("redisfailures: reading login failures: %w", err)
	}
	if len(v) != 2 || v[0] == nil || v[1] == nil {
		return 0, time.Time{}, nil
	}
	ns, ok1 := v[0].(string)
	ls, ok2 := v[1].(string)
	n, err1 := strconv.Atoi(ns)
	lastMS, err2 := strconv.ParseInt(ls, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || n < 0 {
		return 0, time.Time{}, errors.New("redisfailures: a login failure counter holds an unexpected value")
	}
	last := time.UnixMilli(lastMS).UTC()
	if now.Sub(last) > accounts.FailureMemory {
		return 0, time.Time{}, nil
	}
	return n, last, nil
}

// Record implements accounts.FailureCounter: it adds one failure under key
// at now and returns the new count. One script, so that the read, the
// update and the expiry are atomic.
func (c *Counter) Record(ctx context.Context, key string, now time.Time) (int, error) {
	n, err := record.Run(ctx, c.client, []string{c.key(key)}, now.UnixMilli(), accounts.FailureMemory.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("redisfailures: recording a login failure: %w", err)
	}
	return n, nil
}

// Clear implements accounts.FailureCounter: a pipeline of one DEL per key,
// since the keys may live on different Cluster nodes. One round trip (per
// Cluster node).
func (c *Counter) Clear(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, c.key(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisfailures: clearing login failures: %w", err)
	}
	return nil
}
