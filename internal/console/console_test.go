package console_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/console"
	"github.com/wardenhq/warden/internal/console/bundle"
	"github.com/wardenhq/warden/secure"
)

// serve runs a router with the console mounted, as internal/app mounts
// it, plus one API route to show what the console does not answer.
func serve(t *testing.T) string {
	t.Helper()
	r, err := warden.NewRouter(warden.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequireDocs: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := console.Mount(r, warden.Require(guard.AllowAny), warden.Unthrottled()); err != nil {
		t.Fatal(err)
	}
	r.Get("/api/books", func(w http.ResponseWriter, _ *http.Request) { warden.WriteJSON(w, 200, map[string]int{"count": 0}) },
		warden.Require(guard.AllowAny), warden.Doc(warden.Operation{Summary: "books"}))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

func fetch(t *testing.T, method, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// examplePath fills a page pattern's wildcards.
func examplePath(p string) string {
	return regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(p, "42")
}

// TestDistIsBuiltFromSource: the committed build is exactly what the
// source builds to today, file for file and byte for byte. When it fails,
// run web/build.sh and commit internal/console/dist.
func TestDistIsBuiltFromSource(t *testing.T) {
	want, err := bundle.Build(os.DirFS("../../web/src"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	err = fs.WalkDir(os.DirFS("dist"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path.Join("dist", p))
		got[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("dist lacks %s", name)
		} else if !bytes.Equal(g, b) {
			t.Errorf("dist/%s differs from its build", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("dist holds %s, which the source does not build", name)
		}
	}
	if t.Failed() {
		t.Log("the committed console build is stale: run web/build.sh and commit internal/console/dist")
	}
}

// TestPagesServeTheConsole: every console path (and its trailing-slash
// variant) answers the page under the console's CSP, exactly one policy,
// with no-referrer (the token pages above all), no-cache and an ETag
// that answers 304; HEAD works.
func TestPagesServeTheConsole(t *testing.T) {
	base := serve(t)
	index, err := os.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range console.Pages {
		for _, u := range []string{examplePath(p), strings.TrimSuffix(examplePath(p), "/") + "/"} {
			resp, body := fetch(t, "GET", base+u, nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, index) {
				t.Errorf("%s: %d, page served: %v", u, resp.StatusCode, bytes.Equal(body, index))
				continue
			}
			h := resp.Header
			if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", u, ct)
			}
			if csp := h.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != console.CSP {
				t.Errorf("%s: CSP %q", u, csp)
			}
			if rp := h.Values("Referrer-Policy"); len(rp) != 1 || rp[0] != "no-referrer" {
				t.Errorf("%s: Referrer-Policy %q", u, rp)
			}
			if h.Get("Cache-Control") != "no-cache" || h.Get("ETag") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: Cache-Control %q, ETag %q, nosniff %q", u, h.Get("Cache-Control"), h.Get("ETag"), h.Get("X-Content-Type-Options"))
			}
			again, body := fetch(t, "GET", base+u, map[string]string{"If-None-Match": h.Get("ETag")})
			if again.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("%s with its ETag: %d", u, again.StatusCode)
			}
			head, body := fetch(t, "HEAD", base+u, nil)
			if head.StatusCode != 200 || len(body) != 0 || head.Header.Get("Content-Security-Policy") != console.CSP {
				t.Errorf("HEAD %s: %d", u, head.StatusCode)
			}
		}
	}
	// The token pages are opened with the token in the address: whatever
	// they carry, no-referrer, and the query changes nothing.
	for _, u := range []string{"/verify-email?token=abc", "/reset-password?token=abc"} {
		resp, body := fetch(t, "GET", base+u, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Referrer-Policy") != "no-referrer" || !bytes.Equal(body, index) {
			t.Errorf("%s: %d %q", u, resp.StatusCode, resp.Header.Get("Referrer-Policy"))
		}
	}
}

// TestOnlyConsolePathsServeThePage: the console does not swallow other
// paths: an unknown path, an API path and a path below a page stay 404
// problem documents (the root is "/" alone, not a catch-all).
func TestOnlyConsolePathsServeThePage(t *testing.T) {
	base := serve(t)
	for _, u := range []string{"/nope", "/api/nope", "/books/1/2", "/index.html", "/assets", "/assets/", "/login/x", "/chat/1/members"} {
		resp, body := fetch(t, "GET", base+u, nil)
		if resp.StatusCode != 404 || strings.Contains(string(body), "<html") {
			t.Errorf("%s: %d %.60q", u, resp.StatusCode, body)
		}
	}
	resp, _ := fetch(t, "GET", base+"/api/books", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != secure.DefaultCSP {
		t.Errorf("/api/books: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	resp, _ = fetch(t, "POST", base+"/login", nil)
	if resp.StatusCode != 405 {
		t.Errorf("POST /login: %d", resp.StatusCode)
	}
}

// TestAssetsAreServedWithTheirTypes: every asset the page links answers
// with its content type, a year's immutable caching and the router's own
// CSP (which allows nothing); unknown names, traversal and other spellings
// are 404 problem documents.
func TestAssetsAreServedWithTheirTypes(t *testing.T) {
	base := serve(t)
	_, page := fetch(t, "GET", base+"/", nil)
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(page), -1)
	entries, err := os.ReadDir("dist/assets")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != len(entries) {
		t.Errorf("the page links %d assets, the build has %d", len(refs), len(entries))
	}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, m := range refs {
		u := m[1]
		resp, body := fetch(t, "GET", base+u, nil)
		want, err := os.ReadFile("dist" + u)
		if err != nil {
			t.Errorf("%s: not in dist: %v", u, err)
			continue
		}
		h := resp.Header
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("%s: %d", u, resp.StatusCode)
		}
		if ct := h.Get("Content-Type"); ct != types[path.Ext(u)] {
			t.Errorf("%s: Content-Type %q", u, ct)
		}
		if h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("ETag") == "" {
			t.Errorf("%s: Cache-Control %q", u, h.Get("Cache-Control"))
		}
		if csp := h.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != secure.DefaultCSP {
			t.Errorf("%s: CSP %q, want the router's", u, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", u)
		}
	}
	for _, u := range []string{"/assets/nope.js", "/assets/main.js", "/assets/..%2fconsole.go", "/assets/%2e%2e", "/assets/index.html", "/assets/x%00.js"} {
		resp, body := fetch(t, "GET", base+u, nil)
		var p map[string]any
		if resp.StatusCode != 404 || json.Unmarshal(body, &p) != nil || resp.Header.Get("Content-Type") != "application/problem+json; charset=utf-8" {
			t.Errorf("%s: %d %q %.80q", u, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// TestPageHasNoInlineCode parses the page: scripts only by src from
// /assets/, no <style>, no style or on* attribute, no javascript: URL,
// nothing from another origin; it links its script and style sheet and
// asks for no-referrer itself.
func TestPageHasNoInlineCode(t *testing.T) {
	b, err := os.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var scripts, styles int
	var referrer bool
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[strings.ToLower(a.Key)] = a.Val
				k := strings.ToLower(a.Key)
				if strings.HasPrefix(k, "on") || k == "style" || k == "srcdoc" {
					t.Errorf("<%s %s=%q>: inline code or style", n.Data, a.Key, a.Val)
				}
				if k == "src" || k == "href" || k == "action" {
					v := a.Val
					if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") {
						t.Errorf("<%s %s=%q>: not a path of this origin", n.Data, a.Key, v)
					}
				}
			}
			switch n.Data {
			case "script":
				if attr["src"] == "" || n.FirstChild != nil {
					t.Errorf("an inline <script>: %v", attr)
				}
				if !strings.HasPrefix(attr["src"], "/assets/") || attr["type"] != "module" {
					t.Errorf("<script %v>", attr)
				}
				scripts++
			case "style":
				t.Error("an inline <style>")
			case "link":
				if attr["rel"] == "stylesheet" {
					styles++
				}
			case "meta":
				if attr["name"] == "referrer" && attr["content"] == "no-referrer" {
					referrer = true
				}
			case "base", "iframe", "object", "embed", "form":
				t.Errorf("<%s> in the page", n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 1 || styles != 1 || !referrer {
		t.Errorf("scripts %d, style sheets %d, referrer meta %v", scripts, styles, referrer)
	}
}

// TestScriptsAvoidUnsafeSinks: the shipped modules keep nothing in
// storage that script can read, write no markup from strings (richtext.js
// parses review HTML into an inert document and rebuilds it), evaluate no
// strings, and import only modules that exist in the build.
func TestScriptsAvoidUnsafeSinks(t *testing.T) {
	entries, err := os.ReadDir("dist/assets")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"localStorage", "sessionStorage", "indexedDB", "document.cookie", ".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout(\"", "createContextualFragment", "Authorization"}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	parsers := 0
	for _, name := range names {
		if path.Ext(name) != ".js" {
			continue
		}
		b, err := os.ReadFile("dist/assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, f := range forbidden {
			if strings.Contains(src, f) {
				t.Errorf("%s uses %s", name, f)
			}
		}
		if strings.Contains(src, "parseFromString") {
			parsers++
			if !strings.HasPrefix(name, "richtext-") {
				t.Errorf("%s parses markup; only richtext.js may", name)
			}
		}
		imports, err := bundle.Imports(src)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, imp := range imports {
			if !slices.Contains(names, imp) {
				t.Errorf("%s imports %s, which is not in the build", name, imp)
			}
		}
	}
	if parsers != 1 {
		t.Errorf("%d modules parse markup, want richtext.js alone", parsers)
	}
}

// TestPagesMatchTheViews: the server serves the page at exactly the
// paths the console's router has views for (web/src/main.js).
func TestPagesMatchTheViews(t *testing.T) {
	b, err := os.ReadFile("../../web/src/main.js")
	if err != nil {
		t.Fatal(err)
	}
	var views []string
	for _, m := range regexp.MustCompile(`(?m)^route\("([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		views = append(views, regexp.MustCompile(`:([a-z]+)`).ReplaceAllString(m[1], "{$1}"))
	}
	slices.Sort(views)
	pages := slices.Sorted(slices.Values(console.Pages))
	if !slices.Equal(views, pages) {
		t.Errorf("views %q\npages %q", views, pages)
	}
}
