// Package reqinfo carries Warden's per-request facts (client IP, request id,
// identity) in one context value.
//
// Contract: the outermost Warden middleware attaches one *Info per request
// with Attach; inner middleware fills its fields instead of wrapping the
// context again, which saves one request copy per layer on the hot path.
// Fields are written before the handler runs (a refusal ends the request
// there) and only read afterwards; the router reads Route, AuthFailure and
// RateLimited once the request is over, for its Observer.
package reqinfo

import (
	"context"
	"net/http"
	"net/netip"
)

// Info is the per-request state shared by Warden's middleware.
type Info struct {
	RequestID   string
	ClientIP    netip.Addr
	HasClientIP bool
	// Identity is an *auth.Identity; typed any to keep imports one-way.
	Identity any
	// Routed is set when the request reached a registered route, so that
	// the router can tell its own 404/405 answers from a handler's.
	Routed bool
	// Route is the registered pattern the request reached ("GET
	// /api/books/{id}"), never the raw path, so that it can label metrics
	// without unbounded cardinality; "" before routing.
	Route string
	// AuthFailure is the auth.Failure with which authentication refused
	// the request (a string here to keep imports one-way); "" otherwise.
	AuthFailure string
	// RateLimited is the name of the rate-limit policy that refused the
	// request with 429; "" otherwise.
	RateLimited string
}

type key struct{}

// From returns the Info attached to ctx, or nil.
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(key{}).(*Info)
	return info
}

// RequestID returns the id of the request ctx belongs to, or "" outside
// a Warden router.
func RequestID(ctx context.Context) string {
	if info := From(ctx); info != nil {
		return info.RequestID
	}
	return ""
}

// WithCopy returns r carrying a copy of its Info (a new one when it has
// none), for a caller that changes a field for r alone: the original
// request, and any middleware still holding it, keep seeing the old value.
func WithCopy(r *http.Request) (*http.Request, *Info) {
	info := new(Info)
	if old := From(r.Context()); old != nil {
		*info = *old
	}
	return r.WithContext(context.WithValue(r.Context(), key{}, info)), info
}

// Carrier is a context carrying an Info, for a caller that allocates
// both inside a larger per-request struct (see AttachNew): one allocation
// fewer per request than context.WithValue. Everything but the Info is
// asked of the parent, cancellation included, so the context package
// still sees the parent's cancelCtx and starts no goroutine for it.
type Carrier struct {
	context.Context
	info *Info
}

// Value returns the Info for reqinfo's key and asks the parent otherwise.
func (c *Carrier) Value(k any) any {
	if _, ok := k.(key); ok {
		return c.info
	}
	return c.Context.Value(k)
}

// AttachNew returns r carrying info through c, both of which the caller
// allocated (inside a larger per-request struct); c must not be reused
// while the request lives.
func AttachNew(r *http.Request, info *Info, c *Carrier) *http.Request {
	c.Context, c.info = r.Context(), info
	return r.WithContext(c)
}

// Attach returns r with an Info attached, reusing one already present.
func Attach(r *http.Request) (*http.Request, *Info) {
	if info := From(r.Context()); info != nil {
		return r, info
	}
	info := new(Info)
	return r.WithContext(context.WithValue(r.Context(), key{}, info)), info
}
