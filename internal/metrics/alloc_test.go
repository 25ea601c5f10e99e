//go:build !race

// The race detector changes allocation counts; this test measures them.

package metrics_test

import (
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/metrics"
)

func TestObservingAllocatesNothing(t *testing.T) {
	m := metrics.New(nil)
	observe := func() {
		m.Request("GET /api/books/{id}", 200, time.Millisecond)
		m.AuthFailure(auth.FailureInvalid)
		m.RateLimited("auth")
	}
	observe() // creates the series
	if n := testing.AllocsPerRun(1000, observe); n != 0 {
		t.Fatalf("%.1f allocations per observation of existing series", n)
	}
}
