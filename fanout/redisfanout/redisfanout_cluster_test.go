package redisfanout_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/fanout/fanouttest"
	"github.com/wardenhq/warden/fanout/redisfanout"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
)

// TestCluster runs the bus on a local Redis Cluster of three masters with
// a replica each, one cluster for every subtest: the contract, sharded
// pub/sub, a resharding of the channel's slot and, last, a failover of its
// master.
func TestCluster(t *testing.T) {
	cl := redistest.Cluster(t, redistest.ClusterOptions{Replicas: 1})
	// buses returns a publishing and a subscribing bus on clients of their
	// own, as two instances.
	buses := func(t *testing.T, prefix string) (pub, sub *redisfanout.Bus) {
		return redisfanout.New(redistest.OpenURL(t, cl.URL), prefix), redisfanout.New(redistest.OpenURL(t, cl.URL), prefix)
	}

	t.Run("contract", func(t *testing.T) {
		fanouttest.Run(t, func(t *testing.T, buffer int) (fanout.Bus, fanout.Bus) {
			pub, sub := buses(t, cl.Prefix(t))
			pub.Buffer, sub.Buffer = buffer, buffer
			return pub, sub
		})
	})

	// The decision, pinned: in a Cluster the bus is sharded pub/sub, and
	// a Publish is one round trip.
	t.Run("sharded", func(t *testing.T) {
		prefix := cl.Prefix(t)
		c := redistest.OpenURL(t, cl.URL)
		hook := &redistest.CountingHook{}
		c.AddHook(hook)
		bus := redisfanout.New(c, prefix)
		sharded := cl.Client.(*redis.ClusterClient).SSubscribe(ctx, prefix+"bus:events")
		defer sharded.Close()
		if _, err := sharded.ReceiveTimeout(ctx, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		before := hook.Count()
		if err := bus.Publish(ctx, "events", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if n := hook.Count() - before; n != 1 {
			t.Errorf("Publish took %d round trips, want 1", n)
		}
		msg, err := sharded.ReceiveMessage(ctx)
		if err != nil || msg.Payload != "x" {
			t.Fatalf("SSUBSCRIBE got %v, %v; want the message", msg, err)
		}
	})

	t.Run("resharding the channel's slot", func(t *testing.T) {
		prefix := cl.Prefix(t)
		pub, sub := buses(t, prefix)
		ch, cancel, err := sub.Subscribe(ctx, "events")
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		hear(t, pub, ch, "before")
		cl.MoveSlotOf(t, prefix+"bus:events")
		hear(t, pub, ch, "after")
	})

	// Last: the cluster keeps the promoted replica as master afterwards.
	t.Run("failover of the channel's master", func(t *testing.T) {
		redistest.Failover(t)
		prefix := cl.Prefix(t)
		pub, sub := buses(t, prefix)
		ch, cancel, err := sub.Subscribe(ctx, "events")
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		hear(t, pub, ch, "before")

		cl.KillMasterOf(t, prefix+"bus:events")
		outage := 0
		for i := 0; ; i++ {
			err := pub.Publish(ctx, "events", []byte("during-"+strconv.Itoa(i)))
			if cl.Promoted() {
				break
			}
			outage++
			if err == nil {
				t.Fatalf("Publish %d succeeded with no master for the channel", i)
			}
		}
		if outage == 0 {
			t.Fatal("the replica was promoted before any call; the outage was not exercised")
		}
		t.Logf("%d publishes failed during the outage", outage)
		cl.WaitFailover(t)

		// The same subscription hears again, and new ones work.
		hear(t, pub, ch, "after")
		ch2, cancel2, err := sub.Subscribe(ctx, "events")
		if err != nil {
			t.Fatalf("Subscribe after the failover: %v", err)
		}
		defer cancel2()
		if err := pub.Publish(ctx, "events", []byte("both")); err != nil {
			t.Fatal(err)
		}
		for _, c := range []<-chan []byte{ch, ch2} {
			if m := skipTo(t, c, "both"); m != "both" {
				t.Errorf("got %q", m)
			}
		}
	})
}

// hear publishes want until ch receives it: messages published while a
// subscription is being made again are lost, as documented. Earlier
// messages still queued on ch are skipped. It fails t after 20 s.
func hear(t *testing.T, pub *redisfanout.Bus, ch <-chan []byte, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 1; ; i++ {
		_ = pub.Publish(ctx, "events", []byte(want))
		wait := time.After(200 * time.Millisecond)
	drain:
		for {
			select {
			case m, ok := <-ch:
				if !ok {
					t.Fatal("subscription closed")
				}
				if string(m) == want {
					t.Logf("%q heard after %d publishes", want, i)
					return
				}
			case <-wait:
				break drain
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not heard within 20s", want)
		}
	}
}

// skipTo returns the first message on ch equal to want, skipping earlier
// retries of hear.
func skipTo(t *testing.T, ch <-chan []byte, want string) string {
	t.Helper()
	for {
		m, ok := fanouttest.Receive(t, ch)
		if !ok || m == want {
			return m
		}
	}
}
