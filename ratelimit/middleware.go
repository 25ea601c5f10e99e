package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/internal/reqinfo"
	"github.com/wardenhq/warden/problem"
)

// keyTooLongDetail never repeats the key: it may be a credential.
const keyTooLongDetail = "The value that identifies the client for rate limiting is longer than 256 bytes."

// Middleware limits requests to l's policy, with key choosing the bucket.
//
// Every decided request carries RateLimit-Policy and RateLimit headers
// (their values are shared between responses: replace them, never modify
// the slices in place). A refused one is answered 429 with Retry-After; a
// key over MaxKeyBytes is answered 400 without being stored or echoed; a
// limiter error is logged to logger (slog.Default when nil; at most every
// ten seconds) and answered 503 with Retry-After, never let through.
// Behind a warden.Router, a 429 reaches the router's Observer with the
// policy's name. Middleware panics when l or key is nil or l's policy is
// invalid, mistakes to catch at start-up.
func Middleware(logger *slog.Logger, l Limiter, key KeyFunc) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
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
				gate.log(r.Context(), logger, "rate limiter unavailable; refusing requests", err)
				problem.Unavailable(w, "Rate limiting is temporarily unavailable; try again shortly.")
				return
			}
			h.set(w.Header(), d)
			if !d.Allowed {
				if info := reqinfo.From(r.Context()); info != nil {
					info.RateLimited = p.Name // validated at start-up: bounded and printable
				}
				n := problem.Seconds(d.RetryAfter)
				unit := " seconds."
				if n == 1 {
					unit = " second."
				}
				problem.WriteRetry(w, http.StatusTooManyRequests, d.RetryAfter, "Too many requests; retry in "+strconv.FormatInt(n, 10)+unit)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// headers formats the draft-ietf-httpapi-ratelimit-headers fields of one
// policy. RateLimit-Policy never changes, so it is built once; a RateLimit
// value is remembered in a small table of recent values, because most
// responses repeat one (a client well within its limit sees the same
// remaining count and reset time request after request). A response gets
// the remembered []string itself: header values are shared between
// responses, as secure.Headers shares its own, so a handler may replace
// them but must not modify them in place.
type headers struct {
	policy []string // RateLimit-Policy: "<name>";q=<burst>;w=<window seconds>
	prefix string   // RateLimit up to r=: "<name>";r=
	recent [recentValues]atomic.Pointer[limitValue]
}

// recentValues is the size of the table of recent RateLimit values: 2 KiB
// of pointers per middleware. A miss costs what formatting always cost.
const recentValues = 256

// limitValue is one formatted RateLimit value and what it says.
type limitValue struct {
	remaining, reset int64
	value            [1]string
}

func newHeaders(p Policy) *headers {
	name := strconv.Quote(p.Name) // token characters need no escaping
	policy := name + ";q=" + strconv.Itoa(p.Burst) + ";w=" + strconv.FormatInt(problem.Seconds(time.Duration(p.window())), 10)
	return &headers{
		policy: []string{policy}[:1:1],
		prefix: name + ";r=",
	}
}

// set writes RateLimit-Policy and RateLimit: "<name>";r=<remaining>;t=<seconds
// until the bucket is full>.
func (h *headers) set(hdr http.Header, d Decision) {
	remaining, reset := int64(max(d.Remaining, 0)), problem.Seconds(d.Reset)
	// Assigning canonical keys directly skips the per-call canonicalizing
	// copy of the mixed-case names. The slices are capped, so that a later
	// Add copies instead of writing into a shared array.
	hdr["Ratelimit-Policy"] = h.policy
	slot := &h.recent[uint64(remaining*31+reset)%recentValues]
	if v := slot.Load(); v != nil && v.remaining == remaining && v.reset == reset {
		hdr["Ratelimit"] = v.value[:]
		return
	}
	var buf [96]byte
	b := append(buf[:0], h.prefix...)
	b = strconv.AppendInt(b, remaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, reset, 10)
	v := &limitValue{remaining: remaining, reset: reset, value: [1]string{string(b)}}
	slot.Store(v)
	hdr["Ratelimit"] = v.value[:]
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
