package files_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenhq/warden/files"
)

// FuzzServePath asks the server for arbitrary names: whatever the name
// (traversal, absolute, encoded, NUL, symlinks), the answer is a file of
// the root or a refusal, never a byte of a file outside it and never a 500.
func FuzzServePath(f *testing.F) {
	for _, seed := range []string{
		"inside.png", "../outside.txt", "/etc/passwd", "sub/../inside.png", "link.png",
		"sub/", ".", "", "inside.png\x00.txt", "..", "sub/../../outside.txt", `..\outside.txt`,
		"%2e%2e/outside.txt", "inside.png/", "./inside.png",
	} {
		f.Add(seed)
	}
	parent := f.TempDir()
	root := filepath.Join(parent, "root")
	inside := []byte("inside-file-contents")
	secret := []byte("SECRET-outside-the-root")
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o700); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "inside.png"), inside, 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "outside.txt"), secret, 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(parent, "outside.txt"), filepath.Join(root, "link.png")); err != nil {
		f.Fatal(err)
	}
	srv, err := files.NewServer(root, files.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	f.Fuzz(func(t *testing.T, name string) {
		w := httptest.NewRecorder()
		srv.ServeFile(w, httptest.NewRequest(http.MethodGet, "/media/x", nil), name, "")
		body := w.Body.Bytes()
		if bytes.Contains(body, secret) {
			t.Fatalf("name %q served a file outside the root", name)
		}
		switch w.Code {
		case http.StatusOK:
			if !bytes.Equal(body, inside) {
				t.Fatalf("name %q: 200 with %q", name, body)
			}
		case http.StatusForbidden, http.StatusNotFound:
		default:
			t.Fatalf("name %q: status %d", name, w.Code)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("name %q: no nosniff", name)
		}
	})
}
