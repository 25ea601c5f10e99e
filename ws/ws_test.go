package ws_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/secure"
	"github.com/wardenhq/warden/ws"
)

func TestEcho(t *testing.T) {
	h := newHarness(t, ws.Config{}, nil)
	c, sc := h.mustDial("", nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, msg := range []string{"hello", `{"message":"hi"}`, "ünïcödé"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.MessageText || string(got) != msg {
			t.Fatalf("echo %v %q, want text %q", typ, got, msg)
		}
	}
	if got := h.srv.Stats(); got.Active != 1 || got.Max != ws.DefaultMaxConns {
		t.Fatalf("Stats %+v, want 1 of %d", got, ws.DefaultMaxConns)
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, sc)
	if got := sc.CloseStatus(); got != websocket.StatusNormalClosure {
		t.Fatalf("CloseStatus %v, want 1000", got)
	}
	h.waitActive(0)
	if sc.Send([]byte("late")) {
		t.Fatal("Send on a closed connection returned true")
	}
	if _, err := sc.Read(ctx); !errors.Is(err, ws.ErrClosed) {
		t.Fatalf("Read after close: %v, want ErrClosed", err)
	}
}

func TestOrigin(t *testing.T) {
	cors, err := secure.NewCORS(secure.CORSPolicy{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, ws.Config{AllowOrigin: cors.AllowsOrigin}, nil)
	self := "http://" + h.hs.Listener.Addr().String()
	for _, tc := range []struct {
		name    string
		origins []string
		ok      bool
	}{
		{"no Origin (not a browser)", nil, true},
		{"same origin", []string{self}, true},
		{"same origin, upper-case scheme", []string{"HTTP://" + h.hs.Listener.Addr().String()}, true},
		{"allowed cross origin", []string{"https://app.example.com"}, true},
		{"allowed cross origin, default port and case", []string{"https://APP.example.com:443"}, true},
		{"disallowed cross origin", []string{"https://evil.example"}, false},
		{"allowed host over the other scheme", []string{"http://app.example.com"}, false},
		{"null", []string{"null"}, false},
		{"empty", []string{""}, false},
		{"with a path", []string{"https://app.example.com/"}, false},
		{"not a URL", []string{"app.example.com"}, false},
		{"other port of this host", []string{"http://127.0.0.1:1"}, false},
		{"two Origin fields", []string{"https://app.example.com", "https://app.example.com"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr http.Header
			if tc.origins != nil {
				hdr = header("Origin", tc.origins...)
			}
			c, resp, err := h.dial("", hdr)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				<-h.newConn
				_ = c.Close(websocket.StatusNormalClosure, "")
				h.waitActive(0)
				return
			}
			if err == nil {
				_ = c.CloseNow()
				t.Fatal("upgraded")
			}
			checkProblem(t, resp, http.StatusForbidden)
			if got := h.refusals(); !errors.Is(got[len(got)-1], ws.ErrOrigin) {
				t.Fatalf("Accept returned %v, want ErrOrigin", got[len(got)-1])
			}
			if n := h.srv.Stats().Active; n != 0 {
				t.Fatalf("refusal holds %d slots", n)
			}
		})
	}
}

func TestOriginWithoutAllowOrigin(t *testing.T) {
	h := newHarness(t, ws.Config{}, nil)
	_, resp, err := h.dial("", header("Origin", "https://app.example.com"))
	if err == nil {
		t.Fatal("nil AllowOrigin allowed a cross origin")
	}
	checkProblem(t, resp, http.StatusForbidden)
}

func TestUserCap(t *testing.T) {
	h := newHarness(t, ws.Config{MaxPerUser: 2, RetryAfter: 7 * time.Second}, nil)
	first, _ := h.mustDial("user=alice", nil)
	h.mustDial("user=alice", nil)
	_, resp, err := h.dial("user=alice", nil)
	if err == nil {
		t.Fatal("third connection of one user accepted")
	}
	checkProblem(t, resp, http.StatusTooManyRequests)
	if got := resp.Header.Get("Retry-After"); got != "7" {
		t.Fatalf("Retry-After %q, want 7", got)
	}
	if got := h.refusals(); !errors.Is(got[0], ws.ErrUserCapacity) {
		t.Fatalf("Accept returned %v, want ErrUserCapacity", got[0])
	}
	// Another user is not affected, and neither is an anonymous caller.
	h.mustDial("user=bob", nil)
	h.mustDial("", nil)
	// A slot comes back when a connection ends.
	_ = first.Close(websocket.StatusNormalClosure, "")
	h.waitActive(3)
	h.mustDial("user=alice", nil)
}

func TestProcessCap(t *testing.T) {
	h := newHarness(t, ws.Config{MaxConns: 2}, nil)
	first, _ := h.mustDial("user=a", nil)
	h.mustDial("", nil)
	for _, q := range []string{"", "user=b"} {
		_, resp, err := h.dial(q, nil)
		if err == nil {
			t.Fatal("connection over MaxConns accepted")
		}
		checkProblem(t, resp, http.StatusServiceUnavailable)
		if got := resp.Header.Get("Retry-After"); got != "5" {
			t.Fatalf("Retry-After %q, want the default 5", got)
		}
	}
	if got := h.refusals(); !errors.Is(got[0], ws.ErrCapacity) {
		t.Fatalf("Accept returned %v, want ErrCapacity", got[0])
	}
	if got := h.srv.Stats(); got != (ws.Stats{Active: 2, Max: 2}) {
		t.Fatalf("Stats %+v", got)
	}
	_ = first.CloseNow()
	h.waitActive(1)
	h.mustDial("user=a", nil)
}

func TestConcurrentAcceptsNeverExceedCaps(t *testing.T) {
	const maxConns, maxPerUser, dials = 5, 3, 24
	var (
		mu      sync.Mutex
		peak    int
		perUser = map[string]int{}
	)
	h := newHarness(t, ws.Config{MaxConns: maxConns, MaxPerUser: maxPerUser}, nil)
	var wg sync.WaitGroup
	statuses := make([]int, dials)
	for i := range dials {
		user := "a"
		if i%2 == 1 {
			user = "b"
		}
		wg.Go(func() {
			c, resp, err := h.dial("user="+user, nil)
			if err != nil {
				if resp != nil {
					statuses[i] = resp.StatusCode
				}
				return
			}
			statuses[i] = http.StatusSwitchingProtocols
			t.Cleanup(func() { _ = c.CloseNow() })
			mu.Lock()
			perUser[user]++
			peak = max(peak, h.srv.Stats().Active)
			mu.Unlock()
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	// No connection ends during the test, so every refusal saw a cap
	// that stays reached: exactly MaxConns succeed.
	if count[http.StatusSwitchingProtocols] != maxConns || count[503]+count[429] != dials-maxConns {
		t.Fatalf("outcomes %v, want %d upgrades and the rest 503 or 429", count, maxConns)
	}
	if peak > maxConns || perUser["a"] > maxPerUser || perUser["b"] > maxPerUser {
		t.Fatalf("peak %d, per user %v: a cap was exceeded", peak, perUser)
	}
	if got := h.srv.Stats().Active; got != maxConns {
		t.Fatalf("Active %d, want %d", got, maxConns)
	}
}

func TestOversizeMessageCloses1009(t *testing.T) {
	const limit = 1024
	h := newHarness(t, ws.Config{ReadLimit: limit}, nil)
	c, sc := h.mustDial("", nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// Exactly the limit passes.
	at := bytes.Repeat([]byte("a"), limit)
	if err := c.Write(ctx, websocket.MessageText, at); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Read(ctx); err != nil || !bytes.Equal(got, at) {
		t.Fatalf("message at the limit: %v", err)
	}
	// One byte more, split over fragments, closes with 1009.
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(at[:600])
	_, _ = w.Write(at[:425])
	_ = w.Close()
	if code, _ := readClose(t, c); code != websocket.StatusMessageTooBig {
		t.Fatalf("client got close %v, want 1009", code)
	}
	waitDone(t, sc)
	if got := sc.CloseStatus(); got != websocket.StatusMessageTooBig {
		t.Fatalf("CloseStatus %v, want 1009", got)
	}
	h.waitActive(0)
	if err := h.firstHandlerErr(); !errors.Is(err, ws.ErrMessageTooLarge) || !errors.Is(err, ws.ErrClosed) {
		t.Fatalf("Read returned %v, want ErrMessageTooLarge and ErrClosed", err)
	}
}

func TestOversizeSingleFrameCloses1009(t *testing.T) {
	h := newHarness(t, ws.Config{}, nil)
	c, _ := h.mustDial("", nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("x"), ws.DefaultReadLimit*4))
	if code, _ := readClose(t, c); code != websocket.StatusMessageTooBig {
		t.Fatalf("client got close %v, want 1009", code)
	}
	h.waitActive(0)
}

func TestFloodCloses1008(t *testing.T) {
	var mu sync.Mutex
	read := 0
	// Refilling one token takes 10 s, far longer than the test.
	h := newHarness(t, ws.Config{MessageRate: 0.1, MessageBurst: 3}, func(c *ws.Conn) error {
		for {
			if _, err := c.Read(context.Background()); err != nil {
				return err
			}
			mu.Lock()
			read++
			mu.Unlock()
		}
	})
	c, sc := h.mustDial("", nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for range 10 {
		if err := c.Write(ctx, websocket.MessageText, []byte("spam")); err != nil {
			break // closed under us
		}
	}
	if code, _ := readClose(t, c); code != websocket.StatusPolicyViolation {
		t.Fatalf("client got close %v, want 1008", code)
	}
	waitDone(t, sc)
	h.waitActive(0)
	if err := h.firstHandlerErr(); !errors.Is(err, ws.ErrFlood) {
		t.Fatalf("Read returned %v, want ErrFlood", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if read != 3 {
		t.Fatalf("Read returned %d messages, want the burst of 3", read)
	}
}

func TestUnacceptableMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
		code websocket.StatusCode
		err  error
	}{
		{"binary", websocket.MessageBinary, []byte("{}"), websocket.StatusUnsupportedData, ws.ErrBinary},
		{"invalid UTF-8", websocket.MessageText, []byte("ok \xff\xfe"), websocket.StatusInvalidFramePayloadData, ws.ErrInvalidUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ws.Config{}, nil)
			c, sc := h.mustDial("", nil)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := c.Write(ctx, tc.typ, tc.msg); err != nil {
				t.Fatal(err)
			}
			if code, _ := readClose(t, c); code != tc.code {
				t.Fatalf("client got close %v, want %v", code, tc.code)
			}
			waitDone(t, sc)
			h.waitActive(0)
			if err := h.firstHandlerErr(); !errors.Is(err, tc.err) {
				t.Fatalf("Read returned %v, want %v", err, tc.err)
			}
		})
	}
}

func TestApplicationClose(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes: more than a close frame holds
	h := newHarness(t, ws.Config{}, func(c *ws.Conn) error {
		c.Close(4003, long)
		if c.CloseStatus() != 4003 {
			return errors.New("CloseStatus is not 4003")
		}
		c.Close(websocket.StatusNormalClosure, "again") // idempotent: no effect
		if c.CloseStatus() != 4003 {
			return errors.New("a second Close changed the status")
		}
		if c.Send([]byte("late")) {
			return errors.New("Send after Close returned true")
		}
		_, err := c.Read(context.Background())
		return err
	})
	c, _, err := h.dial("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	code, reason := readClose(t, c)
	if code != 4003 {
		t.Fatalf("client got close %v, want 4003", code)
	}
	if len(reason) > 123 || !strings.HasPrefix(long, reason) || reason == "" {
		t.Fatalf("reason %q: want the first whole characters within 123 bytes", reason)
	}
	h.waitActive(0)
	if err := h.firstHandlerErr(); !errors.Is(err, ws.ErrClosed) {
		t.Fatalf("handler: %v", err)
	}
}

func TestSlowConsumerIsDropped(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 256<<10)
	sent := make(chan int, 1)
	h := newHarness(t, ws.Config{SendBuffer: 4, WriteTimeout: 300 * time.Millisecond}, func(c *ws.Conn) error {
		n := 0
		// The client never reads: once the socket buffers fill, the queue
		// fills, and Send must say so instead of blocking or growing.
		for ; n < 10000 && c.Send(big); n++ {
		}
		sent <- n
		_, err := c.Read(context.Background())
		return err
	})
	base := runtime.NumGoroutine()
	c, sc := h.mustDial("", nil)
	select {
	case n := <-sent:
		if n == 10000 {
			t.Fatal("Send never reported the full queue")
		}
	case <-time.After(wait):
		t.Fatal("Send blocked")
	}
	waitDone(t, sc)
	if got := sc.CloseStatus(); got != websocket.StatusTryAgainLater {
		t.Fatalf("CloseStatus %v, want 1013", got)
	}
	h.waitActive(0)
	if err := h.firstHandlerErr(); !errors.Is(err, ws.ErrSlowConsumer) {
		t.Fatalf("Read returned %v, want ErrSlowConsumer", err)
	}
	_ = c.CloseNow()
	waitGoroutines(t, base)
}

func TestKeepaliveDropsSilentPeer(t *testing.T) {
	h := newHarness(t, ws.Config{PingInterval: 50 * time.Millisecond, PongTimeout: 100 * time.Millisecond}, nil)
	base := runtime.NumGoroutine()
	// A client that never reads never answers a ping.
	silent, sc := h.mustDial("", nil)
	waitDone(t, sc)
	if got := sc.CloseStatus(); got != websocket.StatusAbnormalClosure {
		t.Fatalf("CloseStatus %v, want 1006", got)
	}
	h.waitActive(0)
	if err := h.firstHandlerErr(); !errors.Is(err, ws.ErrPongTimeout) {
		t.Fatalf("Read returned %v, want ErrPongTimeout", err)
	}
	_ = silent.CloseNow()
	waitGoroutines(t, base)
}

func TestKeepaliveKeepsAnsweringPeer(t *testing.T) {
	h := newHarness(t, ws.Config{PingInterval: 20 * time.Millisecond, PongTimeout: 250 * time.Millisecond}, nil)
	c, sc := h.mustDial("", nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	got := make(chan string, 1)
	go func() {
		// Reading answers pings.
		_, msg, _ := c.Read(ctx)
		got <- string(msg)
	}()
	time.Sleep(time.Second) // many ping intervals, and longer than PongTimeout
	if err := c.Write(ctx, websocket.MessageText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if msg := <-got; msg != "still here" {
		t.Fatalf("echo %q; CloseStatus %v", msg, sc.CloseStatus())
	}
}

func TestSilentRawPeerIsDropped(t *testing.T) {
	h := newHarness(t, ws.Config{PingInterval: 50 * time.Millisecond, PongTimeout: 100 * time.Millisecond}, nil)
	nc, br := rawDial(t, h)
	defer nc.Close()
	sc := <-h.newConn
	waitDone(t, sc)
	h.waitActive(0)
	// The peer saw a ping and then the end of the connection.
	_ = nc.SetReadDeadline(time.Now().Add(wait))
	b, err := br.ReadByte()
	if err != nil || b != 0x89 {
		t.Fatalf("first byte %#x, %v; want a ping frame", b, err)
	}
}

func TestDisconnectCleanup(t *testing.T) {
	h := newHarness(t, ws.Config{}, nil)
	base := runtime.NumGoroutine()
	var clients []*websocket.Conn
	var servers []*ws.Conn
	for _, q := range []string{"user=a", "user=a", ""} {
		c, sc := h.mustDial(q, nil)
		clients = append(clients, c)
		servers = append(servers, sc)
	}
	h.waitActive(3)
	// Abrupt: no close frame, the TCP connection just goes away.
	for _, c := range clients {
		_ = c.CloseNow()
	}
	for _, sc := range servers {
		waitDone(t, sc)
		if got := sc.CloseStatus(); got != websocket.StatusAbnormalClosure {
			t.Fatalf("CloseStatus %v, want 1006", got)
		}
	}
	h.waitActive(0)
	waitGoroutines(t, base)
	// The user's slots are all back.
	for range 3 {
		h.mustDial("user=a", nil)
	}
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, ws.Config{}, nil)
	a, _ := h.mustDial("user=a", nil)
	b, _ := h.mustDial("", nil)
	results := make(chan websocket.StatusCode, 2)
	for _, c := range []*websocket.Conn{a, b} {
		go func() {
			code, _ := readClose(t, c)
			results <- code
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.srv.Stats().Active; got != 0 {
		t.Fatalf("Shutdown returned with %d connections", got)
	}
	for range 2 {
		if code := <-results; code != websocket.StatusGoingAway {
			t.Fatalf("client got close %v, want 1001", code)
		}
	}
	_, resp, err := h.dial("", nil)
	if err == nil {
		t.Fatal("accepted after Shutdown")
	}
	checkProblem(t, resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if got := h.refusals(); !errors.Is(got[0], ws.ErrShuttingDown) {
		t.Fatalf("Accept returned %v, want ErrShuttingDown", got[0])
	}
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestShutdownHonoursContext(t *testing.T) {
	// The raw peer never answers the close frame, so the close handshake
	// waits for it and the slot stays taken past ctx.
	h := newHarness(t, ws.Config{}, nil)
	nc, _ := rawDial(t, h)
	defer nc.Close()
	<-h.newConn
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's error while a peer lingers", err)
	}
	_ = nc.Close()
	h.waitActive(0)
}

func TestUpgradeErrorsAreProblems(t *testing.T) {
	h := newHarness(t, ws.Config{}, nil)
	client := h.hs.Client()
	resp, err := client.Get(h.hs.URL + "/ws?ticket=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	checkProblem(t, resp, http.StatusUpgradeRequired)

	req, _ := http.NewRequest(http.MethodPost, h.hs.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	checkProblem(t, resp, http.StatusMethodNotAllowed)
	if resp.Header.Get("Allow") != "GET" {
		t.Fatalf("Allow %q", resp.Header.Get("Allow"))
	}
	for _, err := range h.refusals() {
		if !errors.Is(err, ws.ErrUpgrade) {
			t.Fatalf("Accept returned %v, want ErrUpgrade", err)
		}
	}
	if got := h.srv.Stats().Active; got != 0 {
		t.Fatalf("failed upgrades hold %d slots", got)
	}
}

func TestServerDeadlinesDoNotCutConnections(t *testing.T) {
	h := newHarnessServer(t, ws.Config{}, nil, func(s *http.Server) {
		s.ReadTimeout = 100 * time.Millisecond
		s.WriteTimeout = 100 * time.Millisecond
	})
	c, _ := h.mustDial("", nil)
	time.Sleep(400 * time.Millisecond) // past both deadlines
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != "after" {
		t.Fatalf("echo after the server's deadlines: %q, %v", got, err)
	}
}

func TestLogsNeverHoldTicketsOrMessages(t *testing.T) {
	const ticket, secret = "TICKET-3c1f9a", "MESSAGE-77d2e0"
	h := newHarness(t, ws.Config{MaxPerUser: 1}, nil)
	c, sc := h.mustDial("user=u1&ticket="+ticket, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, []byte(secret))
	_, _, _ = c.Read(ctx)
	_, _, _ = h.dial("user=u1&ticket="+ticket, nil)                              // 429
	_, _, _ = h.dial("ticket="+ticket, header("Origin", "https://evil.example")) // 403
	_ = c.Write(ctx, websocket.MessageBinary, []byte(secret))
	readClose(t, c)
	waitDone(t, sc)
	h.waitActive(0)
	logs := h.logs.String()
	for _, want := range []string{"websocket opened", "websocket closed", "websocket refused", `"user":"u1"`, `"path":"/ws"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, ticket) || strings.Contains(logs, secret) {
		t.Fatalf("logs hold the ticket or a message:\n%s", logs)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]ws.Config{
		"MaxConns":     {MaxConns: -1},
		"MaxPerUser":   {MaxPerUser: -1},
		"ReadLimit":    {ReadLimit: -1},
		"MessageRate":  {MessageRate: math.NaN()},
		"MessageRate ": {MessageRate: math.Inf(1)},
		"MessageBurst": {MessageBurst: -1},
		"WriteTimeout": {WriteTimeout: -1},
		"PingInterval": {PingInterval: -1},
		"PongTimeout":  {PongTimeout: -1},
		"SendBuffer":   {SendBuffer: -1},
		"RetryAfter":   {RetryAfter: -1},
	} {
		_, err := ws.New(cfg)
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%s: error %v, want one naming the field", name, err)
		}
	}
	if _, err := ws.New(ws.Config{}); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
}

func TestReadContextEndClosesPolitely(t *testing.T) {
	trigger := make(chan struct{})
	h := newHarness(t, ws.Config{}, func(c *ws.Conn) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-trigger
			cancel()
		}()
		_, err := c.Read(ctx)
		return err
	})
	c, sc := h.mustDial("", nil)
	close(trigger)
	if code, _ := readClose(t, c); code != websocket.StatusGoingAway {
		t.Fatalf("client got close %v, want 1001", code)
	}
	waitDone(t, sc)
	if err := h.firstHandlerErr(); !errors.Is(err, ws.ErrClosed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Read returned %v, want ErrClosed and context.Canceled", err)
	}
	h.waitActive(0)
}

// A route that spends a one-time ticket checks the origin first, so that
// a cross-site page cannot use up or probe a ticket.
func TestOriginAllowedBeforeTicket(t *testing.T) {
	srv, err := ws.New(ws.Config{AllowOrigin: func(o string) bool { return o == "https://app.example.com" }})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	spent := 0
	hs := newRoute(t, func(w http.ResponseWriter, r *http.Request) {
		if !srv.OriginAllowed(r) {
			srv.RefuseOrigin(w, r)
			return
		}
		mu.Lock()
		spent++
		mu.Unlock()
		c, err := srv.Accept(w, r, "u")
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
		}
	})
	dial := func(origin string) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, "ws"+hs.URL[len("http"):]+"/?ticket=t", &websocket.DialOptions{
			HTTPHeader: header("Origin", origin), HTTPClient: hs.Client(),
		})
		if err == nil {
			_ = c.CloseNow()
		}
		return resp, err
	}
	resp, err := dial("https://evil.example")
	if err == nil {
		t.Fatal("upgraded for a disallowed origin")
	}
	checkProblem(t, resp, http.StatusForbidden)
	if _, err := dial("https://app.example.com"); err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if spent != 1 {
		t.Fatalf("%d tickets spent, want only the allowed origin's", spent)
	}
	eventually(t, func() bool { return srv.Stats().Active == 0 }, "slots released")
}
