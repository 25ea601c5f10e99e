package redisstate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limits on the bus, the same for every Bus.
const (
	MaxChannelBytes = 256
	MaxPayloadBytes = 1 << 20
	// DefaultBuffer is a subscription's buffer, in messages, when the
	// bus's Buffer is 0.
	DefaultBuffer = 128
	// subscribeTimeout bounds the wait for Redis to confirm a
	// subscription.
	subscribeTimeout = 5 * time.Second
)

var (
	// ErrSlowSubscriber is returned by a subscription's cancel function
	// when the subscription was ended because its buffer was full.
	ErrSlowSubscriber = errors.New("redisstate: subscriber fell behind and was disconnected")
	// ErrInvalidChannel is returned for an empty channel name or one over
	// MaxChannelBytes.
	ErrInvalidChannel = errors.New("redisstate: channel name must be 1 to 256 bytes")
	// ErrPayloadTooLarge is returned by Publish for a payload over
	// MaxPayloadBytes.
	ErrPayloadTooLarge = errors.New("redisstate: payload larger than 1 MiB")
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

func checkChannel(channel string) error {
	if channel == "" || len(channel) > MaxChannelBytes {
		return ErrInvalidChannel
	}
	return nil
}

func bufferSize(n int) int {
	if n <= 0 {
		return DefaultBuffer
	}
	return n
}

// RedisBus is a Bus over Redis PUBLISH and SUBSCRIBE, shared by all
// instances that use the same Redis and prefix. The zero Buffer means
// DefaultBuffer; set it before the first Subscribe. Safe for concurrent
// use.
//
// Each subscription holds one Redis connection of its own; subscribe once
// per channel and instance and fan messages out locally. While Redis is
// unreachable Publish fails and subscriptions stay open, receiving nothing;
// go-redis reconnects and resubscribes once Redis answers again (its
// health check notices a silent connection within a few seconds).
// Messages published in between are lost.
type RedisBus struct {
	// Buffer is each subscription's buffer in messages.
	Buffer int

	client redis.UniversalClient
	prefix string
}

var _ Bus = (*RedisBus)(nil)

// NewRedisBus returns a bus whose Redis channels are named <prefix>bus:<channel>.
func NewRedisBus(client redis.UniversalClient, prefix string) *RedisBus {
	return &RedisBus{client: client, prefix: prefix}
}

func (b *RedisBus) name(channel string) string { return b.prefix + "bus:" + channel }

// Publish implements Bus: one PUBLISH.
func (b *RedisBus) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	if len(payload) > MaxPayloadBytes {
		return ErrPayloadTooLarge
	}
	if err := b.client.Publish(ctx, b.name(channel), payload).Err(); err != nil {
		return fmt.Errorf("redisstate: publishing: %w", err)
	}
	return nil
}

// Subscribe implements Bus. It returns once Redis has confirmed the
// subscription, so a message published after it returns is delivered.
func (b *RedisBus) Subscribe(ctx context.Context, channel string) (<-chan []byte, func() error, error) {
	if err := checkChannel(channel); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	size := bufferSize(b.Buffer)
	ps := b.client.Subscribe(ctx, b.name(channel))
	if _, err := ps.ReceiveTimeout(ctx, subscribeTimeout); err != nil {
		_ = ps.Close()
		return nil, nil, fmt.Errorf("redisstate: subscribing: %w", err)
	}
	in := ps.Channel(redis.WithChannelSize(size))
	out := make(chan []byte, size)
	s := &redisSub{stop: make(chan struct{}), done: make(chan struct{})}
	go s.forward(ctx, ps, in, out)
	return out, s.cancel, nil
}

type redisSub struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	err      error // written before done is closed
}

// forward copies messages from go-redis's channel to the subscriber's
// without ever blocking, so that a slow subscriber is noticed at once.
func (s *redisSub) forward(ctx context.Context, ps *redis.PubSub, in <-chan *redis.Message, out chan<- []byte) {
	defer close(s.done)
	defer close(out)
	defer ps.Close()
	for {
		select {
		case <-s.stop:
			return
		case <-ctx.Done():
			return
		case m, ok := <-in:
			if !ok {
				return
			}
			select {
			case out <- []byte(m.Payload):
			default:
				s.err = ErrSlowSubscriber
				return
			}
		}
	}
}

func (s *redisSub) cancel() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return s.err
}
