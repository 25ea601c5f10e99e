package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/wardenhq/warden/ratelimit"
)

func TestFallbackUsesSecondaryOnlyWhenPrimaryFails(t *testing.T) {
	policy := ratelimit.Policy{Rate: 1, Burst: 1}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	primary := &failing{}
	secondary := newMemory(t, policy, ratelimit.MemoryOptions{})
	l, err := ratelimit.Fallback(primary, secondary, logger)
	if err != nil {
		t.Fatal(err)
	}
	if d := allow(t, l, "k"); !d.Allowed {
		t.Errorf("first request during the outage: %+v, want allowed by the fallback", d)
	}
	if d := allow(t, l, "k"); d.Allowed {
		t.Errorf("second request during the outage: %+v, want the fallback's limit enforced", d)
	}
	if primary.calls != 2 {
		t.Errorf("primary asked %d times, want 2", primary.calls)
	}
	if n := strings.Count(logs.String(), "rate limiter unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once per interval:\n%s", n, logs.String())
	}

	healthy := newMemory(t, policy, ratelimit.MemoryOptions{})
	l, err = ratelimit.Fallback(healthy, secondary, logger)
	if err != nil {
		t.Fatal(err)
	}
	allow(t, l, "other")
	if healthy.Len() != 1 || secondary.Len() != 1 {
		t.Errorf("with a healthy primary, primary holds %d keys and secondary %d; want 1 and 1 (from before)", healthy.Len(), secondary.Len())
	}
}

func TestFallbackDoesNotMaskEndedRequestsOrLongKeys(t *testing.T) {
	policy := ratelimit.Policy{Rate: 1, Burst: 1}
	secondary := newMemory(t, policy, ratelimit.MemoryOptions{})
	l, err := ratelimit.Fallback(&failing{}, secondary, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Allow(cctx, "k"); err == nil {
		t.Error("a cancelled request was answered by the fallback")
	}
	if _, err := l.Allow(ctx, strings.Repeat("k", 257)); !errors.Is(err, ratelimit.ErrKeyTooLong) {
		t.Errorf("long key: error = %v, want ErrKeyTooLong", err)
	}
	if secondary.Len() != 0 {
		t.Errorf("secondary holds %d keys, want 0", secondary.Len())
	}
}

func TestFallbackRequiresMatchingPolicies(t *testing.T) {
	a := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{})
	b := newMemory(t, ratelimit.Policy{Rate: 1, Burst: 2}, ratelimit.MemoryOptions{})
	if _, err := ratelimit.Fallback(a, b, nil); !errors.Is(err, ratelimit.ErrPolicyMismatch) {
		t.Errorf("error = %v, want ErrPolicyMismatch", err)
	}
	if _, err := ratelimit.Fallback(a, nil, nil); err == nil {
		t.Error("Fallback accepted a nil secondary")
	}
}
