package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/problem"
)

// Info describes the API as a whole.
type Info struct {
	// Title and Version are required.
	Title       string
	Version     string
	Summary     string
	Description string
	// Tags describe the tags routes use, in the order readers should see
	// them; tags used but not listed follow, in order of first use.
	Tags []Tag
	// Servers are the API's base URLs; none means the origin that served
	// the document, which is right for a document served by the API
	// itself.
	Servers []Server
}

// ProblemContentType is the media type of problem documents, without the
// charset parameter that problem.ContentType adds.
const ProblemContentType = "application/problem+json"

// Build returns the OpenAPI 3.1 document of routes, as (*warden.Router).
// Routes returns them. It fails, rather than describe a route wrongly,
// when a route's method is not one OpenAPI 3.1 has, when two routes
// would share an operationId or a path, when an authentication backend
// cannot describe its credential (auth.Describer), when two backends use
// one scheme name for different credentials, or when a documented Go
// type cannot be encoded as JSON.
func Build(info Info, routes []warden.RouteInfo) (*Document, error) {
	if info.Title == "" || info.Version == "" {
		return nil, errors.New("openapi: Info needs a Title and a Version")
	}
	b := &builder{
		gen: newSchemaGen(),
		doc: &Document{
			OpenAPI: Version,
			Info:    DocInfo{Title: info.Title, Version: info.Version, Summary: info.Summary, Description: info.Description},
			Servers: info.Servers,
			Paths:   map[string]*PathItem{},
		},
		schemes: map[string]auth.Scheme{},
		opIDs:   map[string]string{},
	}
	var err error
	if b.problem, err = b.gen.root(problem.Problem{}); err != nil {
		return nil, err
	}
	for _, t := range info.Tags {
		b.addTag(t)
	}
	for _, r := range routes {
		if err := b.route(r); err != nil {
			return nil, fmt.Errorf("openapi: %s %s: %w", r.Method, r.Pattern, err)
		}
	}
	b.doc.Components.Schemas = b.gen.finish()
	if len(b.schemes) > 0 {
		b.doc.Components.SecuritySchemes = map[string]*SecurityScheme{}
		for name, s := range b.schemes {
			b.doc.Components.SecuritySchemes[name] = &SecurityScheme{
				Type: s.Type, Description: s.Description, Name: s.ParamName, In: s.In,
				Scheme: s.HTTPScheme, BearerFormat: s.BearerFormat,
			}
		}
	}
	return b.doc, nil
}

// JSON encodes d, indented for people who read it raw.
func (d *Document) JSON() ([]byte, error) {
	return json.MarshalIndent(d, "", "  ")
}

type builder struct {
	gen     *schemaGen
	doc     *Document
	problem *Schema // reference to the Problem component
	schemes map[string]auth.Scheme
	opIDs   map[string]string // operationId -> "METHOD path", for the error
}

func (b *builder) addTag(t Tag) {
	if !slices.ContainsFunc(b.doc.Tags, func(o Tag) bool { return o.Name == t.Name }) {
		b.doc.Tags = append(b.doc.Tags, t)
	}
}

func (b *builder) route(r warden.RouteInfo) error {
	path := docPath(r.Pattern)
	item := b.doc.Paths[path]
	if item == nil {
		item = &PathItem{}
		b.doc.Paths[path] = item
	}
	slot := item.slot(r.Method)
	if slot == nil {
		return fmt.Errorf("OpenAPI 3.1 cannot describe method %s", r.Method)
	}
	if *slot != nil {
		return fmt.Errorf("another route is documented at %s %s", r.Method, path)
	}
	op := r.Operation
	out := &Operation{
		Responses: map[string]*Response{},
		Guards:    r.Guards,
		BodyLimit: r.BodyLimit,
		Throttled: r.Throttled,
		NoStore:   r.NoStore,
		CSP:       r.CSP,
	}
	if op == nil {
		op = &warden.Operation{}
		out.Undocumented = true
	}
	out.OperationID = op.ID
	if out.OperationID == "" {
		out.OperationID = operationID(r.Method, path)
	}
	if other, dup := b.opIDs[out.OperationID]; dup {
		return fmt.Errorf("operationId %q is also %s's", out.OperationID, other)
	}
	b.opIDs[out.OperationID] = r.Method + " " + path
	out.Summary, out.Description, out.Tags, out.Deprecated = op.Summary, op.Description, op.Tags, op.Deprecated
	for _, t := range op.Tags {
		b.addTag(Tag{Name: t})
	}
	for _, l := range r.Limits {
		out.RateLimits = append(out.RateLimits, RateLimit{Name: l.Name, RatePerSecond: l.Rate, Burst: l.Burst})
	}
	if err := b.parameters(out, r.Pattern, op); err != nil {
		return err
	}
	switch {
	case r.Multipart != nil:
		s, err := b.gen.parts(op.Request)
		if err != nil {
			return err
		}
		out.RequestBody = &RequestBody{Required: !op.RequestOptional, Content: map[string]*MediaType{"multipart/form-data": {Schema: s}}}
	case op.Request != nil:
		s, err := b.gen.root(op.Request)
		if err != nil {
			return err
		}
		out.RequestBody = &RequestBody{Required: !op.RequestOptional, Content: map[string]*MediaType{"application/json": {Schema: s}}}
	}
	if err := b.responses(out, r, op); err != nil {
		return err
	}
	if err := b.security(out, r); err != nil {
		return err
	}
	*slot = out
	return nil
}

// docPath turns a net/http pattern path into an OpenAPI path template:
// "{name...}" becomes "{name}" (its value may hold slashes, which the
// template cannot say) and the end anchor "{$}" goes.
func docPath(pattern string) string {
	p := strings.TrimSuffix(pattern, "{$}")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}") {
			segs[i] = strings.TrimSuffix(s, "...}") + "}"
		}
	}
	return strings.Join(segs, "/")
}

// operationID derives "getApiAuthSessionsId" from GET /api/auth/sessions/{id}.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	upper := true
	for _, c := range path {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b.WriteRune(c)
			upper = false
		default:
			upper = true
		}
	}
	return b.String()
}

func (b *builder) parameters(out *Operation, pattern string, op *warden.Operation) error {
	for _, name := range warden.PathParams(pattern) {
		p := warden.Param{Name: name}
		if i := slices.IndexFunc(op.Path, func(q warden.Param) bool { return q.Name == name }); i >= 0 {
			p = op.Path[i]
		}
		param, err := b.parameter(p, "path")
		if err != nil {
			return err
		}
		param.Required = true
		out.Parameters = append(out.Parameters, param)
	}
	for _, p := range op.Query {
		param, err := b.parameter(p, "query")
		if err != nil {
			return err
		}
		out.Parameters = append(out.Parameters, param)
	}
	return nil
}

func (b *builder) parameter(p warden.Param, in string) (*Parameter, error) {
	var s *Schema
	if p.Type == nil {
		s = &Schema{Type: Types{"string"}}
	} else {
		var err error
		if s, err = b.gen.root(p.Type); err != nil {
			return nil, err
		}
	}
	for _, v := range p.Enum {
		s.Enum = append(s.Enum, v)
	}
	return &Parameter{Name: p.Name, In: in, Description: p.Description, Required: p.Required, Schema: s}, nil
}

// responses merges the handler's documented responses with the problems
// the pipeline answers; the handler's entry wins for a status both name
// (its author knows the route: its sentence should cover the pipeline's
// reasons too).
func (b *builder) responses(out *Operation, r warden.RouteInfo, op *warden.Operation) error {
	for status, v := range op.Responses {
		res, err := b.response(status, v)
		if err != nil {
			return err
		}
		out.Responses[strconv.Itoa(status)] = res
	}
	for status, why := range r.Problems {
		if _, ok := op.Responses[status]; !ok {
			out.Responses[strconv.Itoa(status)] = b.problemResponse(why)
		}
	}
	for code, res := range out.Responses {
		status, _ := strconv.Atoi(code)
		if res.Content[ProblemContentType] != nil {
			addProblemHeaders(res, status)
		}
	}
	out.Responses["default"] = b.problemResponse("Any other error, as an RFC 9457 problem document: 405 (with Allow), 415 (a body not sent as application/json), 431 (headers too large), 500.")
	return nil
}

func (b *builder) response(status int, v any) (*Response, error) {
	res, ok := v.(warden.Response)
	if !ok {
		if p, isPtr := v.(*warden.Response); isPtr && p != nil {
			res, ok = *p, true
		}
	}
	if !ok {
		res = warden.Response{Body: v}
	}
	desc := res.Description
	if desc == "" {
		if desc = http.StatusText(status); desc == "" {
			desc = "Status " + strconv.Itoa(status) + "."
		}
	}
	if res.Problem {
		return b.problemResponse(desc), nil
	}
	out := &Response{Description: desc}
	if res.Body == nil {
		return out, nil
	}
	ct := res.ContentType
	if ct == "" {
		ct = "application/json"
	}
	var s *Schema
	if _, isString := res.Body.(string); isString && !isJSON(ct) {
		s = &Schema{Type: Types{"string"}} // text of that type
	} else {
		var err error
		if s, err = b.gen.root(res.Body); err != nil {
			return nil, err
		}
	}
	out.Content = map[string]*MediaType{ct: {Schema: s}}
	return out, nil
}

func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func (b *builder) problemResponse(desc string) *Response {
	ref := &Schema{refTo: b.problem.refTo}
	b.problem.refTo.refs = append(b.problem.refTo.refs, ref)
	return &Response{Description: desc, Content: map[string]*MediaType{ProblemContentType: {Schema: ref}}}
}

// addProblemHeaders documents the headers Warden sends with some
// problems: the challenge with 401, Retry-After with 429 and 503, and the
// RateLimit fields with 429.
func addProblemHeaders(res *Response, status int) {
	str := func(desc string) *Header { return &Header{Description: desc, Schema: &Schema{Type: Types{"string"}}} }
	switch status {
	case http.StatusUnauthorized:
		res.Headers = map[string]*Header{"WWW-Authenticate": str("The authentication challenge, e.g. " + auth.Challenge + ".")}
	case http.StatusTooManyRequests:
		res.Headers = map[string]*Header{
			"Retry-After":      {Description: "Seconds to wait before retrying.", Schema: &Schema{Type: Types{"integer"}}},
			"RateLimit":        str("The remaining quota of the policy (IETF RateLimit header fields)."),
			"RateLimit-Policy": str("The rate-limit policy that applied."),
		}
	case http.StatusServiceUnavailable:
		res.Headers = map[string]*Header{"Retry-After": {Description: "Seconds to wait before retrying.", Schema: &Schema{Type: Types{"integer"}}}}
	}
}

// security lists how the route's backends accept credentials. OpenAPI
// reads the list as alternatives, as the router tries backends. A route
// whose guards admit anonymous callers also lists the empty requirement:
// the credential is optional there.
func (b *builder) security(out *Operation, r warden.RouteInfo) error {
	for _, backend := range r.Auth {
		d, ok := backend.(auth.Describer)
		if !ok {
			return fmt.Errorf("authentication backend %T cannot describe its credential; implement auth.Describer", backend)
		}
		s := d.Scheme()
		if s.Name == "" || (s.Type != "http" && s.Type != "apiKey") {
			return fmt.Errorf("authentication backend %T describes an incomplete scheme %+v", backend, s)
		}
		s.Name = componentName(s.Name)
		if prev, seen := b.schemes[s.Name]; seen {
			prev.Description, s.Description = "", ""
			if !reflect.DeepEqual(prev, s) {
				return fmt.Errorf("two authentication backends call different credentials %q", s.Name)
			}
		} else {
			b.schemes[s.Name] = withName(d.Scheme(), s.Name)
		}
		req := map[string][]string{s.Name: {}}
		if !slices.ContainsFunc(out.Security, func(m map[string][]string) bool { _, dup := m[s.Name]; return dup }) {
			out.Security = append(out.Security, req)
		}
	}
	if len(out.Security) > 0 && r.Public {
		out.Security = append(out.Security, map[string][]string{})
	}
	return nil
}

func withName(s auth.Scheme, name string) auth.Scheme {
	s.Name = name
	return s
}
