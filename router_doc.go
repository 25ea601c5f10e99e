package warden

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// Route descriptions. A route says on the line that registers it what it
// takes and answers (Doc); the router adds what its own pipeline can
// answer (Problems) and how callers authenticate, and Routes hands the
// whole table to a document generator (package openapi). The table is
// read from the same route options that compose the pipeline, at the same
// moment, so what it says about authentication, guards and limits is
// what the route does; the statuses each stage answers are listed by
// problemsOf, which mirrors compose and must change with it. With
// Config.RequireDocs a route without a description is refused at
// start-up, like a route without a guard.

// Operation describes one route for API documentation. Every field is
// optional; with Config.RequireDocs the route must carry one all the same.
type Operation struct {
	// ID is the operationId; derived from the method and path when empty.
	ID          string
	Summary     string
	Description string
	Tags        []string
	Deprecated  bool
	// Request is a value whose JSON encoding is the request body, such as
	// LoginInput{}: its Go type becomes the body's schema (see package
	// openapi for the mapping). Nil means the route takes no body. A
	// route with a body is documented as also answering 400 and 413 (see
	// RouteInfo.Problems). On a Multipart route the body is
	// multipart/form-data and Request, a struct, lists its parts: each
	// member's JSON name is a part name, and a []byte member is a file.
	Request any
	// RequestOptional marks the body as optional (logout without the
	// refresh token, say).
	RequestOptional bool
	// Query lists the query parameters the handler reads.
	Query []Param
	// Path describes path parameters. Every {name} of the pattern is a
	// required string parameter whether or not it is listed here; list it
	// to give it a description or another type. Naming a parameter the
	// pattern does not have panics at registration.
	Path []Param
	// Responses maps a status code to its body: a Go value whose JSON
	// encoding is the body (application/json), nil for a response without
	// a body (204), or a Response for another content type, a
	// description, or a problem the handler answers (see Problem). The
	// problems the pipeline itself answers are added by the router; an
	// entry here for the same status replaces its description.
	Responses map[int]any
}

// Param is one query or path parameter.
type Param struct {
	Name        string
	Description string
	// Required applies to query parameters; path parameters always are.
	Required bool
	// Type is a value of the parameter's Go type, such as 0 for an
	// integer; a string when nil.
	Type any
	// Enum lists the allowed values, when there is a fixed set.
	Enum []string
}

// Response is one documented response, for what a bare value in
// Operation.Responses cannot say.
type Response struct {
	// Description; the status text when empty.
	Description string
	// Body is a value whose encoding is the body, as in
	// Operation.Responses; nil for no body (unless Problem is set).
	Body any
	// ContentType of Body; "application/json" when empty. A string Body
	// with another type ("text/html; charset=utf-8") is documented as a
	// string.
	ContentType string
	// Problem marks an RFC 9457 problem document
	// (application/problem+json); Body and ContentType are ignored.
	Problem bool
}

// Problem documents a problem document the handler answers with a
// status, for Operation.Responses: 403: warden.Problem("The email
// address is not verified yet.").
func Problem(description string) Response {
	return Response{Description: description, Problem: true}
}

// Doc describes the route (see Operation). A later Doc replaces an
// earlier one, so a group's With(Doc(...)) is only a default.
func Doc(op Operation) Option {
	return func(r *route) { r.doc = &op }
}

// Tags adds tags to the routes' descriptions, for a group whose routes
// share them: r.With(warden.Tags("accounts")). They come before the
// Operation's own tags.
func Tags(tags ...string) Option {
	return func(r *route) { r.tags = append(r.tags, tags...) }
}

// CSP replaces the router's Content-Security-Policy on the route's
// responses (the router's default allows nothing, right for JSON but not
// for a page that loads its own script). The response carries exactly
// one policy: the route sets the header after the router-wide security
// headers, replacing theirs. It panics on a value that is empty or not
// printable ASCII, which could otherwise forge other headers.
func CSP(policy string) Option {
	if policy == "" || strings.TrimSpace(policy) != policy {
		panic("warden: CSP needs a policy without leading or trailing spaces")
	}
	for i := 0; i < len(policy); i++ {
		if c := policy[i]; c < 0x20 || c > 0x7e {
			panic(fmt.Sprintf("warden: CSP: byte %#x at offset %d is not printable ASCII", c, i))
		}
	}
	value := []string{policy} // shared by every response: replaced, never modified
	return func(r *route) { r.csp = value }
}

// withCSP sets the route's policy in place of the router's.
func withCSP(value []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Security-Policy"] = value
		next.ServeHTTP(w, r)
	})
}

// RouteInfo is one registered route as the router composed it: what a
// document generator needs. Slices and maps are the caller's own copies.
type RouteInfo struct {
	// Method and Pattern as registered, the view's prefix included
	// ("/api/auth/sessions/{id}"); the trailing-slash variant the router
	// also serves is not listed.
	Method  string
	Pattern string
	// Operation is the route's description (with Tags options merged
	// into Operation.Tags); nil when the route was registered without Doc
	// or Tags.
	Operation *Operation
	// Auth lists the authentication backends, tried in order. Those that
	// implement auth.Describer say how their credential is sent.
	Auth []auth.Authenticator
	// Guards names the guards (guard.Name), in order.
	Guards []string
	// Public reports that every guard admits anonymous requests
	// (guard.AllowAny): a credential, if the route accepts one, is
	// optional.
	Public bool
	// Limits are the rate-limit policies, in order.
	Limits []ratelimit.Policy
	// Throttled reports that the router-wide throttle (Config.Throttle)
	// applies to the route.
	Throttled bool
	// Multipart holds the limits of a multipart/form-data body (the
	// Multipart option, zero fields meaning their defaults); nil when the
	// route takes none.
	Multipart *secure.MultipartLimits
	// BodyLimit is the request body cap in bytes.
	BodyLimit int64
	// NoStore reports that responses are marked not cacheable.
	NoStore bool
	// CSP is the route's own Content-Security-Policy; "" for the router's.
	CSP string
	// Problems maps each problem status the route can answer because of
	// how it is composed to a sentence saying when: 401 and 503 for
	// authentication, 401 and 403 for guards, 429 and 503 for rate limits
	// and the router-wide throttle, 415, 400 and 413 for a multipart body,
	// 400 and 413 for a documented JSON body (the body cap answers 413; a
	// handler answers 400 for a body it cannot use), 404 for path
	// parameters. A handler's 415 for a JSON body sent as another type
	// (as secure.DecodeJSON answers) is left to the document's default
	// response: the router cannot know how a handler reads its body. The
	// handler's own problems are in Operation.Responses.
	Problems map[int]string
}

// Routes returns every route registered so far on the router (through any
// of its views), in registration order. Call it after the last
// registration: a document generated earlier misses later routes.
func (rt *Router) Routes() []RouteInfo {
	out := make([]RouteInfo, len(rt.core.routes))
	for i, ri := range rt.core.routes {
		out[i] = ri.clone()
	}
	return out
}

// Prefix returns the path prefix of this view ("" for the router itself),
// for code that registers routes and must also link to them.
func (rt *Router) Prefix() string { return rt.prefix }

func (ri RouteInfo) clone() RouteInfo {
	ri.Operation = ri.Operation.clone()
	ri.Auth = slices.Clone(ri.Auth)
	ri.Guards = slices.Clone(ri.Guards)
	ri.Limits = slices.Clone(ri.Limits)
	ri.Problems = maps.Clone(ri.Problems)
	return ri
}

func (op *Operation) clone() *Operation {
	if op == nil {
		return nil
	}
	c := *op
	c.Tags = slices.Clone(op.Tags)
	c.Query = slices.Clone(op.Query)
	c.Path = slices.Clone(op.Path)
	c.Responses = maps.Clone(op.Responses)
	return &c
}

// describe records the route's description and, with RequireDocs, refuses
// a route that has none, or whose credential cannot be described. It
// panics on a description that contradicts the route (a path parameter
// the pattern lacks, an impossible status): mistakes to catch at start-up.
func (c *core) describe(method, path string, rc *route) {
	where := method + " " + path
	if c.cfg.RequireDocs {
		if rc.doc == nil {
			panic(fmt.Sprintf("warden: %s has no description; add warden.Doc(warden.Operation{...}) (Config.RequireDocs)", where))
		}
		for _, b := range rc.backends {
			if _, ok := b.(auth.Describer); !ok {
				panic(fmt.Sprintf("warden: %s: authentication backend %T cannot describe its credential; implement auth.Describer (Config.RequireDocs)", where, b))
			}
		}
	}
	var op *Operation
	if rc.doc != nil || len(rc.tags) > 0 {
		op = rc.doc.clone()
		if op == nil {
			op = &Operation{}
		}
		op.Tags = uniq(append(slices.Clone(rc.tags), op.Tags...))
		checkOperation(where, path, op)
	}
	info := RouteInfo{
		Method:    method,
		Pattern:   path,
		Operation: op,
		Auth:      slices.Clone(rc.backends),
		BodyLimit: rc.bodyLimit,
		NoStore:   rc.noStore,
		Public:    true,
		Throttled: c.cfg.Throttle != nil && !rc.unthrottled,
	}
	if info.BodyLimit <= 0 {
		info.BodyLimit = secure.DefaultMaxBodyBytes
	}
	if rc.csp != nil {
		info.CSP = rc.csp[0]
	}
	if rc.multipart != nil {
		m := *rc.multipart
		info.Multipart = &m
	}
	for _, l := range rc.limits {
		info.Limits = append(info.Limits, l.limiter.Policy())
	}
	for _, g := range rc.guards {
		info.Guards = append(info.Guards, guard.Name(g))
	}
	info.Problems = problemsOf(&info, rc.guards)
	c.routerProblems(method, &info, rc)
	c.routes = append(c.routes, info)
}

// routerProblems adds what the router-wide stages (chain) can answer on
// this route: 400 for an unlisted Host, 403 for a forged request that
// carries a cookie credential the route accepts. The CSRF check also
// covers a cookie sent to a route that does not read it; that refusal
// is not listed there.
func (c *core) routerProblems(method string, info *RouteInfo, rc *route) {
	add := func(status int, sentence string) {
		if prev := info.Problems[status]; prev != "" {
			sentence = prev + " " + sentence
		}
		info.Problems[status] = sentence
	}
	if c.cfg.AllowedHosts != nil && !rc.anyHost {
		add(http.StatusBadRequest, "The Host is not one this server answers to.")
	}
	if c.cfg.CSRF == nil || method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions {
		return
	}
	for _, b := range rc.backends {
		if d, ok := b.(auth.Describer); ok && d.Scheme().In == "cookie" {
			add(http.StatusForbidden, "The request carries the session cookie but not from this site or an allowed origin (cross-origin request forgery protection: Sec-Fetch-Site or Origin).")
			return
		}
	}
}

// problemsOf lists what the composed pipeline (and a handler, for a
// documented body or path parameters) can answer. It mirrors compose:
// a stage added there needs its statuses here.
func problemsOf(info *RouteInfo, guards []guard.Guard) map[int]string {
	p := map[int][]string{}
	if len(info.Auth) > 0 {
		p[http.StatusServiceUnavailable] = append(p[http.StatusServiceUnavailable], "A store that authentication depends on (revocations, API keys) is not answering; retry after Retry-After.")
	}
	anonymous, identified := true, true
	var refusing []string
	for _, g := range guards {
		a, i := guard.Admits(g)
		anonymous = anonymous && a
		identified = identified && i
		if !i {
			refusing = append(refusing, guard.Name(g))
		}
	}
	info.Public = anonymous
	switch {
	case len(info.Auth) > 0 && !anonymous:
		p[http.StatusUnauthorized] = []string{"No credential was sent, or the one sent was refused (invalid, expired or revoked)."}
	case len(info.Auth) > 0:
		p[http.StatusUnauthorized] = []string{"A credential was sent and refused (invalid, expired or revoked); without one the route answers anonymously."}
	case !anonymous:
		p[http.StatusUnauthorized] = []string{"The route needs a credential and accepts none (no authentication backend)."}
	}
	if !identified {
		p[http.StatusForbidden] = append(p[http.StatusForbidden], "The caller is authenticated but not allowed: "+strings.Join(refusing, ", ")+".")
	}
	if len(info.Limits) > 0 || info.Throttled {
		p[http.StatusTooManyRequests] = append(p[http.StatusTooManyRequests], "Rate limited; retry after Retry-After.")
		p[http.StatusServiceUnavailable] = append(p[http.StatusServiceUnavailable], "The rate limiter's store is not answering; retry after Retry-After.")
	}
	if m := info.Multipart; m != nil {
		// LimitMultipart answers before authentication; ReadMultipart in
		// the handler answers the rest.
		total := min(info.BodyLimit, cmp.Or(max(m.MaxTotalBytes, 0), secure.DefaultMaxMultipartBodyBytes))
		part := cmp.Or(max(m.MaxPartBytes, 0), secure.DefaultMaxPartBytes)
		p[http.StatusUnsupportedMediaType] = append(p[http.StatusUnsupportedMediaType], "The body is not multipart/form-data.")
		p[http.StatusBadRequest] = append(p[http.StatusBadRequest], "The multipart body is malformed: no boundary or an overlong one, too many parts, or parts the handler cannot use.")
		p[http.StatusRequestEntityTooLarge] = append(p[http.StatusRequestEntityTooLarge], "The body is larger than "+strconv.FormatInt(total, 10)+" bytes, or a part larger than "+strconv.FormatInt(part, 10)+" bytes.")
	} else if op := info.Operation; op != nil && op.Request != nil {
		p[http.StatusBadRequest] = append(p[http.StatusBadRequest], "The body is not one valid JSON value of the documented shape, or a member is invalid (see fields).")
		p[http.StatusRequestEntityTooLarge] = append(p[http.StatusRequestEntityTooLarge], "The body is larger than "+strconv.FormatInt(info.BodyLimit, 10)+" bytes.")
	}
	if len(PathParams(info.Pattern)) > 0 {
		p[http.StatusNotFound] = append(p[http.StatusNotFound], "No resource exists for these path parameters.")
	}
	out := make(map[int]string, len(p))
	for status, sentences := range p {
		out[status] = strings.Join(sentences, " ")
	}
	return out
}

// checkOperation refuses a description that contradicts the route.
func checkOperation(where, path string, op *Operation) {
	params := PathParams(path)
	seen := map[string]bool{}
	for _, p := range op.Path {
		if !slices.Contains(params, p.Name) {
			panic(fmt.Sprintf("warden: %s: Doc describes path parameter %q, which the pattern does not have", where, p.Name))
		}
		if seen[p.Name] {
			panic(fmt.Sprintf("warden: %s: Doc describes path parameter %q twice", where, p.Name))
		}
		seen[p.Name] = true
	}
	seen = map[string]bool{}
	for _, p := range op.Query {
		if p.Name == "" || seen[p.Name] {
			panic(fmt.Sprintf("warden: %s: Doc has an unnamed or repeated query parameter %q", where, p.Name))
		}
		seen[p.Name] = true
	}
	for status := range op.Responses {
		if status < 100 || status > 599 {
			panic(fmt.Sprintf("warden: %s: Doc documents status %d", where, status))
		}
	}
}

// PathParams returns the names of the wildcards in a net/http pattern
// path, in order: "/users/{name}/files/{path...}" has name and path; the
// end anchor {$} is none.
func PathParams(path string) []string {
	var names []string
	for seg := range strings.SplitSeq(path, "/") {
		if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' && seg != "{$}" {
			names = append(names, strings.TrimSuffix(seg[1:len(seg)-1], "..."))
		}
	}
	return names
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
