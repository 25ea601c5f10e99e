package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxKeys bounds a Memory created with MaxKeys 0.
const DefaultMaxKeys = 100_000

// MemoryOptions configures a Memory; the zero value is usable.
type MemoryOptions struct {
	// MaxKeys bounds the live buckets; DefaultMaxKeys when 0.
	MaxKeys int
	// Now replaces the clock, for tests. The default is the monotonic
	// clock, which wall-clock steps cannot move.
	Now func() time.Time
}

// Memory is an in-process Limiter for a single instance.
//
// Each key's bucket is one number, its theoretical arrival time (tat): the
// instant the bucket will be full again. With T the time to earn one token
// and W = T*Burst the time to refill an empty bucket, a request at now is
// allowed when max(tat, now)+T-now <= W, and then sets tat to max(tat,
// now)+T. This is the generic cell rate algorithm; it admits exactly what a
// token bucket admits, needs no timer and stores no float, and a Redis
// script can run the same steps on the same single number.
//
// Buckets are found by a 128-bit fingerprint of the key: two hashes under
// secret seeds chosen at start-up. The key itself is never stored, so no
// key outlives its request and every bucket has the same small size
// whatever the key's length. Two keys share a bucket only if both hashes
// collide; with secret seeds a client cannot aim for that, and by chance it
// happens less than once in 2^90 for 100,000 live buckets.
//
// Buckets live in 2^n shards chosen by the fingerprint, each a mutex, an
// index and a least-recently-used list over a slab of buckets, so requests
// for different keys rarely wait on one another and a known key costs no
// allocation. Memory holds at most MaxKeys buckets in all; beyond that, a
// new key takes over the least recently used bucket of its shard. Memory
// is safe for concurrent use.
type Memory struct {
	policy   Policy
	interval int64 // T, nanoseconds
	window   int64 // W, nanoseconds

	seed1, seed2 maphash.Seed
	mask         uint64
	shards       []paddedShard
	shardCap     int // per-shard ceiling on slots, which bounds the slabs

	maxKeys int64
	live    atomic.Int64
	cursor  atomic.Uint64 // spreads the rare cross-shard evictions

	epoch time.Time
	clock func() time.Time
}

// bucket is one key's state and its place in the shard's LRU list. Links
// are slab indices rather than pointers, which halves their size and gives
// the garbage collector nothing to scan.
type bucket struct {
	h1, h2     uint64 // the key's fingerprint
	tat        int64
	prev, next uint32
}

type shard struct {
	mu    sync.Mutex
	index map[uint64]uint32 // h1 -> slab index
	// slab[0] is the sentinel of a circular list: its next is the most
	// recently used bucket, its prev the least.
	slab []bucket
	free uint32 // head of a list of unused slots, linked by next; 0 if none
	n    int    // live buckets
}

// paddedShard keeps neighbouring shards' mutexes on different cache lines,
// so goroutines working on different shards do not slow each other down.
type paddedShard struct {
	shard
	_ [64]byte
}

const (
	maxShards = 256
	// minPerShard keeps small limiters in few shards, where the LRU order
	// is close to exact.
	minPerShard = 64
	// clockLimit clamps the clock so that adding a window can never
	// overflow, whatever a replaced clock returns. It is 36 years either
	// side of NewMemory.
	clockLimit = int64(1) << 60
	// fresh is the tat of a new bucket: before any clamped now, so full.
	fresh = -clockLimit
)

// NewMemory returns a Memory enforcing p.
func NewMemory(p Policy, opts MemoryOptions) (*Memory, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxKeys < 0 {
		return nil, errors.New("ratelimit: MaxKeys must not be negative; use 0 for the default of 100,000")
	}
	if opts.MaxKeys == 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.MaxKeys > math.MaxUint32-1 {
		return nil, errors.New("ratelimit: MaxKeys must be below 4,294,967,295")
	}
	p = p.normalized()
	n := 1
	for n < maxShards && opts.MaxKeys/(2*n) >= minPerShard {
		n *= 2
	}
	m := &Memory{
		policy:   p,
		interval: p.interval(),
		window:   p.window(),
		seed1:    maphash.MakeSeed(),
		seed2:    maphash.MakeSeed(),
		mask:     uint64(n - 1),
		shards:   make([]paddedShard, n),
		// Hashing spreads keys unevenly; twice the fair share leaves room
		// for that while capping the memory a shard can hold.
		shardCap: min(opts.MaxKeys, 2*((opts.MaxKeys+n-1)/n)),
		maxKeys:  int64(opts.MaxKeys),
		clock:    opts.Now,
	}
	if m.clock != nil {
		m.epoch = m.clock()
	} else {
		m.epoch = time.Now()
	}
	for i := range m.shards {
		s := &m.shards[i].shard
		s.index = make(map[uint64]uint32)
		s.slab = make([]bucket, 1, 8)
	}
	return m, nil
}

// Policy implements Limiter.
func (m *Memory) Policy() Policy { return m.policy }

// Len reports how many buckets are live; it never exceeds MaxKeys.
func (m *Memory) Len() int { return int(m.live.Load()) }

// Allow implements Limiter. It never returns an error other than
// ErrKeyTooLong, and allocates nothing for a key it already holds.
func (m *Memory) Allow(_ context.Context, key string) (Decision, error) {
	if len(key) > MaxKeyBytes {
		return Decision{}, ErrKeyTooLong
	}
	h1 := maphash.String(m.seed1, key)
	h2 := maphash.String(m.seed2, key)
	now := m.now()
	s := &m.shards[h1&m.mask].shard
	s.mu.Lock()
	i, ok := s.index[h1]
	if ok && s.slab[i].h2 == h2 {
		s.touch(i)
	} else {
		i = m.add(s, h1, h2, ok, i)
	}
	b := &s.slab[i]
	base := max(b.tat, now)
	allowed := base+m.interval-now <= m.window
	if allowed {
		b.tat = base + m.interval
	}
	s.mu.Unlock()
	return m.decision(base-now, allowed), nil
}

// decision describes a bucket that owed debt (tat minus now, at least 0 and
// at most W unless the clock went backwards) before this request.
func (m *Memory) decision(debt int64, allowed bool) Decision {
	d := Decision{Allowed: allowed, Limit: m.policy.Burst}
	after := debt + m.interval
	if allowed {
		d.Remaining = int((m.window - after) / m.interval)
		d.Reset = time.Duration(after)
	} else {
		d.RetryAfter = time.Duration(after - m.window)
		d.Reset = time.Duration(debt)
	}
	return d
}

func (m *Memory) now() int64 {
	var d time.Duration
	if m.clock == nil {
		// Since reads only the monotonic clock, cheaper than Now.
		d = time.Since(m.epoch)
	} else {
		d = m.clock().Sub(m.epoch)
	}
	return min(max(int64(d), -clockLimit), clockLimit)
}

// add gives the key with fingerprint (h1, h2) a full bucket in s, whose
// lock is held, and returns its slab index. clash reports that index
// already maps h1 to slot i for a different key.
func (m *Memory) add(s *shard, h1, h2 uint64, clash bool, i uint32) uint32 {
	if clash {
		// Only h1 collided: the keys differ, and the newcomer takes the
		// slot over as if the other key had been evicted.
		s.touch(i)
		s.slab[i].h2, s.slab[i].tat = h2, fresh
		return i
	}
	for {
		switch {
		case s.n < m.shardCap && m.reserve():
			i = s.alloc()
		case s.n > 0:
			// Full: reuse the least recently used bucket of this shard.
			i = s.slab[0].prev
			s.unlink(i)
			delete(s.index, s.slab[i].h1)
			s.n--
		default:
			// Full, and every bucket lives in other shards. Free one
			// there without holding two locks at once, then look again:
			// the key may have arrived meanwhile.
			s.mu.Unlock()
			m.evictElsewhere()
			s.mu.Lock()
			if j, ok := s.index[h1]; ok {
				return m.add(s, h1, h2, s.slab[j].h2 != h2, j)
			}
			continue
		}
		s.slab[i] = bucket{h1: h1, h2: h2, tat: fresh}
		s.index[h1] = i
		s.pushFront(i)
		s.n++
		return i
	}
}

// reserve counts one more live bucket if the limit allows. Reading first
// keeps a full limiter's inserts from writing to the shared counter.
func (m *Memory) reserve() bool {
	if m.live.Load() >= m.maxKeys {
		return false
	}
	if m.live.Add(1) <= m.maxKeys {
		return true
	}
	m.live.Add(-1)
	return false
}

// evictElsewhere drops the least recently used bucket of the first
// non-empty shard, holding one shard lock at a time.
func (m *Memory) evictElsewhere() {
	start := m.cursor.Add(1)
	for k := range uint64(len(m.shards)) {
		s := &m.shards[(start+k)&m.mask].shard
		s.mu.Lock()
		if s.n > 0 {
			i := s.slab[0].prev
			s.unlink(i)
			delete(s.index, s.slab[i].h1)
			s.slab[i] = bucket{next: s.free}
			s.free = i
			s.n--
			s.mu.Unlock()
			m.live.Add(-1)
			return
		}
		s.mu.Unlock()
	}
}

// alloc returns an unused slot, growing the slab if none is free.
func (s *shard) alloc() uint32 {
	if i := s.free; i != 0 {
		s.free = s.slab[i].next
		return i
	}
	s.slab = append(s.slab, bucket{})
	return uint32(len(s.slab) - 1)
}

func (s *shard) touch(i uint32) {
	if s.slab[0].next == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

func (s *shard) unlink(i uint32) {
	b := &s.slab[i]
	s.slab[b.prev].next = b.next
	s.slab[b.next].prev = b.prev
}

func (s *shard) pushFront(i uint32) {
	head := s.slab[0].next
	s.slab[i].prev, s.slab[i].next = 0, head
	s.slab[head].prev = i
	s.slab[0].next = i
}
