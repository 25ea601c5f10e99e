package redisstate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// FailureMemory is how long a failure counter remembers its last failure;
// it equals accounts.FailureMemory.
const FailureMemory = 24 * time.Hour

// recordScript adds one failure to the hash in KEYS[1]. ARGV[1] is the
// caller's now and ARGV[2] FailureMemory, both in milliseconds. A counter
// whose last failure is older than FailureMemory starts again at one. The
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

// LoginFailures counts consecutive failed logins per key in Redis, shared
// by all instances. It implements accounts.FailureCounter. Safe for
// concurrent use.
type LoginFailures struct {
	client redis.UniversalClient
	prefix string
}

// NewLoginFailures returns counters under prefix (for example "warden:").
func NewLoginFailures(client redis.UniversalClient, prefix string) *LoginFailures {
	return &LoginFailures{client: client, prefix: prefix}
}

func (f *LoginFailures) key(k string) string { return f.prefix + "loginfail:" + digest(k) }

// Failures returns the count under key and the time of the last failure:
// zero and the zero time when there is none, or when the last one lies
// more than FailureMemory before now. One round trip (HMGET).
func (f *LoginFailures) Failures(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	v, err := f.client.HMGet(ctx, f.key(key), "n", "last").Result()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("redisstate: reading login failures: %w", err)
	}
	if len(v) != 2 || v[0] == nil || v[1] == nil {
		return 0, time.Time{}, nil
	}
	ns, ok1 := v[0].(string)
	ls, ok2 := v[1].(string)
	n, err1 := strconv.Atoi(ns)
	lastMS, err2 := strconv.ParseInt(ls, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || n < 0 {
		return 0, time.Time{}, errors.New("redisstate: a login failure counter holds an unexpected value")
	}
	last := time.UnixMilli(lastMS).UTC()
	if now.Sub(last) > FailureMemory {
		return 0, time.Time{}, nil
	}
	return n, last, nil
}

// Record adds one failure under key at now and returns the new count. One
// round trip (a script: the read, the update and the expiry are atomic, so
// concurrent failures on several instances are all counted).
func (f *LoginFailures) Record(ctx context.Context, key string, now time.Time) (int, error) {
	n, err := record.Run(ctx, f.client, []string{f.key(key)}, now.UnixMilli(), FailureMemory.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstate: recording a login failure: %w", err)
	}
	return n, nil
}

// Clear forgets the keys: a pipeline of one DEL per key, since the keys
// may live on different Cluster nodes. One round trip (per Cluster node).
func (f *LoginFailures) Clear(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := f.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, f.key(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstate: clearing login failures: %w", err)
	}
	return nil
}
