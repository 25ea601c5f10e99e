package openapi

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/problem"
)

// PageCSP is the Content-Security-Policy of the documentation page: its
// own script, style and fetches, nothing else; no inline code, no other
// origin, no framing, no forms, no <base>.
const PageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed ui
var ui embed.FS

var pageTemplate = template.Must(template.ParseFS(ui, "ui/index.html"))

// Site serves a document and its documentation page. Mount registers the
// routes; Publish builds the document once every route is registered.
// Until then the routes answer 503. It is safe for concurrent use.
type Site struct {
	spec atomic.Pointer[[]byte]
	page []byte
}

// Mount registers on r, with opts (which must include the guard: who may
// read the documentation is the caller's decision):
//
//   - GET specPath: the OpenAPI document, application/json;
//   - GET pagePath: the documentation page, under PageCSP;
//   - GET pagePath+"/app.js" and pagePath+"/app.css": its assets.
//
// The paths are relative to r's prefix, as for any route. The page loads
// nothing but these; it keeps a token typed into it in page memory only.
func Mount(r *warden.Router, specPath, pagePath string, opts ...warden.Option) *Site {
	base := r.Prefix()
	var page bytes.Buffer
	err := pageTemplate.Execute(&page, map[string]string{
		"Spec": base + specPath, "Script": base + pagePath + "/app.js", "Style": base + pagePath + "/app.css",
	})
	if err != nil {
		panic("openapi: rendering the page: " + err.Error()) // the template is embedded: a build mistake
	}
	s := &Site{page: page.Bytes()}
	tags := []string{"documentation"}
	notReady := warden.Problem("The document is not built yet (Site.Publish has not run).")
	with := func(doc warden.Operation) []warden.Option {
		return append([]warden.Option{warden.Doc(doc)}, opts...)
	}
	r.Get(specPath, s.serveSpec, with(warden.Operation{
		ID: "getOpenAPIDocument", Summary: "OpenAPI 3.1 description of this API", Tags: tags,
		Description: "Generated from the route table when the server starts; never edited by hand.",
		Responses: map[int]any{
			200: warden.Response{Description: "An OpenAPI 3.1 document.", Body: map[string]any{}},
			503: notReady,
		},
	})...)
	r.Get(pagePath, s.servePage, append(with(warden.Operation{
		ID: "getDocumentationPage", Summary: "Interactive API documentation", Tags: tags,
		Description: "A page that lists the operations of the OpenAPI document and sends trial requests. It loads only its own script and style.",
		Responses: map[int]any{
			200: warden.Response{Description: "The page.", Body: "", ContentType: "text/html; charset=utf-8"},
		},
	}), warden.CSP(PageCSP))...)
	r.Get(pagePath+"/app.js", asset("ui/app.js", "text/javascript; charset=utf-8"), with(warden.Operation{
		ID: "getDocumentationScript", Summary: "Script of the documentation page", Tags: tags,
		Responses: map[int]any{200: warden.Response{Description: "The script.", Body: "", ContentType: "text/javascript; charset=utf-8"}},
	})...)
	r.Get(pagePath+"/app.css", asset("ui/app.css", "text/css; charset=utf-8"), with(warden.Operation{
		ID: "getDocumentationStyle", Summary: "Style sheet of the documentation page", Tags: tags,
		Responses: map[int]any{200: warden.Response{Description: "The style sheet.", Body: "", ContentType: "text/css; charset=utf-8"}},
	})...)
	return s
}

// Publish builds the document of routes (normally r.Routes(), called
// after the last registration) and serves it from now on. The encoding is
// made once: every request gets the same bytes.
func (s *Site) Publish(info Info, routes []warden.RouteInfo) error {
	doc, err := Build(info, routes)
	if err != nil {
		return err
	}
	b, err := doc.JSON()
	if err != nil {
		return err
	}
	s.spec.Store(&b)
	return nil
}

func (s *Site) serveSpec(w http.ResponseWriter, _ *http.Request) {
	b := s.spec.Load()
	if b == nil {
		problem.Write(w, http.StatusServiceUnavailable, "The API description is not ready yet.")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(*b)
}

func (s *Site) servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(s.page)
}

func asset(name, contentType string) http.HandlerFunc {
	b, err := ui.ReadFile(name)
	if err != nil || strings.TrimSpace(string(b)) == "" {
		panic("openapi: missing embedded asset " + name)
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(b)
	}
}
