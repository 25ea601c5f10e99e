package auth

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/wardenhq/warden/internal/reqinfo"
	"github.com/wardenhq/warden/problem"
)

// Sentinel errors of authentication backends.
var (
	// ErrInvalidCredentials means a credential was presented and refused.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	// ErrUnavailable means the decision depends on a store that did not
	// answer; the request is refused.
	ErrUnavailable = errors.New("auth: credential store unavailable")
)

// Failure classifies why authentication refused a request, for metrics
// and alerts: a small fixed set, so that it can label a time series
// without carrying anything from the request.
type Failure string

// The failures Middleware reports (see Failures).
const (
	// FailureInvalid: a credential that is malformed, forged, for another
	// issuer or audience, or otherwise not accepted.
	FailureInvalid Failure = "invalid"
	// FailureExpired: a JWT past its expiry.
	FailureExpired Failure = "expired"
	// FailureRevoked: a JWT on the revocation list.
	FailureRevoked Failure = "revoked"
	// FailureUnavailable: a store the decision depends on did not answer
	// (answered 503).
	FailureUnavailable Failure = "unavailable"
)

// Failures returns every Failure Middleware reports, for a metrics
// collector that wants each series to exist from the start.
func Failures() []Failure {
	return []Failure{FailureInvalid, FailureExpired, FailureRevoked, FailureUnavailable}
}

// failureOf classifies a backend's error. Anything but a known Kind of a
// CredentialError counts as FailureInvalid, so that a backend outside this
// package cannot widen the set.
func failureOf(err error) Failure {
	if errors.Is(err, ErrUnavailable) {
		return FailureUnavailable
	}
	var ce *CredentialError
	if errors.As(err, &ce) {
		switch ce.Kind {
		case FailureExpired, FailureRevoked:
			return ce.Kind
		}
	}
	return FailureInvalid
}

// CredentialError is a refused credential with a sentence safe to show the
// client. It matches ErrInvalidCredentials with errors.Is.
type CredentialError struct {
	// Reason is shown to the client; it never contains the credential.
	Reason string
	// Err is the underlying cause, for logs; it may be nil.
	Err error
	// Kind classifies the refusal for metrics: FailureExpired or
	// FailureRevoked; any other value, the zero one included, counts as
	// FailureInvalid.
	Kind Failure
}

func (e *CredentialError) Error() string {
	if e.Err != nil {
		return "auth: " + e.Reason + ": " + e.Err.Error()
	}
	return "auth: " + e.Reason
}

// Is makes a CredentialError match ErrInvalidCredentials.
func (e *CredentialError) Is(target error) bool { return target == ErrInvalidCredentials }

func (e *CredentialError) Unwrap() error { return e.Err }

func invalid(reason string, cause error) error {
	return &CredentialError{Reason: reason, Err: cause}
}

// refusedAs is invalid with a Kind other than FailureInvalid.
func refusedAs(kind Failure, reason string, cause error) error {
	return &CredentialError{Reason: reason, Err: cause, Kind: kind}
}

// Authenticator is one authentication backend.
type Authenticator interface {
	// Authenticate returns (nil, nil) when r carries no credential of this
	// backend's kind.
	Authenticate(r *http.Request) (*Identity, error)
	// Challenge is the WWW-Authenticate value sent when this backend
	// refuses a credential.
	Challenge() string
}

// Challenge is the WWW-Authenticate value for requests that need
// credentials and have none.
const Challenge = `Bearer realm="warden"`

// Middleware runs the backends in order. The first that finds its kind of
// credential decides: a valid credential sets the Identity (see
// FromContext), an invalid one ends the request with 401. A request with no
// credential at all continues anonymously, for guards to judge. Behind a
// warden.Router, a refusal's Failure reaches the router's Observer.
func Middleware(logger *slog.Logger, backends ...Authenticator) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, b := range backends {
				id, err := b.Authenticate(r)
				if err != nil {
					refuse(w, r, logger, b, err)
					return
				}
				if id != nil {
					next.ServeHTTP(w, setIdentity(r, id))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func refuse(w http.ResponseWriter, r *http.Request, logger *slog.Logger, b Authenticator, err error) {
	if info := reqinfo.From(r.Context()); info != nil {
		info.AuthFailure = string(failureOf(err))
	}
	if errors.Is(err, ErrUnavailable) {
		logger.LogAttrs(r.Context(), slog.LevelError, "authentication store unavailable",
			slog.String("request_id", reqinfo.RequestID(r.Context())), slog.String("error", err.Error()))
		problem.Unavailable(w, "Authentication is temporarily unavailable; try again shortly.")
		return
	}
	reason := "The credentials are invalid."
	var ce *CredentialError
	if errors.As(err, &ce) {
		reason = ce.Reason
	}
	if s, ok := b.(*Sessions); ok {
		// A browser sends a refused cookie with every request, and
		// scripts cannot delete an HttpOnly cookie: without this, one
		// that has expired would refuse the user even public pages
		// until they signed in again.
		s.ClearCookie(w)
	}
	logger.LogAttrs(r.Context(), slog.LevelInfo, "authentication failed",
		slog.String("request_id", reqinfo.RequestID(r.Context())), slog.String("reason", reason))
	w.Header().Set("WWW-Authenticate", b.Challenge())
	problem.Write(w, http.StatusUnauthorized, reason)
}
