package ratelimit

import (
	"context"
	"errors"
	"log/slog"
)

// Fallback returns a Limiter that asks primary and, whenever primary fails,
// asks secondary instead, logging the failure to logger (slog.Default when
// nil) at most every ten seconds. It suits a shared store (Redis) backed by
// a Memory: during an outage each instance enforces the policy on its own,
// which is looser than a shared limit but still a limit. Requests whose
// context has ended are not retried, so their error reaches the caller.
//
// Both limiters must enforce the same policy, or the headers sent during an
// outage would describe the wrong limit; otherwise Fallback returns
// ErrPolicyMismatch.
func Fallback(primary, secondary Limiter, logger *slog.Logger) (Limiter, error) {
	if primary == nil || secondary == nil {
		return nil, errors.New("ratelimit: Fallback needs two limiters")
	}
	if primary.Policy().normalized() != secondary.Policy().normalized() {
		return nil, ErrPolicyMismatch
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &fallback{primary: primary, secondary: secondary, logger: logger}, nil
}

type fallback struct {
	primary, secondary Limiter
	logger             *slog.Logger
	gate               logGate
}

func (f *fallback) Policy() Policy { return f.primary.Policy() }

func (f *fallback) Allow(ctx context.Context, key string) (Decision, error) {
	d, err := f.primary.Allow(ctx, key)
	if err == nil || errors.Is(err, ErrKeyTooLong) || ctx.Err() != nil {
		return d, err
	}
	f.gate.log(ctx, f.logger, "rate limiter unavailable; using the local fallback", err)
	return f.secondary.Allow(ctx, key)
}
