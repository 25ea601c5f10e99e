package warden_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

func noContent(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

func newDocRouter(t *testing.T, cfg warden.Config) *warden.Router {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	r, err := warden.NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newJWT(t *testing.T) *auth.JWT {
	t.Helper()
	j, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		v := recover()
		if v == nil {
			t.Fatalf("no panic; want one mentioning %q", want)
		}
		if s, _ := v.(string); !strings.Contains(s, want) {
			t.Fatalf("panic %v; want one mentioning %q", v, want)
		}
	}()
	f()
}

type loginBody struct {
	Username string `json:"username"`
}

// TestRoutesReportWhatWasComposed: the table Routes returns is built from
// the same options as the pipeline, so it says what the route does.
func TestRoutesReportWhatWasComposed(t *testing.T) {
	r := newDocRouter(t, warden.Config{MaxBodyBytes: 4096})
	j := newJWT(t)
	l, err := ratelimit.NewMemory(ratelimit.Policy{Name: "books", Rate: 1, Burst: 2}, ratelimit.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.With(warden.Tags("books"), warden.NoStore()).Group("/api/books", func(r *warden.Router) {
		r.Get("/", noContent, public, warden.Doc(warden.Operation{Summary: "List", Tags: []string{"public", "books"}}))
		r.Post("/", noContent, warden.Auth(j), warden.Require(guard.HasPermission("books.add_book")), warden.Limit(l, nil),
			warden.Doc(warden.Operation{Summary: "Add", Request: loginBody{}}))
		r.Delete("/{id}", noContent, warden.Auth(j), warden.Require(guard.IsAuthenticated))
	})
	r.Get("/feed", noContent, warden.Auth(j), public, warden.BodyLimit(10))

	routes := r.Routes()
	if len(routes) != 4 {
		t.Fatalf("%d routes, want 4 (trailing-slash variants are not listed): %+v", len(routes), routes)
	}
	list, add, del, feed := routes[0], routes[1], routes[2], routes[3]

	if list.Method != "GET" || list.Pattern != "/api/books" || list.Operation.Summary != "List" {
		t.Errorf("list: %s %s %+v", list.Method, list.Pattern, list.Operation)
	}
	if !slices.Equal(list.Operation.Tags, []string{"books", "public"}) {
		t.Errorf("tags %v: group tags first, no repeats", list.Operation.Tags)
	}
	if !list.Public || !list.NoStore || len(list.Problems) != 0 || len(list.Auth) != 0 {
		t.Errorf("a public route without options answers no problem of its own: %+v", list)
	}

	if add.Pattern != "/api/books" || add.Public || !slices.Equal(add.Guards, []string{"HasPermission(books.add_book)"}) {
		t.Errorf("add: %+v", add)
	}
	if len(add.Limits) != 1 || add.Limits[0].Name != "books" || add.BodyLimit != 4096 {
		t.Errorf("add limits: %+v, body %d", add.Limits, add.BodyLimit)
	}
	wantStatuses(t, "add", add.Problems, 400, 401, 403, 413, 429, 503)
	if !strings.Contains(add.Problems[413], "4096 bytes") || !strings.Contains(add.Problems[403], "HasPermission(books.add_book)") {
		t.Errorf("add problems say too little: %v", add.Problems)
	}

	if del.Operation == nil || del.Operation.Summary != "" || !slices.Equal(del.Operation.Tags, []string{"books"}) {
		t.Errorf("a route with Tags but no Doc has an operation with the tags only: %+v", del.Operation)
	}
	// IsAuthenticated admits every identity: no 403. The path parameter: 404.
	wantStatuses(t, "delete", del.Problems, 401, 404, 503)

	// An optional credential: a refused one is 401, none is fine.
	if !feed.Public || feed.BodyLimit != 10 {
		t.Errorf("feed: %+v", feed)
	}
	wantStatuses(t, "feed", feed.Problems, 401, 503)
	if feed.Operation != nil {
		t.Errorf("a route without Doc or Tags has no operation: %+v", feed.Operation)
	}

	// Routes hands out copies.
	routes[0].Operation.Tags[0] = "changed"
	routes[1].Guards[0] = "changed"
	if again := r.Routes(); again[0].Operation.Tags[0] != "books" || again[1].Guards[0] == "changed" {
		t.Error("Routes shares its slices with the router")
	}
}

func wantStatuses(t *testing.T, what string, got map[int]string, want ...int) {
	t.Helper()
	var have []int
	for s := range got {
		have = append(have, s)
	}
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Errorf("%s: problem statuses %v, want %v (%v)", what, have, want, got)
	}
}

// TestMultipartRoutesAnswerMultipartProblems: a Multipart route answers
// 415, 400 and 413 of its own, naming the caps, and not the JSON ones.
func TestMultipartRoutesAnswerMultipartProblems(t *testing.T) {
	r := newDocRouter(t, warden.Config{})
	r.Patch("/avatar", noContent, public, warden.BodyLimit(6<<20),
		warden.Multipart(secure.MultipartLimits{MaxPartBytes: 5 << 20}),
		warden.Doc(warden.Operation{Request: struct {
			Avatar []byte `json:"avatar"`
		}{}}))
	ri := r.Routes()[0]
	if ri.Multipart == nil || ri.Multipart.MaxPartBytes != 5<<20 {
		t.Fatalf("Multipart: %+v", ri.Multipart)
	}
	wantStatuses(t, "avatar", ri.Problems, 400, 413, 415)
	if !strings.Contains(ri.Problems[413], "6291456 bytes") || !strings.Contains(ri.Problems[413], "5242880 bytes") || strings.Contains(ri.Problems[400], "JSON") {
		t.Errorf("problems: %v", ri.Problems)
	}
}

type silentBackend struct{}

func (silentBackend) Authenticate(*http.Request) (*auth.Identity, error) { return nil, nil }
func (silentBackend) Challenge() string                                  { return auth.Challenge }

// TestRequireDocs: with the switch on, a route is refused at registration
// without a description, or when its credential cannot be described;
// with it off (the default), both are accepted, as before.
func TestRequireDocs(t *testing.T) {
	doc := warden.Doc(warden.Operation{Summary: "x"})

	strict := newDocRouter(t, warden.Config{RequireDocs: true})
	mustPanic(t, "GET /nodoc has no description", func() { strict.Get("/nodoc", noContent, public) })
	mustPanic(t, "silentBackend cannot describe", func() {
		strict.Get("/opaque", noContent, public, doc, warden.Auth(silentBackend{}))
	})
	strict.Get("/documented", noContent, public, doc, warden.Auth(newJWT(t)))
	strict.With(doc).Get("/from-a-view", noContent, public)
	if n := len(strict.Routes()); n != 2 {
		t.Errorf("%d routes registered, want 2", n)
	}

	lax := newDocRouter(t, warden.Config{})
	lax.Get("/nodoc", noContent, public)
	lax.Get("/opaque", noContent, public, warden.Auth(silentBackend{}))
	if n := len(lax.Routes()); n != 2 {
		t.Errorf("%d routes registered, want 2", n)
	}
}

func TestDocThatContradictsTheRouteIsRefused(t *testing.T) {
	r := newDocRouter(t, warden.Config{})
	mustPanic(t, `path parameter "name"`, func() {
		r.Get("/users/{id}", noContent, public, warden.Doc(warden.Operation{Path: []warden.Param{{Name: "name"}}}))
	})
	mustPanic(t, "status 1000", func() {
		r.Get("/a", noContent, public, warden.Doc(warden.Operation{Responses: map[int]any{1000: nil}}))
	})
	mustPanic(t, "repeated query parameter", func() {
		r.Get("/b", noContent, public, warden.Doc(warden.Operation{Query: []warden.Param{{Name: "page"}, {Name: "page"}}}))
	})
	r.Get("/files/{path...}", noContent, public, warden.Doc(warden.Operation{Path: []warden.Param{{Name: "path"}}}))
}

// TestCSPOption: a route's policy replaces the router's, so a response
// carries exactly one, whatever part of the route's pipeline answers;
// other routes and unrouted answers keep the router's.
func TestCSPOption(t *testing.T) {
	const policy = "default-src 'none'; script-src 'self'"
	r := newDocRouter(t, warden.Config{})
	r.Get("/page", noContent, public, warden.CSP(policy))
	r.Get("/private-page", noContent, warden.Auth(newJWT(t)), warden.Require(guard.IsAuthenticated), warden.CSP(policy))
	r.Get("/api", noContent, public)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	for path, want := range map[string]string{
		"/page":         policy,
		"/page/":        policy,
		"/private-page": policy, // a 401 from the guard
		"/api":          secure.DefaultCSP,
		"/nowhere":      secure.DefaultCSP,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != want {
			t.Errorf("%s (%d): CSP %q, want exactly %q", path, resp.StatusCode, got, want)
		}
	}

	mustPanic(t, "printable ASCII", func() { warden.CSP("default-src 'none'\r\nSet-Cookie: a=b") })
	mustPanic(t, "needs a policy", func() { warden.CSP("") })
}

func TestPathParams(t *testing.T) {
	for path, want := range map[string][]string{
		"/a":                     nil,
		"/users/{name}":          {"name"},
		"/r/{id}/m/{user}":       {"id", "user"},
		"/files/{path...}":       {"path"},
		"/exact/{$}":             nil,
		"/odd/{x}suffix/{valid}": {"valid"},
	} {
		if got := warden.PathParams(path); !slices.Equal(got, want) {
			t.Errorf("PathParams(%q) = %v, want %v", path, got, want)
		}
	}
}
