package benchproc

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestTempDirRemovesUnlessKept(t *testing.T) {
	dir, remove, err := TempDir("benchproc-test-", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	remove()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after remove: %v", dir, err)
	}

	kept, remove, err := TempDir("benchproc-test-", true)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(kept)
	remove()
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("kept directory removed: %v", err)
	}
}

func TestWriteJSONIndents(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "{\n  \"a\": 1\n}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestVerdict(t *testing.T) {
	if Verdict(true) != "met" || Verdict(false) != "NOT met" {
		t.Errorf("Verdict: %q, %q", Verdict(true), Verdict(false))
	}
}

// TestStartServerReadsAddress starts a child that prints an address and
// one that exits without printing one.
func TestStartServerReadsAddress(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command("sh", "-c", "echo 127.0.0.1:4321; exec sleep 30")
	addr, err := StartServer("echo", cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer Stop(cmd)
	if addr != "127.0.0.1:4321" {
		t.Errorf("address %q", addr)
	}

	silent := exec.Command("sh", "-c", "exit 0")
	if addr, err := StartServer("silent", silent); err == nil || !strings.Contains(err.Error(), "silent") {
		t.Errorf("a child that printed nothing gave %q, %v", addr, err)
	}
}

// TestWardenLogin logs in against a stand-in for warden's login route.
func TestWardenLogin(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/auth/login" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		if !strings.Contains(body.String(), `"password":"right"`) {
			http.Error(w, `{"detail":"no"}`, http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"access":"tok"}`))
	}))
	defer srv.Close()
	w := &Warden{Addr: strings.TrimPrefix(srv.URL, "http://")}
	if tok, err := w.Login("u", "right"); err != nil || tok != "tok" {
		t.Errorf("Login = %q, %v", tok, err)
	}
	if tok, err := w.Login("u", "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a refused login gave %q, %v", tok, err)
	}
}

// TestWardenStartReportsAnEarlyExit: a server that exits before it is
// ready (here a binary that fails at once, as warden serve does when its
// port was taken meanwhile) is reported as such, not as a timeout after
// the whole 30-second wait, and Stop afterwards returns.
func TestWardenStartReportsAnEarlyExit(t *testing.T) {
	bin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1) on PATH")
	}
	w, err := NewWarden(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Without the early report the error would be the 30-second
	// timeout's "did not answer 200".
	err = w.Start(io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("Start = %v", err)
	}
	w.Stop()
	w.Stop()
}
