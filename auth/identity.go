package auth

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/reqinfo"
)

// Backend names reported in Identity.Backend.
const (
	BackendJWT     = "jwt"
	BackendAPIKey  = "api_key"
	BackendSession = "session"
)

// Identity is who made a request, as established by one authentication
// backend. It never holds the credential itself: not the token, not the
// API key secret.
type Identity struct {
	// UserID is the JWT "sub" claim, "apikey:<key id>" for an API key, or
	// the session's user for a session cookie.
	UserID string
	// Backend names the backend that authenticated the request
	// (BackendJWT, BackendAPIKey or BackendSession).
	Backend     string
	IsStaff     bool
	IsAdmin     bool
	Permissions []string
	// Claims holds every claim of a JWT; nil for other backends. Treat it
	// as read-only.
	Claims map[string]any
	// TokenID is the JWT "jti" claim, when present.
	TokenID string
	// SessionID is the JWT "sid" claim: the login the token belongs to;
	// empty for a token bound to no login. For a session cookie, the
	// session's id. Empty for API keys.
	SessionID string
	// IssuedAt is the JWT "iat" claim, with its fraction of a second, or
	// when a cookie's session started; zero when absent and for API keys.
	IssuedAt time.Time
	// ExpiresAt is the JWT "exp" claim, or the end of a cookie session's
	// absolute lifetime; zero for API keys.
	ExpiresAt time.Time
}

// HasPermission reports whether the identity was granted perm. Admins hold
// every permission, as Django's superusers do.
func (id *Identity) HasPermission(perm string) bool {
	if id == nil {
		return false
	}
	return id.IsAdmin || slices.Contains(id.Permissions, perm)
}

// FromContext returns the identity that authenticated the request, or nil
// for an anonymous request.
func FromContext(ctx context.Context) *Identity {
	if info := reqinfo.From(ctx); info != nil {
		id, _ := info.Identity.(*Identity)
		return id
	}
	return nil
}

// WithIdentity returns a copy of r carrying id, for FromContext; r itself,
// and whoever still holds it, keeps its own identity. Tests and custom
// middleware call it.
func WithIdentity(r *http.Request, id *Identity) *http.Request {
	r, info := reqinfo.WithCopy(r)
	info.Identity = id
	return r
}

// setIdentity records id in the request's shared state, where the router's
// access log reads the user id. Only Middleware calls it: it owns the
// request at that point of the pipeline, so nobody else sees the change.
func setIdentity(r *http.Request, id *Identity) *http.Request {
	r, info := reqinfo.Attach(r)
	info.Identity = id
	return r
}
