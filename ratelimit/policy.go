package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// MaxKeyBytes is the longest key a Limiter accepts. Middleware answers a
// longer key with 400. The bound caps the hashing work per request and the
// size of the keys a shared store must hold.
const MaxKeyBytes = 256

// DefaultPolicyName names a Policy whose Name is empty.
const DefaultPolicyName = "default"

// maxPolicyName keeps the policy name, which every response repeats, short.
const maxPolicyName = 64

// maxWindow bounds Burst/Rate. It keeps every bucket computation within
// int64 nanoseconds with room to spare, and no sane limit needs more.
const maxWindow = 10 * 365 * 24 * time.Hour

// maxRate keeps the time to earn one token at one nanosecond or more.
const maxRate = 1e9

var (
	// ErrInvalidPolicy is wrapped by every error of Policy.Validate.
	ErrInvalidPolicy = errors.New("ratelimit: invalid policy")
	// ErrKeyTooLong is returned by a Limiter for a key over MaxKeyBytes.
	ErrKeyTooLong = errors.New("ratelimit: key longer than 256 bytes")
	// ErrPolicyMismatch is returned by Fallback when its two limiters
	// enforce different policies.
	ErrPolicyMismatch = errors.New("ratelimit: limiters enforce different policies")
)

// Policy is a token bucket: Burst tokens at most, refilled at Rate tokens
// per second, one token per request.
type Policy struct {
	// Name identifies the policy in the RateLimit headers. Only HTTP token
	// characters are allowed; empty means DefaultPolicyName.
	Name string
	// Rate is the refill rate in tokens per second, for example 0.5 for
	// one request every two seconds.
	Rate float64
	// Burst is the bucket size: how many requests a rested client may make
	// at once.
	Burst int
}

// Validate reports why p cannot be enforced; the error wraps
// ErrInvalidPolicy.
func (p Policy) Validate() error {
	if err := validateName(p.Name); err != nil {
		return err
	}
	switch {
	case math.IsNaN(p.Rate) || p.Rate <= 0:
		return fmt.Errorf("%w: Rate must be a positive number of tokens per second, got %v", ErrInvalidPolicy, p.Rate)
	case p.Rate > maxRate:
		return fmt.Errorf("%w: Rate must be at most %g tokens per second, got %v", ErrInvalidPolicy, float64(maxRate), p.Rate)
	case p.Burst < 1:
		return fmt.Errorf("%w: Burst must be at least 1, got %d", ErrInvalidPolicy, p.Burst)
	}
	if w := float64(p.Burst) / p.Rate; w > maxWindow.Seconds() {
		return fmt.Errorf("%w: Burst/Rate is %.0f seconds, more than the maximum of ten years; raise Rate or lower Burst", ErrInvalidPolicy, w)
	}
	return nil
}

func validateName(name string) error {
	if len(name) > maxPolicyName {
		return fmt.Errorf("%w: Name is longer than %d bytes", ErrInvalidPolicy, maxPolicyName)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("%w: Name %q may contain only letters, digits and !#$%%&'*+-.^_`|~", ErrInvalidPolicy, name)
		}
	}
	return nil
}

// isTokenChar reports whether c is an RFC 9110 tchar. Token characters
// need no escaping inside the quoted name of a RateLimit header.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// normalized returns p with its defaults filled in.
func (p Policy) normalized() Policy {
	if p.Name == "" {
		p.Name = DefaultPolicyName
	}
	return p
}

// interval is the time to earn one token, in nanoseconds. Rounding to a
// whole nanosecond keeps all bucket arithmetic in integers at a relative
// error of at most Rate/2e9: one in two million at 1,000 tokens per second.
func (p Policy) interval() int64 {
	return max(int64(math.Round(1e9/p.Rate)), 1)
}

// window is the time an empty bucket takes to refill, in nanoseconds.
func (p Policy) window() int64 {
	return p.interval() * int64(p.Burst)
}

// Decision is a Limiter's answer for one request.
type Decision struct {
	// Allowed reports whether the request may proceed; it has then used
	// one token.
	Allowed bool
	// Limit is the policy's Burst.
	Limit int
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is how long until one request would be allowed; zero
	// when Allowed.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again.
	Reset time.Duration
}

// Limiter enforces one Policy per key. Implementations are safe for
// concurrent use.
//
// Every implementation, in memory or in a shared store, gives the same
// answers for the same sequence of requests (the token bucket described on
// Memory), so the headers Middleware sends do not depend on the store.
type Limiter interface {
	// Allow takes one token from key's bucket if one is left. It returns
	// ErrKeyTooLong for a key over MaxKeyBytes, and an error whenever it
	// cannot decide (a store that does not answer); callers must then
	// refuse the request.
	Allow(ctx context.Context, key string) (Decision, error)
	// Policy is the policy enforced, with its defaults filled in.
	Policy() Policy
}
