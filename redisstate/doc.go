// Package redisstate keeps the state that several Warden instances must
// share in Redis: failed-login counters (LoginFailures), one-time tickets
// (Tickets) and a publish/subscribe bus for realtime events (RedisBus).
// MemoryTickets and MemoryBus do the same for a single instance.
//
// # Contract
//
//   - LoginFailures has the method set of accounts.FailureCounter. Each
//     login key's counter is one hash, <prefix>loginfail:<digest>, holding
//     the count and the time of the last failure; Record updates both and
//     sets the hash to expire FailureMemory (24 hours) later in one atomic
//     script, so counters that go idle disappear by themselves. Failures
//     and Record also treat an entry whose last failure lies more than
//     FailureMemory before the caller's now as none, exactly as the
//     database counter does, whatever the Redis clock says.
//   - TicketStore (Tickets, MemoryTickets) issues a ticket once (SET NX)
//     and redeems it at most once (GETDEL): of any number of concurrent
//     Redeem calls for one ticket, on any number of instances, exactly one
//     gets the value. Tickets expire after their TTL unredeemed.
//   - Bus (RedisBus, MemoryBus) delivers each message published on a
//     channel to every subscription of that channel that exists when it is
//     published, on every instance. Delivery is at most once: messages
//     published while a subscriber is disconnected from Redis are lost,
//     so consumers that need completeness must catch up from the database
//     after an outage.
//
// Login keys and tickets are stored as 128-bit SHA-256 digests, never in
// clear: login keys may be names that were typed into the wrong field (a
// password), and a ticket is a bearer credential that a copy of the Redis
// data must not hand out. Every key a Redis type writes starts with the
// prefix it was given, so deployments may share a Redis by prefix.
//
// # Failure behaviour
//
// Every Redis error is returned, wrapped; no method guesses. Callers make
// security decisions fail closed: a login whose failure count cannot be
// read or recorded is refused (503), a ticket that cannot be redeemed is
// invalid. Publish fails while Redis is down; a subscription stays open
// and go-redis reconnects and resubscribes by itself when Redis is back.
// Values live only in Redis, so a Redis without persistence forgets
// counters and tickets when it restarts: counters start again at zero, and
// tickets issued before the restart no longer redeem (failing closed).
//
// A subscriber that falls behind by more than its buffer (Buffer messages,
// DefaultBuffer when 0) is disconnected: its channel is closed and its
// cancel function returns ErrSlowSubscriber. Silently dropping messages
// would leave it with a wrong picture it cannot detect; a disconnected
// subscriber knows to resubscribe and resynchronise.
//
// The Redis types require Redis 6.2 or later (GETDEL).
package redisstate
