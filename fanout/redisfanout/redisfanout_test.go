package redisfanout_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/fanout/fanouttest"
	"github.com/wardenhq/warden/fanout/redisfanout"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
)

var ctx = context.Background()

// TestBus runs the contract against two clients under one prefix, as two
// instances would.
func TestBus(t *testing.T) {
	redistest.URL(t)
	fanouttest.Run(t, func(t *testing.T, buffer int) (fanout.Bus, fanout.Bus) {
		prefix := redistest.Prefix(t)
		pub := redisfanout.New(redistest.Open(t), prefix)
		sub := redisfanout.New(redistest.Open(t), prefix)
		pub.Buffer, sub.Buffer = buffer, buffer
		return pub, sub
	})
}

func TestPublishIsOneRoundTrip(t *testing.T) {
	c := redistest.Open(t)
	hook := &redistest.CountingHook{}
	c.AddHook(hook)
	bus := redisfanout.New(c, redistest.Prefix(t))
	before := hook.Count()
	if err := bus.Publish(ctx, "events", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n := hook.Count() - before; n != 1 {
		t.Errorf("Publish took %d round trips, want 1", n)
	}
}

// TestSurvivesRestart subscribes on a private Redis, restarts it,
// and expects the same subscription to receive again, while Publish fails
// during the outage.
func TestSurvivesRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	pub := redisfanout.New(redistest.OpenURL(t, srv.URL()), "warden:")
	sub := redisfanout.New(redistest.OpenURL(t, srv.URL()), "warden:")
	ch, cancel, err := sub.Subscribe(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := pub.Publish(ctx, "events", []byte("before")); err != nil {
		t.Fatal(err)
	}
	if m, _ := fanouttest.Receive(t, ch); m != "before" {
		t.Fatalf("got %q", m)
	}

	srv.Stop()
	if err := pub.Publish(ctx, "events", []byte("lost")); err == nil {
		t.Error("Publish succeeded with Redis stopped")
	}
	if _, _, err := sub.Subscribe(ctx, "other"); err == nil {
		t.Error("Subscribe succeeded with Redis stopped")
	}
	time.Sleep(500 * time.Millisecond)
	srv.Start()

	// Publish until the resubscribed connection hears one; messages sent
	// before it resubscribes are lost, as documented.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		_ = pub.Publish(ctx, "events", []byte("after"))
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatal("subscription closed by the restart")
			}
			if m := string(m); m != "after" {
				t.Fatalf("got %q", m)
			}
			t.Logf("received again after %d publishes", i+1)
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no message within 20s of the restart")
		}
	}
}
