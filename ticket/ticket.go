// Package ticket holds one-time tickets: short-lived random strings that
// stand for a value (a user id, a session) until redeemed once, such as
// the ticket a browser trades for a WebSocket or server-sent events
// connection, which cannot carry an Authorization header.
//
// # Contract
//
// A Store issues a ticket once and redeems it at most once: of any number
// of concurrent Redeem calls for one ticket, on any number of instances
// sharing the Store, exactly one gets the value. Issue never overwrites a
// live ticket (ErrExists): tickets must be random, and a collision means a
// bug or an attack. Tickets expire after their TTL unredeemed. Every Store
// refuses the same arguments (CheckIssue, CheckTicket) with an error
// wrapping ErrInvalid, before any work.
//
// Memory is a Store for a single instance; ticket/redisticket shares one
// between instances through Redis.
//
// # Failure behaviour
//
// A Store that cannot answer returns its error; it never guesses. Callers
// treat a ticket that could not be redeemed as invalid (fail closed). A
// Store's size is bounded: Memory refuses new tickets with ErrFull when it
// holds MaxTickets live ones, rather than evicting a live ticket, so that
// a flood of issued tickets cannot invalidate others.
package ticket

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limits on tickets, the same for every Store.
const (
	MaxBytes      = 256
	MaxValueBytes = 64 << 10
	MaxTTL        = 24 * time.Hour
)

var (
	// ErrExists is returned by Issue for a ticket that is already issued
	// and neither redeemed nor expired. Tickets must be random; a
	// collision means a bug or an attack, never a reason to overwrite.
	ErrExists = errors.New("ticket: already issued")
	// ErrInvalid is wrapped by Issue's and Redeem's errors about their
	// arguments.
	ErrInvalid = errors.New("ticket: invalid ticket")
	// ErrFull is returned by Memory.Issue when it holds MaxTickets live
	// tickets.
	ErrFull = errors.New("ticket: too many live tickets")
)

// Store holds one-time tickets.
type Store interface {
	// Issue stores value under ticket for ttl (at most MaxTTL). It fails
	// with ErrExists when ticket is live already.
	Issue(ctx context.Context, ticket, value string, ttl time.Duration) error
	// Redeem returns the ticket's value and removes the ticket, atomically:
	// ok is true for exactly one of any number of concurrent calls. An
	// unknown, expired or redeemed ticket gives ok false and no error. On
	// error the ticket must be treated as invalid.
	Redeem(ctx context.Context, ticket string) (value string, ok bool, err error)
}

// CheckIssue reports whether Issue may store value under ticket for ttl;
// the error wraps ErrInvalid. Stores outside this package call it so that
// every backend refuses the same arguments.
func CheckIssue(ticket, value string, ttl time.Duration) error {
	if err := CheckTicket(ticket); err != nil {
		return err
	}
	switch {
	case len(value) > MaxValueBytes:
		return fmt.Errorf("%w: value longer than %d bytes", ErrInvalid, MaxValueBytes)
	case ttl < time.Millisecond || ttl > MaxTTL:
		return fmt.Errorf("%w: TTL must be from 1ms to %v, got %v", ErrInvalid, MaxTTL, ttl)
	}
	return nil
}

// CheckTicket reports whether ticket is 1 to MaxBytes bytes long; the
// error wraps ErrInvalid.
func CheckTicket(ticket string) error {
	if ticket == "" || len(ticket) > MaxBytes {
		return fmt.Errorf("%w: a ticket must be 1 to %d bytes", ErrInvalid, MaxBytes)
	}
	return nil
}
