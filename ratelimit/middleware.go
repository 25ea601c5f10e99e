package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/problem"
)

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 sent when
// the limiter cannot decide; it matches the auth middleware's.
const unavailableRetryAfter = "5"

// keyTooLongDetail never repeats the key: it may be a credential.
const keyTooLongDetail = "The value that identifies the client for rate limiting is longer than 256 bytes."

// Middleware limits requests to l's policy, with key choosing the bucket.
//
// Every decided request carries RateLimit-Policy and RateLimit headers. A
// refused one is answered 429 with Retry-After; a key over MaxKeyBytes is
// answered 400 without being stored or echoed; a limiter error is logged to
// slog.Default (at most every ten seconds) and answered 503 with
// Retry-After, never let through. Middleware panics when l or key is nil or
// l's policy is invalid, mistakes to catch at start-up.
func Middleware(l Limiter, key KeyFunc) func(http.Handler) http.Handler {
	if l == nil || key == nil {
		panic("ratelimit: Middleware needs a Limiter and a KeyFunc")
	}
	p := l.Policy().normalized()
	if err := p.Validate(); err != nil {
		panic("ratelimit: Middleware: " + err.Error())
	}
	h := newHeaders(p)
	var gate logGate
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := key(r)
			if len(k) > MaxKeyBytes {
				problem.Write(w, http.StatusBadRequest, keyTooLongDetail)
				return
			}
			d, err := l.Allow(r.Context(), k)
			if err != nil {
				if errors.Is(err, ErrKeyTooLong) {
					problem.Write(w, http.StatusBadRequest, keyTooLongDetail)
					return
				}
				gate.log(r.Context(), slog.Default(), "rate limiter unavailable; refusing requests", err)
				w.Header().Set("Retry-After", unavailableRetryAfter)
				problem.Write(w, http.StatusServiceUnavailable, "Rate limiting is temporarily unavailable; try again shortly.")
				return
			}
			h.set(w.Header(), d)
			if !d.Allowed {
				n := ceilSeconds(d.RetryAfter)
				secs := strconv.FormatInt(n, 10)
				unit := " seconds."
				if n == 1 {
					unit = " second."
				}
				w.Header().Set("Retry-After", secs)
				problem.Write(w, http.StatusTooManyRequests, "Too many requests; retry in "+secs+unit)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// headers formats the draft-ietf-httpapi-ratelimit-headers fields of one
// policy; the parts that never change are built once.
type headers struct {
	policy string // RateLimit-Policy: "<name>";q=<burst>;w=<window seconds>
	prefix string // RateLimit up to r=: "<name>";r=
}

func newHeaders(p Policy) headers {
	name := strconv.Quote(p.Name) // token characters need no escaping
	return headers{
		policy: name + ";q=" + strconv.Itoa(p.Burst) + ";w=" + strconv.FormatInt(ceilSeconds(time.Duration(p.window())), 10),
		prefix: name + ";r=",
	}
}

// set writes RateLimit-Policy and RateLimit: "<name>";r=<remaining>;t=<seconds
// until the bucket is full>.
func (h headers) set(hdr http.Header, d Decision) {
	var buf [96]byte
	b := append(buf[:0], h.prefix...)
	b = strconv.AppendInt(b, int64(max(d.Remaining, 0)), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(d.Reset), 10)
	// Assigning canonical keys directly skips the per-call canonicalizing
	// copy of the mixed-case names; one array backs both values, and the
	// capped slices make any later append copy instead of overwriting.
	vals := [...]string{h.policy, string(b)}
	hdr["Ratelimit-Policy"] = vals[0:1:1]
	hdr["Ratelimit"] = vals[1:2:2]
}

// ceilSeconds rounds d up to whole seconds, at least 1, so that a client
// that waits as told is not refused again for a fraction of a second.
func ceilSeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// logGate lets one error through every logEvery, so that a store outage
// under load does not become a flood of identical log lines.
type logGate struct {
	next       atomic.Int64
	suppressed atomic.Int64
}

const logEvery = 10 * time.Second

func (g *logGate) log(ctx context.Context, logger *slog.Logger, msg string, err error) {
	now := time.Now().UnixNano()
	next := g.next.Load()
	if now < next || !g.next.CompareAndSwap(next, now+int64(logEvery)) {
		g.suppressed.Add(1)
		return
	}
	logger.LogAttrs(ctx, slog.LevelError, msg,
		slog.String("error", err.Error()),
		slog.Int64("suppressed", g.suppressed.Swap(0)))
}
