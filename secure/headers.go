package secure

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// DefaultCSP is the Content-Security-Policy sent when HeaderOptions.CSP is
// empty. An API answers with JSON, never with a document that should load
// anything or be framed, so the policy allows nothing.
const DefaultCSP = "default-src 'none'; frame-ancestors 'none'"

// DefaultHSTSMaxAge is the Strict-Transport-Security max-age used when
// HeaderOptions.HSTSMaxAge is zero: two years, the value HSTS preload lists
// expect.
const DefaultHSTSMaxAge = 2 * 365 * 24 * time.Hour

// HeaderOptions configures Headers. The zero value is the strictest
// setting and is safe to use as is.
type HeaderOptions struct {
	// Production sends Strict-Transport-Security on every response. A
	// production deployment is reached over HTTPS, whatever the hop to
	// Warden looks like, and browsers ignore the header over plain HTTP.
	Production bool

	// CSP replaces DefaultCSP. It must be printable ASCII: it is sent
	// verbatim, and a line break would let it forge other headers.
	CSP string

	// TrustedProxies are the peers whose X-Forwarded-Proto is believed when
	// deciding whether the client used HTTPS (see TrustedProxies.IsHTTPS).
	TrustedProxies TrustedProxies

	// HSTSMaxAge is the Strict-Transport-Security max-age; zero means
	// DefaultHSTSMaxAge. It is rounded down to whole seconds and must be
	// at least one second: there is no option to switch HSTS off.
	HSTSMaxAge time.Duration

	// HSTSPreload adds the "preload" directive, which asks to be put on
	// the list of HTTPS-only names built into browsers (submitted at
	// hstspreload.org). Every subdomain must then serve HTTPS, for good:
	// leaving the list takes months. The list requires includeSubDomains
	// (always sent) and a max-age of at least one year (MinHSTSPreloadMaxAge);
	// NewHeaders refuses a shorter HSTSMaxAge with preload rather than send
	// a header the list would reject.
	HSTSPreload bool
}

// MinHSTSPreloadMaxAge is the shortest max-age the HSTS preload list
// accepts: one year.
const MinHSTSPreloadMaxAge = 365 * 24 * time.Hour

// Headers sets Warden's security headers on every response. Build one with
// NewHeaders; a nil *Headers behaves like NewHeaders(HeaderOptions{}).
type Headers struct {
	fixed      []headerField
	hsts       []string
	production bool
	proxies    TrustedProxies
}

// headerField is one precomputed header. value has cap == len, so a
// handler's Header().Add copies it instead of appending into the slice
// that every response shares.
type headerField struct {
	key   string
	value []string
}

// NewHeaders validates o and precomputes every header value, so serving a
// request only stores slices into the response's header map.
func NewHeaders(o HeaderOptions) (*Headers, error) {
	csp := o.CSP
	if csp == "" {
		csp = DefaultCSP
	} else if err := checkHeaderValue(csp); err != nil {
		return nil, fmt.Errorf("content security policy: %w", err)
	}
	maxAge := o.HSTSMaxAge
	if maxAge == 0 {
		maxAge = DefaultHSTSMaxAge
	}
	if maxAge < time.Second {
		return nil, fmt.Errorf("HSTS max-age %v is below one second; leave it zero for two years", o.HSTSMaxAge)
	}
	hsts := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10) + "; includeSubDomains"
	if o.HSTSPreload {
		if maxAge < MinHSTSPreloadMaxAge {
			return nil, fmt.Errorf("HSTS preload needs a max-age of at least one year (%v), not %v: the preload list refuses shorter ones; leave HSTSMaxAge zero for two years", MinHSTSPreloadMaxAge, maxAge)
		}
		hsts += "; preload"
	}
	one := func(v string) []string { return []string{v} }
	return &Headers{
		// No X-XSS-Protection: the filter it drove is gone from current
		// browsers and was itself abusable; the CSP replaces it (see the
		// package doc).
		fixed: []headerField{
			{"X-Content-Type-Options", one("nosniff")},
			{"X-Frame-Options", one("DENY")},
			// no-referrer rather than strict-origin-when-cross-origin: an
			// API's responses are JSON, not pages whose links need to tell
			// another site where the visitor came from, and URLs here can
			// carry identifiers that are nobody else's business.
			{"Referrer-Policy", one("no-referrer")},
			{"Content-Security-Policy", one(csp)},
			{"Cross-Origin-Opener-Policy", one("same-origin")},
			// Applies only to no-cors loads (img, script), so CORS fetches
			// from allowed origins still work; a handler that serves images
			// to other sites overrides it with Header().Set.
			{"Cross-Origin-Resource-Policy", one("same-origin")},
		},
		hsts:       one(hsts),
		production: o.Production,
		proxies:    o.TrustedProxies,
	}, nil
}

// checkHeaderValue refuses what could end the header line or that proxies
// may mangle: control characters and bytes outside ASCII.
func checkHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("byte %#x at offset %d is not printable ASCII", c, i)
		}
	}
	if v[0] == ' ' || v[len(v)-1] == ' ' {
		return fmt.Errorf("%q has leading or trailing spaces", v)
	}
	return nil
}

var defaultHeaders, _ = NewHeaders(HeaderOptions{})

// Handler sets the headers before calling next, so that every response
// next writes carries them, errors included, and next may still replace
// any of them with Header().Set (a route that must be framed, say).
// Header values are shared between responses: replace them, never modify
// the slice in place.
//
// Strict-Transport-Security is added in production, on TLS connections,
// and when a trusted proxy reports https. A forged X-Forwarded-Proto from
// any other peer is ignored; it could only have turned HSTS on, which a
// browser ignores over plain HTTP anyway, but the rule keeps forwarding
// headers untrusted everywhere.
func (s *Headers) Handler(next http.Handler) http.Handler {
	if s == nil {
		s = defaultHeaders
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, f := range s.fixed {
			h[f.key] = f.value
		}
		if s.production || s.proxies.IsHTTPS(r) {
			h["Strict-Transport-Security"] = s.hsts
		}
		next.ServeHTTP(w, r)
	})
}

var (
	noStoreValue = []string{"no-store"}
	noCacheValue = []string{"no-cache"}
)

// SetNoStore forbids every cache, browser and proxy alike, to keep the
// response: use it on responses that carry tokens or personal data. Pragma
// is for HTTP/1.0 caches that ignore Cache-Control.
func SetNoStore(w http.ResponseWriter) {
	h := w.Header()
	h["Cache-Control"] = noStoreValue
	h["Pragma"] = noCacheValue
}

// NoStore calls SetNoStore on every response of h.
func NoStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetNoStore(w)
		h.ServeHTTP(w, r)
	})
}
