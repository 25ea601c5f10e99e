package main

import (
	"os"
	"testing"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// TestMain lets the test binary serve as the bare server child.
func TestMain(m *testing.M) {
	benchproc.ServeBareIfChild("books")
	os.Exit(m.Run())
}

// TestRunSmoke runs the whole program briefly on a small catalogue: the
// binaries build, the seeding and the pages work, every target answers.
// It asserts nothing about speed.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	o := options{books: 200, deep: 5, workers: 2, rounds: 1, duration: 200 * time.Millisecond}
	code, err := run(o)
	if err != nil || code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
}
