package secure

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/wardenhq/warden/internal/reqinfo"
	"github.com/wardenhq/warden/problem"
)

// ErrCrossOrigin is wrapped by every refusal of CSRF.Check.
var ErrCrossOrigin = errors.New("cross-origin request refused")

// CSRFRefusal is the detail of the 403 problem a refused request gets.
const CSRFRefusal = "Cross-origin request refused: a request that changes state with the session cookie must come from this site or an allowed origin (Sec-Fetch-Site or Origin)."

// CSRFOptions configures CSRF. The zero value trusts no other origin and
// protects every unsafe request.
type CSRFOptions struct {
	// TrustedOrigins are exact origins (see ParseOrigin) whose cross-origin
	// requests are let through: the origins allowed by CORS, whose pages
	// call the API with the user's cookie on purpose.
	TrustedOrigins []string
	// Cookies names the cookies that make a request subject to Middleware
	// (Protects): the session cookie. Requests that carry none of them
	// (bearer tokens, API keys) cannot be forged by another site, since a
	// browser adds no such credential on its own, and are not checked.
	// Empty means every unsafe request is checked, for an application
	// whose only clients are browsers.
	Cookies []string
}

// CSRF refuses cross-site request forgery: an unsafe request (any method
// but GET, HEAD and OPTIONS) that a browser sent on behalf of another site
// with the user's cookie. It is net/http's CrossOriginProtection (Fetch
// metadata first: Sec-Fetch-Site same-origin or none passes; else Origin,
// which must match the Host or a trusted origin) with two additions that
// close what that check leaves open:
//   - an unsafe request carrying neither Sec-Fetch-Site nor Origin is
//     refused (CrossOriginProtection lets it through, assuming a
//     non-browser client; every browser since 2020 sends Origin on unsafe
//     requests, so only a forged or very old client lacks both, and a
//     client that means to use the cookie can send Origin);
//   - a request with either header repeated is refused (browsers send
//     each once).
//
// No token-based fallback exists: no browser in use needs one (those
// without Sec-Fetch-Site send Origin). Safe methods are never checked:
// they must not change state. Build it with NewCSRF.
type CSRF struct {
	cop     *http.CrossOriginProtection
	cookies []string
}

// NewCSRF validates o. Origins are checked and normalised by ParseOrigin
// (browsers send them in that form); cookie names must be valid.
func NewCSRF(o CSRFOptions) (*CSRF, error) {
	c := &CSRF{cop: http.NewCrossOriginProtection()}
	var errs []error
	for i, origin := range o.TrustedOrigins {
		norm, err := ParseOrigin(origin)
		if err == nil {
			err = c.cop.AddTrustedOrigin(norm)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("TrustedOrigins[%d]: %w", i, err))
		}
	}
	for i, name := range o.Cookies {
		if (&http.Cookie{Name: name, Value: "x"}).Valid() != nil {
			errs = append(errs, fmt.Errorf("cookie %d: %q is not a valid cookie name", i+1, name))
			continue
		}
		c.cookies = append(c.cookies, name)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("CSRF: %w", errors.Join(errs...))
	}
	return c, nil
}

// safeMethod reports the methods CrossOriginProtection never checks.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Check returns nil when r may proceed: a safe method, or an unsafe one a
// browser sent from this site or a trusted origin. Otherwise it returns an
// error wrapping ErrCrossOrigin. It checks r whatever cookies it carries:
// a login asking for a session cookie calls it before there is one
// (login CSRF).
func (c *CSRF) Check(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	site, origin := r.Header.Values("Sec-Fetch-Site"), r.Header.Values("Origin")
	switch {
	case len(site) > 1 || len(origin) > 1:
		return fmt.Errorf("%w: Sec-Fetch-Site or Origin sent more than once", ErrCrossOrigin)
	case (len(site) == 0 || site[0] == "") && (len(origin) == 0 || origin[0] == ""):
		return fmt.Errorf("%w: neither Sec-Fetch-Site nor Origin was sent", ErrCrossOrigin)
	}
	if err := c.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %v", ErrCrossOrigin, err)
	}
	return nil
}

// Protects reports whether Middleware checks r: an unsafe method carrying one
// of the configured cookies (any unsafe request when none is configured).
// Cookies are read with the same parser as the session backend's, so a
// cookie that authenticates is never one this missed.
func (c *CSRF) Protects(r *http.Request) bool {
	if safeMethod(r.Method) {
		return false
	}
	if len(c.cookies) == 0 {
		return true
	}
	for _, name := range c.cookies {
		if len(r.CookiesNamed(name)) > 0 {
			return true
		}
	}
	return false
}

// Deny answers a refused request with a 403 problem and logs why to
// logger (slog.Default() when nil), never with a cookie.
func (c *CSRF) Deny(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(r.Context(), slog.LevelWarn, "cross-origin request refused",
		slog.String("request_id", reqinfo.RequestID(r.Context())),
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("reason", err.Error()))
	problem.Write(w, http.StatusForbidden, CSRFRefusal)
}

// Middleware checks every request Protects covers before the next handler
// runs, and answers a refused one with 403 (see Deny).
func (c *CSRF) Middleware(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.Protects(r) {
				if err := c.Check(r); err != nil {
					c.Deny(w, r, logger, err)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
