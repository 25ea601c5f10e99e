// Package revoke decides whether a credential that verifies is still
// honoured, at three grains: one token (its JWT "jti"), one login or
// session (its "sid"), and everything a user holds that was issued before
// an instant (a per-user "not before", for logout everywhere or a password
// reset).
//
// # Contract
//
// A Store answers Check truthfully or returns an error; it never answers
// "not revoked" when it does not know. Callers must treat an error as
// "revoked" (fail closed): auth.JWT answers 503. A revocation holds from the
// next Check on the instance that made it; a Store shared by several
// instances (revoke/redisrevoke, revoke/sqlrevoke) makes it hold on every
// other instance within MaxPropagation.
//
// Entries live only as long as they can matter: a token's until it
// expires, a session's and a user's "not before" until the time the caller
// names (the latest expiry any token they cover can have). A Store's size is
// therefore bounded by the revocation rate times the token lifetime. The
// memory Store refuses a new entry when full rather than forgetting a live
// one, because forgetting would silently un-revoke a credential.
//
// Not-before instants are compared with sub-second precision: a token
// issued after a user's "log out everywhere", in the same second, is
// honoured; one issued at or before it is not. A token with no issue time
// cannot be placed after the instant and is refused once the user has one.
package revoke

import (
	"context"
	"errors"
	"time"
)

// MaxPropagation bounds how long a revocation made on one instance may take
// to hold on every other instance sharing its Store (API.md: 5 s).
const MaxPropagation = 5 * time.Second

// Errors of Store methods.
var (
	// ErrFull is returned by the memory store when it holds its maximum
	// number of live entries.
	ErrFull = errors.New("revoke: store is full of live entries")
	// ErrInvalidID is returned for an empty token id, session id or
	// subject.
	ErrInvalidID = errors.New("revoke: empty id")
)

// Token is what a revocation decision looks at: the claims of a verified
// token that name it, its login and its holder.
type Token struct {
	ID        string    // "jti"; empty for a credential without one (a session cookie), which no revocation names
	Session   string    // "sid"; empty when the token belongs to no login
	Subject   string    // "sub"
	IssuedAt  time.Time // "iat"; zero when absent
	ExpiresAt time.Time // "exp"
}

// Store is a revocation list.
type Store interface {
	// Revoke revokes one token id until expiresAt (the token's expiry).
	Revoke(ctx context.Context, id string, expiresAt time.Time) error
	// RevokeSession revokes every token of login sid until `until`, the
	// latest expiry any of its tokens can have.
	RevokeSession(ctx context.Context, sid string, until time.Time) error
	// RevokeUser revokes every token of subject issued at or before
	// `before`, remembering it until `until` (before plus the longest
	// token lifetime). A later instant replaces an earlier one, never the
	// reverse.
	RevokeUser(ctx context.Context, subject string, before, until time.Time) error
	// Check reports whether t is revoked at any grain. An error means the
	// answer is unknown; callers must refuse the token.
	Check(ctx context.Context, t Token) (revoked bool, err error)
}

// CoveredBy reports whether a token issued at iat is revoked by a user's
// not-before instant, given in Unix nanoseconds (0 meaning none). Stores
// outside this package use it so that every backend draws the line at the
// same instant.
func CoveredBy(iat time.Time, notBefore int64) bool {
	return notBefore != 0 && (iat.IsZero() || iat.UnixNano() <= notBefore)
}
