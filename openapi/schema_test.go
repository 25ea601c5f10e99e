package openapi

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	otherproblem "github.com/wardenhq/warden/problem"
)

// encode renders a schema (and the components it references) as JSON for
// comparisons that read like the document.
func encode(t *testing.T, v any) (string, map[string]string) {
	t.Helper()
	g := newSchemaGen()
	s, err := g.root(v)
	if err != nil {
		t.Fatal(err)
	}
	comps := map[string]string{}
	for name, c := range g.finish() {
		b, _ := json.Marshal(c)
		comps[name] = string(b)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), comps
}

type Base struct {
	ID      string `json:"id"`
	Created time.Time
}

type Extra struct {
	Note string `json:"note"`
}

type tagged struct {
	Name   string `json:"name"`
	Nick   string `json:"nick,omitempty"`
	Zero   int    `json:"zero,omitzero"`
	Hidden string `json:"-"`
	//lint:ignore U1000 an unexported field, which encoding/json never writes
	private  string
	Count    int64             `json:"count,string"`
	Ptr      *int              `json:"ptr"`
	PtrOmit  *string           `json:"ptr_omit,omitempty"`
	Raw      json.RawMessage   `json:"raw"`
	Bytes    []byte            `json:"bytes"`
	Fixed    [2]bool           `json:"fixed"`
	Tags     map[string][]int  `json:"tags"`
	ByNum    map[int]string    `json:"by_num"`
	Addr     netip.Addr        `json:"addr"`
	Any      any               `json:"any"`
	Inline   struct{ A uint8 } `json:"inline"`
	Untagged float32
	Base
	*Extra
}

func TestStructFollowsEncodingJSON(t *testing.T) {
	got, comps := encode(t, tagged{})
	if got != `{"$ref":"#/components/schemas/tagged"}` {
		t.Fatalf("named struct: %s", got)
	}
	want := `{"type":"object","properties":{` +
		`"name":{"type":"string"},` +
		`"nick":{"type":"string"},` +
		`"zero":{"type":"integer"},` +
		`"count":{"type":"string","description":"A JSON integer written as a string."},` +
		`"ptr":{"type":["integer","null"]},` +
		`"ptr_omit":{"type":"string"},` +
		`"raw":{"description":"Any JSON value."},` +
		`"bytes":{"type":"string","contentEncoding":"base64"},` +
		`"fixed":{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":2},` +
		`"tags":{"type":"object","additionalProperties":{"type":"array","items":{"type":"integer"}}},` +
		`"by_num":{"type":"object","additionalProperties":{"type":"string"}},` +
		`"addr":{"type":"string"},` +
		`"any":{},` +
		`"inline":{"type":"object","properties":{"A":{"type":"integer","minimum":0}},"required":["A"]},` +
		`"Untagged":{"type":"number","format":"float"},` +
		`"id":{"type":"string"},` +
		`"Created":{"type":"string","format":"date-time"},` +
		`"note":{"type":"string"}},` +
		`"required":["name","count","ptr","raw","bytes","fixed","tags","by_num","addr","any","inline","Untagged","id","Created"]}`
	if comps["tagged"] != want {
		t.Errorf("tagged:\n got %s\nwant %s", comps["tagged"], want)
	}
	// Verified against encoding/json itself: the members it writes for a
	// zero value are exactly the documented ones (the embedded pointer
	// and omitted members aside).
	b, _ := json.Marshal(tagged{Extra: &Extra{}, Nick: "n", Zero: 1, PtrOmit: new(string)})
	var members map[string]any
	_ = json.Unmarshal(b, &members)
	for name := range members {
		if !strings.Contains(want, `"`+name+`":`) {
			t.Errorf("encoding/json writes %q, which the schema lacks", name)
		}
	}
}

type left struct {
	Win string `json:"Win"`
	Tie string
}

type right struct {
	Win string
	Tie string
}

type conflicts struct {
	left
	right
	Own string `json:"own"`
}

func TestEmbeddedConflictsAreResolvedAsEncodingJSONDoes(t *testing.T) {
	_, comps := encode(t, conflicts{})
	// Win: the tagged one wins over the untagged one; Tie: two untagged
	// at one depth, dropped. (Two tagged ones tie the same way; go vet
	// refuses such a struct, so it is not written here.)
	want := `{"type":"object","properties":{"Win":{"type":"string"},"own":{"type":"string"}},"required":["Win","own"]}`
	if comps["conflicts"] != want {
		t.Errorf("got  %s\nwant %s", comps["conflicts"], want)
	}
	b, _ := json.Marshal(conflicts{})
	if string(b) != `{"Win":"","own":""}` {
		t.Errorf("encoding/json disagrees: %s", b)
	}
}

type node struct {
	Name     string     `json:"name"`
	Children []node     `json:"children"`
	Parent   *node      `json:"parent"`
	Next     *node      `json:"next,omitempty"`
	When     *time.Time `json:"when"`
}

func TestRecursiveAndNullable(t *testing.T) {
	_, comps := encode(t, &node{})
	want := `{"type":"object","properties":{` +
		`"name":{"type":"string"},` +
		`"children":{"type":"array","items":{"$ref":"#/components/schemas/node"}},` +
		`"parent":{"anyOf":[{"$ref":"#/components/schemas/node"},{"type":"null"}]},` +
		`"next":{"$ref":"#/components/schemas/node"},` +
		`"when":{"type":["string","null"],"format":"date-time"}},` +
		`"required":["name","children","parent","when"]}`
	if comps["node"] != want {
		t.Errorf("got  %s\nwant %s", comps["node"], want)
	}
}

type Problem struct {
	Mine bool `json:"mine"`
}

func TestClashingNamesAreQualified(t *testing.T) {
	g := newSchemaGen()
	for _, v := range []any{Problem{}, otherproblem.Problem{}, Base{}} {
		if _, err := g.root(v); err != nil {
			t.Fatal(err)
		}
	}
	comps := g.finish()
	for _, name := range []string{"openapi.Problem", "problem.Problem", "Base"} {
		if comps[name] == nil {
			t.Errorf("no component %q in %v", name, keys(comps))
		}
	}
}

func keys(m map[string]*Schema) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

type generic[T any] struct {
	Items []T `json:"items"`
}

func TestGenericNamesAreValidComponentKeys(t *testing.T) {
	got, _ := encode(t, generic[Base]{})
	name := strings.TrimPrefix(strings.Trim(got, `{}"`), `$ref":"#/components/schemas/`)
	for _, c := range name {
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_", c) {
			t.Fatalf("component name %q holds %q", name, c)
		}
	}
}

func TestTypesJSONCannotEncodeAreRefused(t *testing.T) {
	for _, v := range []any{
		struct{ C chan int }{},
		struct{ F func() }{},
		map[[2]int]string{},
		struct{ Z complex128 }{},
	} {
		if _, err := newSchemaGen().root(v); err == nil {
			t.Errorf("%T: no error", v)
		}
	}
}
