package bookclub_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/files/safeimage"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/bookclub"
)

// Avatar uploads and the media they are served from, over HTTP through
// the harness's router. Every image is made here (the standard library's
// encoders) or read from the safeimage test data (WebP, which the
// standard library cannot write).

const avatarPath = "/api/users/me/avatar"

// formPart is one part of a multipart body: its field name, the file
// name and Content-Type the client claims, and its bytes.
type formPart struct {
	name, filename, contentType string
	data                        []byte
}

// multipartBody encodes parts and returns the body and its Content-Type.
func multipartBody(t testing.TB, parts ...formPart) (string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		hdr := textproto.MIMEHeader{}
		disp := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			disp += `; filename="` + p.filename + `"`
		}
		hdr.Set("Content-Disposition", disp)
		if p.contentType != "" {
			hdr.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), mw.FormDataContentType()
}

// avatarPart is the usual part: field avatar, a file name and a type that
// match the bytes (the server reads neither).
func avatarPart(data []byte) formPart {
	return formPart{name: "avatar", filename: "me.png", contentType: "image/png", data: data}
}

// upload sends parts to the avatar route as m (anonymously for nil).
func (h *harness) upload(m *member, parts ...formPart) response {
	h.t.Helper()
	body, ct := multipartBody(h.t, parts...)
	return h.call("PATCH", avatarPath, body, m.token(), "Content-Type", ct)
}

// gradient is a w x h image with some detail, so that encoders have work.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 0xff})
		}
	}
	return img
}

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func webpFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "files", "safeimage", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pngChunk is one PNG chunk: length, type, data, CRC of type and data.
func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// hugePNG is a valid PNG header declaring w x h pixels (8-bit RGBA) and a
// few bytes of image data: a decompression bomb's header without the bomb.
// Decoding it would allocate w*h*4 bytes first (40 GB for 100000x100000).
func hugePNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, pngChunk("IEND", nil)...)
}

// withPNGText inserts a tEXt chunk after a PNG's IHDR (which ends at
// byte 33): metadata the stored image must not keep.
func withPNGText(data []byte, keyword, text string) []byte {
	out := slices.Clone(data[:33])
	out = append(out, pngChunk("tEXt", []byte(keyword+"\x00"+text))...)
	return append(out, data[33:]...)
}

// withEXIF inserts an APP1 Exif segment after a JPEG's start-of-image
// marker, as cameras write one (with the GPS position in it).
func withEXIF(data []byte, payload string) []byte {
	seg := []byte("Exif\x00\x00" + payload)
	out := slices.Clone(data[:2])
	out = append(out, 0xff, 0xe1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, data[2:]...)
}

// storedFiles lists the media directory.
func (h *harness) storedFiles() []string {
	h.t.Helper()
	entries, err := os.ReadDir(h.mediaDir)
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// avatarURL is m's avatar_url as its public profile shows it ("" for
// null).
func (h *harness) avatarURL(m *member) string {
	h.t.Helper()
	r := h.expect(h.as(m, "GET", userPath(m.Name), nil), 200)
	s, _ := r.Body["avatar_url"].(string)
	return s
}

// expectMediaHeaders checks the headers every media answer carries.
func expectMediaHeaders(t testing.TB, what string, r response) {
	t.Helper()
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Values("Content-Security-Policy")[0] != files.CSP || len(r.Header.Values("Content-Security-Policy")) != 1 {
		t.Fatalf("%s: media headers %v", what, r.Header)
	}
}

// expectStoredAvatar checks a 200 answer of the upload route and what it
// stored: a random name under /media/ that the profile shows, served back
// as an inert PNG of at most 512x512 whose size is want. It returns the
// stored bytes.
func (h *harness) expectStoredAvatar(m *member, r response, want image.Point) []byte {
	h.t.Helper()
	h.expect(r, 200)
	url, _ := r.Body["avatar_url"].(string)
	name, ok := strings.CutPrefix(url, bookclub.MediaURLPrefix)
	if !ok || !files.ValidName(name) || !strings.HasSuffix(name, ".png") || r.Body["message"] == "" {
		h.t.Fatalf("answer %s", r.Raw)
	}
	if got := h.avatarURL(m); got != url {
		h.t.Fatalf("profile avatar_url %q, answered %q", got, url)
	}
	fi, err := os.Stat(filepath.Join(h.mediaDir, name))
	if err != nil || fi.Mode().Perm() != 0o600 {
		h.t.Fatalf("stored file: %v %v", fi, err)
	}
	got := h.call("GET", url, nil, "")
	h.expect(got, 200)
	if got.Header.Get("Content-Type") != "image/png" || got.Header.Get("Content-Disposition") != "" {
		h.t.Fatalf("served as %v", got.Header)
	}
	expectMediaHeaders(h.t, url, got)
	img, err := png.Decode(strings.NewReader(got.Raw))
	if err != nil {
		h.t.Fatalf("served avatar is not a PNG: %v", err)
	}
	if size := img.Bounds().Size(); size != want {
		h.t.Fatalf("stored %v, want %v", size, want)
	}
	return []byte(got.Raw)
}

// TestAvatarUploadStoresACleanPNG: JPEG, PNG and WebP are each stored as a
// PNG the server drew, scaled to fit 512x512, without their metadata, and
// each upload removes the file of the avatar it replaces.
func TestAvatarUploadStoresACleanPNG(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		m := h.newUser("painter", accounts.CreateOptions{})
		if h.avatarURL(m) != "" || len(h.storedFiles()) != 0 {
			t.Fatal("an avatar before any upload")
		}

		// A camera JPEG: larger than 512 on its long side, with its GPS
		// position in Exif.
		jpg := withEXIF(jpegOf(t, gradient(1024, 768)), "GPS 48.8584N 2.2945E secret-location")
		stored := h.expectStoredAvatar(m, h.upload(m, avatarPart(jpg)), image.Pt(512, 384))
		if bytes.Contains(stored, []byte("Exif")) || bytes.Contains(stored, []byte("secret-location")) {
			t.Fatal("the Exif metadata survived")
		}
		first := h.avatarURL(m)

		// A PNG with a text chunk, smaller than the limit: kept at its
		// size, the chunk dropped.
		p := withPNGText(pngOf(t, gradient(300, 200)), "Comment", "secret-comment")
		stored = h.expectStoredAvatar(m, h.upload(m, avatarPart(p)), image.Pt(300, 200))
		if bytes.Contains(stored, []byte("tEXt")) || bytes.Contains(stored, []byte("secret-comment")) {
			t.Fatal("the PNG text chunk survived")
		}
		// The replaced file is gone, from the directory and from /media.
		name := strings.TrimPrefix(first, bookclub.MediaURLPrefix)
		if _, err := os.Stat(filepath.Join(h.mediaDir, name)); !os.IsNotExist(err) {
			t.Fatalf("the previous avatar file is still there: %v", err)
		}
		h.expect(h.call("GET", first, nil, ""), 404)

		// A tall PNG is scaled on its long side.
		h.expectStoredAvatar(m, h.upload(m, avatarPart(pngOf(t, gradient(200, 2000)))), image.Pt(51, 512))

		// WebP, lossy, lossless and with alpha; the claimed name and type
		// are anything at all.
		for _, f := range []string{"gradient-lossy.webp", "gradient-lossless.webp", "gradient-alpha.webp"} {
			data := webpFile(t, f)
			cfg, _, err := safeimage.DecodeConfig(data, safeimage.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			part := formPart{name: "avatar", filename: "photo.gif", contentType: "text/html", data: data}
			h.expectStoredAvatar(m, h.upload(m, part), image.Pt(cfg.Width, cfg.Height))
		}

		// One upload, one file: every replaced file was removed.
		if files := h.storedFiles(); len(files) != 1 || bookclub.MediaURLPrefix+files[0] != h.avatarURL(m) {
			t.Fatalf("media directory %v, avatar %q", files, h.avatarURL(m))
		}
	})
}

// TestAvatarPolyglotIsStoredAsPixelsOnly: a valid PNG with an HTML page
// appended is accepted, but what is stored and served is a PNG drawn from
// its pixels: the page is gone.
func TestAvatarPolyglotIsStoredAsPixelsOnly(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		m := h.newUser("mallory", accounts.CreateOptions{})
		poly := append(pngOf(t, gradient(64, 64)), "<html><body><script>fetch('/api/auth/me').then(r=>r.text()).then(alert)</script></body></html>"...)
		part := formPart{name: "avatar", filename: "x.html", contentType: "text/html", data: poly}
		stored := h.expectStoredAvatar(m, h.upload(m, part), image.Pt(64, 64))
		if bytes.Contains(bytes.ToLower(stored), []byte("<script")) || bytes.Contains(stored, []byte("<html")) || bytes.Equal(stored, poly) {
			t.Fatal("the appended page was stored")
		}
		if !bytes.HasPrefix(stored, []byte("\x89PNG\r\n\x1a\n")) || !bytes.HasSuffix(stored, pngChunk("IEND", nil)) {
			t.Fatal("the stored file has bytes after its IEND chunk")
		}
	})
}

// TestAvatarHostileCorpus: every upload here is refused, and a refusal
// stores nothing and leaves the current avatar as it was.
func TestAvatarHostileCorpus(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		m := h.newUser("victim", accounts.CreateOptions{})
		good := pngOf(t, gradient(40, 30))
		h.expectStoredAvatar(m, h.upload(m, avatarPart(good)), image.Pt(40, 30))
		avatar, before := h.avatarURL(m), h.storedFiles()

		truncated := pngOf(t, gradient(200, 200))
		truncated = truncated[:len(truncated)/2]
		notes := make([]formPart, 10)
		for i := range notes {
			notes[i] = formPart{name: "note", data: []byte("x")}
		}

		// The bomb's header is refused before a pixel buffer exists: the
		// server runs in this process, so its allocations are counted.
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		r := h.expect(h.upload(m, avatarPart(hugePNG(100000, 100000))), 400)
		runtime.ReadMemStats(&m1)
		if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 32<<20 {
			t.Fatalf("refusing a 100000x100000 header allocated %d MiB", grew>>20)
		}
		if !strings.Contains(r.Raw, "4096x4096") {
			t.Fatalf("refusal: %s", r.Raw)
		}

		// refused: status, and for 400s from the handler the sentence's
		// topic (fields.avatar is set).
		type refused struct {
			what   string
			parts  []formPart
			status int
			field  bool
		}
		for _, c := range []refused{
			{"a 100000x100000 PNG header", []formPart{avatarPart(hugePNG(100000, 100000))}, 400, true},
			{"a 4097x1 PNG header", []formPart{avatarPart(hugePNG(4097, 1))}, 400, true},
			{"a truncated PNG", []formPart{avatarPart(truncated)}, 400, true},
			{"a truncated JPEG", []formPart{avatarPart(jpegOf(t, gradient(100, 100))[:300])}, 400, true},
			{"an SVG", []formPart{{name: "avatar", filename: "x.svg", contentType: "image/svg+xml",
				data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`)}}, 400, true},
			{"a PDF named x.png", []formPart{{name: "avatar", filename: "x.png", contentType: "image/png",
				data: []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")}}, 400, true},
			{"a GIF", []formPart{{name: "avatar", filename: "x.gif", contentType: "image/gif", data: gifOf(t, gradient(32, 32))}}, 400, true},
			{"HTML", []formPart{{name: "avatar", filename: "x.png", contentType: "image/png", data: []byte("<!doctype html><script>alert(1)</script>")}}, 400, true},
			{"an empty part", []formPart{avatarPart(nil)}, 400, true},
			{"two avatar parts", []formPart{avatarPart(good), avatarPart(good)}, 400, true},
			{"no avatar part", []formPart{{name: "picture", filename: "me.png", data: good}}, 400, true},
			{"11 parts", append(slices.Clone(notes), avatarPart(good)), 400, false},
			{"a part over 5 MiB", []formPart{avatarPart(append(slices.Clone(good), make([]byte, 5<<20)...))}, 413, false},
		} {
			r := h.upload(m, c.parts...)
			if r.Status != c.status {
				t.Fatalf("%s: %d, want %d: %s", c.what, r.Status, c.status, r.Raw)
			}
			if fields, _ := r.Body["fields"].(map[string]any); c.field && fields["avatar"] == nil {
				t.Fatalf("%s: no fields.avatar: %s", c.what, r.Raw)
			}
			if got := h.storedFiles(); !slices.Equal(got, before) || h.avatarURL(m) != avatar {
				t.Fatalf("%s: media %v (was %v), avatar %q", c.what, got, before, h.avatarURL(m))
			}
		}

		// What the router refuses before authentication, from the
		// request's headers: the type, the boundary, a declared length.
		body, ct := multipartBody(t, avatarPart(good))
		h.expect(h.call("PATCH", avatarPath, `{"avatar":"iVBORw0KGgo="}`, m.token()), 415)
		h.expect(h.call("PATCH", avatarPath, body, m.token(), "Content-Type", "image/png"), 415)
		long := strings.Repeat("b", 201)
		h.expect(h.call("PATCH", avatarPath, "--"+long+"\r\n\r\n--"+long+"--\r\n", m.token(), "Content-Type", "multipart/form-data; boundary="+long), 400)
		h.expect(h.call("PATCH", avatarPath, body, m.token(), "Content-Type", "multipart/form-data"), 400)
		big, bigCT := multipartBody(t, avatarPart(append(slices.Clone(good), make([]byte, 6<<20)...)))
		h.expect(h.call("PATCH", avatarPath, big, m.token(), "Content-Type", bigCT), 413)
		// The same without a declared length (chunked): the cap applies
		// while reading.
		if status := h.chunked(avatarPath, big, bigCT, m.token()); status != 413 {
			t.Fatalf("chunked 6 MB body: %d", status)
		}
		// Anonymous: a valid upload is refused without a token, and with
		// a forged one.
		h.expect(h.call("PATCH", avatarPath, body, "", "Content-Type", ct), 401)
		h.expect(h.call("PATCH", avatarPath, body, "not.a.token", "Content-Type", ct), 401)

		if got := h.storedFiles(); !slices.Equal(got, before) || h.avatarURL(m) != avatar {
			t.Fatalf("after the refusals: media %v (was %v), avatar %q", got, before, h.avatarURL(m))
		}
	})
}

// chunked sends body without a Content-Length and returns the status.
func (h *harness) chunked(path, body, contentType, token string) int {
	h.t.Helper()
	// A reader the client cannot measure makes it send the body chunked.
	req, err := http.NewRequest("PATCH", h.srv.URL+path, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestAvatarConcurrentUploadsLeaveOneFile: uploads of one user at once
// each learn the avatar they replaced, so that exactly the recorded file
// remains.
func TestAvatarConcurrentUploadsLeaveOneFile(t *testing.T) {
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		m := h.newUser("racer", accounts.CreateOptions{})
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				body, ct := multipartBody(t, avatarPart(pngOf(t, gradient(20+i, 20))))
				if r := h.call("PATCH", avatarPath, body, m.token(), "Content-Type", ct); r.Status != 200 {
					t.Errorf("upload %d: %d %s", i, r.Status, r.Raw)
				}
			})
		}
		wg.Wait()
		if files := h.storedFiles(); len(files) != 1 || bookclub.MediaURLPrefix+files[0] != h.avatarURL(m) {
			t.Fatalf("media directory %v, avatar %q", files, h.avatarURL(m))
		}
	})
}

// TestAvatarFailureToRecordRemovesTheNewFile: when the profile cannot be
// changed (here a trigger refuses the update), the upload answers 503 and
// the file it wrote is removed. SQLite only: the trigger is its dialect.
func TestAvatarFailureToRecordRemovesTheNewFile(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	m := h.newUser("unlucky", accounts.CreateOptions{})
	h.expectStoredAvatar(m, h.upload(m, avatarPart(pngOf(t, gradient(10, 10)))), image.Pt(10, 10))
	avatar, before := h.avatarURL(m), h.storedFiles()
	if _, err := h.db.Exec(`CREATE TRIGGER no_avatar BEFORE UPDATE OF avatar_url ON profiles BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	r := h.expect(h.upload(m, avatarPart(pngOf(t, gradient(12, 12)))), 503)
	if r.Header.Get("Retry-After") == "" || strings.Contains(r.Raw, "refused") {
		t.Fatalf("answer: %v %s", r.Header, r.Raw)
	}
	if got := h.storedFiles(); !slices.Equal(got, before) || h.avatarURL(m) != avatar {
		t.Fatalf("media %v (was %v), avatar %q", got, before, h.avatarURL(m))
	}
}

// TestAvatarUploadsAreLimitedPerUser: a burst of 5, then 429 with
// Retry-After, for that user only.
func TestAvatarUploadsAreLimitedPerUser(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	busy := h.newUser("busy", accounts.CreateOptions{})
	calm := h.newUser("calm", accounts.CreateOptions{})
	img := avatarPart(pngOf(t, gradient(8, 8)))
	for i := range 5 {
		if r := h.upload(busy, img); r.Status != 200 {
			t.Fatalf("upload %d: %d %s", i, r.Status, r.Raw)
		}
	}
	r := h.expect(h.upload(busy, img), 429)
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.Header)
	}
	h.expect(h.upload(calm, img), 200)
	if got := h.storedFiles(); len(got) != 2 {
		t.Fatalf("media directory %v, want one file per user", got)
	}
}

// TestAvatarRouteIsDocumented: the route as the router composed it.
func TestAvatarRouteIsDocumented(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	for _, ri := range h.router.Routes() {
		if ri.Method+" "+ri.Pattern != "PATCH "+avatarPath {
			continue
		}
		m := ri.Multipart
		if m == nil || m.MaxParts != 10 || m.MaxBoundary != 200 || m.MaxPartBytes != 5<<20 || ri.BodyLimit != m.MaxTotalBytes {
			t.Fatalf("multipart limits %+v, body limit %d", m, ri.BodyLimit)
		}
		if ri.Public || len(ri.Auth) != 1 || !ri.NoStore || len(ri.Limits) != 1 || ri.Limits[0].Name != "avatar_upload" {
			t.Fatalf("route %+v", ri)
		}
		if ri.Operation == nil || ri.Operation.Request == nil || ri.Operation.Responses[200] == nil {
			t.Fatalf("description %+v", ri.Operation)
		}
		for _, status := range []int{400, 401, 413, 415, 429, 503} {
			if _, ok := ri.Problems[status]; !ok && ri.Operation.Responses[status] == nil {
				t.Errorf("status %d is not documented", status)
			}
		}
		return
	}
	t.Fatal("no avatar route")
}

// TestMediaServesOnlyStoredFiles: the media route refuses what is not a
// file Warden wrote, with the media headers on every answer.
func TestMediaServesOnlyStoredFiles(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	m := h.newUser("owner", accounts.CreateOptions{})
	h.expectStoredAvatar(m, h.upload(m, avatarPart(pngOf(t, gradient(16, 16)))), image.Pt(16, 16))
	secret := filepath.Join(filepath.Dir(h.mediaDir), "secret.png")
	if err := os.WriteFile(secret, pngOf(t, gradient(2, 2)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(h.mediaDir, "link.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(h.mediaDir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/media/..%2Fsecret.png", 403},
		{"/media/sub/..%2F..%2Fsecret.png", 403},
		{"/media/link.png", 403}, // a symlink leading out of the directory
		{"/media/" + strings.Repeat("a", 26) + ".png", 404},
		{"/media/nothing.png", 404},
		{"/media/sub", 404}, // a directory: no listing
		{"/media/sub/", 404},
		{"/media/", 404},
		{"/media/%00.png", 404},
	} {
		r := h.call("GET", c.path, nil, "")
		if r.Status != c.status {
			t.Fatalf("%s: %d, want %d: %s", c.path, r.Status, c.status, r.Raw)
		}
		expectMediaHeaders(t, c.path, r)
		if strings.Contains(r.Raw, "secret") || strings.Contains(r.Raw, h.mediaDir) {
			t.Fatalf("%s: the answer names a path: %s", c.path, r.Raw)
		}
	}
	// A literal ".." never reaches the files: the router redirects to the
	// cleaned path, which is not under /media at all.
	noFollow := *h.srv.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(h.srv.URL + "/media/../secret.png")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/secret.png" {
		t.Fatalf("/media/../secret.png: %d %v", resp.StatusCode, resp.Header)
	}
	h.expect(h.call("GET", "/media/../secret.png", nil, ""), 404)
	// Reading only.
	h.expect(h.call("DELETE", "/media/"+strings.TrimPrefix(h.avatarURL(m), bookclub.MediaURLPrefix), nil, ""), 405)
}
