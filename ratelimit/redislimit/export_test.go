package redislimit

// Observe makes l report the Redis server time of each decision, in
// nanoseconds since 1970, so that tests can replay the same instants on
// ratelimit.Memory. Call it before the first Allow.
func (l *Limiter) Observe(f func(now int64)) { l.observe = f }
