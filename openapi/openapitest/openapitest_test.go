package openapitest_test

import (
	"strings"
	"testing"

	"github.com/wardenhq/warden/openapi/openapitest"
)

// TestLintFindsWhatAParserLetsThrough: each document breaks one rule that
// libopenapi builds a model for anyway.
func TestLintFindsWhatAParserLetsThrough(t *testing.T) {
	const head = `{"openapi":"3.1.0","info":{"title":"x","version":"1"},`
	ok := `"responses":{"200":{"description":"ok"}}`
	for want, doc := range map[string]string{
		"type \"strin\"":              head + `"paths":{"/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"type":"strin"}}}}}}}}}`,
		"title and a version":         `{"openapi":"3.1.0","info":{"title":"x"},"paths":{}}`,
		"path template {id}":          head + `"paths":{"/a/{id}":{"get":{` + ok + `}}}}`,
		"not in the path template":    head + `"paths":{"/a":{"get":{"parameters":[{"name":"id","in":"path","required":true,"schema":{}}],` + ok + `}}}}`,
		"operationId \"x\" is also":   head + `"paths":{"/a":{"get":{"operationId":"x",` + ok + `}},"/b":{"get":{"operationId":"x",` + ok + `}}}}`,
		"undeclared scheme":           head + `"paths":{"/a":{"get":{"security":[{"bearer":[]}],` + ok + `}}}}`,
		"needs a description":         head + `"paths":{"/a":{"get":{"responses":{"200":{}}}}}}`,
		"response key \"2000\"":       head + `"paths":{"/a":{"get":{"responses":{"2000":{"description":"x"}}}}}}`,
		"required \"b\"":              head + `"paths":{"/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"type":"object","properties":{"a":{}},"required":["b"]}}}}}}}}}`,
		"does not resolve":            head + `"paths":{"/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Nope"}}}}}}}}}`,
		"unknown operation member":    head + `"paths":{"/a":{"get":{"summmary":"typo",` + ok + `}}}}`,
		"characters OpenAPI does not": head + `"paths":{},"components":{"schemas":{"a b":{}}}}`,
	} {
		problems := strings.Join(openapitest.Lint([]byte(doc)), "\n")
		if !strings.Contains(problems, want) {
			t.Errorf("want a problem mentioning %q, got:\n%s", want, problems)
		}
	}
	clean := head + `"paths":{"/a/{id}":{"get":{"operationId":"a","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],` + ok + `}}}}`
	if problems := openapitest.Lint([]byte(clean)); len(problems) != 0 {
		t.Errorf("a clean document: %v", problems)
	}
}
