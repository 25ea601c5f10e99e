package redislimit_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/logtest"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/ratelimit/redislimit"
)

var ctx = context.Background()

func newLimiter(t testing.TB, c redis.UniversalClient, p ratelimit.Policy, prefix string) *redislimit.Limiter {
	t.Helper()
	l, err := redislimit.New(c, p, prefix)
	if err != nil {
		t.Fatalf("New(%+v): %v", p, err)
	}
	return l
}

func allow(t testing.TB, l ratelimit.Limiter, key string) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(ctx, key)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

// fakeClock moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func TestNewValidates(t *testing.T) {
	c := redistest.Open(t)
	tests := []struct {
		name   string
		client redis.UniversalClient
		policy ratelimit.Policy
	}{
		{"nil client", nil, ratelimit.Policy{Rate: 1, Burst: 1}},
		{"zero rate", c, ratelimit.Policy{Rate: 0, Burst: 1}},
		{"zero burst", c, ratelimit.Policy{Rate: 1, Burst: 0}},
		{"bad name", c, ratelimit.Policy{Name: "a b", Rate: 1, Burst: 1}},
	}
	for _, tt := range tests {
		if _, err := redislimit.New(tt.client, tt.policy, "p:"); err == nil {
			t.Errorf("%s: New accepted %+v", tt.name, tt.policy)
		}
	}
	l := newLimiter(t, c, ratelimit.Policy{Rate: 1, Burst: 1}, "p:")
	if got := l.Policy(); got.Name != ratelimit.DefaultPolicyName {
		t.Errorf("Policy().Name = %q, want the default", got.Name)
	}
}

func TestBurstThenRefusal(t *testing.T) {
	c := redistest.Open(t)
	l := newLimiter(t, c, ratelimit.Policy{Rate: 1, Burst: 3}, redistest.Prefix(t))
	want := []struct {
		allowed   bool
		remaining int
	}{{true, 2}, {true, 1}, {true, 0}, {false, 0}, {false, 0}}
	for i, w := range want {
		d := allow(t, l, "client")
		if d.Allowed != w.allowed || d.Remaining != w.remaining || d.Limit != 3 {
			t.Errorf("request %d: %+v, want allowed %v, remaining %d, limit 3", i+1, d, w.allowed, w.remaining)
		}
		if d.Allowed && (d.RetryAfter != 0 || d.Reset <= 0 || d.Reset > time.Duration(i+1)*time.Second) {
			t.Errorf("request %d: allowed with RetryAfter %v, Reset %v", i+1, d.RetryAfter, d.Reset)
		}
		if !d.Allowed && (d.RetryAfter <= 0 || d.RetryAfter > time.Second || d.Reset <= 2*time.Second || d.Reset > 3*time.Second) {
			t.Errorf("request %d: refused with RetryAfter %v, Reset %v", i+1, d.RetryAfter, d.Reset)
		}
	}
	if d := allow(t, l, "other client"); !d.Allowed || d.Remaining != 2 {
		t.Errorf("another key: %+v, want its own full bucket", d)
	}
}

func TestRefill(t *testing.T) {
	c := redistest.Open(t)
	l := newLimiter(t, c, ratelimit.Policy{Rate: 20, Burst: 2}, redistest.Prefix(t)) // a token every 50ms
	allow(t, l, "k")
	allow(t, l, "k")
	d := allow(t, l, "k")
	if d.Allowed {
		t.Fatalf("third request in a burst of 2 allowed: %+v", d)
	}
	time.Sleep(d.RetryAfter + 5*time.Millisecond)
	if d := allow(t, l, "k"); !d.Allowed {
		t.Errorf("after RetryAfter: %+v, want allowed", d)
	}
	time.Sleep(110 * time.Millisecond)
	if d := allow(t, l, "k"); !d.Allowed || d.Remaining != 1 {
		t.Errorf("after a full refill: %+v, want allowed with 1 remaining", d)
	}
}

// TestMatchesMemoryExactly replays each request's Redis server time on a
// ratelimit.Memory with a fake clock: every Decision field must be equal,
// to the nanosecond, for random sequences under several policies. The
// policies include intervals that are not whole microseconds and one whose
// window (two years) overflows the 2^53 nanoseconds a Lua number holds
// exactly.
func TestMatchesMemoryExactly(t *testing.T) {
	c := redistest.Open(t)
	policies := []ratelimit.Policy{
		{Rate: 10, Burst: 3},
		{Rate: 7, Burst: 2},   // T = 142857143ns
		{Rate: 3, Burst: 1},   // T = 333333333ns
		{Rate: 250, Burst: 5}, // T = 4ms, refills between requests
		{Rate: 1000, Burst: 3},
		{Rate: 1e6, Burst: 4}, // T = 1µs, below the server clock's resolution
		{Rate: 3e8, Burst: 7}, // T = 3ns
		{Name: "yearly", Rate: 1.0 / (365 * 24 * 3600), Burst: 2},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range policies {
		t.Run(strconv.FormatFloat(p.Rate, 'g', -1, 64)+"/"+strconv.Itoa(p.Burst), func(t *testing.T) {
			l := newLimiter(t, c, p, redistest.Prefix(t))
			var now int64
			l.Observe(func(n int64) { now = n })
			clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			start := clock.Now()
			m, err := ratelimit.NewMemory(p, ratelimit.MemoryOptions{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			var first int64
			allowed, refused := 0, 0
			for i := range 80 {
				key := "k" + strconv.Itoa(rng.IntN(3))
				// Mostly back to back, sometimes a pause of up to three
				// intervals (at most 25ms), so buckets drain and refill.
				if rng.IntN(4) == 0 {
					pause := min(3*time.Duration(1e9/p.Rate), 25*time.Millisecond)
					time.Sleep(time.Duration(rng.Int64N(int64(pause) + 1)))
				}
				got := allow(t, l, key)
				if i == 0 {
					first = now
				}
				clock.Set(start.Add(time.Duration(now - first)))
				want := allow(t, m, key)
				if got != want {
					t.Fatalf("request %d (%s at +%v): Redis %+v, Memory %+v", i, key, time.Duration(now-first), got, want)
				}
				if got.Allowed {
					allowed++
				} else {
					refused++
				}
			}
			t.Logf("%d allowed, %d refused", allowed, refused)
		})
	}
}

// TestMatchesMemoryOnTheWallClock runs Redis and a Memory on the real clock
// side by side, with requests timed at least a quarter interval away from
// the moments a token is earned, so the fraction of a millisecond between
// the two calls cannot change the answer. Durations agree within a
// tolerance.
func TestMatchesMemoryOnTheWallClock(t *testing.T) {
	c := redistest.Open(t)
	p := ratelimit.Policy{Rate: 10, Burst: 3} // T = 100ms
	const T = 100 * time.Millisecond
	const tolerance = 20 * time.Millisecond
	l := newLimiter(t, c, p, redistest.Prefix(t))
	m, err := ratelimit.NewMemory(p, ratelimit.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Requests at these offsets, in units of T/2 from the first: a burst,
	// waits of one and a half and of two and a half tokens, a long rest.
	schedule := []int{0, 0, 0, 0, 0, 3, 3, 3, 3, 8, 8, 8, 8, 8, 9, 21, 21, 21, 21, 21}
	start := time.Now()
	for i, half := range schedule {
		if half > 0 {
			// Requests fall a quarter interval or more from the moments
			// a token is earned (whole multiples of T after the first).
			time.Sleep(time.Until(start.Add(time.Duration(half)*T/2 + T/4)))
		}
		got := allow(t, l, "k")
		want := allow(t, m, "k")
		if got.Allowed != want.Allowed || got.Limit != want.Limit || got.Remaining != want.Remaining {
			t.Errorf("request %d: Redis %+v, Memory %+v", i, got, want)
			continue
		}
		if d := (got.RetryAfter - want.RetryAfter).Abs(); d > tolerance {
			t.Errorf("request %d: RetryAfter %v vs %v", i, got.RetryAfter, want.RetryAfter)
		}
		if d := (got.Reset - want.Reset).Abs(); d > tolerance {
			t.Errorf("request %d: Reset %v vs %v", i, got.Reset, want.Reset)
		}
	}
}

// TestInstancesShareTheLimit sends M concurrent requests through three
// clients (three instances) sharing a prefix: exactly Burst are admitted.
func TestInstancesShareTheLimit(t *testing.T) {
	const burst, requests = 10, 90
	prefix := redistest.Prefix(t)
	p := ratelimit.Policy{Rate: 1.0 / 3600, Burst: burst} // no refill during the test
	var instances []*redislimit.Limiter
	for range 3 {
		instances = append(instances, newLimiter(t, redistest.Open(t), p, prefix))
	}
	for _, key := range []string{"user:1", "user:2"} {
		var admitted, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				d, err := instances[i%3].Allow(ctx, key)
				switch {
				case err != nil:
					t.Error(err)
				case d.Allowed:
					admitted.Add(1)
				default:
					refused.Add(1)
				}
			})
		}
		wg.Wait()
		if admitted.Load() != burst || refused.Load() != requests-burst {
			t.Errorf("%s: %d admitted and %d refused, want %d and %d", key, admitted.Load(), refused.Load(), burst, requests-burst)
		}
	}
}

func TestKeys(t *testing.T) {
	c := redistest.Open(t)
	hook := &redistest.CountingHook{}
	c.AddHook(hook)
	prefix := redistest.Prefix(t)
	l := newLimiter(t, c, ratelimit.Policy{Rate: 10, Burst: 2}, prefix) // T = 100ms

	t.Run("too long, without a round trip", func(t *testing.T) {
		before := hook.Count()
		if _, err := l.Allow(ctx, strings.Repeat("k", ratelimit.MaxKeyBytes+1)); !errors.Is(err, ratelimit.ErrKeyTooLong) {
			t.Errorf("error = %v, want ErrKeyTooLong", err)
		}
		if n := hook.Count() - before; n != 0 {
			t.Errorf("%d round trips for a refused key", n)
		}
		if d := allow(t, l, strings.Repeat("k", ratelimit.MaxKeyBytes)); !d.Allowed {
			t.Errorf("a key of MaxKeyBytes: %+v", d)
		}
	})

	t.Run("stored as a digest that expires when full", func(t *testing.T) {
		prefix := prefix + "digest:"
		l := newLimiter(t, c, ratelimit.Policy{Rate: 10, Burst: 2}, prefix)
		secret := "hdr:api-key-s3cret"
		allow(t, l, secret)
		keys, err := redistest.Keys(ctx, c, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 {
			t.Fatalf("keys under the prefix: %q, want one", keys)
		}
		bucket := keys[0]
		if strings.Contains(bucket, "s3cret") {
			t.Errorf("bucket key %q contains the limiter key", bucket)
		}
		// One token used: full again after T = 100ms.
		if pttl := c.PTTL(ctx, bucket).Val(); pttl <= 50*time.Millisecond || pttl > 100*time.Millisecond {
			t.Errorf("after one request the bucket expires in %v, want about 100ms", pttl)
		}
		allow(t, l, secret)
		// Two used: full again after 2T.
		if pttl := c.PTTL(ctx, bucket).Val(); pttl <= 150*time.Millisecond || pttl > 200*time.Millisecond {
			t.Errorf("after two requests the bucket expires in %v, want about 200ms", pttl)
		}
		time.Sleep(250 * time.Millisecond)
		if keys, _ := redistest.Keys(ctx, c, prefix); len(keys) != 0 {
			t.Errorf("keys %q outlive their refill", keys)
		}
	})

	t.Run("a corrupt bucket is an error, not a fresh bucket", func(t *testing.T) {
		l2 := newLimiter(t, c, ratelimit.Policy{Rate: 10, Burst: 2}, prefix+"corrupt:")
		allow(t, l2, "k")
		keys, _ := redistest.Keys(ctx, c, prefix+"corrupt:")
		if len(keys) != 1 {
			t.Fatalf("keys = %q", keys)
		}
		c.Set(ctx, keys[0], "garbage", time.Minute)
		if _, err := l2.Allow(ctx, "k"); err == nil {
			t.Error("Allow over a corrupt bucket succeeded")
		}
	})
}

func TestOneRoundTripPerAllow(t *testing.T) {
	c := redistest.Open(t)
	hook := &redistest.CountingHook{}
	c.AddHook(hook)
	l := newLimiter(t, c, ratelimit.Policy{Rate: 100, Burst: 5}, redistest.Prefix(t))
	allow(t, l, "warm-up") // loads the script if this server lacks it
	for i := range 20 {
		before := hook.Count()
		allow(t, l, "k"+strconv.Itoa(i%3))
		if n := hook.Count() - before; n != 1 {
			t.Fatalf("Allow %d took %d round trips, want 1", i, n)
		}
	}
}

// TestOutageAndFallback stops a private Redis: Allow fails, Fallback keeps
// limiting from memory (neither admitting everything nor failing), and
// Redis takes over again after the restart, with the same client.
func TestOutageAndFallback(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redistest.OpenURL(t, srv.URL())
	p := ratelimit.Policy{Name: "auth", Rate: 1.0 / 3600, Burst: 3}
	rl := newLimiter(t, c, p, "warden:auth:")
	mem, err := ratelimit.NewMemory(p, ratelimit.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	fb, err := ratelimit.Fallback(rl, mem, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if d := allow(t, fb, "ip:192.0.2.1"); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("before the outage: %+v", d)
	}

	srv.Stop()
	start := time.Now()
	if _, err := rl.Allow(ctx, "ip:192.0.2.1"); err == nil {
		t.Fatal("Allow succeeded with Redis stopped")
	}
	t.Logf("first failing Allow took %v", time.Since(start))
	want := []bool{true, true, true, false, false, false}
	for i, w := range want {
		start := time.Now()
		d, err := fb.Allow(ctx, "ip:192.0.2.1")
		if err != nil {
			t.Fatalf("fallback request %d: %v", i, err)
		}
		if d.Allowed != w {
			t.Errorf("fallback request %d: %+v, want allowed %v", i, d, w)
		}
		if el := time.Since(start); el > 10*time.Second { // a hang, not a slow machine
			t.Errorf("fallback request %d took %v", i, el)
		}
	}
	if !strings.Contains(logs.String(), "rate limiter unavailable") {
		t.Errorf("the outage was not logged:\n%s", logs.String())
	}

	srv.Start()
	if err := redistest.Eventually(10*time.Second, func() error {
		_, err := rl.Allow(ctx, "probe")
		return err
	}); err != nil {
		t.Fatalf("Redis limiter after the restart: %v", err)
	}
	// The restarted Redis has no buckets, while the memory bucket of this
	// key is empty: only Redis would allow it.
	if d := allow(t, fb, "ip:192.0.2.1"); !d.Allowed || d.Remaining != 2 {
		t.Errorf("after the restart: %+v, want Redis's fresh bucket", d)
	}
	if keys, err := redistest.Keys(ctx, c, "warden:auth:"); err != nil || len(keys) != 2 {
		t.Errorf("keys in Redis after the restart: %q, %v; want the probe's and the client's", keys, err)
	}
}

const benchKeys = 10_000

func benchKeyList() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "ip:10.0." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	}
	return keys
}

// BenchmarkRedisAllow measures Allow against the Redis at
// WARDEN_TEST_REDIS_URL: one script run, one round trip.
func BenchmarkRedisAllow(b *testing.B) {
	c := redistest.Open(b)
	benchAllow(b, newLimiter(b, c, ratelimit.Policy{Rate: 1e6, Burst: 1_000_000}, redistest.Prefix(b)))
}

// BenchmarkMemoryAllow is ratelimit.Memory on the same keys, for the ratio.
func BenchmarkMemoryAllow(b *testing.B) {
	m, err := ratelimit.NewMemory(ratelimit.Policy{Rate: 1e6, Burst: 1_000_000}, ratelimit.MemoryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchAllow(b, m)
}

// benchAllow runs l over the benchmark keys, serially and in parallel.
func benchAllow(b *testing.B, l ratelimit.Limiter) {
	keys := benchKeyList()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := l.Allow(ctx, keys[i%benchKeys]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var worker atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(1) * 7919)
			for pb.Next() {
				if _, err := l.Allow(ctx, keys[i%benchKeys]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
