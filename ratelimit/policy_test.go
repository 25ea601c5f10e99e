package ratelimit_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/wardenhq/warden/ratelimit"
)

func TestPolicyValidateAcceptsSaneLimits(t *testing.T) {
	for _, p := range []ratelimit.Policy{
		{Rate: 1, Burst: 1},
		{Name: "per-user_v2", Rate: 0.001, Burst: 5},
		{Name: "!#$%&'*+-.^_`|~", Rate: 10, Burst: 20},
		{Name: strings.Repeat("n", 64), Rate: 1, Burst: 1},
		{Rate: 1e9, Burst: 1},
		{Rate: 5.0 / 86400, Burst: 5}, // five a day
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", p, err)
		}
	}
}

func TestPolicyValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  ratelimit.Policy
		mention string
	}{
		{"zero rate", ratelimit.Policy{Rate: 0, Burst: 1}, "Rate"},
		{"negative rate", ratelimit.Policy{Rate: -1, Burst: 1}, "Rate"},
		{"NaN rate", ratelimit.Policy{Rate: math.NaN(), Burst: 1}, "Rate"},
		{"infinite rate", ratelimit.Policy{Rate: math.Inf(1), Burst: 1}, "Rate"},
		{"rate above a billion", ratelimit.Policy{Rate: 2e9, Burst: 1}, "Rate"},
		{"zero burst", ratelimit.Policy{Rate: 1, Burst: 0}, "Burst"},
		{"negative burst", ratelimit.Policy{Rate: 1, Burst: -3}, "Burst"},
		{"window over ten years", ratelimit.Policy{Rate: 1e-9, Burst: 1}, "ten years"},
		{"name with space", ratelimit.Policy{Name: "per user", Rate: 1, Burst: 1}, "Name"},
		{"name with quote", ratelimit.Policy{Name: `a"b`, Rate: 1, Burst: 1}, "Name"},
		{"name with backslash", ratelimit.Policy{Name: `a\b`, Rate: 1, Burst: 1}, "Name"},
		{"name with non-ASCII", ratelimit.Policy{Name: "café", Rate: 1, Burst: 1}, "Name"},
		{"name too long", ratelimit.Policy{Name: strings.Repeat("n", 65), Rate: 1, Burst: 1}, "Name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Validate()
			if !errors.Is(err, ratelimit.ErrInvalidPolicy) {
				t.Fatalf("Validate() = %v, want ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Validate() = %q, want it to mention %q", err, tc.mention)
			}
			if _, err := ratelimit.NewMemory(tc.policy, ratelimit.MemoryOptions{}); !errors.Is(err, ratelimit.ErrInvalidPolicy) {
				t.Errorf("NewMemory() error = %v, want ErrInvalidPolicy", err)
			}
		})
	}
}

func TestNewMemoryFillsDefaultName(t *testing.T) {
	m := newMemory(t, ratelimit.Policy{Rate: 2, Burst: 3}, ratelimit.MemoryOptions{})
	want := ratelimit.Policy{Name: "default", Rate: 2, Burst: 3}
	if got := m.Policy(); got != want {
		t.Errorf("Policy() = %+v, want %+v", got, want)
	}
}

func TestNewMemoryRejectsNegativeMaxKeys(t *testing.T) {
	if _, err := ratelimit.NewMemory(ratelimit.Policy{Rate: 1, Burst: 1}, ratelimit.MemoryOptions{MaxKeys: -1}); err == nil {
		t.Fatal("NewMemory accepted MaxKeys -1")
	}
}
