//go:build unix

// The tests run a private redis-server, and freeze it with SIGSTOP.

package redissub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/redissub"
)

var ctx = context.Background()

// interval is the tests' ping interval, short so that a silent connection
// is found out quickly.
const interval = 100 * time.Millisecond

// events runs Next in the background and hands its events on, until the
// subscription is closed, when the channel is closed.
func events(sub *redissub.Subscription) <-chan redissub.Event {
	ch := make(chan redissub.Event, 1000)
	go func() {
		defer close(ch)
		for {
			ev, err := sub.Next()
			if err != nil {
				return
			}
			ch <- ev
		}
	}()
	return ch
}

// expect skips events until one of kind arrives, and fails t unless it
// does within 10 s or if an event of a kind in never comes first.
func expect(t *testing.T, ch <-chan redissub.Event, kind redissub.Kind, never ...redissub.Kind) redissub.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("subscription closed waiting for event %d", kind)
			}
			if ev.Kind == kind {
				return ev
			}
			for _, k := range never {
				if ev.Kind == k {
					t.Fatalf("event %d while waiting for %d", ev.Kind, kind)
				}
			}
		case <-timeout:
			t.Fatalf("no event %d within 10s", kind)
		}
	}
}

// TestEvents follows one subscription through a message, a server that
// hangs without closing its connections, and a server that restarts.
func TestEvents(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redistest.OpenURL(t, srv.URL())
	sub := redissub.Subscribe(ctx, c, "ch", interval)
	defer sub.Close()
	ch := events(sub)

	expect(t, ch, redissub.Up, redissub.Alive, redissub.Message)
	if err := redissub.Publish(ctx, c, redissub.Sharded(c), "ch", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	if ev := expect(t, ch, redissub.Message, redissub.Down); ev.Payload != "hello" {
		t.Errorf("payload %q", ev.Payload)
	}
	expect(t, ch, redissub.Alive, redissub.Down)

	// A hung server answers nothing: no pong may confirm the link.
	srv.Freeze()
	if ev := expect(t, ch, redissub.Down); !errors.Is(ev.Err, redissub.ErrSilent) {
		t.Errorf("Down of a hung server: %v", ev.Err)
	}
	srv.Thaw()
	expect(t, ch, redissub.Up, redissub.Alive, redissub.Message)

	srv.Stop()
	if ev := expect(t, ch, redissub.Down); ev.Err == nil {
		t.Error("Down without a reason")
	}
	srv.Start()
	expect(t, ch, redissub.Up, redissub.Alive, redissub.Message)
	expect(t, ch, redissub.Alive, redissub.Down)

	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	for range ch {
	}
	if _, err := sub.Next(); !errors.Is(err, redissub.ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
}

// TestRefusedSubscriptionIsNeverUp: a connection that works but whose
// SUBSCRIBE is refused (here by an ACL) proves nothing, so its pongs are
// never reported as Up or Alive.
func TestRefusedSubscriptionIsNeverUp(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redistest.OpenURL(t, srv.URL())
	if err := c.Do(ctx, "ACL", "SETUSER", "default", "resetchannels").Err(); err != nil {
		t.Fatal(err)
	}
	sub := redissub.Subscribe(ctx, c, "ch", interval)
	defer sub.Close()
	ch := events(sub)
	downs := 0
	deadline := time.After(10 * interval)
	for {
		select {
		case ev := <-ch:
			if ev.Kind != redissub.Down {
				t.Fatalf("event %d on a refused subscription", ev.Kind)
			}
			downs++
		case <-deadline:
			if downs == 0 {
				t.Error("no Down on a refused subscription")
			}
			return
		}
	}
}

// TestContextEndsSubscription: the end of Subscribe's context closes the
// subscription and unblocks Next.
func TestContextEndsSubscription(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redistest.OpenURL(t, srv.URL())
	cctx, cancel := context.WithCancel(ctx)
	sub := redissub.Subscribe(cctx, c, "ch", time.Hour)
	ch := events(sub)
	expect(t, ch, redissub.Up)
	cancel()
	for range ch {
	}
	if _, err := sub.Next(); !errors.Is(err, redissub.ErrClosed) {
		t.Errorf("Next after the context ended: %v", err)
	}
}

func TestPublishForm(t *testing.T) {
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer single.Close()
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cluster.Close()
	if redissub.Sharded(single) || !redissub.Sharded(cluster) {
		t.Fatal("Sharded: want only the Cluster client sharded")
	}
	p := single.Pipeline()
	if got := redissub.Publish(ctx, p, true, "c", "m").Name(); got != "spublish" {
		t.Errorf("sharded: %s", got)
	}
	if got := redissub.Publish(ctx, p, false, "c", "m").Name(); got != "publish" {
		t.Errorf("not sharded: %s", got)
	}
}
