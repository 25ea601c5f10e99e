package redisstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limits on tickets, the same for every TicketStore.
const (
	MaxTicketBytes      = 256
	MaxTicketValueBytes = 64 << 10
	MaxTicketTTL        = 24 * time.Hour
)

var (
	// ErrTicketExists is returned by Issue for a ticket that is already
	// issued and neither redeemed nor expired. Tickets must be random; a
	// collision means a bug or an attack, never a reason to overwrite.
	ErrTicketExists = errors.New("redisstate: ticket already issued")
	// ErrInvalidTicket is wrapped by Issue's and Redeem's errors about
	// their arguments.
	ErrInvalidTicket = errors.New("redisstate: invalid ticket")
	// ErrFull is returned by MemoryTickets.Issue when it holds MaxTickets
	// live tickets.
	ErrFull = errors.New("redisstate: too many live tickets")
)

// TicketStore holds one-time tickets: short-lived random strings that
// stand for a value (a user id, a session) until redeemed once.
type TicketStore interface {
	// Issue stores value under ticket for ttl (at most MaxTicketTTL). It
	// fails with ErrTicketExists when ticket is live already.
	Issue(ctx context.Context, ticket, value string, ttl time.Duration) error
	// Redeem returns the ticket's value and removes the ticket, atomically:
	// ok is true for exactly one of any number of concurrent calls. An
	// unknown, expired or redeemed ticket gives ok false and no error. On
	// error the ticket must be treated as invalid.
	Redeem(ctx context.Context, ticket string) (value string, ok bool, err error)
}

func checkIssue(ticket, value string, ttl time.Duration) error {
	if err := checkTicket(ticket); err != nil {
		return err
	}
	switch {
	case len(value) > MaxTicketValueBytes:
		return fmt.Errorf("%w: value longer than %d bytes", ErrInvalidTicket, MaxTicketValueBytes)
	case ttl < time.Millisecond || ttl > MaxTicketTTL:
		return fmt.Errorf("%w: TTL must be from 1ms to %v, got %v", ErrInvalidTicket, MaxTicketTTL, ttl)
	}
	return nil
}

func checkTicket(ticket string) error {
	if ticket == "" || len(ticket) > MaxTicketBytes {
		return fmt.Errorf("%w: a ticket must be 1 to %d bytes", ErrInvalidTicket, MaxTicketBytes)
	}
	return nil
}

// Tickets is a TicketStore in Redis, shared by all instances. Each call is
// one round trip. Safe for concurrent use.
type Tickets struct {
	client redis.UniversalClient
	prefix string
}

var _ TicketStore = (*Tickets)(nil)

// NewTickets returns a ticket store under prefix (for example "warden:").
func NewTickets(client redis.UniversalClient, prefix string) *Tickets {
	return &Tickets{client: client, prefix: prefix}
}

func (s *Tickets) key(ticket string) string { return s.prefix + "ticket:" + digest(ticket) }

// Issue implements TicketStore with SET NX PX.
func (s *Tickets) Issue(ctx context.Context, ticket, value string, ttl time.Duration) error {
	if err := checkIssue(ticket, value, ttl); err != nil {
		return err
	}
	ok, err := s.client.SetNX(ctx, s.key(ticket), value, ttl).Result()
	if err != nil {
		return fmt.Errorf("redisstate: issuing a ticket: %w", err)
	}
	if !ok {
		return ErrTicketExists
	}
	return nil
}

// Redeem implements TicketStore with GETDEL, which Redis runs atomically.
func (s *Tickets) Redeem(ctx context.Context, ticket string) (string, bool, error) {
	if err := checkTicket(ticket); err != nil {
		return "", false, err
	}
	v, err := s.client.GetDel(ctx, s.key(ticket)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("redisstate: redeeming a ticket: %w", err)
	}
	return v, true, nil
}
