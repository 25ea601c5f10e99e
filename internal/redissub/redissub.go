// Package redissub keeps one Redis subscription alive across lost
// connections, restarts, Cluster failovers and resharding, and says when
// it is known to be up, for the Redis backends of the library (the
// revocation feed of revoke/redisrevoke, the bus of fanout/redisfanout).
//
// # Contract
//
// On a single node or Sentinel a channel is plain pub/sub (PUBLISH,
// SUBSCRIBE). In a Cluster it is sharded pub/sub (SPUBLISH, SSUBSCRIBE):
// the channel lives in the hash slot of its name, the publisher and every
// subscriber talk to the master of that slot, and a message is not
// broadcast over the cluster bus to every node. Publish and Subscribe pick
// the form from the client, so both ends of a channel always agree.
//
// Next reports, in order, what happened to the subscription:
//
//   - Up: the subscription is active (again) on a live connection; every
//     message published from now on will be received.
//   - Alive: a pong on a connection that is subscribed. A node answers
//     commands on one connection in order and writes a message to its
//     subscribers as it runs the PUBLISH or SPUBLISH, so every message
//     published on that node before the ping has been received. In a
//     Cluster the subscription sits on the same master as the sharded
//     publishers, so this holds for the whole channel.
//   - Message: a message.
//   - Down: the connection or the subscription was lost, or nothing has
//     been heard for three ping intervals; messages published meanwhile may
//     be lost. The subscription is re-established by itself, on a new
//     connection to the slot's current master after a Cluster failover or
//     resharding, and Up follows once it is.
//
// A subscription is pinged every interval whatever the traffic. Redis
// error replies (MOVED after resharding, CLUSTERDOWN during a failover)
// and a server-side unsubscribe (a Cluster master drops the sharded
// subscribers of a slot it gives away) count as Down, never as Up or
// Alive: a live connection that is not subscribed proves nothing.
// Reconnection backs off from 100 ms to 1 s.
package redissub

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sharded reports whether channels of client are sharded: whether it is a
// Cluster client.
func Sharded(client redis.UniversalClient) bool {
	_, ok := client.(*redis.ClusterClient)
	return ok
}

// Publish publishes payload on channel through c, which may be a client
// or a pipeline of one: SPUBLISH when sharded (see Sharded), otherwise
// PUBLISH.
func Publish(ctx context.Context, c redis.Cmdable, sharded bool, channel string, payload any) *redis.IntCmd {
	if sharded {
		return c.SPublish(ctx, channel, payload)
	}
	return c.Publish(ctx, channel, payload)
}

// Kind is what an Event reports.
type Kind int

// The kinds of Event; see the package documentation.
const (
	Up Kind = iota + 1
	Alive
	Message
	Down
)

// Event is one thing that happened to a Subscription. Payload is set for
// a Message, Err (the reason) for Down.
type Event struct {
	Kind    Kind
	Payload string
	Err     error
}

var (
	// ErrClosed is returned by Next once the subscription is closed.
	ErrClosed = errors.New("redissub: subscription closed")
	// ErrSilent is the Err of a Down event when nothing was heard for
	// three ping intervals.
	ErrSilent = errors.New("redissub: no answer to pings")
	// ErrUnsubscribed is the Err of a Down event when the server ended the
	// subscription, as a Cluster master does for the slots it gives away.
	ErrUnsubscribed = errors.New("redissub: unsubscribed by the server")
)

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = time.Second
	// silentPings is how many ping intervals may pass without a word from
	// Redis before the connection is taken for lost.
	silentPings = 3
)

// Subscription is one channel's subscription. Next is called from one
// goroutine at a time; Close may be called from any.
type Subscription struct {
	client   redis.UniversalClient
	channel  string
	sharded  bool
	interval time.Duration

	mu     sync.Mutex
	ps     *redis.PubSub // nil between a failure and the next attempt
	closed bool
	stop   chan struct{} // closed by Close
	unhook func() bool   // stops the context hook

	// Owned by Next.
	subscribed bool
	failures   int
	lastHeard  time.Time
	lastPing   time.Time
}

// Subscribe subscribes to channel through client, pinging every interval,
// until Close is called or ctx ends. It does not wait: the first Event is
// Up once Redis has confirmed the subscription, or Down.
func Subscribe(ctx context.Context, client redis.UniversalClient, channel string, interval time.Duration) *Subscription {
	s := &Subscription{
		client:   client,
		channel:  channel,
		sharded:  Sharded(client),
		interval: interval,
		stop:     make(chan struct{}),
	}
	_ = s.open() // when it fails, the subscription is closed already
	s.mu.Lock()
	s.unhook = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.mu.Unlock()
	return s
}

// open starts a new PubSub, which connects and subscribes (or fails to)
// before the lock is taken, so that Close never waits for a dial.
func (s *Subscription) open() error {
	ctx := context.Background()
	var ps *redis.PubSub
	if s.sharded {
		ps = s.client.SSubscribe(ctx, s.channel)
	} else {
		ps = s.client.Subscribe(ctx, s.channel)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = ps.Close()
		return ErrClosed
	}
	s.ps = ps
	now := time.Now()
	s.lastHeard, s.lastPing = now, now
	return nil
}

// Close ends the subscription; a blocked Next returns ErrClosed.
// Closing again does nothing.
func (s *Subscription) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stop)
	if s.unhook != nil {
		s.unhook()
	}
	if s.ps != nil {
		_ = s.ps.Close()
		s.ps = nil
	}
	return nil
}

// current returns the PubSub to read, opening a new one after a failure
// once the back-off has passed.
func (s *Subscription) current() (*redis.PubSub, error) {
	s.mu.Lock()
	ps, closed := s.ps, s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if ps != nil {
		return ps, nil
	}
	wait := minBackoff << min(max(s.failures-1, 0), 4)
	select {
	case <-s.stop:
		return nil, ErrClosed
	case <-time.After(min(wait, maxBackoff)):
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps == nil {
		return nil, ErrClosed
	}
	return s.ps, nil
}

// fail drops ps and reports Down: a new PubSub, on a new connection, is
// opened after a back-off. A Cluster client is asked to reload its view of
// the slots first, so that the new connection goes to the slot's current
// master, not to one that died or gave the slot away.
func (s *Subscription) fail(ps *redis.PubSub, cause error) (Event, error) {
	s.mu.Lock()
	if s.ps == ps {
		s.ps = nil
	}
	closed := s.closed
	s.mu.Unlock()
	_ = ps.Close()
	if closed {
		return Event{}, ErrClosed
	}
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		cc.ReloadState(context.Background())
	}
	s.subscribed = false
	s.failures++
	return Event{Kind: Down, Err: cause}, nil
}

// Next waits for the next Event. It returns ErrClosed once the
// subscription is closed, and no other error.
func (s *Subscription) Next() (Event, error) {
	for {
		ps, err := s.current()
		if err != nil {
			return Event{}, err
		}
		now := time.Now()
		if now.Sub(s.lastHeard) > silentPings*s.interval {
			return s.fail(ps, ErrSilent)
		}
		if now.Sub(s.lastPing) >= s.interval {
			s.lastPing = now
			if err := ps.Ping(context.Background()); err != nil {
				return s.fail(ps, err)
			}
		}
		msg, err := ps.ReceiveTimeout(context.Background(), s.lastPing.Add(s.interval).Sub(now))
		if err != nil {
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				continue
			}
			return s.fail(ps, err)
		}
		// Only a subscribed connection counts as heard from: one that
		// answers pings but never confirms the subscription is taken for
		// lost after three intervals, like a silent one.
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				s.subscribed = true
				s.failures = 0
				s.lastHeard = time.Now()
				return Event{Kind: Up}, nil
			default:
				// Never asked for: the server dropped the subscription.
				return s.fail(ps, ErrUnsubscribed)
			}
		case *redis.Pong:
			if s.subscribed {
				s.lastHeard = time.Now()
				return Event{Kind: Alive}, nil
			}
		case *redis.Message:
			s.lastHeard = time.Now()
			return Event{Kind: Message, Payload: m.Payload}, nil
		}
	}
}
