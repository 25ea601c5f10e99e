package ws_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/internal/logtest"
	"github.com/wardenhq/warden/ws"
)

// wait bounds every wait in these tests: generous, never a timing claim.
const wait = 5 * time.Second

// harness is a real HTTP server with one WebSocket route, /ws, whose
// user key is the "user" query parameter.
type harness struct {
	t    testing.TB
	srv  *ws.Server
	hs   *httptest.Server
	logs *logtest.Buffer

	mu       sync.Mutex
	accepted []*ws.Conn
	refused  []error
	readErrs []error
	panics   []any
	newConn  chan *ws.Conn
}

// handler runs on the server for each accepted connection, in the HTTP
// handler's goroutine; the default echoes every message back.
type handler func(c *ws.Conn) error

func echo(c *ws.Conn) error {
	for {
		msg, err := c.Read(context.Background())
		if err != nil {
			return err
		}
		c.Send(msg)
	}
}

func newHarness(t testing.TB, cfg ws.Config, h handler) *harness {
	t.Helper()
	return newHarnessServer(t, cfg, h, nil)
}

// newHarnessServer lets a test configure the http.Server before it starts.
func newHarnessServer(t testing.TB, cfg ws.Config, h handler, configure func(*http.Server)) *harness {
	t.Helper()
	if h == nil {
		h = echo
	}
	hr := &harness{t: t, logs: &logtest.Buffer{}, newConn: make(chan *ws.Conn, 1000)}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(hr.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := ws.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hr.srv = srv
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		// net/http would swallow a panic; record it so the test fails.
		defer func() {
			if v := recover(); v != nil {
				hr.mu.Lock()
				hr.panics = append(hr.panics, v)
				hr.mu.Unlock()
			}
		}()
		c, err := srv.Accept(w, r, r.URL.Query().Get("user"))
		if err != nil {
			hr.mu.Lock()
			hr.refused = append(hr.refused, err)
			hr.mu.Unlock()
			return
		}
		hr.mu.Lock()
		hr.accepted = append(hr.accepted, c)
		hr.mu.Unlock()
		hr.newConn <- c
		err = h(c)
		hr.mu.Lock()
		hr.readErrs = append(hr.readErrs, err)
		hr.mu.Unlock()
	})
	hr.hs = httptest.NewUnstartedServer(mux)
	if configure != nil {
		configure(hr.hs.Config)
	}
	hr.hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hr.hs.Close()
		hr.mu.Lock()
		defer hr.mu.Unlock()
		if len(hr.panics) > 0 {
			t.Errorf("handler panicked: %v", hr.panics)
		}
	})
	return hr
}

func (h *harness) url(query string) string {
	u := "ws://" + h.hs.Listener.Addr().String() + "/ws"
	if query != "" {
		u += "?" + query
	}
	return u
}

// dial opens a client connection; header may be nil.
func (h *harness) dial(query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return websocket.Dial(ctx, h.url(query), &websocket.DialOptions{HTTPHeader: header, HTTPClient: h.hs.Client()})
}

// mustDial opens a client connection and returns it with its server side.
func (h *harness) mustDial(query string, header http.Header) (*websocket.Conn, *ws.Conn) {
	h.t.Helper()
	c, _, err := h.dial(query, header)
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { _ = c.CloseNow() })
	select {
	case sc := <-h.newConn:
		return c, sc
	case <-time.After(wait):
		h.t.Fatal("server did not report the connection")
		return nil, nil
	}
}

func (h *harness) refusals() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.refused...)
}

func (h *harness) readErrors() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.readErrs...)
}

// firstHandlerErr waits for the first handler to return and gives its
// error: the handler may return a moment after the slot is released.
func (h *harness) firstHandlerErr() error {
	h.t.Helper()
	eventually(h.t, func() bool { return len(h.readErrors()) > 0 }, "a handler returned")
	return h.readErrors()[0]
}

// waitActive waits until the server holds n slots.
func (h *harness) waitActive(n int) {
	h.t.Helper()
	eventually(h.t, func() bool { return h.srv.Stats().Active == n }, "Stats().Active == %d (is %d)", n, h.srv.Stats().Active)
}

func eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: "+format, append([]any{wait}, args...)...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDone waits until the server side of a connection is closed.
func waitDone(t testing.TB, c *ws.Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(wait):
		t.Fatal("server connection not closed")
	}
}

// waitGoroutines waits until no more goroutines run than before; on
// failure it prints them, so a leak names its function.
func waitGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readClose reads on a client until the connection ends and returns the
// close code it received (-1 for none).
func readClose(t testing.TB, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("no close within the wait")
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, ""
		}
	}
}

func checkProblem(t testing.TB, resp *http.Response, status int) {
	t.Helper()
	if resp == nil {
		t.Fatalf("no response, want %d", status)
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json; charset=utf-8" {
		t.Fatalf("Content-Type %q, want a problem document", ct)
	}
	if resp.Header.Get("Upgrade") != "" && status != http.StatusUpgradeRequired {
		t.Fatalf("refusal carries Upgrade %q", resp.Header.Get("Upgrade"))
	}
}

// handshake is a valid client opening handshake for rawDial.
func handshake(addr, path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// rawDial performs the opening handshake by hand on a TCP connection, so
// that a test can then send any bytes at all.
func rawDial(t testing.TB, h *harness) (net.Conn, *bufio.Reader) {
	t.Helper()
	addr := h.hs.Listener.Addr().String()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(wait))
	if _, err := nc.Write([]byte(handshake(addr, "/ws"))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", resp.StatusCode)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, br
}

// frame encodes one client frame, masked as RFC 6455 requires (with a
// zero key, which leaves the payload as is).
func frame(opcode byte, fin bool, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, 0, 0, 0, 0)
	return append(out, payload...)
}

// header returns an http.Header with key set to values.
func header(key string, values ...string) http.Header {
	h := http.Header{}
	for _, v := range values {
		h.Add(key, v)
	}
	return h
}

// newRoute serves h alone, for tests that write their own route.
func newRoute(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}
