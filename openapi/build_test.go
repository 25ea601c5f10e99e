package openapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/openapi"
	"github.com/wardenhq/warden/openapi/openapitest"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

var secret = []byte("openapi-test-secret-of-at-least-32-bytes")

type bookInput struct {
	Title  string  `json:"title"`
	Author string  `json:"author"`
	ISBN   *string `json:"isbn,omitempty"`
}

type book struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	AddedAt   time.Time `json:"added_at"`
	AddedBy   *string   `json:"added_by"`
	Reviewers []string  `json:"reviewers"`
}

type page struct {
	Count   int     `json:"count"`
	Results []book  `json:"results"`
	Next    *string `json:"next"`
}

type coverUpload struct {
	Cover   []byte `json:"cover"`
	Caption string `json:"caption,omitempty"`
}

func nothing(http.ResponseWriter, *http.Request) {}

// library registers a small book API with every kind of option.
func library(t *testing.T) (*warden.Router, *openapi.Site) {
	t.Helper()
	r, err := warden.NewRouter(warden.Config{RequireDocs: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewAPIKeys(auth.APIKeysConfig{Keys: []auth.APIKey{{ID: "ci", Secret: "wdn_ci_0123456789abcdef0123456789abcdef"}}})
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := ratelimit.NewMemory(ratelimit.Policy{Name: "writes", Rate: 1, Burst: 5}, ratelimit.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	anyone := warden.Require(guard.AllowAny)
	site := openapi.Mount(r, "/openapi.json", "/docs", anyone)
	r.With(warden.Tags("books")).Group("/api/books", func(r *warden.Router) {
		r.Get("/", nothing, anyone, warden.Auth(jwt, keys), warden.Doc(warden.Operation{
			Summary: "List books",
			Query: []warden.Param{
				{Name: "page", Type: 0, Description: "1-based"},
				{Name: "order", Enum: []string{"title", "added_at"}},
			},
			Responses: map[int]any{200: page{}},
		}))
		r.Post("/", nothing, warden.Auth(jwt, keys), warden.Require(guard.HasPermission("books.add_book")),
			warden.Limit(limiter, ratelimit.ByUser()), warden.BodyLimit(2048), warden.Doc(warden.Operation{
				Summary: "Add a book", Request: bookInput{},
				Responses: map[int]any{201: book{}, 409: warden.Problem("The ISBN is already listed.")},
			}))
		r.Get("/{id}", nothing, anyone, warden.Doc(warden.Operation{
			Summary: "One book", Responses: map[int]any{200: &book{}},
		}))
		r.Put("/{id}/cover", nothing, warden.Auth(jwt), warden.Require(guard.IsAuthenticated), warden.Multipart(secure.MultipartLimits{MaxPartBytes: 1 << 16}),
			warden.Doc(warden.Operation{Summary: "Upload a cover", Request: coverUpload{}, Responses: map[int]any{204: nil}}))
		r.Delete("/{id}", nothing, warden.Auth(jwt), warden.Require(guard.IsAuthenticated), warden.Doc(warden.Operation{
			Summary: "Delete a book", Path: []warden.Param{{Name: "id", Description: "The book's id."}},
			Responses: map[int]any{204: nil},
		}))
	})
	return r, site
}

func build(t *testing.T, r *warden.Router) []byte {
	t.Helper()
	doc, err := openapi.Build(openapi.Info{Title: "Books", Version: "1.0.0"}, r.Routes())
	if err != nil {
		t.Fatal(err)
	}
	b, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parse validates b (libopenapi's model, every schema, and the rules it
// does not enforce) and returns the model.
func parse(t *testing.T, b []byte) *v3.Document {
	t.Helper()
	return openapitest.Validate(t, b)
}

func TestLibraryDocumentIsValidOpenAPI31(t *testing.T) {
	r, _ := library(t)
	b := build(t, r)
	m := parse(t, b)
	if again := build(t, r); string(again) != string(b) {
		t.Error("two builds of one route table differ")
	}

	list := m.Paths.PathItems.GetOrZero("/api/books").Get
	if list == nil || list.Summary != "List books" || list.Tags[0] != "books" {
		t.Fatalf("GET /api/books: %+v", list)
	}
	// Optional credential: either scheme, or none.
	if len(list.Security) != 3 || !list.Security[2].ContainsEmptyRequirement {
		t.Errorf("list security: %d requirements", len(list.Security))
	}
	if len(list.Parameters) != 2 || list.Parameters[0].Schema.Schema().Type[0] != "integer" || len(list.Parameters[1].Schema.Schema().Enum) != 2 {
		t.Errorf("query parameters: %+v", list.Parameters)
	}

	add := m.Paths.PathItems.GetOrZero("/api/books").Post
	wantResponses(t, "POST /api/books", add, "201", "400", "401", "403", "409", "413", "429", "503")
	if add.RequestBody == nil || !*add.RequestBody.Required {
		t.Error("POST /api/books: no required body")
	}
	if _, ok := add.Responses.Codes.GetOrZero("429").Headers.Get("Retry-After"); !ok {
		t.Error("429 without Retry-After")
	}
	if _, ok := add.Responses.Codes.GetOrZero("401").Headers.Get("WWW-Authenticate"); !ok {
		t.Error("401 without WWW-Authenticate")
	}
	if len(add.Security) != 2 {
		t.Fatalf("add security: %d requirements, want bearer or API key", len(add.Security))
	}
	for i, name := range []string{"bearerAuth", "apiKeyAuth"} {
		if _, ok := add.Security[i].Requirements.Get(name); !ok || add.Security[i].Requirements.Len() != 1 {
			t.Errorf("add security %d: want %s alone", i, name)
		}
	}
	if guards := extension(t, add, "x-warden-guards"); guards != `["HasPermission(books.add_book)"]` {
		t.Errorf("guards %s", guards)
	}

	one := m.Paths.PathItems.GetOrZero("/api/books/{id}")
	if one.Get.Security != nil {
		t.Error("a route without Auth has security requirements")
	}
	wantResponses(t, "GET /api/books/{id}", one.Get, "200", "404")
	wantResponses(t, "DELETE /api/books/{id}", one.Delete, "204", "401", "404", "503")
	if p := one.Delete.Parameters[0]; p.Name != "id" || p.In != "path" || !*p.Required || p.Description != "The book's id." {
		t.Errorf("path parameter: %+v", p)
	}

	cover := m.Paths.PathItems.GetOrZero("/api/books/{id}/cover").Put
	wantResponses(t, "PUT /api/books/{id}/cover", cover, "204", "400", "401", "404", "413", "415", "503")
	if media, ok := cover.RequestBody.Content.Get("multipart/form-data"); !ok || cover.RequestBody.Content.Len() != 1 {
		t.Error("the multipart route's body is not multipart/form-data")
	} else if file := media.Schema.Schema().Properties.GetOrZero("cover").Schema(); file.ContentMediaType != "application/octet-stream" || file.ContentEncoding != "" {
		t.Errorf("a []byte part is a file: %+v", file)
	}
	if d := cover.Responses.Codes.GetOrZero("413").Description; !strings.Contains(d, "65536") {
		t.Errorf("413 does not name the part cap: %q", d)
	}

	// The documentation routes document themselves.
	for _, path := range []string{"/openapi.json", "/docs", "/docs/app.js", "/docs/app.css"} {
		if item := m.Paths.PathItems.GetOrZero(path); item == nil || item.Get == nil {
			t.Errorf("%s is not documented", path)
		}
	}
	schemes := m.Components.SecuritySchemes
	if b := schemes.GetOrZero("bearerAuth"); b == nil || b.Type != "http" || b.Scheme != "bearer" || b.BearerFormat != "JWT" {
		t.Errorf("bearer scheme: %+v", b)
	}
	if k := schemes.GetOrZero("apiKeyAuth"); k == nil || k.Type != "apiKey" || k.In != "header" || k.Name != "X-API-Key" {
		t.Errorf("API key scheme: %+v", k)
	}
}

func wantResponses(t *testing.T, what string, op *v3.Operation, codes ...string) {
	t.Helper()
	if op == nil {
		t.Fatalf("%s: not documented", what)
	}
	var got []string
	for code := range op.Responses.Codes.KeysFromOldest() {
		got = append(got, code)
	}
	if strings.Join(got, ",") != strings.Join(codes, ",") {
		t.Errorf("%s: responses %v, want %v", what, got, codes)
	}
	if op.Responses.Default == nil {
		t.Errorf("%s: no default response", what)
	}
	for code, res := range op.Responses.Codes.FromOldest() {
		if code[0] == '4' || code[0] == '5' {
			if _, ok := res.Content.Get(openapi.ProblemContentType); !ok {
				t.Errorf("%s %s: not a problem document", what, code)
			}
		}
	}
}

func extension(t *testing.T, op *v3.Operation, name string) string {
	t.Helper()
	node, ok := op.Extensions.Get(name)
	if !ok {
		return ""
	}
	var v any
	if err := node.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(w.Result().Body)
	return w.Result(), string(body)
}

// TestSiteServesThePublishedDocumentAndItsPage: 503 until Publish, then
// the same bytes on every request; the page and its assets come from
// the embedded files under their own CSP, and load nothing else.
func TestSiteServesThePublishedDocumentAndItsPage(t *testing.T) {
	r, site := library(t)
	if res, _ := get(t, r, "/openapi.json"); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("before Publish: %d", res.StatusCode)
	}
	if err := site.Publish(openapi.Info{Title: "Books", Version: "1"}, r.Routes()); err != nil {
		t.Fatal(err)
	}
	res, first := get(t, r, "/openapi.json")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("document: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if _, again := get(t, r, "/openapi.json/"); again != first {
		t.Error("the document changes between requests")
	}
	parse(t, []byte(first))

	res, page := get(t, r, "/docs")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != openapi.PageCSP {
		t.Errorf("page CSP %q, want exactly %q", csp, openapi.PageCSP)
	}
	for _, want := range []string{`<script src="/docs/app.js" defer></script>`, `<link rel="stylesheet" href="/docs/app.css">`, `data-spec="/openapi.json"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Nothing inline (the CSP would block it anyway) and no other origin.
	if regexp.MustCompile(`<script(?:\s+[^>]*)?>[^<]+</script>|<style|\sstyle=|\son[a-z]+=`).MatchString(page) {
		t.Error("the page has inline script, style or event handlers")
	}
	for path, ct := range map[string]string{"/docs/app.js": "text/javascript; charset=utf-8", "/docs/app.css": "text/css; charset=utf-8"} {
		res, body := get(t, r, path)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ct || len(body) < 100 {
			t.Errorf("%s: %d %s, %d bytes", path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") || htmlFromStrings.MatchString(body) {
			t.Errorf("%s refers to another origin or writes HTML from strings", path)
		}
		if csp := res.Header.Values("Content-Security-Policy"); len(csp) != 1 {
			t.Errorf("%s: %d CSP headers", path, len(csp))
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page refers to another origin")
	}
}

// htmlFromStrings finds the ways a script turns strings into markup.
var htmlFromStrings = regexp.MustCompile(`\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|eval\(|new Function`)

// TestMountUnderAPrefixLinksTheRightPaths: the page links its assets and
// the document by their full paths.
func TestMountUnderAPrefixLinksTheRightPaths(t *testing.T) {
	r, err := warden.NewRouter(warden.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r.Group("/v2", func(r *warden.Router) {
		openapi.Mount(r, "/openapi.json", "/docs", warden.Require(guard.AllowAny))
	})
	_, page := get(t, r, "/v2/docs")
	for _, want := range []string{`src="/v2/docs/app.js"`, `href="/v2/docs/app.css"`, `data-spec="/v2/openapi.json"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

type opaque struct{}

func (opaque) Authenticate(*http.Request) (*auth.Identity, error) { return nil, nil }
func (opaque) Challenge() string                                  { return auth.Challenge }

type otherBearer struct{ opaque }

func (otherBearer) Scheme() auth.Scheme {
	return auth.Scheme{Name: "bearerAuth", Type: "apiKey", In: "header", ParamName: "X-Token"}
}

// TestBuildRefusesWhatItCannotDescribeTruly: rather than a document that
// shows a protected route as public, or two operations as one, an error.
func TestBuildRefusesWhatItCannotDescribeTruly(t *testing.T) {
	jwt, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	anyone := warden.Require(guard.AllowAny)
	info := openapi.Info{Title: "T", Version: "1"}
	for name, c := range map[string]struct {
		register func(r *warden.Router)
		want     string
	}{
		"opaque backend": {func(r *warden.Router) {
			r.Get("/a", nothing, anyone, warden.Auth(opaque{}))
		}, "cannot describe its credential"},
		"one name, two credentials": {func(r *warden.Router) {
			r.Get("/a", nothing, anyone, warden.Auth(jwt))
			r.Get("/b", nothing, anyone, warden.Auth(otherBearer{}))
		}, `different credentials "bearerAuth"`},
		"duplicate operationId": {func(r *warden.Router) {
			r.Get("/a", nothing, anyone, warden.Doc(warden.Operation{ID: "same"}))
			r.Get("/b", nothing, anyone, warden.Doc(warden.Operation{ID: "same"}))
		}, `operationId "same"`},
		"unknown method": {func(r *warden.Router) {
			r.Handle("PURGE", "/a", http.HandlerFunc(nothing), anyone)
		}, "cannot describe method PURGE"},
		"unencodable type": {func(r *warden.Router) {
			r.Get("/a", nothing, anyone, warden.Doc(warden.Operation{Responses: map[int]any{200: struct{ C chan int }{}}}))
		}, "cannot be encoded as JSON"},
	} {
		r, err := warden.NewRouter(warden.Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		c.register(r)
		if _, err := openapi.Build(info, r.Routes()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, c.want)
		}
	}
	if _, err := openapi.Build(openapi.Info{}, nil); err == nil {
		t.Error("no error without a title and version")
	}
}

// TestUndocumentedRoutesAreStillListed: without RequireDocs a route
// without Doc still appears, with its security and problems, and marked.
func TestUndocumentedRoutesAreStillListed(t *testing.T) {
	jwt, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := warden.NewRouter(warden.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r.Get("/files/{path...}", nothing, warden.Auth(jwt), warden.Require(guard.IsStaff))
	m := parse(t, build(t, r))
	op := m.Paths.PathItems.GetOrZero("/files/{path}").Get
	wantResponses(t, "GET /files/{path}", op, "401", "403", "404", "503")
	if extension(t, op, "x-warden-undocumented") != "true" || len(op.Security) != 1 {
		t.Errorf("undocumented route: %+v", op)
	}
}
