package fanout

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MaxKeyBytes is the longest Hub key: its length travels in one byte of
// the envelope.
const MaxKeyBytes = 255

var (
	// ErrInvalidKey is returned by Hub.Publish, and by the Err method of
	// the listener Hub.Listen returns, for a key that is empty or longer
	// than MaxKeyBytes, and by Publish when it is given no key at all.
	ErrInvalidKey = errors.New("fanout: hub key must be 1 to 255 bytes")
	// ErrHubClosed is returned by Hub.Start and Hub.Publish after
	// Hub.Close.
	ErrHubClosed = errors.New("fanout: hub closed")

	errNoKeys     = fmt.Errorf("%w: Publish needs at least one key", ErrInvalidKey)
	errHubStarted = errors.New("fanout: hub already started")
)

// Resubscription delays: the first attempt after a subscription that
// lived at least healthyAfter is immediate (a hub cut off as a slow
// subscriber loses least by coming straight back); further attempts wait
// from minRetry, doubling up to maxRetry, with jitter so that the
// instances of a deployment do not all reconnect to a restarted backend
// in the same instant.
const (
	healthyAfter = 5 * time.Second
	minRetry     = 50 * time.Millisecond
	maxRetry     = 5 * time.Second
)

// HubOptions configure a Hub.
type HubOptions struct {
	// Buffer is each listener's buffer in messages; DefaultBuffer when 0.
	Buffer int
	// Logger receives the ends of the bus subscription, failed
	// resubscriptions and malformed messages; slog.Default() when nil.
	Logger *slog.Logger
}

// Hub shares one subscription of a Bus channel among many local
// listeners, each following one key (a user, a room, a book): a server
// with thousands of event streams holds one subscription, and so one
// Redis connection with fanout/redisfanout, instead of one per stream.
//
// Publish sends one bus message, an envelope naming every key it is for,
// which every Hub on that channel, on every instance, hands to its
// listeners of those keys. Listeners of one key all receive the same
// payload slice: it is shared and read-only, and receivers must not
// modify it (copy it first if they need to).
//
// Delivery follows the Bus contract: at most once, and a listener that
// falls behind its buffer is dropped (its channel closed, Err returning
// ErrSlowSubscriber) rather than silently missing messages. The Hub
// never waits for a listener. When the Hub's own bus subscription ends
// (the Hub fell behind the bus's buffer, or the backend went away), the
// Hub logs it and resubscribes with capped exponential backoff; listeners
// stay registered meanwhile and miss what was published in between. A
// Hub carries all of an instance's traffic on its channel through one
// subscription, so give the bus a generous Buffer.
//
// Messages from the bus are untrusted input (another instance, or anyone
// able to publish on the backend): malformed envelopes are logged and
// dropped. Create a Hub with NewHub. Safe for concurrent use.
type Hub struct {
	bus     Bus
	channel string
	buffer  int
	log     *slog.Logger

	// mu guards the registry and the lifecycle. Dispatch holds it for
	// reading while it sends, so that sending to thousands of listeners
	// does not stop other readers; registering, closing and dropping
	// listeners take it for writing, which also orders a channel's close
	// after every send on it.
	mu        sync.RWMutex
	keys      map[string][]*Listener
	listeners int
	started   bool
	closed    bool
	stop      context.CancelFunc // ends the dispatch goroutine; nil before Start
	wg        sync.WaitGroup     // the dispatch goroutine

	isClosed     atomic.Bool // closed, for Publish without the lock
	dropped      atomic.Uint64
	resubscribes atomic.Uint64
}

// Listener receives the payloads published for one key of a Hub. Create
// one with Hub.Listen.
type Listener struct {
	hub *Hub
	key string
	ch  chan []byte

	// Guarded by hub.mu.
	idx    int // position in hub.keys[key]
	closed bool
	err    error
}

// HubStats is a snapshot of a Hub's state, for metrics.
type HubStats struct {
	// Listeners registered now.
	Listeners int
	// Keys with at least one listener now.
	Keys int
	// Dropped counts listeners dropped for falling behind.
	Dropped uint64
	// Resubscribes counts bus subscriptions made again after one ended.
	Resubscribes uint64
}

// NewHub returns a Hub for channel of bus. It receives nothing until
// Start.
func NewHub(bus Bus, channel string, opts HubOptions) *Hub {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Hub{
		bus: bus, channel: channel, buffer: BufferSize(opts.Buffer), log: log,
		keys: make(map[string][]*Listener),
	}
}

// Start subscribes to the Hub's channel and returns once the bus has
// confirmed the subscription, or the subscription's error; it may be
// called again after an error. ctx bounds only that first subscription:
// from then on the Hub dispatches in a goroutine of its own until Close,
// resubscribing as needed, however ctx ends. Start on a started Hub
// returns an error, and after Close ErrHubClosed.
func (h *Hub) Start(ctx context.Context) error {
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		return ErrHubClosed
	case h.started:
		h.mu.Unlock()
		return errHubStarted
	}
	h.started = true
	// The Hub outlives ctx; it keeps ctx's values, for the bus.
	hubCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h.stop = stop
	h.wg.Add(1)
	h.mu.Unlock()

	subCtx, release := context.WithCancel(hubCtx)
	// ctx ending while the bus confirms aborts the wait; once confirmed,
	// only the Hub's own context governs the subscription.
	unbind := context.AfterFunc(ctx, release)
	msgs, cancel, err := h.bus.Subscribe(subCtx, h.channel)
	if !unbind() {
		if err == nil {
			_ = cancel()
		}
		err = ctx.Err()
	}
	if err != nil {
		release()
		h.mu.Lock()
		h.started = false
		h.mu.Unlock()
		stop()
		h.wg.Done()
		return err
	}
	go h.run(hubCtx, msgs, cancel, release)
	return nil
}

// Close ends dispatch and the bus subscription, closes every listener's
// channel (their Err stays nil), and waits for the dispatch goroutine to
// return. Listen after Close returns a closed listener. Close is
// idempotent and returns nil.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		return nil
	}
	h.closed = true
	h.isClosed.Store(true)
	for _, ls := range h.keys {
		for _, l := range ls {
			l.closed = true
			close(l.ch)
		}
	}
	clear(h.keys)
	h.listeners = 0
	stop := h.stop
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
	h.wg.Wait()
	return nil
}

// Publish sends payload, in one bus message, to every listener of any of
// keys on every Hub of this channel, on every instance sharing the bus.
// A key named twice counts once, so each listener receives payload once.
// It returns ErrInvalidKey for no keys or a key that is empty or longer
// than MaxKeyBytes, ErrPayloadTooLarge when payload and keys together
// would exceed MaxPayloadBytes, ErrHubClosed after Close, and otherwise
// the bus's error. Publish needs only the bus: it works before Start.
func (h *Hub) Publish(ctx context.Context, payload []byte, keys ...string) error {
	if h.isClosed.Load() {
		return ErrHubClosed
	}
	msg, err := encodeEnvelope(payload, keys)
	if err != nil {
		return err
	}
	return h.bus.Publish(ctx, h.channel, msg)
}

// Listen registers a listener for key. Its channel receives every payload
// published for key from now on (once the Hub is started), without
// waiting for the listener: one that falls behind its buffer is dropped,
// its channel closed and Err returning ErrSlowSubscriber. Call Close when
// done with it. A key that is empty or longer than MaxKeyBytes, which no
// one could publish to, gives a listener already closed whose Err is
// ErrInvalidKey; after Hub.Close, one already closed whose Err is nil.
func (h *Hub) Listen(key string) *Listener {
	l := &Listener{hub: h, key: key, ch: make(chan []byte, h.buffer)}
	if err := checkKey(key); err != nil {
		l.closed, l.err = true, err
		close(l.ch)
		return l
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		l.closed = true
		close(l.ch)
		return l
	}
	ls := h.keys[key]
	l.idx = len(ls)
	h.keys[key] = append(ls, l)
	h.listeners++
	return l
}

// Stats returns a snapshot of the Hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return HubStats{
		Listeners:    h.listeners,
		Keys:         len(h.keys),
		Dropped:      h.dropped.Load(),
		Resubscribes: h.resubscribes.Load(),
	}
}

// C returns the listener's channel, closed when the listener is closed,
// dropped, or its Hub closed. Payloads are shared with the key's other
// listeners: read-only.
func (l *Listener) C() <-chan []byte { return l.ch }

// Err returns ErrSlowSubscriber when the listener was dropped for falling
// behind, ErrInvalidKey when its key was invalid, and nil otherwise (while
// open, or after Close).
func (l *Listener) Err() error {
	l.hub.mu.RLock()
	defer l.hub.mu.RUnlock()
	return l.err
}

// Close unregisters the listener and closes its channel. It is
// idempotent, and keeps the reason of an earlier drop in Err.
func (l *Listener) Close() {
	h := l.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(l, nil)
}

// removeLocked unregisters l and closes its channel, once, recording err;
// the caller holds h.mu for writing.
func (h *Hub) removeLocked(l *Listener, err error) {
	if l.closed {
		return
	}
	l.closed, l.err = true, err
	ls := h.keys[l.key]
	last := len(ls) - 1
	ls[l.idx] = ls[last]
	ls[l.idx].idx = l.idx
	ls[last] = nil
	if last == 0 {
		delete(h.keys, l.key)
	} else {
		h.keys[l.key] = ls[:last]
	}
	h.listeners--
	close(l.ch)
}

// run dispatches the messages of one subscription after another until
// ctx ends.
func (h *Hub) run(ctx context.Context, msgs <-chan []byte, cancel func() error, release context.CancelFunc) {
	defer h.wg.Done()
	var delay time.Duration
	for {
		began := time.Now()
		h.consume(ctx, msgs)
		err := cancel()
		release()
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("fanout: hub subscription ended; resubscribing", "channel", h.channel, "err", err)
		if time.Since(began) >= healthyAfter {
			delay = 0
		}
		for {
			if delay > 0 && !sleep(ctx, delay) {
				return
			}
			delay = min(max(2*delay, minRetry), maxRetry)
			subCtx, rel := context.WithCancel(ctx)
			m, c, err := h.bus.Subscribe(subCtx, h.channel)
			if err == nil {
				msgs, cancel, release = m, c, rel
				h.resubscribes.Add(1)
				break
			}
			rel()
			if ctx.Err() != nil {
				return
			}
			h.log.Warn("fanout: hub resubscription failed", "channel", h.channel, "err", err, "retry_in", delay)
		}
	}
}

// sleep waits about d, jittered down to half of it, and reports whether
// ctx is still going.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// consume dispatches msgs until the subscription ends or ctx does.
func (h *Hub) consume(ctx context.Context, msgs <-chan []byte) {
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			h.dispatch(m)
		}
	}
}

// dispatch hands one bus message to the listeners of its keys, never
// waiting for one, then drops those whose buffer was full.
func (h *Hub) dispatch(msg []byte) {
	env, err := decodeEnvelope(msg)
	if err != nil {
		// The payload is not logged: it may carry anything.
		h.log.Warn("fanout: dropping a malformed hub message", "channel", h.channel, "bytes", len(msg), "err", err)
		return
	}
	var slow []*Listener
	h.mu.RLock()
	for k := range env.keys() {
		for _, l := range h.keys[string(k)] {
			select {
			case l.ch <- env.payload:
			default:
				slow = append(slow, l)
			}
		}
	}
	h.mu.RUnlock()
	if len(slow) == 0 {
		return
	}
	// Only this goroutine sends, so no listener in slow can have been sent
	// to since; one may have been closed meanwhile, which removeLocked
	// notices.
	h.mu.Lock()
	for _, l := range slow {
		if !l.closed {
			h.removeLocked(l, ErrSlowSubscriber)
			h.dropped.Add(1)
		}
	}
	h.mu.Unlock()
}

func checkKey(key string) error {
	if key == "" || len(key) > MaxKeyBytes {
		return ErrInvalidKey
	}
	return nil
}

// The envelope of a Hub message on the bus:
//
//	version   1 byte, envelopeVersion
//	count     uvarint, minimally encoded: the number of keys, at least 1
//	keys      count times: 1 byte length (1 to 255), then the key's bytes;
//	          keys in strictly ascending byte order
//	payload   the rest
//
// The order makes the encoding canonical and lets a decoder refuse
// duplicate keys without building a set.
const envelopeVersion = 1

// encodeEnvelope returns the envelope of payload for keys, sorted and
// without duplicates, or the error Publish returns for them.
func encodeEnvelope(payload []byte, keys []string) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errNoKeys
	}
	if err := CheckPayload(payload); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	if len(keys) > 1 {
		keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	}
	size := 1 + uvarintLen(uint64(len(keys))) + len(payload)
	for _, k := range keys {
		size += 1 + len(k)
	}
	if size > MaxPayloadBytes {
		return nil, ErrPayloadTooLarge
	}
	msg := make([]byte, 0, size)
	msg = append(msg, envelopeVersion)
	msg = binary.AppendUvarint(msg, uint64(len(keys)))
	for _, k := range keys {
		msg = append(msg, byte(len(k)))
		msg = append(msg, k...)
	}
	return append(msg, payload...), nil
}

func uvarintLen(n uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], n)
}

// envelope is a decoded, validated envelope; its slices alias the message.
type envelope struct {
	section []byte // the keys, each with its length byte
	payload []byte
}

// keys yields each key once, in order, without allocating.
func (e envelope) keys() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for s := e.section; len(s) > 0; {
			n := 1 + int(s[0])
			if !yield(s[1:n:n]) {
				return
			}
			s = s[n:]
		}
	}
}

// decodeEnvelope validates msg completely before anything is delivered,
// so that a malformed message reaches no listener. It allocates nothing:
// a hostile message cannot make it allocate more than msg itself.
func decodeEnvelope(msg []byte) (envelope, error) {
	if len(msg) == 0 || msg[0] != envelopeVersion {
		return envelope{}, errors.New("unknown envelope version")
	}
	count, n := binary.Uvarint(msg[1:])
	if n <= 0 || n != uvarintLen(count) {
		return envelope{}, errors.New("bad key count")
	}
	rest := msg[1+n:]
	// Each key takes at least two bytes.
	if count == 0 || count > uint64(len(rest)/2) {
		return envelope{}, fmt.Errorf("%d keys in %d bytes", count, len(rest))
	}
	start := rest
	var prev []byte
	for i := range count {
		if len(rest) == 0 {
			return envelope{}, fmt.Errorf("key %d: truncated", i)
		}
		l := int(rest[0])
		if l == 0 || len(rest) < 1+l {
			return envelope{}, fmt.Errorf("key %d: bad length %d", i, l)
		}
		k := rest[1 : 1+l]
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			return envelope{}, fmt.Errorf("key %d: out of order or repeated", i)
		}
		prev, rest = k, rest[1+l:]
	}
	section := start[:len(start)-len(rest)]
	return envelope{section: section, payload: rest[:len(rest):len(rest)]}, nil
}
