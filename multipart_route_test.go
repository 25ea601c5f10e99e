package warden_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/files/safeimage"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

// avatarBody is a multipart body with the given parts (name, filename,
// content), and its Content-Type.
func avatarBody(t *testing.T, parts ...[3]string) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		w, err := mw.CreateFormFile(p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p[2])
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

func TestMultipartOption(t *testing.T) {
	limits := secure.MultipartLimits{MaxParts: 2, MaxPartBytes: 64, MaxTotalBytes: 1024}
	f := newFixture(t, warden.Config{}, func(r *warden.Router, j *auth.JWT) {
		r.Post("/upload", func(w http.ResponseWriter, r *http.Request) {
			form, ok := secure.ReadMultipart(w, r, limits)
			if !ok {
				return
			}
			p, ok := form.One("avatar")
			if !ok {
				problem.Write(w, http.StatusBadRequest, "one avatar")
				return
			}
			w.Write(p.Data)
		}, warden.Auth(j), warden.Require(guard.IsAuthenticated), warden.Multipart(limits))
	})
	bearer := map[string]string{"Authorization": "Bearer " + token(t, "ann", nil)}
	send := func(ct string, body io.Reader, hdr map[string]string) *http.Response {
		h := map[string]string{"Content-Type": ct}
		for k, v := range hdr {
			h[k] = v
		}
		resp, _ := f.do(t, "POST", "/upload", body, h)
		return resp
	}

	body, ct := avatarBody(t, [3]string{"avatar", "a.png", "pixels"})
	if resp := send(ct, body, bearer); resp.StatusCode != 200 {
		t.Fatalf("valid upload: %d", resp.StatusCode)
	}
	// The type and the boundary are checked before authentication, as
	// the body limit is: nothing of the body is read for either.
	if resp := send("application/json", strings.NewReader("{}"), nil); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("json: %d", resp.StatusCode)
	}
	if resp := send("multipart/form-data; boundary="+strings.Repeat("x", 201), strings.NewReader(""), bearer); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("long boundary: %d", resp.StatusCode)
	}
	body, ct = avatarBody(t, [3]string{"avatar", "a.png", strings.Repeat("x", 2000)})
	if resp := send(ct, body, bearer); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("body over MaxTotalBytes: %d", resp.StatusCode)
	}
	body, ct = avatarBody(t, [3]string{"avatar", "a.png", "1"}, [3]string{"avatar", "b.png", "2"})
	if resp := send(ct, body, bearer); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("repeated part: %d", resp.StatusCode)
	}
	body, ct = avatarBody(t, [3]string{"avatar", "a.png", "pixels"})
	if resp := send(ct, body, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", resp.StatusCode)
	}
}

// TestAvatarUploadAndServe is the whole avatar path on the library alone:
// a multipart upload of a PNG polyglot, decoded and re-encoded, stored
// under a random name, then served back through the router.
func TestAvatarUploadAndServe(t *testing.T) {
	media := filepath.Join(t.TempDir(), "media")
	store, err := files.OpenStore(media)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	server, err := files.NewServer(media, files.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	limits := secure.MultipartLimits{MaxParts: 1, MaxPartBytes: 5 << 20, MaxTotalBytes: 5<<20 + 64<<10}
	f := newFixture(t, warden.Config{}, func(r *warden.Router, j *auth.JWT) {
		r.Patch("/api/users/me/avatar", func(w http.ResponseWriter, r *http.Request) {
			form, ok := secure.ReadMultipart(w, r, limits)
			if !ok {
				return
			}
			part, ok := form.One("avatar")
			if !ok {
				problem.Write(w, http.StatusBadRequest, `Send one part named "avatar".`)
				return
			}
			img, _, err := safeimage.Decode(part.Data, safeimage.Limits{})
			switch {
			case errors.Is(err, safeimage.ErrUnsupported):
				problem.Write(w, http.StatusUnsupportedMediaType, "The avatar must be a JPEG, PNG or WebP image.")
				return
			case err != nil:
				problem.Write(w, http.StatusBadRequest, "The avatar is not a valid image.")
				return
			}
			clean, err := safeimage.EncodePNG(img, 512)
			if err != nil {
				problem.Write(w, http.StatusInternalServerError, "")
				return
			}
			name, err := store.Create(".png", clean)
			if err != nil {
				problem.Write(w, http.StatusInternalServerError, "")
				return
			}
			warden.WriteJSON(w, http.StatusOK, map[string]string{"avatar_url": "/media/" + name})
		}, warden.Auth(j), warden.Require(guard.IsAuthenticated), warden.Multipart(limits))
		r.Handle("GET", "/media/{path...}", server, warden.Require(guard.AllowAny))
	})
	bearer := "Bearer " + token(t, "ann", nil)

	img := image.NewNRGBA(image.Rect(0, 0, 1024, 768))
	for i := range img.Pix {
		img.Pix[i] = 0xcc
	}
	img.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255})
	var pngData bytes.Buffer
	png.Encode(&pngData, img)
	polyglot := pngData.String() + "<html><script>alert(document.cookie)</script></html>"

	body, ct := avatarBody(t, [3]string{"avatar", "../../evil.html", polyglot})
	resp, got := f.do(t, "PATCH", "/api/users/me/avatar", body, map[string]string{"Content-Type": ct, "Authorization": bearer})
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d %v", resp.StatusCode, got)
	}
	url, _ := got["avatar_url"].(string)
	if !strings.HasPrefix(url, "/media/") || !files.ValidName(strings.TrimPrefix(url, "/media/")) || strings.Contains(url, "evil") {
		t.Fatalf("avatar_url %q", url)
	}

	served, err := http.Get(f.srv.URL + url)
	if err != nil {
		t.Fatal(err)
	}
	defer served.Body.Close()
	data, _ := io.ReadAll(served.Body)
	if served.StatusCode != 200 || served.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %d %q", url, served.StatusCode, served.Header.Get("Content-Type"))
	}
	if bytes.Contains(data, []byte("<script")) {
		t.Error("the stored avatar still carries the script")
	}
	if v := served.Header.Values("Content-Security-Policy"); len(v) != 1 || v[0] != files.CSP {
		t.Errorf("CSP %q", v)
	}
	if served.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width != 512 || cfg.Height != 384 {
		t.Errorf("stored %dx%d, %v", cfg.Width, cfg.Height, err)
	}

	// Content decides: a PDF named avatar.png with an image type is refused.
	var pdfBody bytes.Buffer
	mw := multipart.NewWriter(&pdfBody)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="avatar"; filename="x.png"`}
	h["Content-Type"] = []string{"image/png"}
	pw, _ := mw.CreatePart(h)
	io.WriteString(pw, "%PDF-1.7\n%%EOF\n")
	mw.Close()
	resp, _ = f.do(t, "PATCH", "/api/users/me/avatar", &pdfBody, map[string]string{"Content-Type": mw.FormDataContentType(), "Authorization": bearer})
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("pdf as png: %d", resp.StatusCode)
	}

	for _, p := range []string{"/media/../go.mod", "/media/%2e%2e/go.mod", "/media/", "/media/missing.png"} {
		resp, err := http.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || bytes.Contains(b, []byte("module ")) {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}
