package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/storetest"
)

// server is a `warden serve` process made from the test binary.
type server struct {
	cmd  *exec.Cmd
	base string
}

func startServer(t *testing.T, env []string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "WARDEN_TEST_AS_COMMAND=serve", "WARDEN_ADDR="+addr), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, base: "http://" + addr}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill9 ends the process without any chance to flush or clean up.
func (s *server) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
}

func (s *server) post(t *testing.T, method, path, body, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

var outboxToken = regexp.MustCompile(`token=([A-Za-z0-9_-]{20,})`)

// TestAcknowledgedWritesSurviveKill9 registers, verifies and changes a
// password, kills the server with SIGKILL right after the last 200, and
// checks on a fresh process that every acknowledged write is there.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		dataDir := t.TempDir()
		env := []string{"WARDEN_DATA_DIR=" + dataDir, "WARDEN_DATABASE_URL=" + e.NewURL(t), "WARDEN_AUTH_RATE_PER_MINUTE=1000"}
		s := startServer(t, env)
		if status, body := s.post(t, "POST", "/api/auth/register", `{"username":"sam","email":"sam@example.com","password":"correct horse battery staple"}`, ""); status != 201 {
			t.Fatalf("register: %d %v", status, body)
		}
		var token string
		for deadline := time.Now().Add(5 * time.Second); token == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			files, _ := filepath.Glob(filepath.Join(dataDir, "outbox", "*.eml"))
			for _, f := range files {
				raw, _ := os.ReadFile(f)
				text := strings.NewReplacer("=\r\n", "", "=3D", "=").Replace(string(raw))
				if m := outboxToken.FindStringSubmatch(text); m != nil {
					token = m[1]
				}
			}
		}
		status, body := s.post(t, "POST", "/api/auth/verify-email", `{"token":"`+token+`"}`, "")
		if status != 200 {
			t.Fatalf("verify: %d %v", status, body)
		}
		status, body = s.post(t, "PATCH", "/api/auth/password", `{"current_password":"correct horse battery staple","new_password":"a second passphrase here"}`, body["access"].(string))
		if status != 200 {
			t.Fatalf("change password: %d %v", status, body)
		}
		s.kill9(t)

		s = startServer(t, env)
		if status, body := s.post(t, "POST", "/api/auth/login", `{"username":"sam","password":"a second passphrase here"}`, ""); status != 200 {
			t.Fatalf("login after kill -9: %d %v", status, body)
		}
	})
}
