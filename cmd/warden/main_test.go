package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/storetest"
	"github.com/wardenhq/warden/revoke"
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

// TestMain lets the test binary act as the warden command, so that tests
// can start real processes of it.
func TestMain(m *testing.M) {
	if args := os.Getenv("WARDEN_TEST_AS_COMMAND"); args != "" {
		os.Exit(run(strings.Fields(args), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestConcurrentMigrateFromThreeProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		url := e.NewURL(t)
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		outs := make([][]byte, 3)
		errs := make([]error, 3)
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(self, "-test.run=^$")
				cmd.Env = append(os.Environ(), "WARDEN_TEST_AS_COMMAND=migrate", "WARDEN_DATABASE_URL="+url, "WARDEN_DATA_DIR="+t.TempDir())
				outs[i], errs[i] = cmd.CombinedOutput()
			}()
		}
		wg.Wait()
		for i := range 3 {
			if errs[i] != nil {
				t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
			}
		}
		db, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM users`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("schema not usable: %v", err)
		}
	})
}

func TestTokenCommandIsRefusedInProduction(t *testing.T) {
	t.Setenv("WARDEN_DATA_DIR", t.TempDir())
	t.Setenv("WARDEN_ENV", "production")
	t.Setenv("WARDEN_SECRET_KEY", "5f0c1d9a7b3e48e2a6c4f8d01b9e7a3c5d2f6e8a0b4c7d1e")
	t.Setenv("WARDEN_PUBLIC_URL", "https://books.example.com")
	var out, errs bytes.Buffer
	if code := run([]string{"token", "--sub", "alice"}, strings.NewReader(""), &out, &errs); code == 0 || out.Len() != 0 {
		t.Fatalf("production minted a token: exit %d, stdout %q", code, out.String())
	}
	if !strings.Contains(errs.String(), "refused in production") {
		t.Fatalf("stderr %q", errs.String())
	}
}

// TestTokenCommandTokensCanBeRevoked mints a token, ends its session with
// "warden sessions revoke --session", and expects a server on the same
// data directory to refuse it.
func TestTokenCommandTokensCanBeRevoked(t *testing.T) {
	t.Setenv("WARDEN_DATA_DIR", t.TempDir())
	var out, errs bytes.Buffer
	if code := run([]string{"token", "--sub", "alice"}, strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	tok := strings.TrimSpace(out.String())
	_, after, ok := strings.Cut(errs.String(), "--session ")
	if !ok {
		t.Fatalf("no session id on stderr: %q", errs.String())
	}
	sid := strings.Fields(after)[0]

	cfg, err := config.Load(nil, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	status := func() int {
		req := httptest.NewRequest("GET", "/api/demo/jwt", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, req)
		return w.Code
	}
	if s := status(); s != 200 {
		t.Fatalf("fresh token: %d", s)
	}
	out.Reset()
	if code := run([]string{"sessions", "revoke", "--session", sid}, strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("sessions revoke: exit %d: %s", code, errs.String())
	}
	err = redistest.Eventually(revoke.MaxPropagation, func() error {
		if s := status(); s != 401 {
			return fmt.Errorf("status %d", s)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a revoked warden token still works: %v", err)
	}
}
