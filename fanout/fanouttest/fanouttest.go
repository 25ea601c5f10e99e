// Package fanouttest checks that a fanout.Bus keeps the package fanout
// contract, so that every backend is held to the same tests: every
// subscriber on every instance receives its own copy; cancel and the
// context end a subscription; a subscriber that falls behind is
// disconnected with fanout.ErrSlowSubscriber while publishers never wait;
// the same arguments are refused. It is meant for tests only.
package fanouttest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/fanout"
)

// Run tests the buses that newBus returns: two instances that share
// events (clients of one server, or one Bus twice) whose subscriptions
// buffer the given number of messages, fresh for each test.
func Run(t *testing.T, newBus func(t *testing.T, buffer int) (pub, sub fanout.Bus)) {
	ctx := context.Background()
	t.Run("every subscriber on every instance receives", func(t *testing.T) {
		pub, sub := newBus(t, 0)
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
			if m, _ := Receive(t, ch1); m != want {
				t.Errorf("subscriber 1 got %q, want %q", m, want)
			}
			if m, _ := Receive(t, ch2); m != want {
				t.Errorf("subscriber 2 got %q, want %q", m, want)
			}
		}
		if !nothing(other) {
			t.Error("a subscriber of another channel received a message")
		}
	})
	t.Run("payloads are copies", func(t *testing.T) {
		pub, sub := newBus(t, 0)
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
		if m, _ := Receive(t, ch); m != "original" {
			t.Errorf("got %q", m)
		}
	})
	t.Run("cancel closes the channel", func(t *testing.T) {
		pub, sub := newBus(t, 0)
		ch, cancel, err := sub.Subscribe(ctx, "cancel")
		if err != nil {
			t.Fatal(err)
		}
		if err := cancel(); err != nil {
			t.Errorf("cancel: %v", err)
		}
		if _, ok := Receive(t, ch); ok {
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
		_, sub := newBus(t, 0)
		cctx, stop := context.WithCancel(ctx)
		ch, cancel, err := sub.Subscribe(cctx, "ctx")
		if err != nil {
			t.Fatal(err)
		}
		stop()
		if _, ok := Receive(t, ch); ok {
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
		pub, sub := newBus(t, 0)
		if err := pub.Publish(ctx, "", nil); !errors.Is(err, fanout.ErrInvalidChannel) {
			t.Errorf("empty channel: %v", err)
		}
		if _, _, err := sub.Subscribe(ctx, strings.Repeat("c", fanout.MaxChannelBytes+1)); !errors.Is(err, fanout.ErrInvalidChannel) {
			t.Errorf("long channel: %v", err)
		}
		if err := pub.Publish(ctx, "c", make([]byte, fanout.MaxPayloadBytes+1)); !errors.Is(err, fanout.ErrPayloadTooLarge) {
			t.Errorf("large payload: %v", err)
		}
	})
	// A subscriber that does not read is cut off once its buffer is full,
	// and learns why; others are unaffected and publishers never wait.
	t.Run("slow subscribers are disconnected", func(t *testing.T) {
		const buffer = 4
		pub, sub := newBus(t, buffer)
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
		if err := cancelSlow(); !errors.Is(err, fanout.ErrSlowSubscriber) {
			t.Errorf("cancel of the slow subscriber: %v, want ErrSlowSubscriber", err)
		}
	})
}

// Receive returns the next message on ch, and false once ch is closed. It
// fails the test when nothing arrives within 5 seconds.
func Receive(t testing.TB, ch <-chan []byte) (string, bool) {
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
