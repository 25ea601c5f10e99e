// Package console serves Warden's web console, the book club for people,
// from files embedded in the binary: the page (dist/index.html) at each of
// the console's own paths, and its assets at /assets/<name>.
//
// The console's source is web/src; dist is what package bundle builds
// from it (web/build.sh), committed so that the binary needs nothing else
// at build or run time. A test rebuilds it and fails when dist is stale.
//
// Contract:
//   - Pages: GET on every path of Pages answers the same page,
//     text/html; charset=utf-8, under CSP (own script, style, images and
//     connections only; no inline code; Trusted Types for the one place
//     that parses markup; no framing, no <base>, forms post only here),
//     Referrer-Policy: no-referrer (the /verify-email and
//     /reset-password links carry a token until the page removes it) and
//     Cache-Control: no-cache with an ETag, so a new release is seen at the
//     next visit at the cost of a 304.
//   - Assets: GET AssetPrefix+name answers an asset built into dist, with
//     its content type, an ETag and a year's immutable caching: names
//     carry a hash of the content, so a changed file has a new name. Any
//     other name is a 404 problem document. Assets keep the router's own
//     CSP, which allows nothing: an SVG opened on its own runs no script.
//   - The page is the same document at every path: the console's router
//     (web/src/router.js) reads the path in the browser. Paths not listed
//     are not the console's and keep the router's 404.
//   - The console authenticates with the session cookie only (browser
//     mode, API.md): it never holds a token in storage that script can
//     read.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/internal/console/bundle"
	"github.com/wardenhq/warden/problem"
)

// CSP is the Content-Security-Policy of the console's pages. 'self' in
// connect-src covers the same-origin WebSocket (ws: and wss:) in CSP
// Level 3 browsers. require-trusted-types-for and trusted-types make the
// one policy web/src/richtext.js creates the only way from a string to
// markup; browsers without Trusted Types ignore both.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
	"require-trusted-types-for 'script'; trusted-types console"

// AssetPrefix is the path under which the assets are served.
const AssetPrefix = "/" + bundle.AssetDir + "/"

// Pages are the console's own paths (as router patterns), each served
// the page; they are the paths of the views web/src/main.js registers.
var Pages = []string{
	"/",
	"/login",
	"/register",
	"/verify-email",
	"/reset-password",
	"/books",
	"/books/{id}",
	"/users",
	"/users/{username}",
	"/account",
	"/chat",
	"/chat/{id}",
}

// immutable is the caching of hashed assets: a year, never revalidated.
const immutable = "public, max-age=31536000, immutable"

//go:embed dist
var dist embed.FS

// contentTypes maps the extensions bundle.Build takes to their types.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

func newFile(body []byte, contentType string) file {
	sum := sha256.Sum256(body)
	return file{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// serve answers with f, honouring If-None-Match (304) and HEAD.
func (f file) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// load reads the embedded build.
func load() (page file, assets map[string]file, err error) {
	b, err := dist.ReadFile("dist/" + bundle.Index)
	if err != nil {
		return file{}, nil, fmt.Errorf("console: the build has no page: %w", err)
	}
	page = newFile(b, "text/html; charset=utf-8")
	assets = make(map[string]file)
	entries, err := fs.ReadDir(dist, "dist/"+bundle.AssetDir)
	if err != nil {
		return file{}, nil, fmt.Errorf("console: the build has no assets: %w", err)
	}
	for _, e := range entries {
		ct, ok := contentTypes[path.Ext(e.Name())]
		if !ok || e.IsDir() {
			return file{}, nil, fmt.Errorf("console: unexpected file %s in the build", e.Name())
		}
		b, err := dist.ReadFile("dist/" + bundle.AssetDir + "/" + e.Name())
		if err != nil {
			return file{}, nil, err
		}
		assets[e.Name()] = newFile(b, ct)
	}
	return page, assets, nil
}

// Mount registers the console on r: GET on each of Pages and on
// AssetPrefix+"{name}", with opts (which must include the guard, as for
// any route; the console's own routes are public, and exempting them from
// the router-wide throttle is the caller's choice). It fails only when
// the embedded build is broken.
func Mount(r *warden.Router, opts ...warden.Option) error {
	page, assets, err := load()
	if err != nil {
		return err
	}
	tags := []string{"console"}
	servePage := func(w http.ResponseWriter, r *http.Request) {
		// The router sends no-referrer already; the page says it itself
		// as well, because /verify-email and /reset-password are opened
		// with a token in their address.
		w.Header().Set("Referrer-Policy", "no-referrer")
		page.serve(w, r, "no-cache")
	}
	for _, p := range Pages {
		pattern := p
		if p == "/" {
			pattern = "/{$}" // the root alone, not every path
		}
		doc := warden.Doc(warden.Operation{
			ID:      pageOperationID(p),
			Summary: "Web console page " + p,
			Tags:    tags,
			Description: "The web console (HTML). The same page at every console path; its script shows the view of the path. " +
				"Served under its own Content-Security-Policy, with Referrer-Policy: no-referrer and Cache-Control: no-cache.",
			Responses: map[int]any{
				200: warden.Response{Description: "The page.", Body: "", ContentType: "text/html; charset=utf-8"},
				304: warden.Response{Description: "Not modified since the ETag sent in If-None-Match."},
			},
		})
		// CSP last: opts cannot loosen the page's policy.
		r.Get(pattern, servePage, append(append([]warden.Option{doc}, opts...), warden.CSP(CSP))...)
	}
	serveAsset := func(w http.ResponseWriter, r *http.Request) {
		f, ok := assets[r.PathValue("name")]
		if !ok {
			problem.Write(w, http.StatusNotFound, "No console asset has this name.")
			return
		}
		f.serve(w, r, immutable)
	}
	doc := warden.Doc(warden.Operation{
		ID: "getConsoleAsset", Summary: "A web console asset", Tags: tags,
		Description: "A script, style sheet or image of the web console. Names carry a hash of the content: cached for a year, never revalidated.",
		Path:        []warden.Param{{Name: "name", Description: "The asset's name, as the page links it."}},
		Responses: map[int]any{
			200: warden.Response{Description: "The asset (text/javascript, text/css or image/svg+xml).", Body: "", ContentType: "text/javascript; charset=utf-8"},
			304: warden.Response{Description: "Not modified since the ETag sent in If-None-Match."},
			404: warden.Problem("No console asset has this name."),
		},
	})
	r.Get(AssetPrefix+"{name}", serveAsset, append([]warden.Option{doc}, opts...)...)
	return nil
}

// pageOperationID names a page's operation: getConsoleHome for "/",
// getConsoleBooksId for "/books/{id}".
func pageOperationID(p string) string {
	var b strings.Builder
	b.WriteString("getConsole")
	for _, seg := range strings.FieldsFunc(p, func(c rune) bool { return c == '/' || c == '{' || c == '}' || c == '-' }) {
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	if p == "/" {
		b.WriteString("Home")
	}
	return b.String()
}
