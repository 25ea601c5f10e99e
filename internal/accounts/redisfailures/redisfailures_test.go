package redisfailures_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/accounts/failuretest"
	"github.com/wardenhq/warden/internal/accounts/redisfailures"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
)

var ctx = context.Background()

func TestLoginFailures(t *testing.T) {
	c := redistest.Open(t)
	prefix := redistest.Prefix(t)
	f := redisfailures.New(c, prefix)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

	type step struct {
		op        string // record, read or clear
		key       string
		at        time.Duration // after t0
		wantN     int
		wantLast  time.Duration // after t0; ignored when wantN is 0
		wantFresh bool          // read: no failures
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"none recorded", []step{{op: "read", key: "u:1", wantFresh: true}}},
		{"counts and remembers the last", []step{
			{op: "record", key: "u:2", wantN: 1},
			{op: "record", key: "u:2", at: time.Second, wantN: 2},
			{op: "record", key: "u:2", at: 3 * time.Second, wantN: 3},
			{op: "read", key: "u:2", at: 4 * time.Second, wantN: 3, wantLast: 3 * time.Second},
		}},
		{"idle for FailureMemory counts as none", []step{
			{op: "record", key: "u:3", wantN: 1},
			{op: "record", key: "u:3", at: time.Hour, wantN: 2},
			{op: "read", key: "u:3", at: time.Hour + accounts.FailureMemory, wantN: 2, wantLast: time.Hour},
			{op: "read", key: "u:3", at: time.Hour + accounts.FailureMemory + time.Millisecond, wantFresh: true},
			{op: "record", key: "u:3", at: time.Hour + accounts.FailureMemory + time.Millisecond, wantN: 1},
		}},
		{"a slow clock does not move last back", []step{
			{op: "record", key: "u:4", at: 10 * time.Second, wantN: 1},
			{op: "record", key: "u:4", at: 5 * time.Second, wantN: 2},
			{op: "read", key: "u:4", at: 11 * time.Second, wantN: 2, wantLast: 10 * time.Second},
		}},
		{"clear", []step{
			{op: "record", key: "u:5", wantN: 1},
			{op: "record", key: "n:someone", wantN: 1},
			{op: "clear", key: "u:5,n:someone,u:never"},
			{op: "read", key: "u:5", wantFresh: true},
			{op: "read", key: "n:someone", wantFresh: true},
			{op: "record", key: "u:5", wantN: 1},
		}},
		{"keys are separate", []step{
			{op: "record", key: "u:6", wantN: 1},
			{op: "record", key: "u:6", wantN: 2},
			{op: "read", key: "u:7", wantFresh: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "record":
					n, err := f.Record(ctx, s.key, now)
					if err != nil || n != s.wantN {
						t.Fatalf("step %d: Record = %d, %v; want %d", i, n, err, s.wantN)
					}
				case "clear":
					if err := f.Clear(ctx, strings.Split(s.key, ",")...); err != nil {
						t.Fatalf("step %d: Clear: %v", i, err)
					}
				case "read":
					n, last, err := f.Failures(ctx, s.key, now)
					if err != nil {
						t.Fatalf("step %d: Failures: %v", i, err)
					}
					if s.wantFresh {
						if n != 0 || !last.IsZero() {
							t.Errorf("step %d: Failures = %d, %v; want 0 and the zero time", i, n, last)
						}
						continue
					}
					// Times are kept to the millisecond, like the database's.
					want := t0.Add(s.wantLast).Truncate(time.Millisecond)
					if n != s.wantN || !last.Equal(want) {
						t.Errorf("step %d: Failures = %d, %v; want %d, %v", i, n, last, s.wantN, want)
					}
				}
			}
		})
	}
	if err := f.Clear(ctx); err != nil {
		t.Errorf("Clear with no keys: %v", err)
	}
}

func TestLoginFailuresStorage(t *testing.T) {
	c := redistest.Open(t)
	prefix := redistest.Prefix(t)
	f := redisfailures.New(c, prefix)
	if _, err := f.Record(ctx, "n:alice@example.com", time.Now()); err != nil {
		t.Fatal(err)
	}
	keys, err := redistest.Keys(ctx, c, prefix)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %q, %v; want one", keys, err)
	}
	// The key is the one redisstate.LoginFailures wrote before the counter
	// moved here, so that instances of both versions share counts during a
	// rolling upgrade.
	sum := sha256.Sum256([]byte("n:alice@example.com"))
	if want := prefix + "loginfail:" + base64.RawURLEncoding.EncodeToString(sum[:16]); keys[0] != want {
		t.Errorf("key %q, want %q", keys[0], want)
	}
	if strings.Contains(keys[0], "alice") {
		t.Errorf("key %q shows the login name", keys[0])
	}
	ttl := c.PTTL(ctx, keys[0]).Val()
	if ttl <= accounts.FailureMemory-time.Minute || ttl > accounts.FailureMemory {
		t.Errorf("TTL = %v, want about %v", ttl, accounts.FailureMemory)
	}
}

// TestLoginFailuresCountEveryInstance records failures concurrently through
// three clients: none is lost.
func TestLoginFailuresCountEveryInstance(t *testing.T) {
	prefix := redistest.Prefix(t)
	var counters []*redisfailures.Counter
	for range 3 {
		counters = append(counters, redisfailures.New(redistest.Open(t), prefix))
	}
	now := time.Now()
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			if _, err := counters[i%3].Record(ctx, "u:target", now); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, _, err := counters[0].Failures(ctx, "u:target", now); err != nil || n != 60 {
		t.Errorf("Failures = %d, %v; want 60", n, err)
	}
}

func TestOneRoundTripPerCall(t *testing.T) {
	c := redistest.Open(t)
	hook := &redistest.CountingHook{}
	c.AddHook(hook)
	f := redisfailures.New(c, redistest.Prefix(t))
	now := time.Now()
	// Load the script, so that its first EVALSHA does not count a NOSCRIPT.
	if _, err := f.Record(ctx, "warm-up", now); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Record", func() error { _, err := f.Record(ctx, "u:1", now); return err }},
		{"Failures", func() error { _, _, err := f.Failures(ctx, "u:1", now); return err }},
		{"Clear of three keys", func() error { return f.Clear(ctx, "u:1", "u:2", "u:3") }},
	}
	for _, tt := range calls {
		before := hook.Count()
		if err := tt.call(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if n := hook.Count() - before; n != 1 {
			t.Errorf("%s took %d round trips, want 1", tt.name, n)
		}
	}
}

// TestDuringOutage: every call fails while Redis is down, without a
// "no failures"-style guess, and works again after the restart with the
// same client.
func TestDuringOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	f := redisfailures.New(redistest.OpenURL(t, srv.URL()), "warden:")
	now := time.Now()

	srv.Stop()
	if _, _, err := f.Failures(ctx, "u:1", now); err == nil {
		t.Error("Failures succeeded with Redis stopped")
	}
	if _, err := f.Record(ctx, "u:1", now); err == nil {
		t.Error("Record succeeded with Redis stopped")
	}
	if err := f.Clear(ctx, "u:1"); err == nil {
		t.Error("Clear succeeded with Redis stopped")
	}

	srv.Start()
	if err := redistest.Eventually(10*time.Second, func() error {
		_, err := f.Record(ctx, "u:1", now)
		return err
	}); err != nil {
		t.Fatalf("Record after the restart: %v", err)
	}
	if n, _, err := f.Failures(ctx, "u:1", now); err != nil || n != 1 {
		t.Errorf("Failures after the restart = %d, %v", n, err)
	}
}

// TestContract holds the Redis counter to the accounts.FailureCounter
// contract: among others, Reserve applies accounts.Backoff (the script
// repeats it) and admits exactly FreeFailures of forty racing attempts.
func TestContract(t *testing.T) {
	failuretest.Run(t, func(t *testing.T) accounts.FailureCounter {
		return redisfailures.New(redistest.Open(t), redistest.Prefix(t))
	})
}
