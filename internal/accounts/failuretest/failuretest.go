// Package failuretest checks an accounts.FailureCounter against the
// contract every implementation keeps: Reserve applies accounts.Backoff
// and counts atomically, Release gives an attempt back, and both agree
// with Failures, Record and Clear. It is meant for tests only.
package failuretest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/accounts"
)

var ctx = context.Background()

// t0 is a fixed start, at a whole millisecond as counters store times.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// Run runs the contract tests on counters from open, which returns one
// empty counter per call (each subtest has its own).
func Run(t *testing.T, open func(t *testing.T) accounts.FailureCounter) {
	t.Run("reserve counts before the check", func(t *testing.T) {
		f := open(t)
		for i := range accounts.FreeFailures {
			n, last, ok, err := f.Reserve(ctx, "u:1", t0)
			if err != nil || !ok || n != i {
				t.Fatalf("Reserve %d = %d, %v, %v; want %d, true", i, n, ok, err, i)
			}
			if i == 0 && !last.IsZero() {
				t.Fatalf("Reserve on a new key: last %v, want the zero time", last)
			}
			if i > 0 && !last.Equal(t0) {
				t.Fatalf("Reserve %d: last %v, want %v", i, last, t0)
			}
		}
		// The sixth waits one second, and is not counted meanwhile.
		for _, at := range []time.Duration{0, 999 * time.Millisecond} {
			n, last, ok, err := f.Reserve(ctx, "u:1", t0.Add(at))
			if err != nil || ok || n != accounts.FreeFailures || !last.Equal(t0) {
				t.Fatalf("Reserve at +%v = %d, %v, %v, %v; want refused at %d, %v", at, n, last, ok, err, accounts.FreeFailures, t0)
			}
		}
		if n, last, err := f.Failures(ctx, "u:1", t0); err != nil || n != accounts.FreeFailures || !last.Equal(t0) {
			t.Fatalf("Failures = %d, %v, %v", n, last, err)
		}
		if _, _, ok, err := f.Reserve(ctx, "u:1", t0.Add(time.Second)); err != nil || !ok {
			t.Fatalf("Reserve after the delay: %v, %v", ok, err)
		}
		if n, last, _ := f.Failures(ctx, "u:1", t0.Add(time.Second)); n != accounts.FreeFailures+1 || !last.Equal(t0.Add(time.Second)) {
			t.Fatalf("Failures = %d, %v", n, last)
		}
		// Keys are apart, and Clear forgets.
		if _, _, ok, err := f.Reserve(ctx, "u:2", t0); err != nil || !ok {
			t.Fatalf("another key: %v, %v", ok, err)
		}
		if err := f.Clear(ctx, "u:1"); err != nil {
			t.Fatal(err)
		}
		if n, _, ok, err := f.Reserve(ctx, "u:1", t0.Add(time.Second)); err != nil || !ok || n != 0 {
			t.Fatalf("Reserve after Clear = %d, %v, %v", n, ok, err)
		}
	})

	t.Run("concurrent reservations admit exactly FreeFailures", func(t *testing.T) {
		f := open(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		admitted := 0
		for range 40 {
			wg.Go(func() {
				_, _, ok, err := f.Reserve(ctx, "u:target", t0)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if admitted != accounts.FreeFailures {
			t.Fatalf("%d of 40 admitted, want %d", admitted, accounts.FreeFailures)
		}
		if n, _, err := f.Failures(ctx, "u:target", t0); err != nil || n != accounts.FreeFailures {
			t.Fatalf("Failures = %d, %v", n, err)
		}
	})

	t.Run("release gives an attempt back", func(t *testing.T) {
		f := open(t)
		for range accounts.FreeFailures {
			if _, _, ok, err := f.Reserve(ctx, "u:3", t0); err != nil || !ok {
				t.Fatalf("Reserve: %v, %v", ok, err)
			}
		}
		if err := f.Release(ctx, "u:3"); err != nil {
			t.Fatal(err)
		}
		if n, _, ok, err := f.Reserve(ctx, "u:3", t0); err != nil || !ok || n != accounts.FreeFailures-1 {
			t.Fatalf("Reserve after Release = %d, %v, %v", n, ok, err)
		}
		// Never below zero, and a missing key stays missing.
		if err := f.Clear(ctx, "u:3"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := f.Release(ctx, "u:3"); err != nil {
				t.Fatal(err)
			}
		}
		if n, _, err := f.Failures(ctx, "u:3", t0); err != nil || n != 0 {
			t.Fatalf("Failures after releasing nothing = %d, %v", n, err)
		}
		if n, _, ok, _ := f.Reserve(ctx, "u:3", t0); !ok || n != 0 {
			t.Fatalf("Reserve = %d, %v", n, ok)
		}
	})

	t.Run("idle for FailureMemory counts as none", func(t *testing.T) {
		f := open(t)
		for range accounts.FreeFailures {
			_, _, _, _ = f.Reserve(ctx, "u:4", t0)
		}
		later := t0.Add(accounts.FailureMemory + time.Millisecond)
		if n, last, ok, err := f.Reserve(ctx, "u:4", later); err != nil || !ok || n != 0 || !last.IsZero() {
			t.Fatalf("Reserve after FailureMemory = %d, %v, %v, %v", n, last, ok, err)
		}
	})

	t.Run("a slow clock does not move last back", func(t *testing.T) {
		f := open(t)
		_, _, _, _ = f.Reserve(ctx, "u:5", t0.Add(10*time.Second))
		_, _, _, _ = f.Reserve(ctx, "u:5", t0.Add(5*time.Second))
		if n, last, _ := f.Failures(ctx, "u:5", t0.Add(11*time.Second)); n != 2 || !last.Equal(t0.Add(10*time.Second)) {
			t.Fatalf("Failures = %d, %v", n, last)
		}
	})

	t.Run("reserve applies Backoff", func(t *testing.T) {
		f := open(t)
		// Per count, later and later attempts: refused ones change nothing,
		// so each is compared with Backoff until the first is admitted.
		offsets := []time.Duration{0, time.Millisecond, 999 * time.Millisecond, time.Second, 2*time.Second - time.Millisecond,
			2 * time.Second, 4 * time.Second, 256 * time.Second, 512 * time.Second, 900*time.Second - time.Millisecond,
			900 * time.Second, time.Hour, accounts.FailureMemory, accounts.FailureMemory + time.Millisecond}
		for _, n := range []int{0, 1, 4, 5, 6, 7, 10, 14, 15, 16, 30, 99, 100, 101} {
			k := fmt.Sprintf("u:grid-%d", n)
			for range n {
				if _, err := f.Record(ctx, k, t0); err != nil {
					t.Fatal(err)
				}
			}
			for _, off := range offsets {
				now := t0.Add(off)
				wait, _ := accounts.Backoff(n, t0, now)
				want := n
				if off > accounts.FailureMemory {
					wait, want = 0, 0 // forgotten
				}
				got, _, ok, err := f.Reserve(ctx, k, now)
				if err != nil {
					t.Fatal(err)
				}
				if ok != (wait == 0) || got != want {
					t.Errorf("%d failures, %v later: Reserve = %d, admitted %v; want %d, Backoff waits %v", n, off, got, ok, want, wait)
				}
				if ok {
					break
				}
			}
		}
	})
}
