package secure

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/cors"
)

// ErrInvalidOrigin is wrapped by every error ParseOrigin returns.
var ErrInvalidOrigin = errors.New("invalid CORS origin")

// Defaults applied by NewCORS to empty CORSPolicy fields; unexported so
// that no package can change them for everyone.
var (
	defaultCORSMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	defaultCORSHeaders = []string{"Accept", "Accept-Language", "Authorization", "Content-Language", "Content-Type"}
)

// DefaultCORSMaxAge is how long browsers may cache a preflight answer
// when CORSPolicy.MaxAge is zero. Browsers cap it anyway (Chromium at two
// hours), and without it every non-simple request costs two round trips.
const DefaultCORSMaxAge = 10 * time.Minute

// MaxCORSMaxAge is the longest CORSPolicy.MaxAge accepted: a policy change
// reaches browsers only when their cached preflight expires.
const MaxCORSMaxAge = 24 * time.Hour

// CORSPolicy says which other origins may call the API from a browser.
// Empty fields take the documented defaults; an empty AllowedOrigins
// allows no origin at all.
type CORSPolicy struct {
	// AllowedOrigins are exact origins, scheme://host[:port], such as
	// https://app.example.com. See ParseOrigin for what is refused.
	AllowedOrigins []string
	// AllowCredentials lets browsers send cookies and read responses to
	// credentialed requests from the allowed origins.
	AllowCredentials bool
	// AllowedMethods are the methods a preflight may ask for; names are
	// case-sensitive. Default GET, HEAD, POST, PUT, PATCH, DELETE: the
	// methods Warden's API uses.
	AllowedMethods []string
	// AllowedHeaders are the request headers a preflight may ask for.
	// Default Accept, Accept-Language, Authorization (bearer tokens),
	// Content-Language, Content-Type.
	AllowedHeaders []string
	// ExposedHeaders are response headers scripts may read beyond the
	// CORS-safelisted ones. Default none.
	ExposedHeaders []string
	// MaxAge is how long a preflight answer may be cached, in whole
	// seconds, at most MaxCORSMaxAge. Default DefaultCORSMaxAge.
	MaxAge time.Duration
}

// CORS applies a validated CORSPolicy. A nil *CORS, like one built from a
// policy without origins, allows no origin and adds no header.
type CORS struct {
	origins map[string]struct{}
	list    []string
	rs      *cors.Cors
}

// NewCORS validates p and builds its middleware. Every problem in p is
// reported, each naming the field and how to fix it. Refused: any
// wildcard ("*" origins, methods or headers), the "null" origin, origins
// that are not exactly scheme://host[:port] (see ParseOrigin), header and
// method names that are not HTTP tokens, methods browsers may not send
// (CONNECT, TRACE, TRACK), and a MaxAge that is negative, not whole
// seconds or over MaxCORSMaxAge. Origins are normalised (lower case,
// default port dropped) and duplicates after normalisation are merged,
// since listing one origin twice is harmless.
func NewCORS(p CORSPolicy) (*CORS, error) {
	var errs []error
	c := &CORS{origins: make(map[string]struct{}, len(p.AllowedOrigins))}
	for i, o := range p.AllowedOrigins {
		norm, err := ParseOrigin(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("AllowedOrigins[%d]: %w", i, err))
			continue
		}
		if _, dup := c.origins[norm]; !dup {
			c.origins[norm] = struct{}{}
			c.list = append(c.list, norm)
		}
	}
	methods, err := checkMethods(p.AllowedMethods)
	if err != nil {
		errs = append(errs, err)
	}
	allowed, err := checkHeaderNames("AllowedHeaders", p.AllowedHeaders, defaultCORSHeaders)
	if err != nil {
		errs = append(errs, err)
	}
	exposed, err := checkHeaderNames("ExposedHeaders", p.ExposedHeaders, nil)
	if err != nil {
		errs = append(errs, err)
	}
	maxAge := p.MaxAge
	switch {
	case maxAge == 0:
		maxAge = DefaultCORSMaxAge
	case maxAge < time.Second || maxAge%time.Second != 0:
		errs = append(errs, fmt.Errorf("MaxAge %v: must be a whole number of seconds, at least 1s (zero means %v)", p.MaxAge, DefaultCORSMaxAge))
	case maxAge > MaxCORSMaxAge:
		errs = append(errs, fmt.Errorf("MaxAge %v: must be at most %v, or policy changes take too long to reach browsers", p.MaxAge, MaxCORSMaxAge))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("CORS policy: %w", errors.Join(errs...))
	}
	if len(c.list) == 0 {
		return c, nil
	}
	c.rs = cors.New(cors.Options{
		// rs/cors compares its AllowedOrigins case-insensitively and echoes
		// whatever Origin the request carried; with more than one Origin
		// field it would echo them all. A function of the request lets us
		// require exactly one field that equals a listed origin byte for
		// byte, so the echo is always one of our own normalised strings.
		// Browsers send origins in that lower-case form; anything else is
		// not a browser and has no need for CORS.
		AllowOriginVaryRequestFunc: c.allowRequest,
		AllowedMethods:             methods,
		AllowedHeaders:             allowed,
		ExposedHeaders:             exposed,
		MaxAge:                     int(maxAge / time.Second),
		AllowCredentials:           p.AllowCredentials,
		OptionsSuccessStatus:       http.StatusNoContent,
	})
	return c, nil
}

func (c *CORS) allowRequest(r *http.Request, _ string) (bool, []string) {
	v := r.Header["Origin"]
	if len(v) != 1 {
		return false, nil
	}
	_, ok := c.origins[v[0]]
	return ok, nil
}

// AllowsOrigin reports whether origin is exactly one of the allowed
// origins, for checks outside CORS such as a WebSocket handshake's Origin.
func (c *CORS) AllowsOrigin(origin string) bool {
	if c == nil {
		return false
	}
	_, ok := c.origins[origin]
	return ok
}

// Origins returns the allowed origins, normalised, in configuration order.
func (c *CORS) Origins() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.list)
}

// Handler answers CORS preflight requests (OPTIONS with
// Access-Control-Request-Method) itself with 204, without calling h, and
// adds CORS headers to other responses of h.
//
// Only a request with exactly one Origin field equal to an allowed origin
// gets Access-Control-* headers: Allow-Origin echoes that origin (never
// "*"), Allow-Credentials is sent when the policy allows it, and a
// preflight also gets the method and headers it asked for, if all are
// allowed, and Max-Age. Any other origin, "null" included, gets none.
// Vary names Origin (and, on preflights, the request headers the answer
// depends on) on every response, CORS or not, so caches never hand one
// origin's answer to another.
func (c *CORS) Handler(h http.Handler) http.Handler {
	if c == nil || c.rs == nil {
		return h
	}
	return c.rs.Handler(h)
}

// ParseOrigin checks that s is a web origin as browsers send it in the
// Origin header and returns its normal form: scheme://host[:port] with
// scheme http or https, lower case, no default port (:443 for https, :80
// for http), IPv6 literals compressed in brackets.
//
// Refused, each with a message that says why: wildcards, "null", a path
// (a trailing slash included), query, fragment or user information,
// other schemes, non-ASCII hosts (write the xn-- form), IPv4 addresses not
// in dotted decimal, IPv4-mapped or zoned IPv6 literals, host names that
// are not letters, digits and hyphens in dot-separated labels (so no
// underscore and no trailing dot), and ports outside 1 to 65535.
func ParseOrigin(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidOrigin, s, why)
	}
	const form = "an origin is scheme://host[:port], such as https://app.example.com"
	switch {
	case s == "":
		return bad("empty; " + form)
	case strings.Contains(s, "*"):
		return bad("wildcards are not allowed; list every origin exactly, such as https://app.example.com")
	case strings.EqualFold(s, "null"):
		return bad(`the "null" origin is sent by sandboxed frames, local files and redirects, which any site can produce, so it can never be allowed`)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return bad("contains spaces, control characters or non-ASCII bytes; write internationalised names in their xn-- form")
		}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return bad(form)
	}
	scheme = strings.ToLower(scheme)
	var defaultPort string
	switch scheme {
	case "https":
		defaultPort = "443"
	case "http":
		defaultPort = "80"
	default:
		return bad("the scheme must be https or http; " + form)
	}
	if i := strings.IndexAny(rest, "/?#\\"); i >= 0 {
		if i == len(rest)-1 && rest[i] == '/' {
			return bad("remove the trailing slash; " + form)
		}
		return bad("an origin has no path, query or fragment; " + form)
	}
	if strings.Contains(rest, "@") {
		return bad("an origin has no user name or password; " + form)
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("unclosed [ in IPv6 address")
		}
		host, rest = rest[:end+1], rest[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return bad(form)
			}
			port = rest[1:]
			if port == "" {
				return bad("empty port after ':'")
			}
		}
	} else if i := strings.IndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i+1:]
		if port == "" {
			return bad("empty port after ':'")
		}
	}
	host, why := normalOriginHost(host)
	if why != "" {
		return bad(why)
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 || port[0] == '+' {
			return bad("the port must be a number from 1 to 65535")
		}
		port = strconv.FormatUint(n, 10)
		if port == defaultPort {
			port = ""
		}
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}

// normalOriginHost returns host as a browser serialises it, or why it is
// refused.
func normalOriginHost(host string) (string, string) {
	if host == "" {
		return "", "the host is empty"
	}
	if host[0] == '[' {
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		switch {
		case err != nil || !a.Is6():
			return "", "not a valid IPv6 address in brackets"
		case a.Zone() != "":
			return "", "an IPv6 zone cannot appear in an origin"
		case a.Is4In6():
			// Browsers serialise these in hex (::ffff:c000:201), netip in
			// dotted form; refusing them avoids a mismatch nobody needs.
			return "", "IPv4-mapped IPv6 addresses are not accepted; use the IPv4 address"
		}
		return "[" + a.String() + "]", ""
	}
	host = strings.ToLower(host)
	if len(host) > 253 {
		return "", "the host name is longer than 253 characters"
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" {
			return "", "the host name has an empty label (two dots, or a leading or trailing dot)"
		}
		if len(l) > 63 {
			return "", "a host name label is longer than 63 characters"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", "a host name label starts or ends with a hyphen"
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Sprintf("%q is not allowed in a host name; use letters, digits, hyphens and dots", c)
			}
		}
	}
	// The URL standard parses a host whose last label is a number as an
	// IPv4 address (so 0x7f.1 is 127.0.0.1); only the dotted-decimal form
	// browsers send back can match.
	if last := labels[len(labels)-1]; isAllDigits(last) || isHexNumber(last) {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() || a.String() != host {
			return "", "a host ending in a number must be an IPv4 address in dotted decimal, such as 192.0.2.1"
		}
	}
	return host, ""
}

// isHexNumber matches what the URL standard's IPv4 parser reads as a
// hexadecimal part: 0x and zero or more hex digits.
func isHexNumber(s string) bool {
	rest, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// forbiddenMethods are refused by the Fetch standard; allowing them would
// only show that the policy was not thought through.
var forbiddenMethods = []string{"CONNECT", "TRACE", "TRACK"}

// wellKnownMethods are the names a lower-case entry was probably meant
// to be: method names are case-sensitive, and browsers upper-case only
// some of them (a fetch with method "patch" sends "patch").
var wellKnownMethods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

func checkMethods(methods []string) ([]string, error) {
	if len(methods) == 0 {
		return slices.Clone(defaultCORSMethods), nil
	}
	var out []string
	var errs []error
	for i, m := range methods {
		up := strings.ToUpper(m)
		switch {
		case m == "*":
			errs = append(errs, fmt.Errorf("AllowedMethods[%d]: \"*\" is not allowed; list each method", i))
		case !isToken(m):
			errs = append(errs, fmt.Errorf("AllowedMethods[%d]: %q is not a method name", i, m))
		case slices.Contains(forbiddenMethods, up):
			errs = append(errs, fmt.Errorf("AllowedMethods[%d]: browsers never send %s", i, up))
		case up != m && slices.Contains(wellKnownMethods, up):
			errs = append(errs, fmt.Errorf("AllowedMethods[%d]: method names are case-sensitive; write %s", i, up))
		case !slices.Contains(out, m):
			out = append(out, m)
		}
	}
	return out, errors.Join(errs...)
}

func checkHeaderNames(field string, names, defaults []string) ([]string, error) {
	if len(names) == 0 {
		return slices.Clone(defaults), nil
	}
	var out []string
	var errs []error
	for i, n := range names {
		switch {
		case n == "*":
			errs = append(errs, fmt.Errorf("%s[%d]: \"*\" is not allowed; list each header", field, i))
		case !isToken(n):
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not a header name", field, i, n))
		default:
			n = http.CanonicalHeaderKey(n)
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out, errors.Join(errs...)
}

// isToken reports whether s is an RFC 9110 token, the syntax of method
// and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
