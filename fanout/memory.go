package fanout

import (
	"context"
	"sync"
)

// Memory is a Bus within one process, for a single instance. The zero
// value is ready to use; the zero Buffer means DefaultBuffer; set it
// before the first Subscribe. Publish never blocks: a subscriber whose
// buffer is full is disconnected (see Bus). Safe for concurrent use.
type Memory struct {
	// Buffer is each subscription's buffer in messages.
	Buffer int

	mu   sync.Mutex
	subs map[string]map[*memSub]struct{}
}

type memSub struct {
	channel string
	ch      chan []byte
	closed  bool
	err     error
	stopCtx func() bool
}

var _ Bus = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{} }

// Publish implements Bus.
func (b *Memory) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := CheckChannel(channel); err != nil {
		return err
	}
	if err := CheckPayload(payload); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[channel] {
		select {
		case s.ch <- append([]byte(nil), payload...):
		default:
			s.err = ErrSlowSubscriber
			b.removeLocked(s)
		}
	}
	return nil
}

// Subscribe implements Bus.
func (b *Memory) Subscribe(ctx context.Context, channel string) (<-chan []byte, func() error, error) {
	if err := CheckChannel(channel); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s := &memSub{channel: channel, ch: make(chan []byte, BufferSize(b.Buffer))}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[string]map[*memSub]struct{})
	}
	if b.subs[channel] == nil {
		b.subs[channel] = make(map[*memSub]struct{})
	}
	b.subs[channel][s] = struct{}{}
	s.stopCtx = context.AfterFunc(ctx, func() { b.unsubscribe(s) })
	b.mu.Unlock()
	return s.ch, func() error { return b.unsubscribe(s) }, nil
}

func (b *Memory) unsubscribe(s *memSub) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(s)
	return s.err
}

// removeLocked ends s once; the caller holds b.mu.
func (b *Memory) removeLocked(s *memSub) {
	if s.closed {
		return
	}
	s.closed = true
	close(s.ch)
	if s.stopCtx != nil {
		s.stopCtx()
	}
	subs := b.subs[s.channel]
	delete(subs, s)
	if len(subs) == 0 {
		delete(b.subs, s.channel)
	}
}
