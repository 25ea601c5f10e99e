package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
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
// Each key's bucket is one number, its theoretical arrival time, updated
// as gcra describes.
//
// Buckets are found by a 128-bit fingerprint of the key: two hashes under
// secret seeds chosen at start-up. The key itself is never stored, so no
// key outlives its request and every bucket has the same small size
// whatever the key's length. Two keys share a bucket only if both hashes
// collide: with secret seeds a client cannot aim for that, and by chance a
// new key meets one of 100,000 live fingerprints with odds near 2^-110.
//
// Buckets live in 2^n shards chosen by the fingerprint, each a mutex and an
// open-addressing table that holds the buckets themselves, so a request
// for a known key reads one or two cache lines, allocates nothing, and
// rarely waits for a request for another key. Memory holds at most MaxKeys
// buckets in all; beyond that, a new key replaces a bucket of its shard
// that has not been used lately, chosen by the clock algorithm: a hand
// sweeps the table, sparing once each bucket used since its last pass.
// That approximates least-recently-used eviction without the two extra
// cache misses per request that maintaining an exact LRU list costs.
// Memory is safe for concurrent use.
type Memory struct {
	policy Policy
	gcra   gcra

	seed1, seed2 maphash.Seed
	shardBits    uint
	shards       []paddedShard
	shardCap     int // per-shard ceiling, which bounds each table

	maxKeys int64
	live    atomic.Int64
	cursor  atomic.Uint64 // spreads the rare cross-shard evictions

	epoch time.Time
	clock func() time.Time
}

// bucket is one key's state. An empty slot has h1 == 0.
type bucket struct {
	h1, h2 uint64 // the key's fingerprint
	tat    int64
	// used is set by every request after the first and cleared by the
	// passing clock hand, which evicts buckets that have it clear. New
	// buckets start clear, so keys seen once (a flood of made-up keys)
	// make way before keys that come back.
	used bool
}

type shard struct {
	mu sync.Mutex
	// table has a power-of-two length and at most 3/4 of its slots in
	// use; a key lives at the first free slot from its home slot on, and
	// removals shift later buckets back, so no tombstones build up.
	table []bucket
	n     int // live buckets
	hand  int // next slot the clock hand looks at
}

// paddedShard keeps neighbouring shards' mutexes on different cache lines,
// so goroutines working on different shards do not slow each other down.
type paddedShard struct {
	shard
	_ [64]byte
}

const (
	maxShards = 256
	// minPerShard keeps small limiters in few shards, where the clock
	// sees more buckets and so approximates LRU better.
	minPerShard = 64
	minTable    = 8
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
	p = p.normalized()
	bits := uint(0)
	for 1<<bits < maxShards && opts.MaxKeys>>(bits+1) >= minPerShard {
		bits++
	}
	n := 1 << bits
	m := &Memory{
		policy:    p,
		gcra:      newGCRA(p),
		seed1:     maphash.MakeSeed(),
		seed2:     maphash.MakeSeed(),
		shardBits: bits,
		shards:    make([]paddedShard, n),
		// Hashing spreads keys unevenly; twice the fair share leaves room
		// for that while capping the memory one shard can take.
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
		m.shards[i].table = make([]bucket, minTable)
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
	h1, h2 := m.fingerprint(key)
	now := m.now()
	s := &m.shards[m.shardOf(h1)].shard
	s.mu.Lock()
	b := s.find(h1, h2, m.shardBits)
	if b != nil {
		b.used = true
	} else {
		b = m.add(s, h1, h2)
	}
	tat, debt, allowed := m.gcra.step(b.tat, now)
	b.tat = tat
	s.mu.Unlock()
	return m.gcra.decision(debt, allowed), nil
}

// fingerprint hashes key under both seeds. h1 is odd, so never 0, the mark
// of an empty slot.
func (m *Memory) fingerprint(key string) (h1, h2 uint64) {
	return maphash.String(m.seed1, key) | 1, maphash.String(m.seed2, key)
}

// shardOf uses the low bits of h1 above bit 0, which is always set.
func (m *Memory) shardOf(h1 uint64) int {
	return int(h1>>1) & (len(m.shards) - 1)
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

// add gives the key with fingerprint (h1, h2), which s does not hold, a
// full bucket. The caller holds s.mu; add may release and retake it.
func (m *Memory) add(s *shard, h1, h2 uint64) *bucket {
	for {
		switch {
		case s.n < m.shardCap && m.reserve():
			if (s.n+1)*4 > len(s.table)*3 {
				s.grow(m.shardBits)
			}
		case s.n > 0:
			// Full: the new bucket replaces one of this shard's, so the
			// live count does not change.
			s.evict(m.shardBits)
		default:
			// Full, and every bucket lives in other shards. Free one
			// there without holding two locks at once, then look again:
			// the key may have arrived meanwhile.
			s.mu.Unlock()
			m.evictElsewhere()
			s.mu.Lock()
			if b := s.find(h1, h2, m.shardBits); b != nil {
				b.used = true
				return b
			}
			continue
		}
		b := s.place(h1, m.shardBits)
		*b = bucket{h1: h1, h2: h2, tat: fresh}
		s.n++
		return b
	}
}

// reserve counts one more live bucket if the limit allows. It never lets
// the count pass the limit even for a moment, and a full limiter's inserts
// only read the shared counter.
func (m *Memory) reserve() bool {
	for {
		n := m.live.Load()
		if n >= m.maxKeys {
			return false
		}
		if m.live.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// evictElsewhere evicts one bucket from the first non-empty shard,
// holding one shard lock at a time.
func (m *Memory) evictElsewhere() {
	start := m.cursor.Add(1)
	for k := range uint64(len(m.shards)) {
		s := &m.shards[(start+k)&(uint64(len(m.shards))-1)].shard
		s.mu.Lock()
		if s.n > 0 {
			s.evict(m.shardBits)
			s.mu.Unlock()
			m.live.Add(-1)
			return
		}
		s.mu.Unlock()
	}
}

// home is the slot where a search for h1 starts. Bit 0 of h1 is always
// set and the next shardBits chose the shard, so they are skipped.
func (s *shard) home(h1 uint64, shardBits uint) int {
	return int(h1>>(shardBits+1)) & (len(s.table) - 1)
}

func (s *shard) find(h1, h2 uint64, shardBits uint) *bucket {
	mask := len(s.table) - 1
	for i := s.home(h1, shardBits); ; i = (i + 1) & mask {
		b := &s.table[i]
		if b.h1 == h1 && b.h2 == h2 {
			return b
		}
		if b.h1 == 0 {
			return nil
		}
	}
}

// place returns the free slot where h1 belongs.
func (s *shard) place(h1 uint64, shardBits uint) *bucket {
	mask := len(s.table) - 1
	i := s.home(h1, shardBits)
	for s.table[i].h1 != 0 {
		i = (i + 1) & mask
	}
	return &s.table[i]
}

func (s *shard) grow(shardBits uint) {
	old := s.table
	s.table = make([]bucket, 2*len(old))
	for i := range old {
		if old[i].h1 != 0 {
			*s.place(old[i].h1, shardBits) = old[i]
		}
	}
	s.hand = 0
}

// evict removes one bucket from s, which holds at least one: the first the
// hand finds unused since its last pass.
func (s *shard) evict(shardBits uint) {
	mask := len(s.table) - 1
	for {
		b := &s.table[s.hand]
		if b.h1 != 0 {
			if !b.used {
				s.remove(s.hand, shardBits)
				return
			}
			b.used = false
		}
		s.hand = (s.hand + 1) & mask
	}
}

// remove empties slot i and moves back any later bucket of the same probe
// run that could otherwise no longer be reached from its home slot.
func (s *shard) remove(i int, shardBits uint) {
	mask := len(s.table) - 1
	for j := i; ; {
		j = (j + 1) & mask
		if s.table[j].h1 == 0 {
			break
		}
		// The bucket at j stays if its home lies cyclically in (i, j].
		k := s.home(s.table[j].h1, shardBits)
		if (i < j && i < k && k <= j) || (j < i && (i < k || k <= j)) {
			continue
		}
		s.table[i] = s.table[j]
		i = j
	}
	s.table[i] = bucket{}
	s.n--
}
