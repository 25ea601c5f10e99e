package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/openapi"
	"github.com/wardenhq/warden/openapi/openapitest"
	"github.com/wardenhq/warden/secure"
)

// fetchDocument returns the served document, raw and decoded.
func fetchDocument(t *testing.T, base string) ([]byte, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + app.OpenAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%s: %d %s", app.OpenAPIPath, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return raw, doc
}

// TestOpenAPIDocumentCoversTheRouteTable: the served document is valid
// OpenAPI 3.1 (libopenapi builds it, every schema included, and the
// structural rules hold), and every route of the server's table is in it
// with its description, its security as its backends accept credentials,
// and every problem its pipeline can answer; nothing else is in it.
func TestOpenAPIDocumentCoversTheRouteTable(t *testing.T) {
	base, a := start(t, nil)
	raw, doc := fetchDocument(t, base)
	model := openapitest.Validate(t, raw)
	if model.Info.Title != "Warden" {
		t.Errorf("title %q", model.Info.Title)
	}

	routes := a.Routes()
	listed := 0
	for item := range model.Paths.PathItems.ValuesFromOldest() {
		listed += item.GetOperations().Len()
	}
	if listed != len(routes) {
		t.Errorf("the document has %d operations, the route table %d routes", listed, len(routes))
	}
	for _, want := range []string{"GET /healthz", "GET /readyz", "POST /api/auth/login", "DELETE /api/auth/sessions/{id}", "GET " + app.OpenAPIPath, "GET " + app.DocsPath} {
		if !slices.ContainsFunc(routes, func(r warden.RouteInfo) bool { return r.Method+" "+r.Pattern == want }) {
			t.Errorf("the route table lacks %s", want)
		}
	}

	paths := doc["paths"].(map[string]any)
	for _, r := range routes {
		where := r.Method + " " + r.Pattern
		// A trailing wildcard "{path...}" is "{path}" in a path template,
		// and the end anchor "{$}" (the console's "/") is not in it.
		op, _ := obj(paths[strings.ReplaceAll(strings.TrimSuffix(r.Pattern, "{$}"), "...}", "}")])[strings.ToLower(r.Method)].(map[string]any)
		if op == nil {
			t.Errorf("%s is not in the document", where)
			continue
		}
		if r.Operation == nil || r.Operation.Summary == "" || len(r.Operation.Tags) == 0 {
			t.Errorf("%s: every server route needs a summary and a tag: %+v", where, r.Operation)
		}
		if op["summary"] != r.Operation.Summary {
			t.Errorf("%s: summary %v", where, op["summary"])
		}

		// Security: one alternative per backend, in order, named by the
		// scheme the backend describes, plus {} where the guards admit
		// anonymous callers; none without backends.
		var want []string
		for _, b := range r.Auth {
			want = append(want, b.(auth.Describer).Scheme().Name)
		}
		if len(want) > 0 && r.Public {
			want = append(want, "")
		}
		var got []string
		sec, _ := op["security"].([]any)
		for _, req := range sec {
			names := keysOf(obj(req))
			if len(names) > 1 {
				t.Errorf("%s: a requirement with several schemes: %v", where, names)
			}
			got = append(got, strings.Join(names, ""))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: security %q, want %q", where, got, want)
		}

		responses := obj(op["responses"])
		for status := range r.Problems {
			res := obj(responses[strconv.Itoa(status)])
			if obj(obj(res["content"])[openapi.ProblemContentType]) == nil {
				t.Errorf("%s: the pipeline answers %d, the document has no problem for it: %v", where, status, res)
			}
		}
		if obj(responses["default"]) == nil {
			t.Errorf("%s: no default response", where)
		}
		success := false
		for code := range responses {
			// 101: a WebSocket route succeeds by switching protocols.
			success = success || strings.HasPrefix(code, "2") || code == "101"
		}
		if !success {
			t.Errorf("%s: no success response", where)
		}
		guards, _ := op["x-warden-guards"].([]any)
		if len(guards) != len(r.Guards) {
			t.Errorf("%s: guards %v, want %v", where, guards, r.Guards)
		}
	}

	// Spot checks of what the table says, against API.md.
	me := obj(obj(paths["/api/auth/me"])["get"])
	if fmt.Sprint(me["security"]) != "[map[bearerAuth:[]] map[cookieAuth:[]] map[apiKeyAuth:[]]]" {
		t.Errorf("/api/auth/me accepts a bearer token, the session cookie or an API key: %v", me["security"])
	}
	if s := obj(obj(obj(doc["components"])["securitySchemes"])["cookieAuth"]); s["in"] != "cookie" || s["name"] != "__Host-warden_session" {
		t.Errorf("the session cookie's scheme: %v", s)
	}
	login := obj(obj(paths["/api/auth/login"])["post"])
	for _, code := range []string{"200", "400", "401", "403", "413", "429", "503"} {
		if obj(login["responses"])[code] == nil {
			t.Errorf("login lacks %s", code)
		}
	}
	if login["security"] != nil {
		t.Errorf("login needs no credential: %v", login["security"])
	}
	perm := obj(obj(paths["/api/demo/permission"])["get"])
	if fmt.Sprint(perm["x-warden-guards"]) != "[HasPermission("+app.DemoPermission+")]" || obj(perm["responses"])["403"] == nil {
		t.Errorf("permission route: guards %v", perm["x-warden-guards"])
	}
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

// TestDocsPageServesOnlyItsOwnAssets: the page runs under its own CSP,
// exactly one policy, and links only its own script, style and document;
// the rest of the API keeps the router's strict policy.
func TestDocsPageServesOnlyItsOwnAssets(t *testing.T) {
	base, _ := start(t, nil)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get(app.DocsPath)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != openapi.PageCSP {
		t.Errorf("page CSP %q, want exactly %q", csp, openapi.PageCSP)
	}
	refs := regexp.MustCompile(`(?:src|href|data-spec)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page links %d things", len(refs))
	}
	for _, m := range refs {
		u := m[1]
		if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
			t.Errorf("the page links %q, not a path of this origin", u)
			continue
		}
		resp, body := get(u)
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("%s: %d", u, resp.StatusCode)
		}
	}
	for _, path := range []string{app.OpenAPIPath, "/api/demo/public", "/healthz"} {
		resp, _ := get(path)
		if csp := resp.Header.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != secure.DefaultCSP {
			t.Errorf("%s: CSP %q, want the router's", path, csp)
		}
	}
}

// answerChecker sends requests to a running server and checks each
// answer against the served document: the status is documented for the
// operation (or falls to its default response where allowed), the
// Content-Type is the documented one, and the body conforms to the
// schema, with no member the schema does not name. It is how the named
// types of the Doc options are kept honest about handlers that answer
// anonymous structs.
type answerChecker struct {
	t    *testing.T
	base string
	doc  map[string]any
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (c *answerChecker) send(method, template, path string, headers map[string]string, body string) answer {
	c.t.Helper()
	return c.sendAllowingDefault(false, method, template, path, headers, body)
}

func (c *answerChecker) sendAllowingDefault(allowDefault bool, method, template, path string, headers map[string]string, body string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	where := fmt.Sprintf("%s %s -> %d", method, path, resp.StatusCode)

	item := obj(obj(c.doc["paths"])[template])
	op := obj(item[strings.ToLower(method)])
	if op == nil && allowDefault {
		for _, other := range item { // a method the path lacks: its 405 is any operation's default
			op = obj(other)
		}
	}
	if op == nil {
		c.t.Fatalf("%s: %s %s is not documented", where, method, template)
	}
	responses := obj(op["responses"])
	res := obj(responses[strconv.Itoa(resp.StatusCode)])
	if res == nil {
		if !allowDefault {
			c.t.Errorf("%s: status not documented (documented: %v)", where, keysOf(responses))
		}
		res = obj(responses["default"])
	}
	content := obj(res["content"])
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var out answer
	out.status, out.header = resp.StatusCode, resp.Header
	if len(content) == 0 {
		if len(raw) != 0 {
			c.t.Errorf("%s: documented without a body, answered %q", where, raw)
		}
		return out
	}
	var media map[string]any
	for key, m := range content {
		if k, _, _ := mime.ParseMediaType(key); k == ct {
			media = obj(m)
		}
	}
	if media == nil {
		c.t.Errorf("%s: Content-Type %q, documented %v", where, ct, keysOf(content))
		return out
	}
	var value any
	if strings.HasSuffix(ct, "json") {
		if err := json.Unmarshal(raw, &value); err != nil {
			c.t.Errorf("%s: body is not JSON: %v", where, err)
			return out
		}
	} else {
		value = string(raw)
	}
	for _, p := range c.conform(media["schema"], value, "body") {
		c.t.Errorf("%s: %s", where, p)
	}
	out.body, _ = value.(map[string]any)
	return out
}

// conform checks value against the JSON Schema keywords the generator
// writes; an object member the schema does not name is a mismatch.
func (c *answerChecker) conform(schema, value any, at string) []string {
	s := obj(schema)
	if s == nil {
		return nil
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return c.conform(obj(obj(c.doc["components"])["schemas"])[name], value, at)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var all []string
		for _, alt := range alts {
			problems := c.conform(alt, value, at)
			if len(problems) == 0 {
				return nil
			}
			all = append(all, problems...)
		}
		return append([]string{at + ": matches no alternative"}, all...)
	}
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	if len(types) > 0 && !slices.Contains(types, kindOf(value)) && !(kindOf(value) == "integer" && slices.Contains(types, "number")) {
		return []string{fmt.Sprintf("%s: %s, documented %v", at, kindOf(value), types)}
	}
	var problems []string
	switch v := value.(type) {
	case string:
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				problems = append(problems, at+": not a date-time: "+v)
			}
		}
	case []any:
		for i, item := range v {
			problems = append(problems, c.conform(s["items"], item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case map[string]any:
		props := obj(s["properties"])
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := v[r.(string)]; !ok {
				problems = append(problems, fmt.Sprintf("%s: required member %q is missing", at, r))
			}
		}
		for name, member := range v {
			if p, ok := props[name]; ok {
				problems = append(problems, c.conform(p, member, at+"."+name)...)
			} else if extra := s["additionalProperties"]; extra != nil {
				problems = append(problems, c.conform(extra, member, at+"."+name)...)
			} else if s["type"] == "object" {
				problems = append(problems, fmt.Sprintf("%s: member %q is not documented", at, name))
			}
		}
	}
	return problems
}

func kindOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// TestOpenAPIDescribesWhatTheServerAnswers walks every route of the
// server through its documented answers and the pipeline's problems, and
// checks each real answer against the served document.
func TestOpenAPIDescribesWhatTheServerAnswers(t *testing.T) {
	base, a := start(t, map[string]string{"WARDEN_AUTH_RATE_PER_MINUTE": "1000"})
	_, doc := fetchDocument(t, base)
	c := &answerChecker{t: t, base: base, doc: doc}
	key := map[string]string{"X-API-Key": apiKey}
	must := func(got answer, want int) answer {
		t.Helper()
		if got.status != want {
			t.Fatalf("status %d, want %d: %v", got.status, want, got.body)
		}
		return got
	}

	// Operations and documentation.
	must(c.send("GET", "/healthz", "/healthz", nil, ""), 200)
	must(c.send("GET", "/readyz", "/readyz", nil, ""), 200)
	must(c.send("GET", app.OpenAPIPath, app.OpenAPIPath, nil, ""), 200)
	must(c.send("GET", app.DocsPath, app.DocsPath, nil, ""), 200)
	must(c.send("GET", app.DocsPath+"/app.js", app.DocsPath+"/app.js", nil, ""), 200)
	must(c.send("GET", app.DocsPath+"/app.css", app.DocsPath+"/app.css", nil, ""), 200)
	// What no route chooses falls to the default problem response.
	must(c.sendAllowingDefault(true, "GET", "/api/auth/login", "/api/auth/login", nil, ""), 405)
	must(c.sendAllowingDefault(true, "POST", "/api/auth/login", "/api/auth/login", map[string]string{"Content-Type": "text/plain"}, "x"), 415)

	// Demo routes.
	must(c.send("GET", "/api/demo/public", "/api/demo/public", nil, ""), 200)
	must(c.send("POST", "/api/demo/echo", "/api/demo/echo", nil, `{"a":[1,"b"]}`), 200)
	must(c.send("POST", "/api/demo/echo", "/api/demo/echo", nil, `{"a":`), 400)
	must(c.send("POST", "/api/demo/echo", "/api/demo/echo", nil, `"`+strings.Repeat("x", 2000)+`"`), 413)
	for range 5 {
		must(c.send("GET", "/api/demo/limited", "/api/demo/limited", nil, ""), 200)
	}
	limited := c.send("GET", "/api/demo/limited", "/api/demo/limited", nil, "")
	if limited.status != 429 || limited.header.Get("Retry-After") == "" {
		t.Errorf("limited: %d", limited.status)
	}
	must(c.send("GET", "/api/demo/jwt", "/api/demo/jwt", nil, ""), 401)
	must(c.send("GET", "/api/demo/jwt", "/api/demo/jwt", map[string]string{"Authorization": "Bearer not.a.token"}, ""), 401)
	must(c.send("GET", "/api/demo/apikey", "/api/demo/apikey", key, ""), 200)
	must(c.send("GET", "/api/demo/permission", "/api/demo/permission", key, ""), 200)
	must(c.send("GET", "/api/demo/admin", "/api/demo/admin", key, ""), 403)

	// Accounts, end to end.
	must(c.send("POST", "/api/auth/register", "/api/auth/register", nil,
		`{"username":"dora","email":"dora@example.com","password":"`+pw+`"}`), 201)
	must(c.send("POST", "/api/auth/register", "/api/auth/register", nil, `{"username":"x","email":"nope","password":"1"}`), 400)
	must(c.send("POST", "/api/auth/resend-verification", "/api/auth/resend-verification", nil, `{"email":"dora@example.com"}`), 200)
	must(c.send("POST", "/api/auth/verify-email", "/api/auth/verify-email", nil, `{"token":"not-a-token"}`), 400)
	must(c.send("POST", "/api/auth/password-reset", "/api/auth/password-reset", nil, `{"email":"nobody@example.com"}`), 200)
	must(c.send("POST", "/api/auth/password-reset/confirm", "/api/auth/password-reset/confirm", nil, `{"token":"not-a-token","password":"`+pw+`"}`), 400)

	if _, err := a.Accounts().CreateUser(t.Context(), accounts.RegisterInput{Username: "eve", Email: "eve@example.com", Password: pw}, accounts.CreateOptions{Verified: true}); err != nil {
		t.Fatal(err)
	}
	must(c.send("POST", "/api/auth/login", "/api/auth/login", nil, `{"username":"eve","password":"wrong password here"}`), 401)
	login := must(c.send("POST", "/api/auth/login", "/api/auth/login", nil, `{"username":"eve","password":"`+pw+`"}`), 200)
	bearer := map[string]string{"Authorization": "Bearer " + login.body["access"].(string)}
	must(c.send("GET", "/api/demo/jwt", "/api/demo/jwt", bearer, ""), 200)
	must(c.send("GET", "/api/demo/permission", "/api/demo/permission", bearer, ""), 403)
	must(c.send("GET", "/api/auth/me", "/api/auth/me", bearer, ""), 200)
	must(c.send("GET", "/api/auth/me", "/api/auth/me", key, ""), 200)
	must(c.send("GET", "/api/auth/me", "/api/auth/me", nil, ""), 401)

	// The avatar upload and the media route, with a file made here.
	avatarForm := func(data []byte) (map[string]string, string) {
		var b strings.Builder
		mw := multipart.NewWriter(&b)
		part, _ := mw.CreateFormFile("avatar", "me.png")
		part.Write(data)
		mw.Close()
		return map[string]string{"Authorization": bearer["Authorization"], "Content-Type": mw.FormDataContentType()}, b.String()
	}
	var pic bytes.Buffer
	png.Encode(&pic, image.NewGray(image.Rect(0, 0, 4, 4)))
	hdr, form := avatarForm(pic.Bytes())
	avatar := must(c.send("PATCH", "/api/users/me/avatar", "/api/users/me/avatar", hdr, form), 200)
	hdr, form = avatarForm([]byte("GIF89a"))
	must(c.send("PATCH", "/api/users/me/avatar", "/api/users/me/avatar", hdr, form), 400)
	must(c.send("PATCH", "/api/users/me/avatar", "/api/users/me/avatar", nil, `{}`), 415)
	must(c.send("GET", "/media/{path}", avatar.body["avatar_url"].(string), nil, ""), 200)
	must(c.send("GET", "/media/{path}", "/media/..%2Fx", nil, ""), 403)
	must(c.send("GET", "/media/{path}", "/media/nothing.png", nil, ""), 404)
	sessions := must(c.send("GET", "/api/auth/sessions", "/api/auth/sessions", bearer, ""), 200)
	must(c.send("POST", "/api/auth/refresh", "/api/auth/refresh", nil, `{"refresh":"`+login.body["refresh"].(string)+`"}`), 200)
	must(c.send("POST", "/api/auth/refresh", "/api/auth/refresh", nil, `{"refresh":"not-a-token"}`), 401)
	must(c.send("PATCH", "/api/auth/password", "/api/auth/password", bearer, `{"current_password":"wrong password here","new_password":"another long passphrase"}`), 400)
	must(c.send("PATCH", "/api/auth/password", "/api/auth/password", bearer, `{"current_password":"`+pw+`","new_password":"another long passphrase"}`), 200)
	must(c.send("DELETE", "/api/auth/sessions/{id}", "/api/auth/sessions/nope", bearer, ""), 404)

	second := must(c.send("POST", "/api/auth/login", "/api/auth/login", nil, `{"username":"eve","password":"another long passphrase"}`), 200)
	secondBearer := map[string]string{"Authorization": "Bearer " + second.body["access"].(string)}
	list := must(c.send("GET", "/api/auth/sessions", "/api/auth/sessions", secondBearer, ""), 200)
	var other string
	for _, s := range list.body["sessions"].([]any) {
		if obj(s)["current"] == false {
			other = obj(s)["id"].(string)
		}
	}
	if other == "" || len(sessions.body["sessions"].([]any)) == 0 {
		t.Fatalf("sessions: %v", list.body)
	}
	must(c.send("DELETE", "/api/auth/sessions/{id}", "/api/auth/sessions/"+other, secondBearer, ""), 204)
	must(c.send("POST", "/api/auth/logout", "/api/auth/logout", secondBearer, `{"refresh_token":"`+second.body["refresh"].(string)+`"}`), 200)

	third := must(c.send("POST", "/api/auth/login", "/api/auth/login", nil, `{"username":"eve","password":"another long passphrase"}`), 200)
	thirdBearer := map[string]string{"Authorization": "Bearer " + third.body["access"].(string)}
	must(c.send("POST", "/api/auth/logout-all", "/api/auth/logout-all", thirdBearer, ""), 200)
	must(c.send("GET", "/api/auth/me", "/api/auth/me", thirdBearer, ""), 401)

	own, err := a.Signer().Sign("frank", nil)
	if err != nil {
		t.Fatal(err)
	}
	must(c.send("POST", "/api/demo/logout", "/api/demo/logout", map[string]string{"Authorization": "Bearer " + own.Raw}, ""), 200)
}
