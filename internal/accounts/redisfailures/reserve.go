package redisfailures

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/accounts"
)

// reserveScript decides and counts one attempt on the hash in KEYS[1] in
// one step, so that attempts racing on several instances cannot all pass
// a check that none of them had counted yet. ARGV: the caller's now,
// accounts.FailureMemory, accounts.FreeFailures, accounts.MaxFailures,
// the first delay (one second) and accounts.MaxBackoff; times in
// milliseconds. It applies accounts.Backoff (TestReserveAppliesBackoff
// holds the two together): from FreeFailures on, an attempt waits a delay
// that starts at the first delay and doubles per failure up to the cap,
// counted from the last failure; from MaxFailures on it is refused. An
// admitted attempt counts one failure, keeps the latest last time any
// instance reported, and renews the expiry, as recordScript does. The
// reply is {admitted (0 or 1), count before, last before}; a count of
// zero comes with a last of zero.
const reserveScript = `
local now, mem = tonumber(ARGV[1]), tonumber(ARGV[2])
local free, maxf = tonumber(ARGV[3]), tonumber(ARGV[4])
local first, cap = tonumber(ARGV[5]), tonumber(ARGV[6])
local v = redis.call('HMGET', KEYS[1], 'n', 'last')
local n, last = tonumber(v[1]), tonumber(v[2])
if not n or not last or n <= 0 or now - last > mem then
  n, last = 0, 0
end
if n >= maxf then
  return {0, n, string.format('%d', last)}
end
if n >= free then
  local delay = first
  for i = 1, n - free do
    delay = delay * 2
    if delay >= cap then
      break
    end
  end
  if delay > cap then
    delay = cap
  end
  if last + delay > now then
    return {0, n, string.format('%d', last)}
  end
end
local kept = last
if now > kept then
  kept = now
end
redis.call('HSET', KEYS[1], 'n', n + 1, 'last', string.format('%d', kept))
redis.call('PEXPIRE', KEYS[1], mem)
return {1, n, string.format('%d', last)}
`

// releaseScript takes back one failure from the hash in KEYS[1], never
// going below zero, and leaves a missing hash missing.
const releaseScript = `
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if n and n > 0 then
  redis.call('HSET', KEYS[1], 'n', n - 1)
end
return 0
`

var (
	reserve = redis.NewScript(reserveScript)
	release = redis.NewScript(releaseScript)
)

// Reserve implements accounts.FailureCounter: one script decides whether
// accounts.Backoff admits an attempt under key at now and, if so, counts
// it as a failure, atomically across instances. It returns the count and
// last failure from before the call. One round trip.
func (c *Counter) Reserve(ctx context.Context, key string, now time.Time) (int, time.Time, bool, error) {
	v, err := reserve.Run(ctx, c.client, []string{c.key(key)},
		now.UnixMilli(), accounts.FailureMemory.Milliseconds(),
		accounts.FreeFailures, accounts.MaxFailures,
		time.Second.Milliseconds(), accounts.MaxBackoff.Milliseconds()).Slice()
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("redisfailures: reserving a login attempt: %w", err)
	}
	if len(v) != 3 {
		return 0, time.Time{}, false, errors.New("redisfailures: the reserve script answered an unexpected value")
	}
	admitted, ok1 := v[0].(int64)
	n, ok2 := v[1].(int64)
	lastS, ok3 := v[2].(string)
	var lastMS int64
	_, err = fmt.Sscan(lastS, &lastMS)
	if !ok1 || !ok2 || !ok3 || err != nil || n < 0 {
		return 0, time.Time{}, false, errors.New("redisfailures: the reserve script answered an unexpected value")
	}
	var last time.Time
	if n > 0 {
		last = time.UnixMilli(lastMS).UTC()
	}
	return int(n), last, admitted == 1, nil
}

// Release implements accounts.FailureCounter. One round trip.
func (c *Counter) Release(ctx context.Context, key string) error {
	if err := release.Run(ctx, c.client, []string{c.key(key)}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisfailures: releasing a login attempt: %w", err)
	}
	return nil
}
