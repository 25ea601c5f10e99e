// Package redisticket is a ticket.Store in Redis, shared by every Warden
// instance that uses the same Redis and prefix: a ticket issued through
// one instance redeems, once, through any of them.
//
// # Contract
//
// Issue is one SET NX PX, so a live ticket is never overwritten; Redeem is
// one GETDEL, which Redis runs atomically, so of any number of concurrent
// Redeem calls for one ticket, on any number of instances, exactly one
// gets the value. Redis expires an unredeemed ticket after its TTL. Each
// call is one round trip.
//
// A ticket is a bearer credential that a copy of the Redis data must not
// hand out, so each is stored under <prefix>ticket:<digest>, 128 bits of
// its SHA-256, never in clear. Every key starts with the prefix given to
// New, so deployments may share a Redis by prefix.
//
// # Failure behaviour
//
// Every Redis error is returned, wrapped; Redeem never answers "not found"
// when it could not ask, and callers treat a ticket that could not be
// redeemed as invalid (fail closed). The client reconnects by itself, so
// answers resume when Redis does. Tickets live only in Redis: a Redis that
// restarts without persistence forgets them, and tickets issued before the
// restart no longer redeem (failing closed). Requires Redis 6.2 or later
// (GETDEL).
package redisticket

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/rediskey"
	"github.com/wardenhq/warden/ticket"
)

// Store is a ticket.Store in Redis. Safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ ticket.Store = (*Store)(nil)

// New returns a Store that keeps its keys under prefix (for example
// "warden:"). Every instance must use the same prefix to share tickets.
func New(client redis.UniversalClient, prefix string) *Store {
	return &Store{client: client, prefix: prefix}
}

// key names t by a digest: 128 bits of its SHA-256, base64url.
func (s *Store) key(t string) string {
	return rediskey.Digest(s.prefix, "ticket", t)
}

// Issue implements ticket.Store with SET NX PX.
func (s *Store) Issue(ctx context.Context, t, value string, ttl time.Duration) error {
	if err := ticket.CheckIssue(t, value, ttl); err != nil {
		return err
	}
	ok, err := s.client.SetNX(ctx, s.key(t), value, ttl).Result()
	if err != nil {
		return fmt.Errorf("redisticket: issuing a ticket: %w", err)
	}
	if !ok {
		return ticket.ErrExists
	}
	return nil
}

// Redeem implements ticket.Store with GETDEL.
func (s *Store) Redeem(ctx context.Context, t string) (string, bool, error) {
	if err := ticket.CheckTicket(t); err != nil {
		return "", false, err
	}
	v, err := s.client.GetDel(ctx, s.key(t)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("redisticket: redeeming a ticket: %w", err)
	}
	return v, true, nil
}
