package openapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// schemaGen turns Go types into JSON Schemas as encoding/json encodes
// them. Named struct types become components, referenced by $ref, so that
// shared and recursive types are written once; their names are settled in
// finish, when every type is known, so that they do not depend on the
// order routes were registered in.
type schemaGen struct {
	named map[reflect.Type]*namedType
}

type namedType struct {
	t      reflect.Type
	schema *Schema
	name   string
	refs   []*Schema // schemas that point at this component
}

func newSchemaGen() *schemaGen {
	return &schemaGen{named: map[reflect.Type]*namedType{}}
}

var (
	timeType       = reflect.TypeFor[time.Time]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	jsonMarshaler  = reflect.TypeFor[json.Marshaler]()
	textMarshaler  = reflect.TypeFor[encoding.TextMarshaler]()
)

// root returns the schema of v's type. A top-level pointer documents the
// value it points to: Request: &LoginInput{} means a LoginInput body.
func (g *schemaGen) root(v any) (*Schema, error) {
	t := reflect.TypeOf(v)
	if t == nil {
		return &Schema{}, nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return g.schema(t, t.String())
}

// schema returns the schema of t; path names the place in the value for
// error messages ("accounts.LoginInput.Device").
func (g *schemaGen) schema(t reflect.Type, path string) (*Schema, error) {
	switch {
	case t.Kind() == reflect.Pointer:
		// Before the method checks: *T has T's methods, and a nil *T is
		// written as null whatever T's MarshalJSON does.
		s, err := g.schema(t.Elem(), path)
		if err != nil {
			return nil, err
		}
		return nullable(s), nil
	case t == timeType:
		return &Schema{Type: Types{"string"}, Format: "date-time"}, nil
	case t == rawMessageType:
		return &Schema{Description: "Any JSON value."}, nil
	case t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler):
		// Its own MarshalJSON decides the shape; claiming one would be a
		// guess.
		return &Schema{Description: "Any JSON value (" + t.String() + " encodes itself)."}, nil
	case t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler):
		return &Schema{Type: Types{"string"}}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return &Schema{Type: Types{"boolean"}}, nil
	case reflect.Int, reflect.Int8, reflect.Int16:
		return &Schema{Type: Types{"integer"}}, nil
	case reflect.Int32:
		return &Schema{Type: Types{"integer"}, Format: "int32"}, nil
	case reflect.Int64:
		return &Schema{Type: Types{"integer"}, Format: "int64"}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		zero := 0.0
		return &Schema{Type: Types{"integer"}, Minimum: &zero}, nil
	case reflect.Float32:
		return &Schema{Type: Types{"number"}, Format: "float"}, nil
	case reflect.Float64:
		return &Schema{Type: Types{"number"}, Format: "double"}, nil
	case reflect.String:
		return &Schema{Type: Types{"string"}}, nil
	case reflect.Interface:
		return &Schema{}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !implementsEither(t.Elem(), jsonMarshaler, textMarshaler) {
			return &Schema{Type: Types{"string"}, ContentEncoding: "base64"}, nil
		}
		items, err := g.schema(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		return &Schema{Type: Types{"array"}, Items: items}, nil
	case reflect.Array:
		items, err := g.schema(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		n := t.Len()
		return &Schema{Type: Types{"array"}, Items: items, MinItems: &n, MaxItems: &n}, nil
	case reflect.Map:
		switch k := t.Key(); {
		case k.Kind() == reflect.String, implementsEither(k, textMarshaler, nil):
		case k.Kind() >= reflect.Int && k.Kind() <= reflect.Uintptr:
		default:
			return nil, fmt.Errorf("openapi: %s: map key type %s cannot be encoded as JSON", path, k)
		}
		values, err := g.schema(t.Elem(), path+"[key]")
		if err != nil {
			return nil, err
		}
		return &Schema{Type: Types{"object"}, AdditionalProperties: values}, nil
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t, path)
		}
		return g.ref(t)
	}
	return nil, fmt.Errorf("openapi: %s: type %s cannot be encoded as JSON", path, t)
}

func implementsEither(t, a, b reflect.Type) bool {
	for _, i := range []reflect.Type{a, b} {
		if i != nil && (t.Implements(i) || reflect.PointerTo(t).Implements(i)) {
			return true
		}
	}
	return false
}

// parts is the schema of a multipart/form-data body whose parts v, a
// struct, lists: each member's JSON name is a part name, a []byte member
// is a file (binary content, not base64 as in JSON), other members are
// described as in JSON. The object is written inline: the same struct
// in a JSON body would mean other bytes. A nil v is an object of
// unknown parts.
func (g *schemaGen) parts(v any) (*Schema, error) {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return &Schema{Type: Types{"object"}}, nil
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("openapi: a multipart body is described by a struct of its parts, not %s", t)
	}
	s, err := g.object(t, t.String())
	if err != nil {
		return nil, err
	}
	for i, f := range jsonFields(t) {
		if ft := f.typ; ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Uint8 {
			s.Properties[i].Schema = &Schema{Type: Types{"string"}, ContentMediaType: "application/octet-stream"}
		}
	}
	return s, nil
}

// ref returns a reference to the component for the named struct type t,
// building the component on first use. The entry is recorded before its
// fields are walked, so a recursive type refers to itself.
func (g *schemaGen) ref(t reflect.Type) (*Schema, error) {
	n := g.named[t]
	if n == nil {
		n = &namedType{t: t}
		g.named[t] = n
		s, err := g.object(t, t.String())
		if err != nil {
			delete(g.named, t)
			return nil, err
		}
		n.schema = s
	}
	r := &Schema{refTo: n}
	n.refs = append(n.refs, r)
	return r, nil
}

// nullable lets s also be null: encoding/json writes a nil pointer as
// null. A reference cannot take another type beside it, so it becomes
// anyOf [ref, null].
func nullable(s *Schema) *Schema {
	switch {
	case s.refTo != nil || s.Ref != "":
		return &Schema{AnyOf: []*Schema{s, {Type: Types{"null"}}}}
	case len(s.AnyOf) > 0:
		s.AnyOf = append(s.AnyOf, &Schema{Type: Types{"null"}})
	case len(s.Type) > 0:
		if !slices.Contains(s.Type, "null") {
			s.Type = append(s.Type, "null")
		}
	}
	// An empty schema (any value) already admits null.
	return s
}

// object is the schema of a struct's JSON object.
func (g *schemaGen) object(t reflect.Type, path string) (*Schema, error) {
	s := &Schema{Type: Types{"object"}}
	for _, f := range jsonFields(t) {
		ft := f.typ
		if f.omit {
			// omitempty and omitzero drop a nil pointer rather than write
			// null: the member is absent or holds the value.
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
		}
		fs, err := g.schema(ft, path+"."+f.goName)
		if err != nil {
			return nil, err
		}
		if f.quoted {
			// The ",string" option writes the value inside a JSON string.
			fs = &Schema{Type: Types{"string"}, Description: "A JSON " + fs.Type[0] + " written as a string."}
			if f.typ.Kind() == reflect.Pointer && !f.omit {
				fs = nullable(fs)
			}
		}
		s.Properties = append(s.Properties, Property{Name: f.name, Schema: fs})
		if !f.omit && !f.viaPointer {
			s.Required = append(s.Required, f.name)
		}
	}
	return s, nil
}

// field is one member of a struct's JSON object.
type field struct {
	name       string // JSON name
	goName     string
	index      []int
	typ        reflect.Type
	tagged     bool
	omit       bool // omitempty or omitzero: may be absent
	quoted     bool // ,string
	viaPointer bool // promoted through an embedded pointer: absent when it is nil
}

// jsonFields lists the members encoding/json writes for struct type t,
// following its documented rules: exported fields, json tag names, "-"
// skipped, fields of untagged embedded structs promoted, and among
// fields of the same name the least nested one wins, a tagged one
// breaking a tie, and a remaining tie drops them all.
func jsonFields(t reflect.Type) []field {
	type level struct {
		t          reflect.Type
		index      []int
		viaPointer bool
	}
	var candidates []field
	depthOf := map[string]int{} // candidate name -> depth of its first appearance
	next := []level{{t: t}}
	// visited holds the types walked at shallower depths: their fields
	// there hide these. A type embedded twice at one depth is walked
	// twice, so that its fields tie and are dropped, as encoding/json
	// drops them.
	visited := map[reflect.Type]bool{}
	for depth := 0; len(next) > 0; depth++ {
		current := next
		next = nil
		for _, lv := range current {
			if visited[lv.t] {
				continue
			}
			for i := range lv.t.NumField() {
				sf := lv.t.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validName(name) {
					name = ""
				}
				index := append(slices.Clone(lv.index), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, level{t: ft, index: index, viaPointer: lv.viaPointer || sf.Type.Kind() == reflect.Pointer})
					continue
				}
				f := field{name: name, goName: sf.Name, index: index, typ: sf.Type, tagged: name != "", viaPointer: lv.viaPointer}
				if f.name == "" {
					f.name = sf.Name
				}
				for o := range strings.SplitSeq(opts, ",") {
					switch o {
					case "omitempty", "omitzero":
						f.omit = true
					case "string":
						qt := sf.Type
						if qt.Name() == "" && qt.Kind() == reflect.Pointer {
							qt = qt.Elem()
						}
						switch qt.Kind() {
						case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64:
							f.quoted = true
						}
					}
				}
				if _, seen := depthOf[f.name]; !seen {
					depthOf[f.name] = depth
				}
				if depthOf[f.name] == depth {
					candidates = append(candidates, f) // deeper ones are hidden
				}
			}
		}
		for _, lv := range current {
			visited[lv.t] = true
		}
	}
	var out []field
	for _, group := range groupByName(candidates) {
		if len(group) > 1 {
			var tagged []field
			for _, f := range group {
				if f.tagged {
					tagged = append(tagged, f)
				}
			}
			if len(tagged) != 1 {
				continue // an unresolved tie: encoding/json writes none of them
			}
			group = tagged
		}
		out = append(out, group[0])
	}
	slices.SortFunc(out, func(a, b field) int { return slices.Compare(a.index, b.index) })
	return out
}

func groupByName(fs []field) map[string][]field {
	m := map[string][]field{}
	for _, f := range fs {
		m[f.name] = append(m[f.name], f)
	}
	return m
}

// validName reports whether encoding/json accepts name as a member name
// from a tag; it ignores a tag name that it does not.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case c >= 0x80 || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
		default:
			return false
		}
	}
	return true
}

// finish names the components and fills in every reference. A type's
// name is its Go name; types that share a name are qualified by their
// package's last path element, then by the whole import path. Names keep
// only the characters OpenAPI allows in component keys.
func (g *schemaGen) finish() map[string]*Schema {
	types := make([]*namedType, 0, len(g.named))
	for _, n := range g.named {
		types = append(types, n)
	}
	candidates := []func(reflect.Type) string{
		func(t reflect.Type) string { return t.Name() },
		func(t reflect.Type) string { return lastElem(t.PkgPath()) + "." + t.Name() },
		func(t reflect.Type) string { return t.PkgPath() + "." + t.Name() },
	}
	for _, n := range types {
		for _, name := range candidates {
			n.name = componentName(name(n.t))
			clash := false
			for _, o := range types {
				if o != n && componentName(name(o.t)) == n.name {
					clash = true
					break
				}
			}
			if !clash {
				break
			}
		}
	}
	out := make(map[string]*Schema, len(types))
	for _, n := range types {
		out[n.name] = n.schema
		for _, r := range n.refs {
			r.Ref = "#/components/schemas/" + n.name
		}
	}
	return out
}

func lastElem(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// componentName replaces what a component key may not hold
// (^[a-zA-Z0-9.\-_]+$): the brackets and paths of generic type names.
func componentName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
