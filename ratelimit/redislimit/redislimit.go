// Package redislimit is a ratelimit.Limiter in Redis, shared by every
// Warden instance that uses the same Redis and prefix: a limit of N per
// minute admits N requests per minute across all of them.
//
// # Contract
//
// Limiter answers every sequence of requests exactly as ratelimit.Memory
// does, with the same Decision fields (Allowed, Limit, Remaining,
// RetryAfter, Reset) and so the same RateLimit headers: both run the
// generic cell rate algorithm described in package ratelimit, on the same
// integer nanoseconds. Each Allow is one atomic Lua script, one round trip
// (EVALSHA; EVAL once more if Redis has lost the script, after a restart).
// The script reads the time from the Redis server (TIME), so instances
// whose clocks disagree still share one timeline.
//
// A bucket is one key, <prefix>rl:<digest>, holding the bucket's
// theoretical arrival time; it expires when the bucket has refilled, when
// it would carry no information, so Redis holds only the buckets of
// clients seen within one refill window (Burst/Rate). The digest is a
// 128-bit SHA-256 prefix of the limiter key: keys, which may carry a
// client-chosen header value, are not stored in Redis, and every bucket
// key has the same small size. Keys longer than ratelimit.MaxKeyBytes are
// refused with ratelimit.ErrKeyTooLong before any round trip.
//
// Limiters that must not share buckets (two routes with their own limits)
// need different prefixes; all instances must use the same prefix and
// Policy for the same limit.
//
// # Failure behaviour
//
// When Redis does not answer, Allow returns the error and no Decision;
// ratelimit.Middleware then answers 503 (fail closed). Wrap the Limiter
// with ratelimit.Fallback and a ratelimit.Memory to have each instance
// enforce the policy on its own during an outage instead, which is looser
// than the shared limit but still a limit. The client reconnects by itself
// and Allow uses Redis again as soon as it answers. Requires Redis 5.0 or
// later, whose scripts replicate their effects, so that reading TIME
// before a write is allowed.
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/rediskey"
	"github.com/wardenhq/warden/ratelimit"
)

// gcraScript decides one request against the bucket in KEYS[1].
//
// Lua numbers are doubles, exact only up to 2^53, which nanoseconds since
// 1970 exceed; so every instant and duration is a pair (seconds,
// nanoseconds), with 0 <= nanoseconds < 1e9, and the arithmetic carries by
// hand. Every value stays far below 2^53 this way.
//
// ARGV: T (the time to earn one token) and W-T (the window, the time to
// refill an empty bucket, less one T), each as seconds and nanoseconds.
// The bucket holds its theoretical arrival time tat as "seconds:nanos".
// With base = max(tat, now), a request is allowed when base+T-now <= W,
// that is when base-now <= W-T; it then sets tat to base+T and the key to
// expire at that instant (rounded up to the millisecond), when the bucket
// is full again. A refused request changes nothing.
//
// It returns {allowed (1 or 0), debt seconds, debt nanoseconds, now
// seconds, now nanoseconds}, where debt = base-now. Go computes the
// Decision from the debt exactly as ratelimit.Memory does.
const gcraScript = `
local t = redis.call('TIME')
local ns, nn = tonumber(t[1]), tonumber(t[2]) * 1000
local bs, bn = ns, nn
local v = redis.call('GET', KEYS[1])
if v then
  local s, n = string.match(v, '^(%d+):(%d+)$')
  if not s then
    return redis.error_reply('ERR redislimit: bucket ' .. KEYS[1] .. ' holds an unexpected value')
  end
  s, n = tonumber(s), tonumber(n)
  if s > ns or (s == ns and n > nn) then
    bs, bn = s, n
  end
end
local ds, dn = bs - ns, bn - nn
if dn < 0 then
  ds, dn = ds - 1, dn + 1000000000
end
local ls, ln = tonumber(ARGV[3]), tonumber(ARGV[4])
if ds > ls or (ds == ls and dn > ln) then
  return {0, ds, dn, ns, nn}
end
local ts, tn = bs + tonumber(ARGV[1]), bn + tonumber(ARGV[2])
if tn >= 1000000000 then
  ts, tn = ts + 1, tn - 1000000000
end
local ms = (ts - ns) * 1000 + math.ceil((tn - nn) / 1000000)
redis.call('SET', KEYS[1], string.format('%d:%d', ts, tn), 'PX', ms)
return {1, ds, dn, ns, nn}
`

var script = redis.NewScript(gcraScript)

// Limiter is a ratelimit.Limiter in Redis. It is safe for concurrent use.
type Limiter struct {
	client redis.UniversalClient
	policy ratelimit.Policy
	prefix string

	interval int64 // T, nanoseconds
	window   int64 // W = T*Burst
	args     []any // T and W-T as seconds and nanoseconds

	// observe, when set (by tests), receives the server time of each
	// decision in nanoseconds.
	observe func(now int64)
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns a Limiter enforcing policy with buckets under prefix (for
// example "warden:login:"). It fails for an invalid policy or a nil client.
func New(client redis.UniversalClient, policy ratelimit.Policy, prefix string) (*Limiter, error) {
	if client == nil {
		return nil, errors.New("redislimit: nil Redis client")
	}
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	if policy.Name == "" {
		policy.Name = ratelimit.DefaultPolicyName
	}
	// The same rounding as ratelimit.Memory: T is a whole number of
	// nanoseconds, at least one.
	interval := max(int64(math.Round(1e9/policy.Rate)), 1)
	window := interval * int64(policy.Burst)
	slack := window - interval
	return &Limiter{
		client:   client,
		policy:   policy,
		prefix:   prefix,
		interval: interval,
		window:   window,
		args: []any{
			strconv.FormatInt(interval/1e9, 10), strconv.FormatInt(interval%1e9, 10),
			strconv.FormatInt(slack/1e9, 10), strconv.FormatInt(slack%1e9, 10),
		},
	}, nil
}

// Policy implements ratelimit.Limiter.
func (l *Limiter) Policy() ratelimit.Policy { return l.policy }

// Allow implements ratelimit.Limiter with one script run in Redis.
func (l *Limiter) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	if len(key) > ratelimit.MaxKeyBytes {
		return ratelimit.Decision{}, ratelimit.ErrKeyTooLong
	}
	res, err := script.Run(ctx, l.client, []string{l.bucket(key)}, l.args...).Int64Slice()
	if err != nil {
		return ratelimit.Decision{}, fmt.Errorf("redislimit: %w", err)
	}
	if len(res) != 5 {
		return ratelimit.Decision{}, fmt.Errorf("redislimit: script returned %d values, want 5", len(res))
	}
	allowed := res[0] == 1
	debt := res[1]*1e9 + res[2]
	if l.observe != nil {
		l.observe(res[3]*1e9 + res[4])
	}
	return l.policy.DecisionAfter(time.Duration(debt), allowed), nil
}

// bucket names key's bucket: a digest, so the key itself is not stored.
func (l *Limiter) bucket(key string) string {
	return rediskey.Digest(l.prefix, "rl", key)
}
