// Package ratelimit limits how often a client may call a route: a token
// bucket per key, enforced by HTTP middleware.
//
// # Contract
//
// A Policy gives each key a bucket of Burst tokens that refills at Rate
// tokens per second; every request takes one token, and a request that finds
// the bucket empty is refused with 429 Too Many Requests, a Retry-After in
// whole seconds (at least 1) and the RateLimit and RateLimit-Policy headers
// of draft-ietf-httpapi-ratelimit-headers. Allowed responses carry the two
// RateLimit headers too, so well-behaved clients can pace themselves.
//
// A Limiter decides or fails: when it cannot reach its store it returns an
// error, and Middleware answers 503 with Retry-After instead of letting the
// request through (fail closed). Fallback puts a local limiter behind a
// shared one for deployments that prefer degraded limits to refusals.
//
// The memory limiter (Memory) keeps at most MaxKeys buckets (100,000 by
// default) in at most about 170 bytes each (16 MiB at the default), so the
// memory an attacker can make it use is bounded whatever keys they send.
// Keys are at most MaxKeyBytes long; Middleware answers a longer key with
// 400 without storing it or echoing it.
//
// # Threat model
//
// The key decides who shares a bucket, so it must be something the client
// cannot choose freely:
//
//   - ByIP keys on secure.ClientIP, which believes X-Forwarded-For only
//     from configured trusted proxies; a client cannot pick its own key by
//     sending forwarding headers. An IPv6 client usually controls a whole
//     /64 (2^64 addresses), so ByIP alone does not stop one IPv6 host from
//     rotating addresses; ByIPPrefix groups such addresses into one bucket.
//   - ByUser keys on the authenticated user id, which the client cannot
//     forge; anonymous requests fall back to the IP key. It must run after
//     authentication.
//   - ByHeader keys on a header value the client sends. A client that
//     varies the value gets a fresh bucket each time, so use it only for a
//     header an earlier layer has verified, or behind an IP limit.
//
// Eviction: when all MaxKeys buckets are live, a new key replaces a bucket
// of its shard that has not been used since the shard's clock hand last
// passed it, an approximation of least recently used. An attacker who
// rotates through many keys (many addresses, or a header they control)
// cannot exhaust memory this way, but does push out idle buckets. A bucket
// that has refilled since its last use carries no state, so evicting it
// changes nothing; an evicted bucket that was still partly drained comes
// back full, which hands its owner at most one extra burst. New buckets are
// not spared until they are used a second time, so the flood's one-time
// keys are evicted as readily as idle ones. A client that keeps returning
// keeps its bucket unless about as many new keys as its shard holds (about
// MaxKeys new keys in all) arrive between two of its requests. Limits are
// therefore exact for returning clients and approximate only under a flood
// of that size, which needs MaxKeys distinct addresses or a key the client
// chooses. Size MaxKeys well above the number of clients expected within
// one refill window (Burst/Rate).
//
// Keys themselves are never stored: Memory finds a bucket by a 128-bit
// hash of the key under secret per-process seeds, so no key (which may be
// a credential, for ByHeader) outlives its request in memory.
//
// The memory limiter counts per process. Several instances behind a load
// balancer each allow the full burst; share limits through a Redis-backed
// Limiter for those deployments.
package ratelimit
