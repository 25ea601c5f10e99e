package warden

import (
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/reqinfo"
)

// UnmatchedRoute is the route Observer.Request reports for a request that
// reached no registered route: no pattern matched (404), the method did
// not (405), or the router-wide stages refused it before routing (431,
// and whatever middleware added with Use answers).
const UnmatchedRoute = "unmatched"

// Observer receives what the router's pipeline sees, for metrics
// (Config.Observer). Nil observes nothing and costs nothing.
//
// Every argument comes from a bounded set chosen by the server, never
// from the request's text: route is a registered pattern such as
// "GET /api/books/{id}" (not the path asked for) or UnmatchedRoute,
// reason is one of auth.Failures, policy is a configured rate-limit
// policy's name. Each can therefore label a time series.
//
// The methods are called on the request's goroutine after the response,
// concurrently for concurrent requests: they must be safe for concurrent
// use and quick, since they add to every request's cost.
type Observer interface {
	// Request is called once per finished request with the route it
	// reached, the status sent (200 when the handler wrote none; 500 after
	// a recovered panic; 101 for a hijacked connection) and the time from
	// arrival to the handler's return, which for a stream is its whole
	// life. A request aborted with http.ErrAbortHandler is not observed,
	// as it is not in the access log.
	Request(route string, status int, d time.Duration)
	// AuthFailure is called when authentication refused the request
	// (401, or 503 for FailureUnavailable), after Request.
	AuthFailure(reason auth.Failure)
	// RateLimited is called when a rate limit refused the request with
	// 429, after Request, with the name of the limit's policy.
	RateLimited(policy string)
}

// observe reports one finished request to o. The route, failure and
// policy were recorded in info by the stages that decided them
// (markRouted, auth.Middleware, ratelimit.Middleware), so a stage built
// outside the router (Config.Throttle, Wrap) is observed as well.
func observe(o Observer, info *reqinfo.Info, status int, d time.Duration) {
	route := info.Route
	if route == "" {
		route = UnmatchedRoute
	}
	o.Request(route, status, d)
	if info.AuthFailure != "" {
		o.AuthFailure(auth.Failure(info.AuthFailure))
	}
	if info.RateLimited != "" {
		o.RateLimited(info.RateLimited)
	}
}
