// Package redisfanout is a fanout.Bus over Redis publish/subscribe,
// shared by every Warden instance that uses the same Redis and prefix: a
// message published through one instance reaches the subscribers of every
// instance.
//
// # Contract
//
// Publish is one PUBLISH on the Redis channel <prefix>bus:<channel>, so
// deployments may share a Redis by prefix. Subscribe returns once Redis
// has confirmed the subscription, so a message published after it returns
// is delivered. Each subscription holds one Redis connection of its own:
// subscribe once per channel and instance, and fan messages out locally.
// A subscriber that falls behind its buffer is disconnected with
// fanout.ErrSlowSubscriber, as fanout.Bus requires: messages are handed
// on without ever blocking, so that a slow subscriber is noticed at once.
//
// # Failure behaviour
//
// While Redis is unreachable Publish fails, returning the error wrapped,
// and subscriptions stay open, receiving nothing; go-redis reconnects and
// resubscribes once Redis answers again (its health check notices a
// silent connection within a few seconds). Messages published in between
// are lost: delivery is at most once, and consumers that need completeness
// catch up from the database after an outage.
package redisfanout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/fanout"
)

// subscribeTimeout bounds the wait for Redis to confirm a subscription.
const subscribeTimeout = 5 * time.Second

// Bus is a fanout.Bus over Redis PUBLISH and SUBSCRIBE. The zero Buffer
// means fanout.DefaultBuffer; set it before the first Subscribe. Safe for
// concurrent use.
type Bus struct {
	// Buffer is each subscription's buffer in messages.
	Buffer int

	client redis.UniversalClient
	prefix string
}

var _ fanout.Bus = (*Bus)(nil)

// New returns a bus whose Redis channels are named <prefix>bus:<channel>.
// Every instance must use the same prefix to share events.
func New(client redis.UniversalClient, prefix string) *Bus {
	return &Bus{client: client, prefix: prefix}
}

func (b *Bus) name(channel string) string { return b.prefix + "bus:" + channel }

// Publish implements fanout.Bus: one PUBLISH.
func (b *Bus) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := fanout.CheckChannel(channel); err != nil {
		return err
	}
	if err := fanout.CheckPayload(payload); err != nil {
		return err
	}
	if err := b.client.Publish(ctx, b.name(channel), payload).Err(); err != nil {
		return fmt.Errorf("redisfanout: publishing: %w", err)
	}
	return nil
}

// Subscribe implements fanout.Bus. It returns once Redis has confirmed the
// subscription, so a message published after it returns is delivered.
func (b *Bus) Subscribe(ctx context.Context, channel string) (<-chan []byte, func() error, error) {
	if err := fanout.CheckChannel(channel); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	size := fanout.BufferSize(b.Buffer)
	ps := b.client.Subscribe(ctx, b.name(channel))
	if _, err := ps.ReceiveTimeout(ctx, subscribeTimeout); err != nil {
		_ = ps.Close()
		return nil, nil, fmt.Errorf("redisfanout: subscribing: %w", err)
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
				s.err = fanout.ErrSlowSubscriber
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
