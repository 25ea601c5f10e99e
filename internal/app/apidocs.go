package app

import (
	"encoding/json"
	"runtime/debug"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/openapi"
)

// The API description (API.md, Operations): GET /api/openapi.json is
// generated from the route table, never kept by hand, and GET /api/docs
// shows it. The router runs with Config.RequireDocs, so a route without a
// Doc option stops New; the Doc options of the routes in routes.go are
// below, next to the shapes they name, and those of /api/auth live in
// internal/accounts.

// Paths of the description and of its page.
const (
	OpenAPIPath = "/api/openapi.json"
	DocsPath    = "/api/docs"
)

// mountDocs registers the description and its page (public: the document
// says what a caller needs, nothing more) and builds the document from
// every route registered so far, these included. It runs after routes.
func (a *App) mountDocs() error {
	site := openapi.Mount(a.router, OpenAPIPath, DocsPath, warden.Require(guard.AllowAny))
	return site.Publish(apiInfo(), a.router.Routes())
}

// Routes returns the server's route table, for tests and tools that check
// it against the published description.
func (a *App) Routes() []warden.RouteInfo { return a.router.Routes() }

func apiInfo() openapi.Info {
	version := "development"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	return openapi.Info{
		Title:   "Warden",
		Version: version,
		Description: "Warden's HTTP API, generated from the server's route table. JSON in and out; " +
			"errors are RFC 9457 problem documents (application/problem+json). Paths are also served with one trailing slash. " +
			"Credentials go in headers, never in a URL; responses with tokens or personal data are sent with Cache-Control: no-store.",
		Tags: []openapi.Tag{
			{Name: "accounts", Description: "Registration, email verification, login with rotating refresh tokens, logout, password reset and change, sessions."},
			{Name: "books", Description: "The book club's catalogue: anyone reads it; adding needs the permission books.add_book; the adder or staff change and delete."},
			{Name: "demo", Description: "One route per pipeline option, to try with curl or from this page."},
			{Name: "operations", Description: "Health and readiness checks."},
			{Name: "media", Description: "Files Warden stored (avatars), served inert: never sniffed, never run."},
			{Name: "documentation", Description: "This description and its page."},
			{Name: "console", Description: "The web console: the book club for people, one page at each of its paths, and its assets."},
		},
	}
}

// Shapes of the answers of routes.go. Handlers answer them through maps
// or these very types; the test TestOpenAPIDescribesWhatTheServerAnswers
// checks real answers against the document.

type statusView struct {
	Status string `json:"status"`
}

type helloView struct {
	Message  string `json:"message"`
	ClientIP string `json:"client_ip"`
}

type echoView struct {
	Received any `json:"received"`
}

type messageView struct {
	Message string `json:"message"`
}

var (
	demoTags = []string{"demo"}
	opsTags  = []string{"operations"}
)

var (
	docHealthz = warden.Doc(warden.Operation{
		Summary: "Liveness", Tags: opsTags,
		Description: "200 whenever the process serves.",
		Responses:   map[int]any{200: statusView{}},
	})
	docReadyz = warden.Doc(warden.Operation{
		Summary: "Readiness", Tags: opsTags,
		Description: "200 only when the database (and Redis, when configured) answer.",
		Responses: map[int]any{
			200: statusView{},
			503: warden.Problem("The database or Redis is not answering."),
		},
	})
	docMedia = warden.Doc(warden.Operation{
		Summary: "A stored file", Tags: []string{"media"},
		Description: "Serves a file Warden wrote under <data dir>/media/, such as the PNG an avatar_url names. " +
			"Only regular files are served: no listing; names leading outside the directory, through .. or a symlink, are refused. " +
			"The Content-Type comes from the extension's allow-list, never from sniffing; every answer carries " +
			"X-Content-Type-Options: nosniff and Content-Security-Policy: " + files.CSP + ". Conditional requests (ETag) and ranges are supported.",
		Path: []warden.Param{{Name: "path", Description: "The file's name, as an avatar_url gives it after /media/."}},
		Responses: map[int]any{
			200: warden.Response{Description: "The file.", Body: "", ContentType: "image/png"},
			304: warden.Response{Description: "Not modified since the ETag sent in If-None-Match."},
			403: warden.Problem("The name leads outside the media directory."),
			404: warden.Problem("No stored file has this name."),
		},
	})
	docDemoPublic = warden.Doc(warden.Operation{
		Summary: "A public route", Tags: demoTags,
		Description: "Anyone may call it; it answers the client IP as the router resolved it (forwarding headers believed only from trusted proxies).",
		Responses:   map[int]any{200: helloView{}},
	})
	docDemoLimited = warden.Doc(warden.Operation{
		Summary: "A rate-limited public route", Tags: demoTags,
		Description: "A burst of 5, then one request per second per client IP.",
		Responses:   map[int]any{200: helloView{}},
	})
	docDemoEcho = warden.Doc(warden.Operation{
		Summary: "Echo a small JSON body", Tags: demoTags,
		Description: "Answers the JSON value it was sent; the body limit of this route is 1 KiB.",
		Request:     json.RawMessage{},
		Responses:   map[int]any{200: echoView{}},
	})
	docDemoJWT = warden.Doc(warden.Operation{
		Summary: "Who am I, with an access token", Tags: demoTags,
		Responses: map[int]any{200: identityView{}},
	})
	docDemoAPIKey = warden.Doc(warden.Operation{
		Summary: "Who am I, with an API key", Tags: demoTags,
		Responses: map[int]any{200: identityView{}},
	})
	docDemoPermission = warden.Doc(warden.Operation{
		Summary: "A route that needs the permission " + DemoPermission, Tags: demoTags,
		Responses: map[int]any{200: identityView{}},
	})
	docDemoAdmin = warden.Doc(warden.Operation{
		Summary: "A route for admins", Tags: demoTags,
		Responses: map[int]any{200: identityView{}},
	})
	docDemoLogout = warden.Doc(warden.Operation{
		Summary: "Revoke the caller's access token", Tags: demoTags,
		Description: "The next request with the same token answers 401, on every route.",
		Responses: map[int]any{
			200: messageView{},
			503: warden.Problem("The revocation store is not answering; the token was not revoked."),
		},
	})
)
