package redislimit_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/ratelimit/redislimit"
)

// TestCluster runs the Limiter on a local Redis Cluster of three masters,
// one cluster for every subtest. Each bucket is one key, so each decision
// is one script on the shard of its key; buckets spread over the shards,
// each of which loads the script on first use.
func TestCluster(t *testing.T) {
	cl := redistest.Cluster(t, redistest.ClusterOptions{})

	t.Run("burst then refusal on every shard", func(t *testing.T) {
		l := newLimiter(t, cl.Client, ratelimit.Policy{Rate: 1.0 / 3600, Burst: 3}, cl.Prefix(t))
		for k := range 12 {
			key := "client-" + strconv.Itoa(k)
			for i, want := range []bool{true, true, true, false} {
				d := allow(t, l, key)
				if d.Allowed != want || d.Remaining != max(2-i, 0) || d.Limit != 3 {
					t.Errorf("%s, request %d: %+v, want allowed %v", key, i+1, d, want)
				}
			}
		}
	})

	t.Run("matches Memory", func(t *testing.T) {
		p := ratelimit.Policy{Rate: 7, Burst: 2}
		l := newLimiter(t, cl.Client, p, cl.Prefix(t))
		var now int64
		l.Observe(func(n int64) { now = n })
		clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		start := clock.Now()
		m, err := ratelimit.NewMemory(p, ratelimit.MemoryOptions{Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		// Keys on several shards, whose TIME may differ by a little: the
		// timeline of each key is its own shard's, so it is replayed per
		// key.
		first := map[string]int64{}
		for i := range 40 {
			key := "k" + strconv.Itoa(i%4)
			if i%5 == 0 {
				time.Sleep(20 * time.Millisecond)
			}
			got := allow(t, l, key)
			if _, ok := first[key]; !ok {
				first[key] = now
			}
			clock.Set(start.Add(time.Duration(now - first[key])))
			want := allow(t, m, key)
			if got != want {
				t.Fatalf("request %d (%s): Redis %+v, Memory %+v", i, key, got, want)
			}
		}
	})

	t.Run("instances share the limit", func(t *testing.T) {
		const burst, requests = 10, 60
		prefix := cl.Prefix(t)
		p := ratelimit.Policy{Rate: 1.0 / 3600, Burst: burst}
		var instances []*redislimit.Limiter
		for range 3 {
			instances = append(instances, newLimiter(t, redistest.OpenURL(t, cl.URL), p, prefix))
		}
		for _, key := range []string{"user:1", "user:2", "user:3"} {
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for i := range requests {
				wg.Go(func() {
					d, err := instances[i%3].Allow(ctx, key)
					if err != nil {
						t.Error(err)
					} else if d.Allowed {
						admitted.Add(1)
					}
				})
			}
			wg.Wait()
			if admitted.Load() != burst {
				t.Errorf("%s: %d admitted, want %d", key, admitted.Load(), burst)
			}
		}
	})

	t.Run("one round trip per Allow", func(t *testing.T) {
		c := redistest.OpenURL(t, cl.URL)
		hook := &redistest.CountingHook{}
		c.AddHook(hook)
		l := newLimiter(t, c, ratelimit.Policy{Rate: 100, Burst: 5}, cl.Prefix(t))
		for i := range 8 { // loads the script on every shard
			allow(t, l, "warm-up-"+strconv.Itoa(i))
		}
		for i := range 8 {
			before := hook.Count()
			allow(t, l, "k"+strconv.Itoa(i))
			if n := hook.Count() - before; n != 1 {
				t.Errorf("Allow %d took %d round trips, want 1", i, n)
			}
		}
	})
}
