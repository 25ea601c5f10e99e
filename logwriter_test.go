package warden_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
)

// gateWriter is a log destination that can be held shut, as a full pipe
// or a stalled disk would be: every Write waits until the gate opens.
type gateWriter struct {
	gate   chan struct{} // closed: writes go through
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	err    error
}

func newGateWriter(open bool) *gateWriter {
	g := &gateWriter{gate: make(chan struct{})}
	if open {
		close(g.gate)
	}
	return g
}

func (g *gateWriter) open() { close(g.gate) }

func (g *gateWriter) Write(p []byte) (int, error) {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes++
	if g.err != nil {
		return 0, g.err
	}
	return g.buf.Write(p)
}

// lines returns the JSON lines written so far, decoded.
func (g *gateWriter) lines(t *testing.T) []map[string]any {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(g.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func (g *gateWriter) writeCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes
}

func TestLogWriterKeepsEveryLineInOrderAcrossWriters(t *testing.T) {
	dst := newGateWriter(true)
	lw := warden.NewLogWriter(dst, warden.LogWriterOptions{MaxBuffer: 512, MaxDelay: time.Millisecond})
	logger := slog.New(lw.Handler(slog.NewJSONHandler(lw, nil)))
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				logger.Info("line", "writer", w, "i", i)
			}
		})
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]float64, writers)
	lines := dst.lines(t)
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	for _, l := range lines {
		w := int(l["writer"].(float64))
		if l["i"].(float64) != next[w] {
			t.Fatalf("writer %d: line %v after %v", w, l["i"], next[w]-1)
		}
		next[w]++
	}
	if lw.Dropped() != 0 {
		t.Errorf("dropped %d lines with a destination that keeps up", lw.Dropped())
	}
}

func TestLogWriterBatchesLinesIntoOneWrite(t *testing.T) {
	dst := newGateWriter(true)
	lw := warden.NewLogWriter(dst, warden.LogWriterOptions{MaxDelay: time.Hour})
	defer lw.Close()
	for i := range 100 {
		fmt.Fprintf(lw, "line %d\n", i)
	}
	if n := dst.writeCount(); n != 0 {
		t.Fatalf("%d writes before the delay or a flush", n)
	}
	if err := lw.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := dst.writeCount(); n != 1 {
		t.Errorf("100 lines took %d writes, want 1", n)
	}
	if got := strings.Count(dst.buf.String(), "\n"); got != 100 {
		t.Errorf("%d lines written", got)
	}
}

func TestLogWriterWritesWithinMaxDelayWithoutFlush(t *testing.T) {
	dst := newGateWriter(true)
	lw := warden.NewLogWriter(dst, warden.LogWriterOptions{MaxDelay: 10 * time.Millisecond})
	defer lw.Close()
	_, _ = io.WriteString(lw, "one\n")
	deadline := time.Now().Add(5 * time.Second)
	for dst.writeCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not written within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLogWriterHandsNonAccessLinesOverAtOnce(t *testing.T) {
	dst := newGateWriter(true)
	// An hour's delay: only the urgency of a non-access line can explain
	// a write before Close.
	lw := warden.NewLogWriter(dst, warden.LogWriterOptions{MaxDelay: time.Hour})
	defer lw.Close()
	logger := slog.New(lw.Handler(slog.NewJSONHandler(lw, nil)))
	logger.Warn("security event", "event", "login_failed")
	deadline := time.Now().Add(5 * time.Second)
	for dst.writeCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a security event waited for MaxDelay")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLogWriterAfterCloseWritesThrough(t *testing.T) {
	dst := newGateWriter(true)
	lw := warden.NewLogWriter(dst, warden.LogWriterOptions{MaxDelay: time.Hour})
	_, _ = io.WriteString(lw, "before\n")
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	_, _ = io.WriteString(lw, "after\n")
	if got := dst.buf.String(); got != "before\nafter\n" {
		t.Errorf("got %q", got)
	}
}

func TestLogWriterTakesALineLargerThanItsBuffer(t *testing.T) {
	dst := newGateWriter(true)
	lw := warden.NewLogWriter(dst, warden.LogWriterOptions{MaxBuffer: 64})
	big := strings.Repeat("x", 1000) + "\n"
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.WriteString(lw, big)
		_, _ = io.WriteString(lw, big)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writing lines larger than the buffer did not finish within 5 s")
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if dst.buf.String() != big+big {
		t.Errorf("wrote %d bytes, want %d", dst.buf.Len(), 2*len(big))
	}
}

func TestLogWriterReportsDestinationErrors(t *testing.T) {
	dst := newGateWriter(true)
	dst.err = errors.New("disk full")
	lw := warden.NewLogWriter(dst, warden.LogWriterOptions{MaxDelay: time.Hour})
	_, _ = io.WriteString(lw, "lost\n")
	if err := lw.Flush(); err == nil || err.Error() != "disk full" {
		t.Errorf("Flush: %v, want the destination's error", err)
	}
	if err := lw.Close(); err == nil {
		t.Error("Close forgot the destination's error")
	}
}

// TestLogWriterStalledDestination holds the destination shut, as a full
// pipe would: requests must still be answered (their access lines are
// dropped once the buffer is three quarters full, and counted), security
// events must not be lost (a writer waits for room instead), and once the
// destination drains, a warning counts the dropped lines.
func TestLogWriterStalledDestination(t *testing.T) {
	handlers := map[string]func(*warden.LogWriter) slog.Handler{
		// The access line through slog's JSON handler.
		"Handler": func(lw *warden.LogWriter) slog.Handler { return lw.Handler(slog.NewJSONHandler(lw, nil)) },
		// The access line appended by the LogWriter itself.
		"JSONHandler": func(lw *warden.LogWriter) slog.Handler { return lw.JSONHandler(nil) },
	}
	for name, handler := range handlers {
		t.Run(name, func(t *testing.T) { testStalledDestination(t, handler) })
	}
}

func testStalledDestination(t *testing.T, handler func(*warden.LogWriter) slog.Handler) {
	dst := newGateWriter(false)
	lw := warden.NewLogWriter(dst, warden.LogWriterOptions{MaxBuffer: 4096, MaxDelay: time.Millisecond})
	logger := slog.New(handler(lw))
	r, err := warden.NewRouter(warden.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	r.Get("/x", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, public)
	srv := httptest.NewServer(r)
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func() {
		t.Helper()
		resp, err := client.Get(srv.URL + "/x")
		if err != nil {
			t.Fatalf("a request waited on the stalled log: %v", err)
		}
		resp.Body.Close()
	}
	const requests = 100 // about 25 KB of access lines against a 4 KiB buffer
	for range requests {
		get()
	}
	if lw.Dropped() == 0 {
		t.Fatal("no access line dropped while the destination was stalled")
	}

	// Security events keep coming while the destination is stalled: they
	// wait for room rather than be dropped.
	const events = 40
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		for i := range events {
			logger.LogAttrs(context.Background(), slog.LevelInfo, "security event", slog.String("event", "login_failed"), slog.Int("n", i))
		}
	}()
	dst.open()
	select {
	case <-eventsDone:
	case <-time.After(5 * time.Second):
		t.Fatal("security events still waiting 5 s after the destination drained")
	}
	get() // the first access line with room again reports the dropped ones
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}

	var access, security int
	var reported float64
	for _, l := range dst.lines(t) {
		switch l["msg"] {
		case "request":
			access++
		case "security event":
			if l["n"].(float64) != float64(security) {
				t.Errorf("security event %v out of order (want %d)", l["n"], security)
			}
			security++
		default:
			if strings.HasPrefix(l["msg"].(string), "access log lines dropped") {
				if l["level"] != "WARN" {
					t.Errorf("drop report at level %v", l["level"])
				}
				reported += l["dropped"].(float64)
			}
		}
	}
	if security != events {
		t.Errorf("%d security events written, want all %d", security, events)
	}
	if uint64(reported) != lw.Dropped() {
		t.Errorf("warnings report %v dropped lines, the writer counted %d", reported, lw.Dropped())
	}
	if access+int(lw.Dropped()) != requests+1 {
		t.Errorf("%d access lines written + %d dropped, want %d requests", access, lw.Dropped(), requests+1)
	}
}

// ctxHandler records the request id each access line's context carries.
type ctxHandler struct {
	slog.Handler
	mu  sync.Mutex
	ids []string
}

func (h *ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.ids = append(h.ids, warden.RequestID(ctx))
	h.mu.Unlock()
	return h.Handler.Handle(ctx, r)
}

// TestAccessLineCarriesTheRequestContext: the access line's context is
// marked for the LogWriter but still the request's, so that a handler
// reading request-scoped values (a trace id) from it finds them.
func TestAccessLineCarriesTheRequestContext(t *testing.T) {
	h := &ctxHandler{Handler: slog.NewJSONHandler(io.Discard, nil)}
	r, err := warden.NewRouter(warden.Config{Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	r.Get("/x", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, public)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if len(h.ids) != 1 || h.ids[0] == "" || h.ids[0] != rec.Header().Get("X-Request-Id") {
		t.Errorf("access line context had request id %q, response %q", h.ids, rec.Header().Get("X-Request-Id"))
	}
}
