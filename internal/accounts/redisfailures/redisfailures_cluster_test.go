package redisfailures_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/accounts/failuretest"
	"github.com/wardenhq/warden/internal/accounts/redisfailures"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
)

// TestCluster runs the counter on a local Redis Cluster of three masters,
// one cluster for every subtest. Each login key is one hash, so each call
// is one script or command on the shard of its key, and Clear's pipeline
// of DELs is split by shard.
func TestCluster(t *testing.T) {
	cl := redistest.Cluster(t, redistest.ClusterOptions{})

	t.Run("contract", func(t *testing.T) {
		failuretest.Run(t, func(t *testing.T) accounts.FailureCounter {
			return redisfailures.New(redistest.OpenURL(t, cl.URL), cl.Prefix(t))
		})
	})

	t.Run("every instance counts", func(t *testing.T) {
		prefix := cl.Prefix(t)
		var counters []*redisfailures.Counter
		for range 3 {
			counters = append(counters, redisfailures.New(redistest.OpenURL(t, cl.URL), prefix))
		}
		now := time.Now()
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				if _, err := counters[i%3].Record(ctx, "u:"+strconv.Itoa(i%4), now); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for k := range 4 {
			if n, _, err := counters[k%3].Failures(ctx, "u:"+strconv.Itoa(k), now); err != nil || n != 15 {
				t.Errorf("u:%d: Failures = %d, %v; want 15", k, n, err)
			}
		}
	})

	t.Run("clear of keys on every shard", func(t *testing.T) {
		c := redistest.OpenURL(t, cl.URL)
		hook := &redistest.CountingHook{}
		c.AddHook(hook)
		prefix := cl.Prefix(t)
		f := redisfailures.New(c, prefix)
		now := time.Now()
		var keys []string
		for i := range 12 {
			keys = append(keys, "u:"+strconv.Itoa(i))
			if _, err := f.Record(ctx, keys[i], now); err != nil {
				t.Fatal(err)
			}
		}
		before := hook.Count()
		if err := f.Clear(ctx, keys...); err != nil {
			t.Fatal(err)
		}
		if n := hook.Count() - before; n != 1 {
			t.Errorf("Clear took %d pipelines, want 1", n)
		}
		if left, err := redistest.Keys(ctx, c, prefix); err != nil || len(left) != 0 {
			t.Errorf("keys left after Clear: %q, %v", left, err)
		}
	})
}
