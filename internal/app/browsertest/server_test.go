package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/bookclub"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/logtest"
)

const pw = "correct horse battery staple"

// site is a real App on a loopback port, sending mail to a mailbox over
// SMTP, with its log kept for the test to read.
type site struct {
	base string
	app  *app.App
	mail *mailbox
	logs *logtest.Buffer
}

// server runs a site until the test ends; it has alice (who may add
// books) and bob, both verified, plus the users extra names (verified,
// no permissions).
func server(t *testing.T, extra ...string) *site {
	t.Helper()
	mb := startMailbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &site{base: "http://" + ln.Addr().String(), mail: mb, logs: &logtest.Buffer{}}
	vars := map[string]string{
		"WARDEN_DATA_DIR":   t.TempDir(),
		"WARDEN_PUBLIC_URL": s.base,
		"WARDEN_SMTP_URL":   "smtp://" + mb.addr,
		// Every login of the test comes from 127.0.0.1.
		"WARDEN_AUTH_RATE_PER_MINUTE": "1000",
	}
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	s.app, err = app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(s.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	users := []struct {
		name  string
		perms []string
	}{{"alice", []string{bookclub.PermAddBook}}, {"bob", nil}}
	for _, name := range extra {
		users = append(users, struct {
			name  string
			perms []string
		}{name, nil})
	}
	for _, u := range users {
		in := accounts.RegisterInput{Username: u.name, Email: u.name + "@example.com", Password: pw}
		if _, err := s.app.Accounts().CreateUser(t.Context(), in, accounts.CreateOptions{Verified: true, Permissions: u.perms}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.app.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		s.app.Close()
	})
	return s
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// api calls the server as a non-browser client would: with a bearer
// token (or none), which cross-origin request forgery checks do not
// concern. It returns the status and the decoded JSON answer.
func (s *site) api(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// token logs name in for a bearer access token.
func (s *site) token(t *testing.T, name string) string {
	t.Helper()
	status, out := s.api(t, "POST", "/api/auth/login", "", `{"username":`+js(name)+`,"password":`+js(pw)+`}`)
	access, _ := out["access"].(string)
	if status != 200 || access == "" {
		t.Fatalf("login %s: %d %v", name, status, out)
	}
	return access
}

// logLine is what the tests read of the server's JSON log lines: the
// access log ("request") and warnings of refusals.
type logLine struct {
	Msg    string `json:"msg"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	Reason string `json:"reason"`
	Origin string `json:"origin"`
}

// lines returns the server's log so far.
func (s *site) lines() []logLine {
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// find returns the log lines with message msg for method and path.
func (s *site) find(msg, method, path string) []logLine {
	var out []logLine
	for _, l := range s.lines() {
		if l.Msg == msg && l.Method == method && l.Path == path {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits (at most waitTimeout) for a log line with message msg
// for method and path: the access line is written when the handler
// returns, which may be a moment after the browser saw the answer.
func (s *site) waitLog(t *testing.T, msg, method, path string) logLine {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if ls := s.find(msg, method, path); len(ls) > 0 {
			return ls[len(ls)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q line for %s %s in the server's log within %v", msg, method, path, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jsonNumber formats an id from a decoded JSON answer.
func jsonNumber(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}
