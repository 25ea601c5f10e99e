// Package fanout carries events between the instances of a deployment:
// what one instance publishes on a channel reaches every subscriber of
// that channel, on every instance, such as the WebSocket or server-sent
// events connections that follow a resource.
//
// # Contract
//
// A Bus delivers each message published on a channel to every
// subscription of that channel that exists when it is published, on every
// instance sharing the Bus. Each subscriber gets its own copy of the
// payload. Publish never waits
// for subscribers to read.
//
// Delivery is at most once: a backend that loses its connection loses the
// messages published meanwhile, so consumers that need completeness must
// catch up from the database after an outage. A subscriber that falls
// behind by more than its buffer (Buffer messages, DefaultBuffer when 0)
// is disconnected: its channel is closed and its cancel function returns
// ErrSlowSubscriber. Silently dropping messages would leave it with a
// wrong picture it cannot detect; a disconnected subscriber knows to
// resubscribe and resynchronise.
//
// Every Bus refuses the same arguments (CheckChannel, CheckPayload):
// channel names of 1 to MaxChannelBytes bytes and payloads of at most
// MaxPayloadBytes, so that what a subscriber may have to buffer is
// bounded by its Buffer times MaxPayloadBytes.
//
// Memory is a Bus within one process, for a single instance;
// fanout/redisfanout shares one between instances through Redis.
//
// # Hub
//
// A subscription may be costly (one Redis connection with redisfanout),
// so a server with thousands of streams subscribes once per channel and
// shares it through a Hub: local listeners follow keys (a user, a room),
// and one Publish reaches the listeners of several keys on every
// instance as one bus message. Listeners keep the Bus contract (at most
// once; dropped with ErrSlowSubscriber when behind) and share each
// payload read-only; the Hub resubscribes by itself when its subscription
// ends, and drops malformed messages from the bus.
package fanout

import (
	"context"
	"errors"
)

// Limits on the bus, the same for every Bus.
const (
	MaxChannelBytes = 256
	MaxPayloadBytes = 1 << 20
	// DefaultBuffer is a subscription's buffer, in messages, when the
	// bus's Buffer is 0.
	DefaultBuffer = 128
)

var (
	// ErrSlowSubscriber is returned by a subscription's cancel function
	// when the subscription was ended because its buffer was full.
	ErrSlowSubscriber = errors.New("fanout: subscriber fell behind and was disconnected")
	// ErrInvalidChannel is returned for an empty channel name or one over
	// MaxChannelBytes.
	ErrInvalidChannel = errors.New("fanout: channel name must be 1 to 256 bytes")
	// ErrPayloadTooLarge is returned by Publish for a payload over
	// MaxPayloadBytes.
	ErrPayloadTooLarge = errors.New("fanout: payload larger than 1 MiB")
)

// Bus carries events between the instances of a deployment.
type Bus interface {
	// Publish sends payload to every current subscription of channel. It
	// does not wait for subscribers to read it.
	Publish(ctx context.Context, channel string, payload []byte) error
	// Subscribe returns a channel of the payloads published on channel
	// from now on and a function that ends the subscription. The channel
	// is closed when the subscription ends: when cancel is called, when
	// ctx ends, or when the subscriber falls more than the buffer behind,
	// in which case cancel returns ErrSlowSubscriber. cancel waits until
	// the channel is closed; calling it again returns the same result.
	// Each payload is the subscriber's own copy.
	Subscribe(ctx context.Context, channel string) (msgs <-chan []byte, cancel func() error, err error)
}

// CheckChannel returns ErrInvalidChannel for a channel name that is empty
// or longer than MaxChannelBytes. Buses outside this package call it, and
// CheckPayload, so that every backend refuses the same arguments.
func CheckChannel(channel string) error {
	if channel == "" || len(channel) > MaxChannelBytes {
		return ErrInvalidChannel
	}
	return nil
}

// CheckPayload returns ErrPayloadTooLarge for a payload over
// MaxPayloadBytes.
func CheckPayload(payload []byte) error {
	if len(payload) > MaxPayloadBytes {
		return ErrPayloadTooLarge
	}
	return nil
}

// BufferSize returns a subscription's buffer for a bus whose Buffer is n:
// n, or DefaultBuffer when n is 0 or less.
func BufferSize(n int) int {
	if n <= 0 {
		return DefaultBuffer
	}
	return n
}
