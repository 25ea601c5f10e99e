// Package benchproc holds what the benchmarks that measure from outside
// share: building binaries of this module, starting the real warden
// serve on a fresh data directory, the bare net/http server that plays
// the baseline in a process of its own, reading a process's CPU time
// and resident memory, and the frame of a benchmark program's run (its
// temporary directory, progress on stderr, the report on stdout and the
// exit code: Finish).
//
// Every process it starts is a child of the calling program, ended by its
// own handle (Stop), never by name. Servers listen on 127.0.0.1 only.
package benchproc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/secure"
)

// ModuleRoot returns the directory of the warden module's go.mod; the
// benchmarks are run from inside the module (go run ./bench/...).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the warden module")
	}
	return filepath.Dir(mod), nil
}

// Build runs go build -o out pkg in dir (a module's directory), its output
// on stderr.
func Build(dir, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s in %s: %w", pkg, dir, err)
	}
	return nil
}

// FreeAddr returns a loopback address with a port free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Stop ends a child this program started, by its own process handle:
// an interrupt (graceful shutdown), then a kill after 10 s.
func Stop(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	interrupt(cmd.Process, done)
}

// interrupt asks p to shut down gracefully and kills it if it has not
// exited (exited closed) within 10 s.
func interrupt(p *os.Process, exited <-chan struct{}) {
	_ = p.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		<-exited
	}
}

// Client is the HTTP client of the set-up steps (not of the load).
var Client = &http.Client{Timeout: 10 * time.Second}

// Get asks u once with header (nil for none) and insists on a 200; it
// returns the response and its body.
func Get(u string, header http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	if header != nil {
		req.Header = header.Clone()
	}
	resp, err := Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	return resp, body, nil
}

// WaitReady polls u until it answers 200, for at most d.
func WaitReady(u string, d time.Duration) error { return waitReady(u, d, nil) }

// errExited is waitReady's answer when the server exited first.
var errExited = errors.New("exited before it was ready")

// waitReady is WaitReady that gives up at once when exited is closed: a
// server that could not start (its port taken meanwhile, say) is
// reported as such, not after the whole wait.
func waitReady(u string, d time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := Client.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errExited
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer 200 within %v", u, d)
}

// ReadAddr reads the first line a child server prints on out: the address
// it listens on.
func ReadAddr(name string, out io.Reader) (string, error) {
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s: no address printed: %w", name, err)
	}
	return strings.TrimSpace(line), nil
}

// StartServer starts cmd, a server that prints the address it listens on
// as the first line of its stdout (its stderr, unless set, is this
// program's), and returns that address; name is for the error. If no
// address comes, the child is stopped.
func StartServer(name string, cmd *exec.Cmd) (string, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	addr, err := ReadAddr(name, out)
	if err != nil {
		Stop(cmd)
		return "", err
	}
	return addr, nil
}

// Warden is a warden binary with a data directory of its own and, once
// Start is called, a warden serve process on Addr.
type Warden struct {
	Bin, DataDir, Addr string
	// Env is this process's environment without WARDEN_* settings, plus
	// the data directory, the address and the extra settings.
	Env   []string
	serve *exec.Cmd
	// exited is closed once serve has exited, and exitErr then says how.
	exited  chan struct{}
	exitErr error
	// log is the file StartLog opened, closed by Stop.
	log *os.File
}

// NewWarden prepares bin to run on dataDir (SQLite, the generated
// development secret) on a free loopback port. The router-wide throttles
// are set high enough never to refuse a load (1,000,000 a minute, the
// highest setting, with a burst of a minute's worth), so that their cost
// is in the figures but no refusal is; extraEnv ("NAME=value") comes last
// and so overrides.
func NewWarden(bin, dataDir string, extraEnv ...string) (*Warden, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARDEN_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"WARDEN_DATA_DIR="+dataDir,
		"WARDEN_ADDR="+addr,
		"WARDEN_RATE_ANON_PER_MINUTE=1000000",
		"WARDEN_RATE_USER_PER_MINUTE=1000000",
	)
	return &Warden{Bin: bin, DataDir: dataDir, Addr: addr, Env: append(env, extraEnv...)}, nil
}

// Base is the server's URL, without a trailing slash.
func (w *Warden) Base() string { return "http://" + w.Addr }

// Run runs one warden command (migrate, user create, ...) with stdin and
// returns its combined output.
func (w *Warden) Run(stdin string, args ...string) (string, error) {
	cmd := exec.Command(w.Bin, args...)
	cmd.Env, cmd.Stdin = w.Env, strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("warden %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

var createdID = regexp.MustCompile(`\(id ([0-9a-f-]+)\)`)

// CreateUser migrates the database and creates a verified user through
// warden user create (extra flags such as --permissions follow); it
// returns the user's id.
func (w *Warden) CreateUser(username, password string, extra ...string) (string, error) {
	if _, err := w.Run("", "migrate"); err != nil {
		return "", err
	}
	args := append([]string{"user", "create", "--username", username, "--email", username + "@example.com",
		"--password-stdin", "--verified"}, extra...)
	out, err := w.Run(password+"\n", args...)
	if err != nil {
		return "", err
	}
	m := createdID.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no user id in %q", out)
	}
	return m[1], nil
}

// Start runs warden serve, its log (one access line per request) to log,
// and waits until /readyz answers.
func (w *Warden) Start(log io.Writer) error {
	w.serve = exec.Command(w.Bin, "serve")
	w.serve.Env, w.serve.Stdout, w.serve.Stderr = w.Env, log, log
	if err := w.serve.Start(); err != nil {
		return err
	}
	cmd, exited := w.serve, make(chan struct{})
	w.exited = exited
	go func() { w.exitErr = cmd.Wait(); close(exited) }()
	err := waitReady(w.Base()+"/readyz", 30*time.Second, exited)
	if errors.Is(err, errExited) {
		// The port NewWarden found free may have been taken meanwhile by
		// another process's connections; the log says.
		return fmt.Errorf("warden serve on %s %w (%v); see its log", w.Addr, err, w.exitErr)
	}
	return err
}

// StartLog is Start with the log written to a file created (or
// truncated) at path; Stop closes it.
func (w *Warden) StartLog(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w.log = f
	return w.Start(f)
}

// Login logs in once by username, as a client does, and returns the
// access token; anything but a 200 with a token is an error.
func (w *Warden) Login(username, password string) (string, error) {
	body, err := json.Marshal(map[string]string{"username": username, "password": password})
	if err != nil {
		return "", err
	}
	resp, err := Client.Post(w.Base()+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Access string `json:"access"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Access == "" {
		return "", fmt.Errorf("login as %s: %d %s", username, resp.StatusCode, raw)
	}
	return out.Access, nil
}

// PID is the serving process's id (0 before Start).
func (w *Warden) PID() int {
	if w.serve == nil || w.serve.Process == nil {
		return 0
	}
	return w.serve.Process.Pid
}

// Stop ends warden serve, and closes the log file of StartLog; Start may
// be called again afterwards.
func (w *Warden) Stop() {
	if w.serve != nil && w.serve.Process != nil {
		interrupt(w.serve.Process, w.exited)
	}
	if w.log != nil {
		_ = w.log.Close()
		w.log = nil
	}
}

// The bare server is a child process of a benchmark program: the program
// runs itself again with bareBodyEnv set, and calls ServeBareIfChild first
// thing in main (and in TestMain, so that a test binary can play the
// child too). Environment variables rather than flags, so that the
// program's own flags stay its own.
const (
	bareBodyEnv   = "WARDEN_BENCH_BARE_BODY"
	bareHeaderEnv = "WARDEN_BENCH_BARE_HEADERS"
)

// Bare describes a bare net/http server: it answers every request with
// Body, as Content-Type application/json with a Content-Length, plus
// Header (copied onto every response as is) when set.
type Bare struct {
	Body   []byte
	Header http.Header
}

// StartBare writes b's files under dir (named after name) and starts this
// program again as the bare server; it returns the child and its address.
func StartBare(dir, name string, b Bare) (*exec.Cmd, string, error) {
	body := filepath.Join(dir, name+".body")
	if err := os.WriteFile(body, b.Body, 0o600); err != nil {
		return nil, "", err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), bareBodyEnv+"="+body)
	if len(b.Header) > 0 {
		hf := filepath.Join(dir, name+".header")
		var sb strings.Builder
		if err := b.Header.Write(&sb); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(hf, []byte(sb.String()), 0o600); err != nil {
			return nil, "", err
		}
		cmd.Env = append(cmd.Env, bareHeaderEnv+"="+hf)
	}
	addr, err := StartServer(name, cmd)
	if err != nil {
		return nil, "", err
	}
	return cmd, addr, nil
}

// ServeBareIfChild serves as the bare server when this process was
// started by StartBare, and exits 1 when serving ends (an error, printed
// after prog's name); otherwise it returns at once.
func ServeBareIfChild(prog string) {
	if served, err := serveBareFromEnv(); served {
		fmt.Fprintln(os.Stderr, prog+": bare:", err)
		os.Exit(1)
	}
}

// serveBareFromEnv serves as the bare server when this process was
// started by StartBare: served is false otherwise. It prints its address
// and serves until killed.
func serveBareFromEnv() (served bool, err error) {
	file := os.Getenv(bareBodyEnv)
	if file == "" {
		return false, nil
	}
	var b Bare
	if b.Body, err = os.ReadFile(file); err != nil {
		return true, err
	}
	if hf := os.Getenv(bareHeaderEnv); hf != "" {
		raw, err := os.ReadFile(hf)
		if err != nil {
			return true, err
		}
		if b.Header, err = parseHeaderBlock(string(raw)); err != nil {
			return true, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return true, err
	}
	srv := &http.Server{Handler: b.Handler()}
	secure.ApplyServerLimits(srv)
	fmt.Println(ln.Addr().String())
	return true, srv.Serve(ln)
}

// Handler answers b as the server would: JSON with a charset and a
// Content-Length, and b.Header's fields stored as they are (values are
// shared between responses and never modified, as secure.Headers does).
func (b Bare) Handler() http.Handler {
	length := []string{strconv.Itoa(len(b.Body))}
	contentType := []string{"application/json; charset=utf-8"}
	keys := make([]string, 0, len(b.Header))
	for k := range b.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for _, k := range keys {
			h[k] = b.Header[k]
		}
		h["Content-Type"] = contentType
		h["Content-Length"] = length
		_, _ = w.Write(b.Body)
	})
}

// parseHeaderBlock reads "Name: value" lines as http.Header.Write writes
// them.
func parseHeaderBlock(s string) (http.Header, error) {
	h := http.Header{}
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("header line %q has no colon", line)
		}
		h.Add(k, strings.TrimSpace(v))
	}
	return h, nil
}

// PIDCPU returns the user plus system CPU time of process pid from
// /proc/<pid>/stat (Linux), and whether it could tell.
func PIDCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; fields after it follow
	// its closing parenthesis. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticksPerSecond, true
}

// Median returns the median of xs (0 for none), without reordering xs.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// LoadAverage returns the 1-minute load average on Linux, or "": well
// above zero before a run means other processes competed for the CPUs.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// Memory is a process's resident memory, from /proc/<pid>/status: RSS now
// (VmRSS) and the most it has had since it started (VmHWM), in bytes.
type Memory struct {
	RSS, Peak int64
}

// ProcMemory reads process pid's resident memory (Linux).
func ProcMemory(pid int) (Memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, err
	}
	return parseStatusMemory(string(b))
}

// parseStatusMemory reads the VmRSS and VmHWM lines ("VmRSS:\t  1234 kB")
// of a /proc/<pid>/status file; both must be there, in kB.
func parseStatusMemory(s string) (Memory, error) {
	var m Memory
	var haveRSS, havePeak bool
	for line := range strings.Lines(s) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("/proc status: malformed %s line %q", name, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return Memory{}, fmt.Errorf("/proc status: malformed %s value %q", name, f[0])
		}
		if name == "VmRSS" {
			m.RSS, haveRSS = kb<<10, true
		} else {
			m.Peak, havePeak = kb<<10, true
		}
	}
	if !haveRSS || !havePeak {
		return Memory{}, errors.New("/proc status: no VmRSS or VmHWM line")
	}
	return m, nil
}
