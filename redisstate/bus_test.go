package redisstate_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/redisstate"
)

func redistestURLSet() bool { return os.Getenv(redistest.EnvURL) != "" }

// buses returns each implementation as two instances sharing events, with
// the given buffer: two Redis clients under one prefix, or one MemoryBus.
func buses(t *testing.T, buffer int) map[string][2]redisstate.Bus {
	out := map[string][2]redisstate.Bus{}
	mem := &redisstate.MemoryBus{Buffer: buffer}
	out["memory"] = [2]redisstate.Bus{mem, mem}
	if redistestURLSet() {
		prefix := redistest.Prefix(t)
		a := redisstate.NewRedisBus(redistest.Open(t), prefix)
		b := redisstate.NewRedisBus(redistest.Open(t), prefix)
		a.Buffer, b.Buffer = buffer, buffer
		out["redis"] = [2]redisstate.Bus{a, b}
	}
	return out
}

func receive(t *testing.T, ch <-chan []byte) (string, bool) {
	t.Helper()
	select {
	case m, ok := <-ch:
		return string(m), ok
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return "", false
	}
}

// nothing reports whether ch stays silent (and open) for a moment.
func nothing(ch <-chan []byte) bool {
	select {
	case <-ch:
		return false
	case <-time.After(100 * time.Millisecond):
		return true
	}
}

func TestBus(t *testing.T) {
	for name, inst := range buses(t, 0) {
		t.Run(name, func(t *testing.T) {
			pub, sub := inst[0], inst[1]
			t.Run("every subscriber on every instance receives", func(t *testing.T) {
				ch1, cancel1, err := sub.Subscribe(ctx, "reviews")
				if err != nil {
					t.Fatal(err)
				}
				defer cancel1()
				ch2, cancel2, err := pub.Subscribe(ctx, "reviews")
				if err != nil {
					t.Fatal(err)
				}
				defer cancel2()
				other, cancel3, err := sub.Subscribe(ctx, "books")
				if err != nil {
					t.Fatal(err)
				}
				defer cancel3()
				for i := range 3 {
					if err := pub.Publish(ctx, "reviews", []byte("review "+strconv.Itoa(i))); err != nil {
						t.Fatal(err)
					}
				}
				for i := range 3 {
					want := "review " + strconv.Itoa(i)
					if m, _ := receive(t, ch1); m != want {
						t.Errorf("subscriber 1 got %q, want %q", m, want)
					}
					if m, _ := receive(t, ch2); m != want {
						t.Errorf("subscriber 2 got %q, want %q", m, want)
					}
				}
				if !nothing(other) {
					t.Error("a subscriber of another channel received a message")
				}
			})
			t.Run("payloads are copies", func(t *testing.T) {
				ch, cancel, err := sub.Subscribe(ctx, "copies")
				if err != nil {
					t.Fatal(err)
				}
				defer cancel()
				buf := []byte("original")
				if err := pub.Publish(ctx, "copies", buf); err != nil {
					t.Fatal(err)
				}
				copy(buf, "CHANGED!")
				if m, _ := receive(t, ch); m != "original" {
					t.Errorf("got %q", m)
				}
			})
			t.Run("cancel closes the channel", func(t *testing.T) {
				ch, cancel, err := sub.Subscribe(ctx, "cancel")
				if err != nil {
					t.Fatal(err)
				}
				if err := cancel(); err != nil {
					t.Errorf("cancel: %v", err)
				}
				if _, ok := receive(t, ch); ok {
					t.Error("channel open after cancel")
				}
				if err := cancel(); err != nil {
					t.Errorf("second cancel: %v", err)
				}
				if err := pub.Publish(ctx, "cancel", []byte("x")); err != nil {
					t.Errorf("Publish with no subscribers: %v", err)
				}
			})
			t.Run("the context ends the subscription", func(t *testing.T) {
				cctx, stop := context.WithCancel(ctx)
				ch, cancel, err := sub.Subscribe(cctx, "ctx")
				if err != nil {
					t.Fatal(err)
				}
				stop()
				if _, ok := receive(t, ch); ok {
					t.Error("channel open after the context ended")
				}
				if err := cancel(); err != nil {
					t.Errorf("cancel after the context ended: %v", err)
				}
				if _, _, err := sub.Subscribe(cctx, "ctx"); err == nil {
					t.Error("Subscribe with an ended context succeeded")
				}
			})
			t.Run("invalid arguments", func(t *testing.T) {
				if err := pub.Publish(ctx, "", nil); !errors.Is(err, redisstate.ErrInvalidChannel) {
					t.Errorf("empty channel: %v", err)
				}
				if _, _, err := sub.Subscribe(ctx, strings.Repeat("c", redisstate.MaxChannelBytes+1)); !errors.Is(err, redisstate.ErrInvalidChannel) {
					t.Errorf("long channel: %v", err)
				}
				if err := pub.Publish(ctx, "c", make([]byte, redisstate.MaxPayloadBytes+1)); !errors.Is(err, redisstate.ErrPayloadTooLarge) {
					t.Errorf("large payload: %v", err)
				}
			})
		})
	}
}

// TestBusDisconnectsSlowSubscribers: a subscriber that does not read is
// cut off once its buffer is full, and learns why; others are unaffected
// and publishers never wait.
func TestBusDisconnectsSlowSubscribers(t *testing.T) {
	const buffer = 4
	for name, inst := range buses(t, buffer) {
		t.Run(name, func(t *testing.T) {
			pub, sub := inst[0], inst[1]
			slow, cancelSlow, err := sub.Subscribe(ctx, "firehose")
			if err != nil {
				t.Fatal(err)
			}
			fast, cancelFast, err := sub.Subscribe(ctx, "firehose")
			if err != nil {
				t.Fatal(err)
			}
			defer cancelFast()
			const n = 50
			received := make(chan int)
			go func() {
				count := 0
				for range fast {
					if count++; count == n {
						break
					}
				}
				received <- count
			}()
			start := time.Now()
			for i := range n {
				if err := pub.Publish(ctx, "firehose", []byte(strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
				// Give the fast reader a chance; the slow one never reads.
				time.Sleep(time.Millisecond)
			}
			if d := time.Since(start); d > 10*time.Second { // a hang, not a slow machine
				t.Errorf("publishing %d messages took %v", n, d)
			}
			if got := <-received; got != n {
				t.Errorf("the fast subscriber got %d of %d", got, n)
			}
			got := 0
			for range slow {
				got++
			}
			if got > buffer {
				t.Errorf("the slow subscriber got %d buffered messages, buffer is %d", got, buffer)
			}
			if err := cancelSlow(); !errors.Is(err, redisstate.ErrSlowSubscriber) {
				t.Errorf("cancel of the slow subscriber: %v, want ErrSlowSubscriber", err)
			}
		})
	}
}

// TestRedisBusSurvivesRestart subscribes on a private Redis, restarts it,
// and expects the same subscription to receive again, while Publish fails
// during the outage.
func TestRedisBusSurvivesRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	pub := redisstate.NewRedisBus(redistest.OpenURL(t, srv.URL()), "warden:")
	sub := redisstate.NewRedisBus(redistest.OpenURL(t, srv.URL()), "warden:")
	ch, cancel, err := sub.Subscribe(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := pub.Publish(ctx, "events", []byte("before")); err != nil {
		t.Fatal(err)
	}
	if m, _ := receive(t, ch); m != "before" {
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

// TestRedisStateDuringOutage: every Redis call fails while Redis is down,
// without a (false, nil)-style guess, and works again after the restart
// with the same clients.
func TestRedisStateDuringOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redistest.OpenURL(t, srv.URL())
	f := redisstate.NewLoginFailures(c, "warden:")
	tickets := redisstate.NewTickets(c, "warden:")
	now := time.Now()
	if err := tickets.Issue(ctx, "tk", "v", time.Minute); err != nil {
		t.Fatal(err)
	}

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
	if _, ok, err := tickets.Redeem(ctx, "tk"); err == nil || ok {
		t.Errorf("Redeem with Redis stopped = %v, %v; want an error", ok, err)
	}
	if err := tickets.Issue(ctx, "tk2", "v", time.Minute); err == nil {
		t.Error("Issue succeeded with Redis stopped")
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
	// Without persistence the ticket is gone: it fails closed.
	if _, ok, err := tickets.Redeem(ctx, "tk"); err != nil || ok {
		t.Errorf("Redeem after the restart = %v, %v; want not found", ok, err)
	}
}
