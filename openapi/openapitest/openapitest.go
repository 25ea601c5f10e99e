// Package openapitest checks generated OpenAPI 3.1 documents in tests: a
// document must parse and build with libopenapi (github.com/pb33f/libopenapi,
// which resolves every reference) and pass the structural rules of the
// specification that libopenapi does not enforce (Lint).
//
// It is imported by tests only; its dependency on libopenapi never reaches
// a program that does not import it.
package openapitest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// Validate fails t unless b is an OpenAPI 3.1 document that libopenapi
// builds without error (every schema included) and that Lint accepts. It
// returns libopenapi's model for further checks.
func Validate(t testing.TB, b []byte) *v3.Document {
	t.Helper()
	doc, err := libopenapi.NewDocument(b)
	if err != nil {
		t.Fatalf("libopenapi refuses the document: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("OpenAPI version %q, want 3.1.x", v)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("libopenapi cannot build the model: %v", err)
	}
	if model.Model.Components != nil && model.Model.Components.Schemas != nil {
		for name, proxy := range model.Model.Components.Schemas.FromOldest() {
			if s, err := proxy.BuildSchema(); err != nil || s == nil {
				t.Errorf("libopenapi cannot build schema %s: %v", name, err)
			}
		}
	}
	for _, problem := range Lint(b) {
		t.Error(problem)
	}
	return &model.Model
}

var (
	componentKey = regexp.MustCompile(`^[a-zA-Z0-9.\-_]+$`)
	statusKey    = regexp.MustCompile(`^(default|[1-5](\d\d|XX))$`)
	templateVar  = regexp.MustCompile(`\{([^{}]+)\}`)
	jsonTypes    = []string{"null", "boolean", "object", "array", "number", "string", "integer"}
	methods      = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	opFields     = []string{"tags", "summary", "description", "externalDocs", "operationId", "parameters", "requestBody", "responses", "callbacks", "deprecated", "security", "servers"}
)

// Lint lists the ways b breaks rules of OpenAPI 3.1 that a parser may let
// through: required fields, path templates and their parameters, unique
// operationIds, response keys, security requirements naming declared
// schemes, component key syntax, and JSON Schema keywords (type names,
// references that resolve, required members that exist).
func Lint(b []byte) []string {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	l := &linter{doc: doc}
	l.run()
	return l.problems
}

type linter struct {
	doc      map[string]any
	problems []string
}

func (l *linter) errorf(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func str(v any) string { s, _ := v.(string); return s }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (l *linter) run() {
	if v := str(l.doc["openapi"]); !strings.HasPrefix(v, "3.1.") {
		l.errorf("openapi %q is not 3.1.x", v)
	}
	info := obj(l.doc["info"])
	if str(info["title"]) == "" || str(info["version"]) == "" {
		l.errorf("info needs a title and a version")
	}
	comps := obj(l.doc["components"])
	for _, section := range []string{"schemas", "securitySchemes", "responses", "parameters"} {
		for _, k := range sortedKeys(obj(comps[section])) {
			if !componentKey.MatchString(k) {
				l.errorf("components.%s key %q has characters OpenAPI does not allow", section, k)
			}
		}
	}
	schemes := obj(comps["securitySchemes"])
	for _, name := range sortedKeys(schemes) {
		l.scheme(name, obj(schemes[name]))
	}
	for _, name := range sortedKeys(obj(comps["schemas"])) {
		l.schema("components.schemas."+name, obj(comps["schemas"])[name])
	}
	tags := map[string]bool{}
	tagList, _ := l.doc["tags"].([]any)
	for _, t := range tagList {
		name := str(obj(t)["name"])
		if name == "" || tags[name] {
			l.errorf("tag %q is empty or repeated", name)
		}
		tags[name] = true
	}
	opIDs := map[string]string{}
	paths := obj(l.doc["paths"])
	if paths == nil {
		l.errorf("no paths object")
	}
	for _, path := range sortedKeys(paths) {
		if !strings.HasPrefix(path, "/") {
			l.errorf("path %q does not start with /", path)
		}
		item := obj(paths[path])
		for _, key := range sortedKeys(item) {
			if !slices.Contains(methods, key) && !strings.HasPrefix(key, "x-") && key != "summary" && key != "description" && key != "parameters" && key != "servers" {
				l.errorf("%s: unknown path item member %q", path, key)
			}
		}
		for _, m := range methods {
			if op := obj(item[m]); op != nil {
				l.operation(strings.ToUpper(m)+" "+path, path, op, opIDs, schemes)
			}
		}
	}
}

func (l *linter) scheme(name string, s map[string]any) {
	switch str(s["type"]) {
	case "apiKey":
		if str(s["name"]) == "" || !slices.Contains([]string{"query", "header", "cookie"}, str(s["in"])) {
			l.errorf("security scheme %s: apiKey needs a name and in (query, header or cookie)", name)
		}
	case "http":
		if str(s["scheme"]) == "" {
			l.errorf("security scheme %s: http needs a scheme", name)
		}
	case "mutualTLS", "oauth2", "openIdConnect":
	default:
		l.errorf("security scheme %s: unknown type %q", name, s["type"])
	}
}

func (l *linter) operation(where, path string, op map[string]any, opIDs map[string]string, schemes map[string]any) {
	for _, key := range sortedKeys(op) {
		if !slices.Contains(opFields, key) && !strings.HasPrefix(key, "x-") {
			l.errorf("%s: unknown operation member %q", where, key)
		}
	}
	if id := str(op["operationId"]); id != "" {
		if other, dup := opIDs[id]; dup {
			l.errorf("%s: operationId %q is also %s's", where, id, other)
		}
		opIDs[id] = where
	}
	declared := map[string]bool{}
	seen := map[string]bool{}
	params, _ := op["parameters"].([]any)
	for i, p := range params {
		pm := obj(p)
		name, in := str(pm["name"]), str(pm["in"])
		if name == "" || !slices.Contains([]string{"query", "header", "path", "cookie"}, in) {
			l.errorf("%s: parameter %d needs a name and a valid in, has %q in %q", where, i, name, in)
		}
		if seen[in+":"+name] {
			l.errorf("%s: parameter %s in %s is repeated", where, name, in)
		}
		seen[in+":"+name] = true
		if in == "path" {
			declared[name] = true
			if pm["required"] != true {
				l.errorf("%s: path parameter %s must be required", where, name)
			}
		}
		if pm["schema"] == nil && pm["content"] == nil {
			l.errorf("%s: parameter %s has neither schema nor content", where, name)
		}
		l.schema(where+" parameter "+name, pm["schema"])
	}
	for _, m := range templateVar.FindAllStringSubmatch(path, -1) {
		if !declared[m[1]] {
			l.errorf("%s: path template {%s} has no path parameter", where, m[1])
		}
		delete(declared, m[1])
	}
	for name := range declared {
		l.errorf("%s: path parameter %s is not in the path template", where, name)
	}
	if rb := obj(op["requestBody"]); rb != nil {
		if len(obj(rb["content"])) == 0 {
			l.errorf("%s: requestBody without content", where)
		}
		l.content(where+" requestBody", obj(rb["content"]))
	}
	responses := obj(op["responses"])
	if len(responses) == 0 {
		l.errorf("%s: no responses", where)
	}
	for _, code := range sortedKeys(responses) {
		if !statusKey.MatchString(code) {
			l.errorf("%s: response key %q", where, code)
		}
		res := obj(responses[code])
		if _, ok := res["description"].(string); !ok {
			l.errorf("%s %s: response needs a description", where, code)
		}
		for _, h := range sortedKeys(obj(res["headers"])) {
			l.schema(where+" "+code+" header "+h, obj(obj(res["headers"])[h])["schema"])
		}
		l.content(where+" "+code, obj(res["content"]))
	}
	if sec, present := op["security"]; present {
		reqs, ok := sec.([]any)
		if !ok {
			l.errorf("%s: security is not a list", where)
		}
		for _, r := range reqs {
			for _, name := range sortedKeys(obj(r)) {
				if schemes[name] == nil {
					l.errorf("%s: security names undeclared scheme %q", where, name)
				}
				if scopes, ok := obj(r)[name].([]any); !ok || len(scopes) != 0 {
					l.errorf("%s: scheme %q needs an empty scope list", where, name)
				}
			}
		}
	}
}

func (l *linter) content(where string, content map[string]any) {
	for _, ct := range sortedKeys(content) {
		if !strings.Contains(ct, "/") {
			l.errorf("%s: media type %q", where, ct)
		}
		l.schema(where+" "+ct, obj(content[ct])["schema"])
	}
}

// schema checks the JSON Schema keywords Warden's generator uses and that
// a reference resolves.
func (l *linter) schema(where string, v any) {
	if v == nil {
		return
	}
	if _, isBool := v.(bool); isBool {
		return // true and false are schemas too
	}
	s := obj(v)
	if s == nil {
		l.errorf("%s: a schema must be an object or a boolean", where)
		return
	}
	if ref, ok := s["$ref"]; ok {
		name, found := strings.CutPrefix(str(ref), "#/components/schemas/")
		if !found || obj(obj(l.doc["components"])["schemas"])[name] == nil {
			l.errorf("%s: $ref %v does not resolve", where, ref)
		}
	}
	switch t := s["type"].(type) {
	case nil:
	case string:
		if !slices.Contains(jsonTypes, t) {
			l.errorf("%s: type %q", where, t)
		}
	case []any:
		seen := map[string]bool{}
		for _, x := range t {
			name := str(x)
			if !slices.Contains(jsonTypes, name) || seen[name] {
				l.errorf("%s: type list %v", where, t)
			}
			seen[name] = true
		}
	default:
		l.errorf("%s: type %v", where, t)
	}
	props := obj(s["properties"])
	for _, name := range sortedKeys(props) {
		l.schema(where+"."+name, props[name])
	}
	if req, ok := s["required"]; ok {
		list, _ := req.([]any)
		seen := map[string]bool{}
		for _, r := range list {
			name := str(r)
			if _, ok := props[name]; !ok || seen[name] {
				l.errorf("%s: required %q is not a property, or repeated", where, name)
			}
			seen[name] = true
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		l.schema(where+"."+key, s[key])
	}
	if alternatives, ok := s["anyOf"]; ok {
		list, _ := alternatives.([]any)
		if len(list) == 0 {
			l.errorf("%s: anyOf must be a non-empty list", where)
		}
		for i, x := range list {
			l.schema(fmt.Sprintf("%s.anyOf[%d]", where, i), x)
		}
	}
	lo, hasLo := s["minItems"].(float64)
	hi, hasHi := s["maxItems"].(float64)
	if (hasLo && lo < 0) || (hasHi && hi < 0) || (hasLo && hasHi && lo > hi) {
		l.errorf("%s: minItems %v, maxItems %v", where, s["minItems"], s["maxItems"])
	}
}
