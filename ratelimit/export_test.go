package ratelimit

import "fmt"

// ShardOf reports which shard holds key's bucket, so that tests can steer
// keys into the rare paths that random keys seldom reach.
func (m *Memory) ShardOf(key string) int {
	h1, _ := m.fingerprint(key)
	return m.shardOf(h1)
}

// Shards reports the number of shards.
func (m *Memory) Shards() int { return len(m.shards) }

// CheckInvariants reports the first broken invariant of the shard tables:
// every bucket reachable from its home slot without crossing an empty one,
// no fingerprint twice, counts that match, no shard over its cap.
func (m *Memory) CheckInvariants() error {
	total := 0
	for si := range m.shards {
		s := &m.shards[si].shard
		s.mu.Lock()
		n := 0
		seen := make(map[[2]uint64]bool)
		mask := len(s.table) - 1
		for i, b := range s.table {
			if b.h1 == 0 {
				continue
			}
			n++
			if m.shardOf(b.h1) != si {
				s.mu.Unlock()
				return fmt.Errorf("shard %d slot %d holds a bucket of shard %d", si, i, m.shardOf(b.h1))
			}
			if seen[[2]uint64{b.h1, b.h2}] {
				s.mu.Unlock()
				return fmt.Errorf("shard %d holds a fingerprint twice", si)
			}
			seen[[2]uint64{b.h1, b.h2}] = true
			for j := s.home(b.h1, m.shardBits); j != i; j = (j + 1) & mask {
				if s.table[j].h1 == 0 {
					s.mu.Unlock()
					return fmt.Errorf("shard %d slot %d is unreachable: empty slot %d lies between it and its home", si, i, j)
				}
			}
		}
		if n != s.n {
			s.mu.Unlock()
			return fmt.Errorf("shard %d holds %d buckets but counts %d", si, n, s.n)
		}
		if n > m.shardCap || n*4 > len(s.table)*3 {
			s.mu.Unlock()
			return fmt.Errorf("shard %d holds %d buckets in %d slots, cap %d", si, n, len(s.table), m.shardCap)
		}
		total += n
		s.mu.Unlock()
	}
	if int64(total) != m.live.Load() {
		return fmt.Errorf("shards hold %d buckets, live count is %d", total, m.live.Load())
	}
	return nil
}
