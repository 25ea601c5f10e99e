package warden

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/reqinfo"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// Config holds the router-wide settings. The zero value is safe: no CORS
// origin allowed, nobody's forwarding headers believed, default limits.
type Config struct {
	// Logger receives the access log and errors; slog.Default() when nil.
	Logger *slog.Logger
	// DisableAccessLog turns the per-request log line off.
	DisableAccessLog bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies secure.TrustedProxies
	// Headers configures the security headers sent on every response.
	Headers secure.HeaderOptions
	// CORS is the default policy for every route; a route may override it
	// with the CORS option. Nil allows no cross-origin access.
	CORS *secure.CORS
	// Header limits (431) and the default per-route body limit (413); zero
	// means secure.DefaultMaxHeaderCount, DefaultMaxHeaderValueBytes and
	// DefaultMaxBodyBytes.
	MaxHeaderCount      int
	MaxHeaderValueBytes int
	MaxBodyBytes        int64
}

// Router is an http.Handler that serves registered routes through the
// Warden pipeline. Register every route before serving; registration is
// not safe concurrently with requests.
type Router struct {
	cfg        Config
	logger     *slog.Logger
	mux        *http.ServeMux
	handler    http.Handler // the router-wide chain around mux
	preflights map[string]*preflight
}

// NewRouter returns a Router for cfg, or an error when cfg holds an
// unusable setting (a malformed header value, say).
func NewRouter(cfg Config) (*Router, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rt := &Router{cfg: cfg, logger: cfg.Logger, mux: http.NewServeMux(), preflights: map[string]*preflight{}}
	headers, err := secure.NewHeaders(cfg.Headers)
	if err != nil {
		return nil, err
	}
	// Security headers go outermost so that 431 answers carry them too;
	// they trust nothing from the request but a trusted proxy's scheme.
	var h http.Handler = rt.mux
	h = secure.ClientIPMiddleware(cfg.TrustedProxies)(h)
	h = secure.HeaderLimits(cfg.MaxHeaderCount, cfg.MaxHeaderValueBytes)(h)
	h = headers.Handler(h)
	rt.handler = h
	return rt, nil
}

// Option configures one route.
type Option func(*route)

type route struct {
	backends   []auth.Authenticator
	guards     []guard.Guard
	limits     []func(http.Handler) http.Handler
	cors       *secure.CORS
	corsSet    bool
	bodyLimit  int64
	noStore    bool
	middleware []func(http.Handler) http.Handler
}

// Auth sets the route's authentication backends, tried in order.
func Auth(backends ...auth.Authenticator) Option {
	return func(r *route) { r.backends = append(r.backends, backends...) }
}

// Require adds guards; all must admit the request.
func Require(guards ...guard.Guard) Option {
	return func(r *route) { r.guards = append(r.guards, guards...) }
}

// Limit adds a rate limit keyed by key (the client IP when nil). Limits run
// after authentication so that per-user keys see the identity.
func Limit(l ratelimit.Limiter, key ratelimit.KeyFunc) Option {
	if key == nil {
		key = ratelimit.ByIP()
	}
	mw := ratelimit.Middleware(l, key)
	return func(r *route) { r.limits = append(r.limits, mw) }
}

// CORS overrides the router's CORS policy for this route; nil disables
// cross-origin access to it.
func CORS(c *secure.CORS) Option {
	return func(r *route) { r.cors, r.corsSet = c, true }
}

// BodyLimit overrides the router's request body limit for this route.
func BodyLimit(maxBytes int64) Option {
	return func(r *route) { r.bodyLimit = maxBytes }
}

// NoStore marks responses as not cacheable (tokens, personal data).
func NoStore() Option {
	return func(r *route) { r.noStore = true }
}

// Use adds custom middleware, run just before the handler.
func Use(mw ...func(http.Handler) http.Handler) Option {
	return func(r *route) { r.middleware = append(r.middleware, mw...) }
}

// Get registers h for GET (and HEAD) on path.
func (rt *Router) Get(path string, h http.Handler, opts ...Option) {
	rt.Handle(http.MethodGet, path, h, opts...)
}

// Post registers h for POST on path.
func (rt *Router) Post(path string, h http.Handler, opts ...Option) {
	rt.Handle(http.MethodPost, path, h, opts...)
}

// Put registers h for PUT on path.
func (rt *Router) Put(path string, h http.Handler, opts ...Option) {
	rt.Handle(http.MethodPut, path, h, opts...)
}

// Patch registers h for PATCH on path.
func (rt *Router) Patch(path string, h http.Handler, opts ...Option) {
	rt.Handle(http.MethodPatch, path, h, opts...)
}

// Delete registers h for DELETE on path.
func (rt *Router) Delete(path string, h http.Handler, opts ...Option) {
	rt.Handle(http.MethodDelete, path, h, opts...)
}

// Handle registers h for method on path, a net/http pattern path such as
// "/api/reviews/{id}". The same path with one trailing slash is served
// identically. It panics on a malformed or conflicting registration, as
// http.ServeMux does: these are programming errors found at start-up.
func (rt *Router) Handle(method, path string, h http.Handler, opts ...Option) {
	if method == "" || strings.ContainsAny(method, " /") {
		panic(fmt.Sprintf("warden: bad method %q", method))
	}
	if !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf("warden: path %q must start with /", path))
	}
	rc := route{bodyLimit: rt.cfg.MaxBodyBytes, cors: rt.cfg.CORS}
	for _, o := range opts {
		o(&rc)
	}
	chain := rt.compose(h, &rc)
	for _, p := range variants(path) {
		rt.mux.Handle(method+" "+p, chain)
		if rc.cors != nil {
			rt.addPreflight(p, method, rc.cors)
		}
	}
}

// variants returns path and, unless it already ends in a slash or a
// trailing wildcard, the same path with one trailing slash.
func variants(path string) []string {
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, "...}") || strings.HasSuffix(path, "{$}") {
		return []string{path}
	}
	return []string{path, path + "/{$}"}
}

// compose builds the route's chain once; outermost first: routed marker,
// CORS, body limit, authentication, rate limits, guards, no-store, custom
// middleware, handler.
func (rt *Router) compose(h http.Handler, rc *route) http.Handler {
	for _, mw := range slices.Backward(rc.middleware) {
		h = mw(h)
	}
	if rc.noStore {
		h = secure.NoStore(h)
	}
	if len(rc.guards) > 0 {
		h = guard.Require(rc.guards...)(h)
	}
	for _, mw := range slices.Backward(rc.limits) {
		h = mw(h)
	}
	if len(rc.backends) > 0 {
		h = auth.Middleware(rt.logger, rc.backends...)(h)
	}
	h = secure.BodyLimit(rc.bodyLimit)(h)
	if rc.cors != nil {
		h = rc.cors.Handler(h)
	}
	return markRouted(h)
}

func markRouted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := reqinfo.From(r.Context()); info != nil {
			info.Routed = true
		}
		next.ServeHTTP(w, r)
	})
}

// preflight answers OPTIONS for one path with the CORS policy of the
// routes registered there.
type preflight struct {
	cors    *secure.CORS
	methods []string
}

func (rt *Router) addPreflight(path, method string, c *secure.CORS) {
	pf := rt.preflights[path]
	if pf == nil {
		pf = &preflight{cors: c}
		rt.preflights[path] = pf
		allow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(append([]string{http.MethodOptions}, pf.methods...), ", "))
			w.WriteHeader(http.StatusNoContent)
		})
		if method != http.MethodOptions {
			rt.mux.Handle(http.MethodOptions+" "+path, markRouted(c.Handler(allow)))
		}
	} else if pf.cors != c {
		panic(fmt.Sprintf("warden: routes on %s use different CORS policies; use one policy per path", path))
	}
	if !slices.Contains(pf.methods, method) {
		pf.methods = append(pf.methods, method)
		if method == http.MethodGet {
			pf.methods = append(pf.methods, http.MethodHead)
		}
	}
}
