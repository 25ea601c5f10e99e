package sse_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/logtest"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/sse"
)

// runFunc is Serve's run argument.
type runFunc = func(ctx context.Context, st *sse.Stream) error

// harness is a real HTTP server whose one route serves a stream for the
// user named in ?user=.
type harness struct {
	srv    *httptest.Server
	sse    *sse.Server
	logs   *logtest.Buffer
	client *http.Client
}

func newSSE(t *testing.T, cfg sse.Config) (*sse.Server, *logtest.Buffer) {
	t.Helper()
	logs := &logtest.Buffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := sse.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

func streamHandler(s *sse.Server, run runFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Serve(w, r, r.URL.Query().Get("user"), run)
	})
}

func newHarness(t *testing.T, cfg sse.Config, run runFunc) *harness {
	t.Helper()
	s, logs := newSSE(t, cfg)
	srv := httptest.NewServer(streamHandler(s, run))
	// Each test's own transport, so that goroutine counts are its own.
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return &harness{srv: srv, sse: s, logs: logs, client: &http.Client{Transport: tr}}
}

// open starts a stream for user and returns the response once its
// headers have arrived. cancel disconnects the client.
func (h *harness) open(t *testing.T, query string) (resp *http.Response, cancel func()) {
	t.Helper()
	return openURL(t, h.client, h.srv.URL+"/events?"+query)
}

func openURL(t *testing.T, c *http.Client, url string) (*http.Response, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return resp, func() {
		cancel()
		_ = resp.Body.Close()
	}
}

// waitLog waits until the logs hold want: a stream's closing is logged
// just after its slot is freed.
func waitLog(t *testing.T, logs *logtest.Buffer, want string) {
	t.Helper()
	waitFor(t, "a log line with "+want, func() bool { return strings.Contains(logs.String(), want) })
}

// testWriter sends an http.Server's error log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkRefusal reads a refused response: status, Retry-After and an
// RFC 9457 problem document.
func checkRefusal(t *testing.T, resp *http.Response, status int, retryAfter string) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	if got := resp.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type %q", ct)
	}
	var p problem.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Status != status || p.Detail == "" || p.Error == "" || p.Type == "" {
		t.Errorf("problem %+v", p)
	}
}

func blockUntilDone(ctx context.Context, _ *sse.Stream) error {
	<-ctx.Done()
	return nil
}

func TestEventsArriveInOrderWithFraming(t *testing.T) {
	sent := []struct {
		name string
		data string
	}{
		{"follower", `{"username":"ada"}`},
		{"multi", "line one\nline two\r\nline three\rline four"},
		{"", "unnamed is a message"},
		{"trailing", "ends with a newline\n"},
		{"empty", ""},
		{"spaces", "  leading spaces kept"},
		{"blank-lines", "\n\n"},
		{"data: x", "colon in the name"},
		{"unicode ✓", "héllo ✓"},
	}
	h := newHarness(t, sse.Config{RetryAfter: 2500 * time.Millisecond}, func(ctx context.Context, st *sse.Stream) error {
		for _, e := range sent {
			if err := st.Send(e.name, []byte(e.data)); err != nil {
				return err
			}
		}
		return nil
	})
	resp, cancel := h.open(t, "user=alice")
	defer cancel()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	p := newStreamReader(bufio.NewReader(resp.Body))
	for i, e := range sent {
		got, err := p.next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		wantType := e.name
		if wantType == "" {
			wantType = "message"
		}
		wantData := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(e.data)
		if got.Type != wantType || got.Data != wantData {
			t.Errorf("event %d = %q %q, want %q %q", i, got.Type, got.Data, wantType, wantData)
		}
	}
	if _, err := p.next(); err != io.EOF {
		t.Fatalf("after the last event: %v, want EOF", err)
	}
	if p.retry != 2500 || p.idSeen || p.unknown != 0 {
		t.Errorf("retry %d, id seen %v, unknown fields %d", p.retry, p.idSeen, p.unknown)
	}
	waitFor(t, "the slot to be freed", func() bool { return h.sse.Stats().Active == 0 })
	if st := h.sse.Stats(); st.Opened != 1 || st.Refused != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestHeartbeatCommentsWhileIdle(t *testing.T) {
	h := newHarness(t, sse.Config{Heartbeat: 20 * time.Millisecond}, blockUntilDone)
	resp, cancel := h.open(t, "user=alice")
	defer cancel()
	p := newStreamReader(bufio.NewReader(resp.Body))
	comments := 0
	for comments < 3 {
		line, err := p.readLine()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, ":") {
			comments++
		}
	}
}

func TestPerUserCap(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, sse.Config{MaxPerUser: 2, RetryAfter: 2500 * time.Millisecond},
		func(ctx context.Context, st *sse.Stream) error {
			runs.Add(1)
			return blockUntilDone(ctx, st)
		})
	for range 2 {
		resp, cancel := h.open(t, "user=alice")
		defer cancel()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	for range 3 {
		resp, cancel := h.open(t, "user=alice")
		checkRefusal(t, resp, http.StatusTooManyRequests, "3")
		cancel()
	}
	// Another user is not held back by alice's streams.
	resp, cancel := h.open(t, "user=bob")
	defer cancel()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bob: status %d", resp.StatusCode)
	}
	waitFor(t, "three runs", func() bool { return runs.Load() == 3 })
	if st := h.sse.Stats(); st.Active != 3 || st.Refused != 3 || st.RefusedUser != 3 || st.MaxPerUser != 2 {
		t.Errorf("stats %+v", st)
	}
	// Refusals are logged, but not one line each.
	if n := strings.Count(h.logs.String(), "user cap reached"); n != 1 {
		t.Errorf("%d refusal log lines, want 1:\n%s", n, h.logs)
	}
	if runs.Load() != 3 {
		t.Errorf("run called %d times for 3 admitted streams", runs.Load())
	}
}

func TestProcessCap(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, sse.Config{MaxStreams: 2}, func(ctx context.Context, st *sse.Stream) error {
		runs.Add(1)
		return blockUntilDone(ctx, st)
	})
	for _, user := range []string{"alice", "bob"} {
		resp, cancel := h.open(t, "user="+user)
		defer cancel()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	resp, cancel := h.open(t, "user=carol")
	checkRefusal(t, resp, http.StatusServiceUnavailable, "5")
	cancel()
	if st := h.sse.Stats(); st.Active != 2 || st.Max != 2 || st.Refused != 1 || st.RefusedUser != 0 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(h.logs.String(), `"level":"WARN","msg":"event stream refused: process cap reached"`) {
		t.Errorf("no warning logged:\n%s", h.logs)
	}
	waitFor(t, "two runs", func() bool { return runs.Load() == 2 })
}

func TestSlotReleasedOnClientDisconnect(t *testing.T) {
	causes := make(chan error, 1)
	h := newHarness(t, sse.Config{MaxPerUser: 1}, func(ctx context.Context, st *sse.Stream) error {
		<-ctx.Done()
		causes <- st.Send("late", []byte("x"))
		return nil
	})
	before := runtime.NumGoroutine()
	resp, cancel := h.open(t, "user=alice")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitFor(t, "the stream to open", func() bool { return h.sse.Stats().Active == 1 })
	cancel()
	select {
	case err := <-causes:
		if !errors.Is(err, sse.ErrClosed) {
			t.Errorf("Send after disconnect: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run's context did not end on disconnect")
	}
	waitFor(t, "the slot to be freed", func() bool { return h.sse.Stats().Active == 0 })
	h.client.CloseIdleConnections()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	// The user's slot is usable again.
	resp, cancel = h.open(t, "user=alice")
	defer cancel()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reopen: status %d", resp.StatusCode)
	}
	waitLog(t, h.logs, `"reason":"client disconnected"`)
}

func TestShutdownEndsStreamsAndRefusesNewOnes(t *testing.T) {
	causes := make(chan error, 2)
	h := newHarness(t, sse.Config{}, func(ctx context.Context, st *sse.Stream) error {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil
	})
	var bodies []*bufio.Reader
	for _, user := range []string{"alice", "bob"} {
		resp, cancel := h.open(t, "user="+user)
		defer cancel()
		bodies = append(bodies, bufio.NewReader(resp.Body))
	}
	waitFor(t, "two streams", func() bool { return h.sse.Stats().Active == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.sse.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := h.sse.Stats(); st.Active != 0 {
		t.Fatalf("after Shutdown: %+v", st)
	}
	for i := range 2 {
		if err := <-causes; !errors.Is(err, sse.ErrShutdown) {
			t.Errorf("cause %v, want ErrShutdown", err)
		}
		// The response ends cleanly, so the client reconnects (elsewhere).
		if _, err := newStreamReader(bodies[i]).next(); err != io.EOF {
			t.Errorf("stream %d: %v, want EOF", i, err)
		}
	}
	resp, cancelNew := h.open(t, "user=carol")
	defer cancelNew()
	checkRefusal(t, resp, http.StatusServiceUnavailable, "5")
	if err := h.sse.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestShutdownWaitsForRunUntilItsContextEnds(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, sse.Config{}, func(ctx context.Context, st *sse.Stream) error {
		<-release // a run that ignores its context
		return nil
	})
	resp, cancel := h.open(t, "user=alice")
	defer cancel()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ctx, cancelCtx := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelCtx()
	if err := h.sse.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	close(release)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := h.sse.Shutdown(ctx2); err != nil {
		t.Fatalf("Shutdown after run returned: %v", err)
	}
}

func TestStalledClientIsCutOffByWriteTimeout(t *testing.T) {
	errs := make(chan error, 1)
	big := []byte(strings.Repeat("x", 256<<10))
	h := newHarness(t, sse.Config{WriteTimeout: 200 * time.Millisecond}, func(ctx context.Context, st *sse.Stream) error {
		for {
			if err := st.Send("big", big); err != nil {
				errs <- err
				return err
			}
		}
	})
	resp, cancel := h.open(t, "user=alice") // and never read the body
	defer cancel()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, sse.ErrClosed) {
			t.Errorf("Send: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client that stopped reading was not cut off")
	}
	waitFor(t, "the slot to be freed", func() bool { return h.sse.Stats().Active == 0 })
	waitLog(t, h.logs, `"reason":"write failed"`)
}

// A server's WriteTimeout and ReadTimeout bound ordinary responses; a
// stream must outlive both, over HTTP/1.1 and HTTP/2.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			s, _ := newSSE(t, sse.Config{Heartbeat: 20 * time.Millisecond})
			srv := httptest.NewUnstartedServer(streamHandler(s, blockUntilDone))
			// They also bound the TLS handshake: not so short that a busy
			// machine misses it.
			srv.Config.WriteTimeout = 400 * time.Millisecond
			srv.Config.ReadTimeout = 400 * time.Millisecond
			srv.Config.ErrorLog = log.New(testWriter{t}, "", 0)
			if h2 {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			c := srv.Client()
			defer c.CloseIdleConnections()
			resp, cancel := openURL(t, c, srv.URL+"/events?user=alice")
			defer cancel()
			if wantMajor := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != wantMajor {
				t.Fatalf("protocol %s", resp.Proto)
			}
			p := newStreamReader(bufio.NewReader(resp.Body))
			start := time.Now()
			comments := 0
			for time.Since(start) < 3*srv.Config.WriteTimeout {
				line, err := p.readLine()
				if err != nil {
					t.Fatalf("stream ended after %v and %d heartbeats: %v", time.Since(start), comments, err)
				}
				if strings.HasPrefix(line, ":") {
					comments++
				}
			}
			if s.Stats().Active != 1 {
				t.Errorf("stats %+v", s.Stats())
			}
		})
	}
}

func TestConcurrentOpensNeverExceedCaps(t *testing.T) {
	const (
		maxStreams = 5
		maxPerUser = 2
		users      = 4
		perUser    = 10
	)
	var (
		open, maxOpen atomic.Int32
		userOpen      [users]atomic.Int32
		userMax       [users]atomic.Int32
		release       = make(chan struct{})
	)
	raise := func(m *atomic.Int32, v int32) {
		for {
			old := m.Load()
			if v <= old || m.CompareAndSwap(old, v) {
				return
			}
		}
	}
	s, _ := newSSE(t, sse.Config{MaxStreams: maxStreams, MaxPerUser: maxPerUser})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u int
		_, _ = fmt.Sscanf(r.URL.Query().Get("user"), "u%d", &u)
		s.Serve(w, r, r.URL.Query().Get("user"), func(ctx context.Context, st *sse.Stream) error {
			raise(&maxOpen, open.Add(1))
			raise(&userMax[u], userOpen[u].Add(1))
			defer open.Add(-1)
			defer userOpen[u].Add(-1)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: users * perUser}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	var answered, done sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range users * perUser {
		answered.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			resp, err := c.Get(fmt.Sprintf("%s/events?user=u%d", srv.URL, i%users))
			if err != nil {
				answered.Done()
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
			answered.Done()
			_, _ = io.Copy(io.Discard, resp.Body)
		}()
	}
	answered.Wait()
	close(release)
	done.Wait()

	if statuses[http.StatusOK] != maxStreams ||
		statuses[http.StatusOK]+statuses[http.StatusTooManyRequests]+statuses[http.StatusServiceUnavailable] != users*perUser {
		t.Errorf("statuses %v", statuses)
	}
	if maxOpen.Load() > maxStreams {
		t.Errorf("%d streams open at once, cap %d", maxOpen.Load(), maxStreams)
	}
	for u := range users {
		if m := userMax[u].Load(); m > maxPerUser {
			t.Errorf("user %d had %d streams at once, cap %d", u, m, maxPerUser)
		}
	}
	waitFor(t, "every slot to be freed", func() bool { return s.Stats().Active == 0 })
	if st := s.Stats(); st.Opened != maxStreams || st.Refused != users*perUser-maxStreams {
		t.Errorf("stats %+v", st)
	}
}

func TestInvalidEventsAreRefusedAndTheStreamGoesOn(t *testing.T) {
	errs := make(chan error, 16)
	h := newHarness(t, sse.Config{}, func(ctx context.Context, st *sse.Stream) error {
		for _, name := range []string{"a\nb", "a\rb", "a\r\nid: 1", "a\x00b", "tab\there", "del\x7f", "\xff\xfe"} {
			errs <- st.Send(name, []byte("x"))
		}
		errs <- st.Send("bad-data", []byte("\xff"))
		return st.Send("ok", []byte("still open"))
	})
	resp, cancel := h.open(t, "user=alice")
	defer cancel()
	p := newStreamReader(bufio.NewReader(resp.Body))
	got, err := p.next()
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "ok" || got.Data != "still open" {
		t.Errorf("event %+v", got)
	}
	if _, err := p.next(); err != io.EOF {
		t.Errorf("after the last event: %v", err)
	}
	for i := range 7 {
		if err := <-errs; !errors.Is(err, sse.ErrInvalidEvent) {
			t.Errorf("name %d: %v, want ErrInvalidEvent", i, err)
		}
	}
	if err := <-errs; !errors.Is(err, sse.ErrInvalidData) {
		t.Errorf("bad data: %v, want ErrInvalidData", err)
	}
}

func TestSendAfterServeReturnedFails(t *testing.T) {
	streams := make(chan *sse.Stream, 1)
	h := newHarness(t, sse.Config{}, func(ctx context.Context, st *sse.Stream) error {
		streams <- st
		return nil
	})
	resp, cancel := h.open(t, "user=alice")
	defer cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	waitFor(t, "the slot to be freed", func() bool { return h.sse.Stats().Active == 0 })
	if err := (<-streams).Send("late", []byte("x")); !errors.Is(err, sse.ErrClosed) {
		t.Fatalf("Send after Serve returned: %v, want ErrClosed", err)
	}
}

// A run that panics (here under Warden's router, which recovers) still
// frees its slot.
func TestPanicInRunFreesTheSlot(t *testing.T) {
	s, logs := newSSE(t, sse.Config{MaxPerUser: 1})
	router, err := warden.NewRouter(warden.Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	router.Get("/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Serve(w, r, "alice", func(ctx context.Context, st *sse.Stream) error {
			if calls.Add(1) == 1 {
				panic("run failed")
			}
			return st.Send("second", []byte("served"))
		})
	}), warden.Require(guard.AllowAny))
	srv := httptest.NewServer(router)
	defer srv.Close()
	c := srv.Client()
	defer c.CloseIdleConnections()

	resp, cancel := openURL(t, c, srv.URL+"/events")
	_, _ = io.Copy(io.Discard, resp.Body)
	cancel()
	waitFor(t, "the slot to be freed", func() bool { return s.Stats().Active == 0 })
	waitLog(t, logs, `"reason":"run panicked"`)

	resp, cancel = openURL(t, c, srv.URL+"/events")
	defer cancel()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ev, err := newStreamReader(bufio.NewReader(resp.Body)).next()
	if err != nil || ev.Data != "served" {
		t.Fatalf("through the router: %+v %v", ev, err)
	}
}

// A ResponseWriter that cannot stream (a middleware wrapping it without
// Unwrap) is answered 500 at once; run is never called.
func TestWriterThatCannotStreamIs500(t *testing.T) {
	for name, wrap := range map[string]func(http.ResponseWriter) http.ResponseWriter{
		"no flush":    func(w http.ResponseWriter) http.ResponseWriter { return plainWriter{w} },
		"no deadline": func(w http.ResponseWriter) http.ResponseWriter { return flushOnlyWriter{w} },
	} {
		t.Run(name, func(t *testing.T) {
			s, logs := newSSE(t, sse.Config{})
			var runs atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.Serve(wrap(w), r, "alice", func(context.Context, *sse.Stream) error {
					runs.Add(1)
					return nil
				})
			}))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Type") != problem.ContentType {
				t.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if runs.Load() != 0 || s.Stats().Opened != 0 || s.Stats().Active != 0 {
				t.Errorf("runs %d, stats %+v", runs.Load(), s.Stats())
			}
			if !strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("not logged:\n%s", logs)
			}
		})
	}
}

type plainWriter struct{ http.ResponseWriter }

type flushOnlyWriter struct{ http.ResponseWriter }

func (w flushOnlyWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func TestEmptyUserKeyIs500(t *testing.T) {
	h := newHarness(t, sse.Config{}, blockUntilDone)
	resp, cancel := h.open(t, "user=")
	defer cancel()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if st := h.sse.Stats(); st.Opened != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLogsNeverCarryTheQueryOrData(t *testing.T) {
	h := newHarness(t, sse.Config{}, func(ctx context.Context, st *sse.Stream) error {
		if err := st.Send("secret", []byte("private-data-xyz")); err != nil {
			return err
		}
		return errors.New("run failed: boom")
	})
	resp, cancel := h.open(t, "user=alice&ticket=s3cr3t-ticket")
	defer cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	waitLog(t, h.logs, `"msg":"event stream closed"`)
	logs := h.logs.String()
	for _, want := range []string{
		`"msg":"event stream opened"`, `"msg":"event stream closed"`, `"path":"/events"`, `"user":"alice"`,
		`"reason":"run returned"`, `"error":"run failed: boom"`, `"events":1`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	for _, secret := range []string{"s3cr3t-ticket", "ticket=", "private-data-xyz"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs carry %q:\n%s", secret, logs)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]sse.Config{
		"negative MaxStreams":   {MaxStreams: -1},
		"negative MaxPerUser":   {MaxPerUser: -1},
		"negative Heartbeat":    {Heartbeat: -time.Second},
		"negative WriteTimeout": {WriteTimeout: -time.Second},
		"negative RetryAfter":   {RetryAfter: -time.Second},
		"heartbeat over 30s":    {Heartbeat: 31 * time.Second},
		"heartbeat under 10ms":  {Heartbeat: time.Millisecond},
	} {
		if _, err := sse.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := sse.New(sse.Config{Heartbeat: sse.MaxHeartbeat})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Max != sse.DefaultMaxStreams || st.MaxPerUser != sse.DefaultMaxPerUser {
		t.Errorf("defaults %+v", st)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
