package ratelimit

import "time"

// gcra is a policy's bucket arithmetic, the generic cell rate algorithm.
// Every Limiter uses it (a Redis script runs the same steps on the same
// number), so that all of them answer a sequence of requests alike.
//
// A bucket is one number, its theoretical arrival time (tat): the instant
// it will be full again. With T the time to earn one token and W = T*Burst
// the time to refill an empty bucket, a request at now is allowed when
// max(tat, now)+T-now <= W, and then sets tat to max(tat, now)+T. That
// admits exactly what a token bucket admits, yet needs no timer, no float
// and no second field for the time of the last refill. All times are
// integer nanoseconds on one clock.
type gcra struct {
	interval int64 // T
	window   int64 // W
	burst    int
}

func newGCRA(p Policy) gcra {
	return gcra{interval: p.interval(), window: p.window(), burst: p.Burst}
}

// step decides one request against a bucket whose arrival time is tat. It
// returns the bucket's new arrival time and its debt (how far tat lay
// ahead of now, at least 0) before the request.
func (g gcra) step(tat, now int64) (next, debt int64, allowed bool) {
	base := max(tat, now)
	if base+g.interval-now > g.window {
		return tat, base - now, false
	}
	return base + g.interval, base - now, true
}

// decision describes the outcome of step. Debt is at most W unless the
// clock went backwards, which only lengthens the wait.
func (g gcra) decision(debt int64, allowed bool) Decision {
	d := Decision{Allowed: allowed, Limit: g.burst}
	after := debt + g.interval
	if allowed {
		d.Remaining = int((g.window - after) / g.interval)
		d.Reset = time.Duration(after)
	} else {
		d.RetryAfter = time.Duration(after - g.window)
		d.Reset = time.Duration(debt)
	}
	return d
}

// DecisionAfter is the Decision for one request whose bucket lay debt ahead
// of now (at least zero), as a Limiter in a shared store computes it from
// its script's answer. It is the arithmetic Memory uses, so every store
// sends the same headers for the same sequence of requests.
func (p Policy) DecisionAfter(debt time.Duration, allowed bool) Decision {
	return newGCRA(p.normalized()).decision(int64(debt), allowed)
}
