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
// # Redis Cluster: sharded pub/sub
//
// With a Cluster client (redis+cluster://) Publish is SPUBLISH and
// Subscribe SSUBSCRIBE, on the same channel names (see internal/redissub).
// A cluster-wide PUBLISH is sent by the node that receives it to every
// other node over the cluster bus, whether or not anyone there listens:
// each of N nodes handles every message, so adding nodes adds no pub/sub
// capacity, and a bus link that is down drops messages silently. A
// sharded channel lives in the hash slot of its name: publisher and
// subscribers meet on that slot's master, which alone (with its replicas)
// carries the channel. A bus that puts all events on one channel (as a hub
// of fan-out does) thus loads one shard with them instead of every node;
// different channels spread over the shards.
//
// When the master of a channel's slot fails, Publish fails until a replica
// is promoted and the subscription is lost; the subscription is then made
// again on the new master, found by the client by itself, and messages
// flow again. When the slot moves to another shard (resharding), the old
// master ends its sharded subscriptions; that is noticed and the
// subscription is made again on the slot's new master. Messages published
// in between are lost, as for any outage below.
//
// On a single node and with Sentinel the bus uses PUBLISH and SUBSCRIBE,
// which instances of older versions also use, so that a rolling upgrade
// keeps one bus.
//
// # Failure behaviour
//
// While Redis is unreachable Publish fails, returning the error wrapped,
// and subscriptions stay open, receiving nothing; they are made again
// once Redis answers (a silent connection is noticed within
// 3*PingInterval). Messages published in between are lost: delivery is at
// most once, and consumers that need completeness catch up from the
// database after an outage.
package redisfanout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/internal/redissub"
)

// PingInterval is how often a subscription is pinged to find out whether
// its connection still works.
const PingInterval = time.Second

// Bus is a fanout.Bus over Redis PUBLISH and SUBSCRIBE, or SPUBLISH and
// SSUBSCRIBE in a Cluster. The zero Buffer means fanout.DefaultBuffer; set
// it before the first Subscribe. Safe for concurrent use.
type Bus struct {
	// Buffer is each subscription's buffer in messages.
	Buffer int

	client  redis.UniversalClient
	prefix  string
	sharded bool
}

var _ fanout.Bus = (*Bus)(nil)

// New returns a bus whose Redis channels are named <prefix>bus:<channel>.
// Every instance must use the same prefix to share events.
func New(client redis.UniversalClient, prefix string) *Bus {
	return &Bus{client: client, prefix: prefix, sharded: redissub.Sharded(client)}
}

func (b *Bus) name(channel string) string { return b.prefix + "bus:" + channel }

// Publish implements fanout.Bus: one PUBLISH, or SPUBLISH in a Cluster.
func (b *Bus) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := fanout.CheckChannel(channel); err != nil {
		return err
	}
	if err := fanout.CheckPayload(payload); err != nil {
		return err
	}
	if err := redissub.Publish(ctx, b.client, b.sharded, b.name(channel), payload).Err(); err != nil {
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
	sub := redissub.Subscribe(ctx, b.client, b.name(channel), PingInterval)
	// The first event is Up, or Down when Redis could not be reached or
	// refused, within a dial timeout or 3*PingInterval.
	ev, err := sub.Next()
	if err == nil && ev.Kind != redissub.Up {
		err = ev.Err
	}
	if err != nil {
		_ = sub.Close()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("redisfanout: subscribing: %w", err)
	}
	out := make(chan []byte, fanout.BufferSize(b.Buffer))
	s := &redisSub{sub: sub, done: make(chan struct{})}
	go s.forward(out)
	return out, s.cancel, nil
}

type redisSub struct {
	sub      *redissub.Subscription
	stopOnce sync.Once
	done     chan struct{}
	err      error // written before done is closed
}

// forward copies messages to the subscriber's channel without ever
// blocking, so that a slow subscriber is noticed at once, until the
// subscription is closed: by cancel, or by the end of Subscribe's context.
func (s *redisSub) forward(out chan<- []byte) {
	defer close(s.done)
	defer close(out)
	defer s.sub.Close()
	for {
		ev, err := s.sub.Next()
		if err != nil {
			return
		}
		if ev.Kind != redissub.Message {
			// Up, Alive and Down: delivery is at most once, so a lost
			// subscription only loses messages, as documented.
			continue
		}
		select {
		case out <- []byte(ev.Payload):
		default:
			s.err = fanout.ErrSlowSubscriber
			return
		}
	}
}

func (s *redisSub) cancel() error {
	s.stopOnce.Do(func() { _ = s.sub.Close() })
	<-s.done
	return s.err
}
