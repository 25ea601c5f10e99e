package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestServeRefusesInsecureConfigurationWithExitCode2(t *testing.T) {
	t.Setenv("WARDEN_SECRET_KEY", "too-short")
	t.Setenv("WARDEN_DATA_DIR", t.TempDir())
	var out, errs bytes.Buffer
	code := run([]string{"serve", "--env", "production"}, strings.NewReader(""), &out, &errs)
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, errs.String())
	}
	if !strings.Contains(errs.String(), "WARDEN_SECRET_KEY is 9 bytes") || strings.Contains(errs.String(), "too-short") {
		t.Fatalf("stderr %q", errs.String())
	}
}

func TestTokenCommandPrintsAToken(t *testing.T) {
	t.Setenv("WARDEN_DATA_DIR", t.TempDir())
	var out, errs bytes.Buffer
	if code := run([]string{"token", "--sub", "alice", "--permissions", "demo.read"}, strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if parts := strings.Split(strings.TrimSpace(out.String()), "."); len(parts) != 3 {
		t.Fatalf("output %q", out.String())
	}
	if code := run([]string{"token"}, strings.NewReader(""), &out, &errs); code != 1 {
		t.Fatalf("missing --sub: exit %d", code)
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"frobnicate"}, strings.NewReader(""), &out, &errs); code != 2 || !strings.Contains(errs.String(), "usage") {
		t.Fatalf("exit %d %q", code, errs.String())
	}
}
