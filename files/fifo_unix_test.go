//go:build unix

package files_test

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wardenhq/warden/files"
)

// Opening a FIFO for reading blocks until a writer comes; the server must
// refuse it from its metadata, without opening it.
func TestServeRefusesFIFO(t *testing.T) {
	media := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(media, "pipe.png"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	h := mux(newServer(t, media, files.Options{}))
	done := make(chan int, 1)
	go func() { done <- get(h, "/media/pipe.png").Code }()
	select {
	case code := <-done:
		if code != 404 {
			t.Errorf("status %d, want 404", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server blocked opening a FIFO")
	}
}
