package app_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/internal/accounts"
)

// TestAvatarAndMediaThroughTheServer: the server's own wiring of the
// avatar upload and the media route: the directory under the data
// directory, the route table, an upload served back with the media
// headers, refusals of names that are not stored files, and the media
// route's exemption from the router-wide throttle.
func TestAvatarAndMediaThroughTheServer(t *testing.T) {
	dataDir := t.TempDir()
	base, a := start(t, map[string]string{"WARDEN_DATA_DIR": dataDir, "WARDEN_RATE_ANON_PER_MINUTE": "3"})

	fi, err := os.Stat(filepath.Join(dataDir, "media"))
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("media directory: %v %v", fi, err)
	}
	found := map[string]bool{}
	for _, r := range a.Routes() {
		switch r.Method + " " + r.Pattern {
		case "GET /media/{path...}":
			found[r.Pattern] = true
			if !r.Public || r.Throttled || len(r.Auth) != 0 || r.CSP != files.CSP {
				t.Errorf("media route: %+v", r)
			}
		case "PATCH /api/users/me/avatar":
			found[r.Pattern] = true
			if r.Public || r.Multipart == nil || len(r.Limits) != 1 {
				t.Errorf("avatar route: %+v", r)
			}
		}
	}
	if len(found) != 2 {
		t.Fatalf("routes found: %v", found)
	}

	if _, err := a.Accounts().CreateUser(t.Context(), accounts.RegisterInput{Username: "pia", Email: "pia@example.com", Password: pw},
		accounts.CreateOptions{Verified: true}); err != nil {
		t.Fatal(err)
	}
	status, _, body := call(t, "POST", base+"/api/auth/login", jsonCT, `{"username":"pia","password":"`+pw+`"}`) // anonymous: 1 of 3
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	bearer := "Bearer " + body["access"].(string)

	img := image.NewNRGBA(image.Rect(0, 0, 700, 350))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.NRGBA{255, 0, 0, 255})
	var raw bytes.Buffer
	if err := png.Encode(&raw, img); err != nil {
		t.Fatal(err)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("avatar", "../../etc/passwd.png")
	part.Write(raw.Bytes())
	mw.Close()
	status, _, body = call(t, "PATCH", base+"/api/users/me/avatar",
		map[string]string{"Authorization": bearer, "Content-Type": mw.FormDataContentType()}, form.String())
	url, _ := body["avatar_url"].(string)
	if status != 200 || !strings.HasPrefix(url, "/media/") || !files.ValidName(strings.TrimPrefix(url, "/media/")) {
		t.Fatalf("upload: %d %v", status, body)
	}
	if _, err := os.Stat(filepath.Join(dataDir, url)); err != nil {
		t.Fatalf("the avatar is not under <data dir>/media: %v", err)
	}
	if status, _, profile := call(t, "GET", base+"/api/users/pia", map[string]string{"Authorization": bearer}, ""); status != 200 || profile["avatar_url"] != url {
		t.Fatalf("profile: %d %v", status, profile)
	}

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	// Anonymous and well past the allowance of 3: media is not counted.
	for range 5 {
		resp, b := get(url)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
			strings.Join(resp.Header.Values("Content-Security-Policy"), "|") != files.CSP {
			t.Fatalf("GET %s: %d %v", url, resp.StatusCode, resp.Header)
		}
		got, err := png.Decode(bytes.NewReader(b))
		if err != nil || got.Bounds().Dx() != 512 || got.Bounds().Dy() != 256 {
			t.Fatalf("served avatar: %v %v", got.Bounds(), err)
		}
	}
	for path, want := range map[string]int{
		"/media/..%2Fwarden.db":                      403,
		"/media/..%2F..%2Fetc%2Fpasswd":              403,
		"/media/../x":                                404, // cleaned by the router to /x, which is no route
		"/media/" + strings.Repeat("a", 26) + ".png": 404,
		"/media/": 404,
	} {
		resp, b := get(path)
		if resp.StatusCode != want || resp.Header.Get("X-Content-Type-Options") != "nosniff" || bytes.Contains(b, []byte(dataDir)) {
			t.Fatalf("GET %s: %d (want %d) %v %s", path, resp.StatusCode, want, resp.Header, b)
		}
	}
	// The throttle is on for everything else.
	limited := false
	for range 3 {
		if status, _, _ := call(t, "GET", base+"/api/demo/public", nil, ""); status == 429 {
			limited = true
		}
	}
	if !limited {
		t.Fatal("the anonymous allowance was not used up: is the throttle on?")
	}
	if resp, _ := get(url); resp.StatusCode != 200 {
		t.Fatalf("media after the allowance: %d", resp.StatusCode)
	}
}
