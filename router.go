package warden

import (
	"errors"
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
	// Logger receives the access log, errors and security events of every
	// part of the pipeline; slog.Default() when nil.
	Logger *slog.Logger
	// DisableAccessLog turns the per-request log line off.
	DisableAccessLog bool
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed, for the client IP and for HTTPS
	// detection alike. Set them here only: Headers.TrustedProxies must stay
	// empty, so that the two can never disagree.
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
	// RequireDocs refuses, at registration, a route without a Doc option
	// or with an authentication backend that cannot describe its
	// credential (auth.Describer): a server whose API document is
	// generated from the route table turns it on, so that no route is
	// missing from the document. See router_doc.go.
	RequireDocs bool
	// Throttle, when set, is the router-wide default rate limit (such as
	// ratelimit.PerCaller): it wraps every route's chain right after
	// authentication, so that a signed-in caller is counted as its user
	// and an anonymous one by address, before the route's own limits and
	// guards. A route opts out with Unthrottled (health checks).
	Throttle func(http.Handler) http.Handler
	// Observer, when set, is told of every finished request (by route
	// pattern and status) and of the pipeline's authentication and
	// rate-limit refusals, for metrics; see Observer. Nil observes nothing.
	Observer Observer
	// CSRF, when set, checks every unsafe request that carries one of its
	// cookies (the session cookie of auth.Sessions; see
	// secure.CSRF.Protects), whatever the route and its authentication,
	// before routing: a forged one is answered 403. Bearer-token and
	// API-key requests carry no such cookie and pass untouched. A server
	// that authenticates with a session cookie must set it.
	CSRF *secure.CSRF
	// AllowedHosts, when set, answers 400 to every request whose Host is
	// not listed, before routing, except on routes registered with
	// AnyHost (health checks, which load balancers send to an address).
	AllowedHosts *secure.Hosts
}

// Router is an http.Handler that serves registered routes through the
// Warden pipeline. With and Group return views of the same router that add
// options and a path prefix to the routes registered through them; all
// views serve the same routes. Register every route before serving;
// registration is not safe concurrently with requests.
type Router struct {
	core   *core
	prefix string   // prepended to the paths registered through this view
	opts   []Option // applied before each route's own options
}

// core is what every view of one router shares.
type core struct {
	cfg        Config
	logger     *slog.Logger
	headers    *secure.Headers
	mux        *http.ServeMux
	use        []func(http.Handler) http.Handler // router-wide middleware
	handler    http.Handler                      // the router-wide chain around mux
	preflights map[string]*preflight
	routes     []RouteInfo // what Handle registered, for Routes
	// anyHost holds the routes registered with AnyHost, to tell the
	// Host allow-list which requests it lets through (see hostExempt).
	anyHost *http.ServeMux
}

// NewRouter returns a Router for cfg, or an error when cfg holds an
// unusable setting (a malformed header value, say).
func NewRouter(cfg Config) (*Router, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if !cfg.Headers.TrustedProxies.Empty() {
		return nil, errors.New("warden: set trusted proxies in Config.TrustedProxies, not in Config.Headers; the router gives them to the security headers")
	}
	hopts := cfg.Headers
	hopts.TrustedProxies = cfg.TrustedProxies
	headers, err := secure.NewHeaders(hopts)
	if err != nil {
		return nil, err
	}
	c := &core{cfg: cfg, logger: cfg.Logger, headers: headers, mux: http.NewServeMux(), preflights: map[string]*preflight{}, anyHost: http.NewServeMux()}
	c.chain()
	return &Router{core: c}, nil
}

// chain composes the router-wide pipeline around the mux. Security headers
// go outermost so that 431 answers carry them too; they trust nothing from
// the request but a trusted proxy's scheme. Router-wide middleware (Use)
// runs for every request, routed or not, once the client IP is known, the
// Host is allowed and a cookie-carrying request has passed CSRF.
func (c *core) chain() {
	var h http.Handler = c.mux
	for _, mw := range slices.Backward(c.use) {
		h = mw(h)
	}
	if c.cfg.CSRF != nil {
		h = c.cfg.CSRF.Middleware(c.logger)(h)
	}
	if c.cfg.AllowedHosts != nil {
		h = c.cfg.AllowedHosts.Handler(c.hostExempt, h)
	}
	h = secure.ClientIPMiddleware(c.cfg.TrustedProxies)(h)
	h = secure.HeaderLimits(c.cfg.MaxHeaderCount, c.cfg.MaxHeaderValueBytes)(h)
	h = c.headers.Handler(h)
	c.handler = h
}

// Use adds router-wide middleware: it runs for every request the router
// receives, including those that match no route, after header limits,
// client-IP resolution and security headers, before routing. Per-route
// middleware is the Wrap option. Use belongs to the router itself, not to
// a view made by With or Group, and panics there.
func (rt *Router) Use(mw ...func(http.Handler) http.Handler) {
	if rt.prefix != "" || len(rt.opts) > 0 {
		panic("warden: Use is router-wide; on a group use With(warden.Wrap(...))")
	}
	rt.core.use = append(rt.core.use, mw...)
	rt.core.chain()
}

// hostExempt reports whether r is for a route registered with AnyHost.
func (c *core) hostExempt(r *http.Request) bool {
	h, _ := c.anyHost.Handler(r)
	return h == anyHostMark
}

// anyHostMark is what c.anyHost serves for exempt routes; anything else
// (its 404 and 405 handlers) means the route is not exempt. A pointer, so
// that handlers compare by identity.
var anyHostMark http.Handler = &anyHostMarker{}

type anyHostMarker struct{}

func (*anyHostMarker) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Logger returns the router's logger, for handlers and middleware that log
// security events in the same stream as the access log.
func (rt *Router) Logger() *slog.Logger { return rt.core.logger }

// With returns a view of rt whose routes get opts before their own options,
// as chi's With does:
//
//	private := r.With(warden.Auth(jwt), warden.Require(guard.IsAuthenticated))
//	private.Get("/api/me", me)
func (rt *Router) With(opts ...Option) *Router {
	return &Router{core: rt.core, prefix: rt.prefix, opts: append(slices.Clip(rt.opts), opts...)}
}

// Group calls fn with a view of rt whose routes live under prefix (a path
// such as "/api/auth", without a trailing slash) and get the view's options:
//
//	r.With(warden.NoStore()).Group("/api/auth", func(r *warden.Router) {
//		r.Post("/login", login)
//	})
func (rt *Router) Group(prefix string, fn func(r *Router)) {
	if prefix != "" && (!strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/")) {
		panic(fmt.Sprintf("warden: group prefix %q must start with / and not end with one", prefix))
	}
	fn(&Router{core: rt.core, prefix: rt.prefix + prefix, opts: slices.Clip(rt.opts)})
}

// Option configures one route.
type Option func(*route)

type route struct {
	backends    []auth.Authenticator
	guards      []guard.Guard
	limits      []limit
	cors        *secure.CORS
	corsSet     bool
	bodyLimit   int64
	multipart   *secure.MultipartLimits
	noStore     bool
	middleware  []func(http.Handler) http.Handler
	doc         *Operation // Doc; see router_doc.go
	tags        []string   // Tags
	csp         []string   // CSP: the route's Content-Security-Policy value
	unthrottled bool       // Unthrottled: Config.Throttle does not apply
	anyHost     bool       // AnyHost: Config.AllowedHosts does not apply
}

type limit struct {
	limiter ratelimit.Limiter
	key     ratelimit.KeyFunc
}

// Auth sets the route's authentication backends, tried in order.
func Auth(backends ...auth.Authenticator) Option {
	return func(r *route) { r.backends = append(r.backends, backends...) }
}

// Require adds guards; all must admit the request. Every route needs at
// least one: registering a route without a guard panics, so that no route
// is public by omission. Require(guard.AllowAny) makes a route public.
func Require(guards ...guard.Guard) Option {
	return func(r *route) { r.guards = append(r.guards, guards...) }
}

// Limit adds a rate limit keyed by key (the client IP when nil). Limits run
// after authentication so that per-user keys see the identity. It panics
// when l is nil or its policy is invalid, mistakes to catch at start-up.
func Limit(l ratelimit.Limiter, key ratelimit.KeyFunc) Option {
	if key == nil {
		key = ratelimit.ByIP()
	}
	if l == nil {
		panic("warden: Limit needs a Limiter")
	}
	if err := l.Policy().Validate(); err != nil {
		panic("warden: Limit: " + err.Error())
	}
	return func(r *route) { r.limits = append(r.limits, limit{l, key}) }
}

// Unthrottled exempts the route from the router-wide throttle
// (Config.Throttle): for health checks, which a load balancer polls from
// one address, and static assets. The route's own Limit options still
// apply.
func Unthrottled() Option {
	return func(r *route) { r.unthrottled = true }
}

// AnyHost exempts the route from the Host allow-list
// (Config.AllowedHosts): for health checks, which load balancers and
// orchestrators send to an IP address, and whose answers tell a page on a
// rebinding name nothing worth reading.
func AnyHost() Option {
	return func(r *route) { r.anyHost = true }
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

// Multipart makes the route take a multipart/form-data body within l:
// another type is refused with 415 and a missing or overlong boundary with
// 400, before authentication and before a byte of the body is read, and
// the body is capped at l.MaxTotalBytes (under the route's BodyLimit, which
// still applies). The handler reads the parts with secure.ReadMultipart,
// in memory only.
func Multipart(l secure.MultipartLimits) Option {
	return func(r *route) { r.multipart = &l }
}

// NoStore marks responses as not cacheable (tokens, personal data).
func NoStore() Option {
	return func(r *route) { r.noStore = true }
}

// Wrap adds per-route middleware, run just before the handler, after
// authentication, limits and guards. Router-wide middleware is Router.Use.
func Wrap(mw ...func(http.Handler) http.Handler) Option {
	return func(r *route) { r.middleware = append(r.middleware, mw...) }
}

// Get registers h for GET (and HEAD) on path.
func (rt *Router) Get(path string, h http.HandlerFunc, opts ...Option) {
	rt.Handle(http.MethodGet, path, h, opts...)
}

// Post registers h for POST on path.
func (rt *Router) Post(path string, h http.HandlerFunc, opts ...Option) {
	rt.Handle(http.MethodPost, path, h, opts...)
}

// Put registers h for PUT on path.
func (rt *Router) Put(path string, h http.HandlerFunc, opts ...Option) {
	rt.Handle(http.MethodPut, path, h, opts...)
}

// Patch registers h for PATCH on path.
func (rt *Router) Patch(path string, h http.HandlerFunc, opts ...Option) {
	rt.Handle(http.MethodPatch, path, h, opts...)
}

// Delete registers h for DELETE on path.
func (rt *Router) Delete(path string, h http.HandlerFunc, opts ...Option) {
	rt.Handle(http.MethodDelete, path, h, opts...)
}

// Handle registers h for method on path, a net/http pattern path such as
// "/api/reviews/{id}", below the view's prefix; in a group, "/" is the
// group's own path. The same path with one
// trailing slash is served identically. It panics on a malformed or
// conflicting registration, as http.ServeMux does: these are programming
// errors found at start-up.
func (rt *Router) Handle(method, path string, h http.Handler, opts ...Option) {
	if method == "" || strings.ContainsAny(method, " /") {
		panic(fmt.Sprintf("warden: bad method %q", method))
	}
	if !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf("warden: path %q must start with /", path))
	}
	if h == nil {
		panic(fmt.Sprintf("warden: nil handler for %s %s", method, path))
	}
	if rt.prefix != "" && path == "/" {
		path = rt.prefix // "/" in a group is the group's own path, not its subtree
	} else {
		path = rt.prefix + path
	}
	c := rt.core
	rc := route{bodyLimit: c.cfg.MaxBodyBytes, cors: c.cfg.CORS}
	for _, o := range rt.opts {
		o(&rc)
	}
	for _, o := range opts {
		o(&rc)
	}
	if len(rc.guards) == 0 {
		// Closed by default: a route nobody said who may call is a mistake,
		// not a public route. guard.AllowAny makes a public route explicit.
		panic(fmt.Sprintf("warden: %s %s has no guard; add warden.Require(guard.IsAuthenticated), or guard.AllowAny for a public route", method, path))
	}
	c.describe(method, path, &rc)
	chain := c.compose(method+" "+path, h, &rc)
	for _, p := range variants(path) {
		c.mux.Handle(method+" "+p, chain)
		if rc.anyHost {
			c.anyHost.Handle(method+" "+p, anyHostMark)
		}
		if rc.cors != nil {
			c.addPreflight(path, p, method, rc.cors)
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

// compose builds the route's chain once; outermost first: routed marker
// (which records the route's pattern for the Observer),
// the route's CSP, CORS, body limit, multipart limits, authentication, the
// router-wide throttle, rate limits, guards,
// no-store, custom middleware, handler. The problems each stage answers
// are listed for the API description by problemsOf (router_doc.go): a
// new stage goes there too.
func (c *core) compose(pattern string, h http.Handler, rc *route) http.Handler {
	for _, mw := range slices.Backward(rc.middleware) {
		h = mw(h)
	}
	if rc.noStore {
		h = secure.NoStore(h)
	}
	if len(rc.guards) > 0 {
		h = guard.Require(rc.guards...)(h)
	}
	for _, l := range slices.Backward(rc.limits) {
		h = ratelimit.Middleware(c.logger, l.limiter, l.key)(h)
	}
	if c.cfg.Throttle != nil && !rc.unthrottled {
		h = c.cfg.Throttle(h)
	}
	if len(rc.backends) > 0 {
		h = auth.Middleware(c.logger, rc.backends...)(h)
	}
	if rc.multipart != nil {
		h = secure.LimitMultipart(*rc.multipart)(h)
	}
	h = secure.BodyLimit(rc.bodyLimit)(h)
	if rc.cors != nil {
		h = rc.cors.Handler(h)
	}
	if rc.csp != nil {
		h = withCSP(rc.csp, h)
	}
	return markRouted(pattern, h)
}

// markRouted records that the request reached the route registered as
// pattern ("GET /api/books/{id}"). The pattern is the registered one, not
// the variant the mux matched (".../{$}") nor the path asked for, so that
// it can label metrics.
func markRouted(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := reqinfo.From(r.Context()); info != nil {
			info.Routed = true
			info.Route = pattern
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

// addPreflight answers OPTIONS on path, a variant of the route registered
// on registered.
func (c *core) addPreflight(registered, path, method string, policy *secure.CORS) {
	pf := c.preflights[path]
	if pf == nil {
		pf = &preflight{cors: policy}
		c.preflights[path] = pf
		allow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(append([]string{http.MethodOptions}, pf.methods...), ", "))
			w.WriteHeader(http.StatusNoContent)
		})
		if method != http.MethodOptions {
			c.mux.Handle(http.MethodOptions+" "+path, markRouted(http.MethodOptions+" "+registered, policy.Handler(allow)))
		}
	} else if pf.cors != policy {
		panic(fmt.Sprintf("warden: routes on %s use different CORS policies; use one policy per path", path))
	}
	if !slices.Contains(pf.methods, method) {
		pf.methods = append(pf.methods, method)
		if method == http.MethodGet {
			pf.methods = append(pf.methods, http.MethodHead)
		}
	}
}
