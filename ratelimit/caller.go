package ratelimit

import (
	"log/slog"
	"net/http"

	"github.com/wardenhq/warden/auth"
)

// PerCaller limits every caller by who it is: a request with an identity
// (it must run after authentication) draws from user, keyed by user id; an
// anonymous one from anon, keyed by its address, IPv6 by /64 since one host
// usually holds a whole /64. Either limiter may be nil, leaving that kind
// of caller unlimited. It is the router-wide default throttle, on top of
// each route's own limits.
func PerCaller(logger *slog.Logger, anon, user Limiter) func(http.Handler) http.Handler {
	anonKey := ByIPPrefix(32, 64)
	return func(next http.Handler) http.Handler {
		anonH, userH := next, next
		if anon != nil {
			anonH = Middleware(logger, anon, anonKey)(next)
		}
		if user != nil {
			userH = Middleware(logger, user, ByUser())(next)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := auth.FromContext(r.Context()); id != nil && id.UserID != "" {
				userH.ServeHTTP(w, r)
				return
			}
			anonH.ServeHTTP(w, r)
		})
	}
}
