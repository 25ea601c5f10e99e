package files_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/problem"
)

const pngBytes = "\x89PNG\r\n\x1a\n0123456789abcdef" // content is never parsed when serving

// layout builds, in a temporary directory:
//
//	outside/secret.txt          a file that must never be served
//	media/                      the served directory
//	media/avatar.png
//	media/page.html             bytes that are HTML, not on the allow-list
//	media/notes.unknownext
//	media/UPPER.PNG
//	media/sub/inner.png
//	media/escape.png -> ../outside/secret.txt
//	media/escape-abs.png -> <abs>/outside/secret.txt
//	media/escape-dir -> ../outside
//	media/inside.png -> avatar.png
//	media/loop.png -> loop.png
func layout(t *testing.T) (media string) {
	t.Helper()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	media = filepath.Join(base, "media")
	for _, d := range []string{outside, media, filepath.Join(media, "sub")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, content string) {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret.txt"), "TOP SECRET")
	write(filepath.Join(media, "avatar.png"), pngBytes)
	write(filepath.Join(media, "page.html"), "<html><script>alert(1)</script></html>")
	write(filepath.Join(media, "notes.unknownext"), "notes")
	write(filepath.Join(media, "UPPER.PNG"), pngBytes)
	write(filepath.Join(media, "sub", "inner.png"), pngBytes)
	links := map[string]string{
		"escape.png":     "../outside/secret.txt",
		"escape-abs.png": filepath.Join(outside, "secret.txt"),
		"escape-dir":     "../outside",
		"inside.png":     "avatar.png",
		"loop.png":       "loop.png",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(media, name)); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	return media
}

func newServer(t *testing.T, dir string, opts files.Options) *files.Server {
	t.Helper()
	s, err := files.NewServer(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mux mounts s the way an application does.
func mux(s http.Handler) *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /media/{path...}", s)
	return m
}

func get(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkSafeHeaders asserts what every answer, file or error, must carry.
func checkSafeHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	h := w.Header()
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	if got := h.Get("Content-Security-Policy"); got != "default-src 'none'; sandbox" {
		t.Errorf("Content-Security-Policy = %q", got)
	}
	if got := h.Get("Cross-Origin-Resource-Policy"); got != "same-origin" {
		t.Errorf("Cross-Origin-Resource-Policy = %q", got)
	}
	if strings.Contains(w.Body.String(), "TOP SECRET") {
		t.Fatal("the file outside the root was served")
	}
}

func checkProblem(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q, want a problem document", ct)
	}
	var p problem.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != status {
		t.Errorf("body is not a problem for %d: %s", status, w.Body)
	}
	if strings.Contains(w.Body.String(), "/") && strings.Contains(w.Body.String(), "media") {
		t.Errorf("problem mentions a path: %s", w.Body)
	}
}

func TestServeFile(t *testing.T) {
	media := layout(t)
	h := mux(newServer(t, media, files.Options{}))

	w := get(h, "/media/avatar.png")
	checkSafeHeaders(t, w)
	if w.Code != 200 || w.Body.String() != pngBytes {
		t.Fatalf("status %d, body %q", w.Code, w.Body)
	}
	hdr := w.Header()
	if got := hdr.Get("Content-Type"); got != "image/png" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := hdr.Get("Content-Disposition"); got != "" {
		t.Errorf("an allowed image is served inline, got Content-Disposition %q", got)
	}
	if got := hdr.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control = %q", got)
	}
	etag := hdr.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 4 {
		t.Errorf("ETag = %q, want a strong one", etag)
	}
	lastMod := hdr.Get("Last-Modified")
	if lastMod == "" {
		t.Error("no Last-Modified")
	}

	t.Run("etag revalidation", func(t *testing.T) {
		w := get(h, "/media/avatar.png", "If-None-Match", etag)
		checkSafeHeaders(t, w)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("status %d, body %q; want 304", w.Code, w.Body)
		}
		if w := get(h, "/media/avatar.png", "If-None-Match", `"other"`); w.Code != 200 {
			t.Errorf("other etag: status %d", w.Code)
		}
	})
	t.Run("if-modified-since", func(t *testing.T) {
		if w := get(h, "/media/avatar.png", "If-Modified-Since", lastMod); w.Code != http.StatusNotModified {
			t.Errorf("status %d, want 304", w.Code)
		}
		old := time.Now().Add(-48 * time.Hour).UTC().Format(http.TimeFormat)
		if w := get(h, "/media/avatar.png", "If-Modified-Since", old); w.Code != 200 {
			t.Errorf("status %d, want 200", w.Code)
		}
	})
	t.Run("range", func(t *testing.T) {
		w := get(h, "/media/avatar.png", "Range", "bytes=0-3")
		checkSafeHeaders(t, w)
		if w.Code != http.StatusPartialContent || w.Body.String() != pngBytes[:4] {
			t.Errorf("status %d, body %q", w.Code, w.Body)
		}
		if got := w.Header().Get("Content-Range"); got != "bytes 0-3/"+itoa(len(pngBytes)) {
			t.Errorf("Content-Range = %q", got)
		}
		w = get(h, "/media/avatar.png", "Range", "bytes=5-3,900-")
		if w.Code != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("unsatisfiable range: status %d", w.Code)
		}
		// If-Range with a stale validator sends the whole file.
		w = get(h, "/media/avatar.png", "Range", "bytes=0-3", "If-Range", `"stale"`)
		if w.Code != 200 || w.Body.String() != pngBytes {
			t.Errorf("stale If-Range: status %d", w.Code)
		}
	})
	t.Run("head", func(t *testing.T) {
		r := httptest.NewRequest("HEAD", "/media/avatar.png", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		checkSafeHeaders(t, w)
		if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != itoa(len(pngBytes)) {
			t.Errorf("status %d, body %q, length %q", w.Code, w.Body, w.Header().Get("Content-Length"))
		}
	})
	t.Run("subdirectory and upper-case extension", func(t *testing.T) {
		for _, p := range []string{"/media/sub/inner.png", "/media/UPPER.PNG"} {
			w := get(h, p)
			if w.Code != 200 || w.Header().Get("Content-Type") != "image/png" {
				t.Errorf("%s: status %d, type %q", p, w.Code, w.Header().Get("Content-Type"))
			}
		}
	})
	t.Run("symlink inside the root is followed", func(t *testing.T) {
		if w := get(h, "/media/inside.png"); w.Code != 200 || w.Body.String() != pngBytes {
			t.Errorf("status %d", w.Code)
		}
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestServeTypesFromTheAllowListOnly(t *testing.T) {
	media := layout(t)
	h := mux(newServer(t, media, files.Options{}))
	for _, p := range []string{"/media/page.html", "/media/notes.unknownext"} {
		w := get(h, p)
		checkSafeHeaders(t, w)
		if w.Code != 200 {
			t.Fatalf("%s: status %d", p, w.Code)
		}
		// HTML bytes are a download of unknown type, never a page.
		if got := w.Header().Get("Content-Type"); got != "application/octet-stream" {
			t.Errorf("%s: Content-Type = %q", p, got)
		}
		if got := w.Header().Get("Content-Disposition"); got != "attachment" {
			t.Errorf("%s: Content-Disposition = %q", p, got)
		}
	}

	t.Run("attachment option", func(t *testing.T) {
		h := mux(newServer(t, media, files.Options{Attachment: true}))
		w := get(h, "/media/avatar.png")
		if w.Header().Get("Content-Disposition") != "attachment" || w.Header().Get("Content-Type") != "image/png" {
			t.Errorf("got %v", w.Header())
		}
	})
	t.Run("custom types", func(t *testing.T) {
		h := mux(newServer(t, media, files.Options{Types: map[string]string{".unknownext": "text/plain; charset=utf-8"}}))
		if w := get(h, "/media/notes.unknownext"); w.Header().Get("Content-Type") != "text/plain; charset=utf-8" || w.Header().Get("Content-Disposition") != "" {
			t.Errorf("got %v", w.Header())
		}
		// The custom list replaces the default one.
		if w := get(h, "/media/avatar.png"); w.Header().Get("Content-Type") != "application/octet-stream" {
			t.Errorf("got %v", w.Header())
		}
	})
}

func TestServeRefusesWhatIsNotAFileInTheRoot(t *testing.T) {
	media := layout(t)
	s := newServer(t, media, files.Options{})
	// Names go to ServeFile directly as well as through a ServeMux, which
	// cleans request paths (and redirects) before a handler sees them.
	tests := []struct {
		name   string
		status int
	}{
		{"missing.png", 404},
		{"", 404},             // the directory itself: no listing
		{".", 404},            // the same
		{"sub", 404},          // a directory
		{"sub/", 404},         // a directory
		{"avatar.png/x", 404}, // ENOTDIR
		{"loop.png", 404},     // ELOOP
		{"nul\x00.png", 404},  // EINVAL
		{strings.Repeat("a", 5000) + ".png", 404}, // ENAMETOOLONG
		{"sub/../avatar.png", 200},                // stays inside: fine
		{"../outside/secret.txt", 403},
		{"sub/../../outside/secret.txt", 403},
		{"/etc/passwd", 403},
		{"escape.png", 403},     // symlink to a file outside
		{"escape-abs.png", 403}, // absolute symlink
		{"escape-dir/secret.txt", 403},
		{"..", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name[:min(len(tt.name), 40)], func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			w := httptest.NewRecorder()
			s.ServeFile(w, r, tt.name, "")
			checkSafeHeaders(t, w)
			if tt.status == 200 {
				if w.Code != 200 {
					t.Fatalf("status %d", w.Code)
				}
				return
			}
			checkProblem(t, w, tt.status)
		})
	}
}

func TestServeThroughMuxNeverEscapes(t *testing.T) {
	media := layout(t)
	h := mux(newServer(t, media, files.Options{}))
	for _, target := range []string{
		"/media/../outside/secret.txt",
		"/media/%2e%2e/outside/secret.txt",
		"/media/..%2foutside%2fsecret.txt",
		"/media/%2e%2e%2foutside%2fsecret.txt",
		"/media/sub/..%2f..%2foutside%2fsecret.txt",
		"/media//etc/passwd",
		"/media/%2fetc%2fpasswd",
		"/media/escape.png",
		"/media/escape-dir/secret.txt",
		"/media/",
		"/media/sub/",
	} {
		t.Run(target, func(t *testing.T) {
			w := get(h, target)
			if strings.Contains(w.Body.String(), "TOP SECRET") || strings.Contains(w.Body.String(), "root:") {
				t.Fatalf("escaped: %d %q", w.Code, w.Body)
			}
			switch w.Code {
			case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
				http.StatusNotFound, http.StatusForbidden:
			default:
				t.Errorf("status %d", w.Code)
			}
		})
	}
}

func TestServeMethods(t *testing.T) {
	s := newServer(t, layout(t), files.Options{})
	r := httptest.NewRequest("POST", "/media/avatar.png", strings.NewReader("x"))
	r.SetPathValue("path", "avatar.png")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	checkSafeHeaders(t, w)
	checkProblem(t, w, http.StatusMethodNotAllowed)
	if got := w.Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q", got)
	}
}

func TestServeDownloadName(t *testing.T) {
	s := newServer(t, layout(t), files.Options{})
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	s.ServeFile(w, r, "avatar.png", "Ann's \"avatar\"\r\nSet-Cookie: x=1.png")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	cd := w.Header().Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment; ") || strings.ContainsAny(cd, "\r\n") || len(w.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if w.Header().Get("Content-Type") != "image/png" {
		t.Errorf("Content-Type = %q", w.Header().Get("Content-Type"))
	}
}

func TestServerOptions(t *testing.T) {
	media := layout(t)
	bad := []files.Options{
		{Types: map[string]string{".html": "text/html"}},
		{Types: map[string]string{".svg": "image/svg+xml"}},
		{Types: map[string]string{".xhtml": "application/xhtml+xml; charset=utf-8"}},
		{Types: map[string]string{".js": "text/javascript"}},
		{Types: map[string]string{".xml": "application/xml"}},
		{Types: map[string]string{".htm": "TEXT/HTML"}},
		{Types: map[string]string{"png": "image/png"}},
		{Types: map[string]string{".PNG": "image/png"}},
		{Types: map[string]string{".png": "image/png\r\nX-Evil: 1"}},
		{Types: map[string]string{".png": "not a type"}},
		{CacheControl: "max-age=1\nX-Evil: 1"},
		{CrossOriginResourcePolicy: "anyone"},
	}
	for _, o := range bad {
		if s, err := files.NewServer(media, o); err == nil {
			s.Close()
			t.Errorf("NewServer accepted %+v", o)
		}
	}
	if _, err := files.NewServer(filepath.Join(media, "missing"), files.Options{}); err == nil {
		t.Error("NewServer accepted a missing directory")
	}

	s := newServer(t, media, files.Options{
		PathValue:                 "file",
		CacheControl:              "public, max-age=31536000, immutable",
		CrossOriginResourcePolicy: "cross-origin",
	})
	m := http.NewServeMux()
	m.Handle("GET /u/{file...}", s)
	w := get(m, "/u/avatar.png")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || w.Header().Get("Cross-Origin-Resource-Policy") != "cross-origin" {
		t.Errorf("status %d, headers %v", w.Code, w.Header())
	}
}

// The router sets its own deny-all CSP and same-origin CORP before the
// handler runs; the file server must replace, not add to, them.
func TestServerReplacesOuterHeaders(t *testing.T) {
	s := newServer(t, layout(t), files.Options{CrossOriginResourcePolicy: "cross-origin"})
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		w.Header().Set("Cross-Origin-Resource-Policy", "same-origin")
		mux(s).ServeHTTP(w, r)
	})
	w := get(outer, "/media/avatar.png")
	if v := w.Header().Values("Content-Security-Policy"); len(v) != 1 || v[0] != files.CSP {
		t.Errorf("CSP = %q", v)
	}
	if v := w.Header().Values("Cross-Origin-Resource-Policy"); len(v) != 1 || v[0] != "cross-origin" {
		t.Errorf("CORP = %q", v)
	}
}

func TestServerClosed(t *testing.T) {
	s, err := files.NewServer(layout(t), files.Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	w := get(mux(s), "/media/avatar.png")
	checkProblem(t, w, http.StatusInternalServerError)
}

func TestServeWhatStoreWrote(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	st, err := files.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	name, err := st.Create(".png", []byte(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	h := mux(newServer(t, dir, files.Options{}))
	w := get(h, "/media/"+name)
	if w.Code != 200 || w.Body.String() != pngBytes || w.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if err := st.Remove(name); err != nil {
		t.Fatal(err)
	}
	checkProblem(t, get(h, "/media/"+name), 404)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
