package redisconn_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
)

// TestClusterFailover opens a redis+cluster:// URL of a local Cluster of
// three masters with a replica each, then kills the master of a key: the
// client fails while the key's slot has no master, and finds the promoted
// replica by itself within seconds, not after go-redis's own periodic
// reload of the slot map (a minute), although every command it sent went
// to the dead master and none was answered MOVED.
func TestClusterFailover(t *testing.T) {
	redistest.Failover(t)
	ctx := context.Background()
	cl := redistest.Cluster(t, redistest.ClusterOptions{Replicas: 1})
	c := redistest.OpenURL(t, cl.URL)
	for i := range 20 { // keys on every shard
		if err := c.Set(ctx, "k"+strconv.Itoa(i), i, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	cl.WaitReplicated(t)
	cl.KillMasterOf(t, "k0")
	outage := 0
	for !cl.Promoted() {
		if err := c.Get(ctx, "k0").Err(); err == nil && !cl.Promoted() {
			t.Fatal("GET succeeded with no master for the key")
		}
		outage++
	}
	if outage == 0 {
		t.Fatal("the replica was promoted before any command; the outage was not exercised")
	}
	cl.WaitFailover(t)
	err := redistest.Eventually(10*time.Second, func() error { return c.Get(ctx, "k0").Err() })
	if err != nil {
		t.Fatalf("GET after the failover: %v", err)
	}
	for i := range 20 {
		if v, err := c.Get(ctx, "k"+strconv.Itoa(i)).Int(); err != nil || v != i {
			t.Errorf("k%d after the failover = %d, %v", i, v, err)
		}
	}
}
