package bookclub_test

// The chat socket and the event stream, with real WebSocket and
// Server-Sent Events clients against the harness's server.

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/sse"
	"github.com/wardenhq/warden/ws"
)

// closeWithin is the API's bound on closing a revoked or removed
// member's connection, with the watcher's interval on top.
const closeWithin = 6 * time.Second

// ticketFor asks for a one-time ticket as m.
func (h *harness) ticketFor(m *member) string {
	h.t.Helper()
	r := h.expect(h.as(m, "POST", "/api/ws-ticket", nil), 200)
	if r.Body["expires_in"] != float64(30) {
		h.t.Fatalf("expires_in = %v, want 30", r.Body["expires_in"])
	}
	return r.Body["ticket"].(string)
}

func (h *harness) socketURL(room string, ticket string) string {
	return "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/ws/chat/" + room + "?ticket=" + ticket
}

// dial opens room's socket with ticket; origin, when set, is sent as the
// Origin header.
func (h *harness) dial(room, ticket, origin string) (*websocket.Conn, *http.Response, error) {
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, h.socketURL(room, ticket), &websocket.DialOptions{HTTPHeader: hdr})
	if c != nil {
		h.t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// join opens m's socket on room, which must succeed.
func (h *harness) join(m *member, room int64) *websocket.Conn {
	h.t.Helper()
	c, _, err := h.dial(strconv.FormatInt(room, 10), h.ticketFor(m), "")
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	return c
}

type frame struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	User      string `json:"user"`
	Timestamp string `json:"timestamp"`
}

// next reads c's next frame, or the close status that ended it.
func next(t *testing.T, c *websocket.Conn) (frame, websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), closeWithin)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		if s := websocket.CloseStatus(err); s != -1 {
			return frame{}, s
		}
		t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %q: %v", b, err)
	}
	return f, -1
}

func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	b, ok := v.(string)
	if !ok {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b = string(raw)
	}
	if err := c.Write(context.Background(), websocket.MessageText, []byte(b)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// expectClose reads until c closes and checks the code.
func expectClose(t *testing.T, c *websocket.Conn, want websocket.StatusCode) {
	t.Helper()
	for {
		_, got := next(t, c)
		if got == -1 {
			continue // a frame sent before the close
		}
		if got != want {
			t.Fatalf("closed with %d, want %d", got, want)
		}
		return
	}
}

func TestChatSocket(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		alice, bob := h.newUser("alice", accounts.CreateOptions{}), h.newUser("bob", accounts.CreateOptions{})
		room := h.newRoom(alice, "readers")
		h.addMember(alice, room, "bob")
		a, b := h.join(alice, room), h.join(bob, room)

		send(t, a, map[string]string{"message": "hello <b>bob</b>"})
		for _, c := range []*websocket.Conn{a, b} {
			f, closed := next(t, c)
			if closed != -1 || f.Type != "chat_message" || f.Message != "hello bob" || f.User != "alice" {
				t.Fatalf("frame %+v (close %d)", f, closed)
			}
			if _, err := time.Parse(time.RFC3339Nano, f.Timestamp); err != nil {
				t.Fatalf("timestamp %q: %v", f.Timestamp, err)
			}
		}
		// Stored: the history shows it.
		hist := h.expect(h.as(bob, "GET", roomPath(room, "/messages"), nil), 200)
		if got := results(t, hist); len(got) != 1 || got[0]["message"] != "hello bob" {
			t.Fatalf("history %v", hist.Raw)
		}

		// Invalid messages get an error frame, are not broadcast, and
		// leave the socket open.
		for _, bad := range []any{
			"not json", `["message"]`, `{"message": 5}`, `{}`, `{"message": null}`,
			map[string]string{"message": ""}, map[string]string{"message": "<i></i>"},
			map[string]string{"message": strings.Repeat("x", 1001)},
		} {
			send(t, a, bad)
			f, closed := next(t, a)
			if closed != -1 || f.Type != "error" || f.Message == "" {
				t.Fatalf("%v: frame %+v (close %d)", bad, f, closed)
			}
		}
		send(t, b, map[string]string{"message": strings.Repeat("é", 1000)})
		for _, c := range []*websocket.Conn{a, b} {
			if f, _ := next(t, c); f.Type != "chat_message" || f.User != "bob" {
				t.Fatalf("after the errors: %+v", f)
			}
		}
	})
}

func TestChatSocketRefusals(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	alice, mallory := h.newUser("alice", accounts.CreateOptions{}), h.newUser("mallory", accounts.CreateOptions{})
	room := h.newRoom(alice, "readers")
	id := strconv.FormatInt(room, 10)

	t.Run("tickets", func(t *testing.T) {
		for name, ticket := range map[string]string{"missing": "", "unknown": "bm90LWEtdGlja2V0", "oversize": strings.Repeat("a", 300)} {
			c, _, err := h.dial(id, ticket, "")
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			expectClose(t, c, 4001)
		}
		ticket := h.ticketFor(alice)
		c, _, err := h.dial(id, ticket, "")
		if err != nil {
			t.Fatal(err)
		}
		c.Close(websocket.StatusNormalClosure, "")
		again, _, err := h.dial(id, ticket, "")
		if err != nil {
			t.Fatal(err)
		}
		expectClose(t, again, 4001) // single use
		h.expect(h.call("POST", "/api/ws-ticket", nil, ""), 401)
	})

	t.Run("membership", func(t *testing.T) {
		for _, r := range []string{id, "999999", "abc", "-1"} {
			c, _, err := h.dial(r, h.ticketFor(mallory), "")
			if err != nil {
				t.Fatalf("room %s: %v", r, err)
			}
			expectClose(t, c, 4003)
		}
	})

	t.Run("origin", func(t *testing.T) {
		ticket := h.ticketFor(alice)
		_, resp, err := h.dial(id, ticket, "https://attacker.example")
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site origin: %v %v", err, resp)
		}
		// Refused before the ticket was spent: alice's own page can use it.
		c, _, err := h.dial(id, ticket, h.srv.URL)
		if err != nil {
			t.Fatalf("same origin with the same ticket: %v", err)
		}
		send(t, c, map[string]string{"message": "still here"})
		if f, _ := next(t, c); f.Type != "chat_message" {
			t.Fatalf("frame %+v", f)
		}
	})

	t.Run("oversize and flood", func(t *testing.T) {
		c := h.join(alice, room)
		if err := c.Write(context.Background(), websocket.MessageText, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		expectClose(t, c, websocket.StatusMessageTooBig)

		c = h.join(alice, room)
		for range 60 {
			if c.Write(context.Background(), websocket.MessageText, []byte(`{"message":"spam"}`)) != nil {
				break
			}
		}
		expectClose(t, c, websocket.StatusPolicyViolation)
	})
}

func TestChatSocketEndsOnRemovalAndRevocation(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		alice, bob := h.newUser("alice", accounts.CreateOptions{}), h.newUser("bob", accounts.CreateOptions{})
		room := h.newRoom(alice, "readers")
		h.addMember(alice, room, "bob")
		other := h.newRoom(alice, "other")
		h.addMember(alice, other, "bob")

		b, bOther := h.join(bob, room), h.join(bob, other)
		h.expect(h.as(alice, "DELETE", roomPath(room, "/members/bob"), nil), 204)
		expectClose(t, b, 4003)

		// Logging out ends the login's other socket, and its event stream.
		events := h.openEvents(bob, "")
		h.expect(h.as(bob, "POST", "/api/auth/logout", map[string]string{"refresh_token": bob.Refresh}), 200)
		expectClose(t, bOther, 4001)
		events.expectEnd(t)

		// A password change ends the user's other logins' sockets, not
		// the socket of the login that made it; logout everywhere ends
		// that one too.
		h.login(bob)
		kept := h.join(bob, other)
		elsewhere := &member{ID: bob.ID, Name: bob.Name}
		h.login(elsewhere)
		ended := h.join(elsewhere, other)
		h.expect(h.call("PATCH", "/api/auth/password", map[string]string{"current_password": goodPassword, "new_password": "another fine passphrase"}, bob.Access), 200)
		expectClose(t, ended, 4001)
		send(t, kept, map[string]string{"message": "still here"})
		if f, closed := next(t, kept); f.Type != "chat_message" {
			t.Fatalf("the changing login's socket: %+v (close %d)", f, closed)
		}
		h.expect(h.as(bob, "POST", "/api/auth/logout-all", nil), 200)
		expectClose(t, kept, 4001)
	})
}

// events is an open event stream.
type events struct {
	resp *http.Response
	r    *bufio.Reader
}

type sseEvent struct {
	Name string
	Data map[string]any
}

// openEvents opens m's stream with its bearer token, or with ticket when
// set.
func (h *harness) openEvents(m *member, ticket string) *events {
	h.t.Helper()
	resp, err := h.getEvents(m, ticket)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		h.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return &events{resp: resp, r: bufio.NewReader(resp.Body)}
}

func (h *harness) getEvents(m *member, ticket string) (*http.Response, error) {
	path := "/api/events"
	if ticket != "" {
		path += "?ticket=" + ticket
	}
	req, err := http.NewRequest("GET", h.srv.URL+path, nil)
	if err != nil {
		return nil, err
	}
	if ticket == "" && m != nil {
		req.Header.Set("Authorization", "Bearer "+m.Access)
	}
	return h.srv.Client().Do(req)
}

// next returns the stream's next event, skipping comments and fields
// other than event and data.
func (e *events) next(t *testing.T) sseEvent {
	t.Helper()
	done := make(chan sseEvent, 1)
	fail := make(chan error, 1)
	go func() {
		var ev sseEvent
		var data string
		for {
			line, err := e.r.ReadString('\n')
			if err != nil {
				fail <- err
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.Name == "" && data == "" {
					continue
				}
				if err := json.Unmarshal([]byte(data), &ev.Data); err != nil {
					fail <- err
					return
				}
				done <- ev
				return
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	select {
	case ev := <-done:
		return ev
	case err := <-fail:
		t.Fatalf("event stream: %v", err)
	case <-time.After(closeWithin):
		t.Fatal("no event")
	}
	return sseEvent{}
}

// expectEnd waits for the server to end the stream.
func (e *events) expectEnd(t *testing.T) {
	t.Helper()
	ended := make(chan struct{})
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := e.r.Read(buf); err != nil {
				close(ended)
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(closeWithin):
		t.Fatal("the event stream is still open")
	}
}

func TestEvents(t *testing.T) {
	each(t, options{}, func(t *testing.T, h *harness) {
		alice, bob, carol := h.newUser("alice", accounts.CreateOptions{}), h.newUser("bob", accounts.CreateOptions{}), h.newUser("carol", accounts.CreateOptions{})
		stream := h.openEvents(bob, "")
		byTicket := h.openEvents(nil, h.ticketFor(bob))

		h.expect(h.as(alice, "POST", "/api/users/bob/follow", nil), 204)
		for _, s := range []*events{stream, byTicket} {
			if ev := s.next(t); ev.Name != "follower" || ev.Data["username"] != "alice" {
				t.Fatalf("event %+v", ev)
			}
		}
		// Following again is no news.
		h.expect(h.as(alice, "POST", "/api/users/bob/follow", nil), 204)

		h.expect(h.as(bob, "PATCH", "/api/users/me", map[string]string{"visibility": "followers_only"}), 200)
		h.expect(h.as(carol, "POST", "/api/users/bob/follow", nil), 202)
		if ev := stream.next(t); ev.Name != "follow_request" || ev.Data["username"] != "carol" {
			t.Fatalf("event %+v", ev)
		}

		room := h.newRoom(alice, "readers")
		h.addMember(alice, room, "bob")
		a := h.join(alice, room)
		send(t, a, map[string]string{"message": "hi"})
		ev := stream.next(t)
		if ev.Name != "chat_message" || ev.Data["message"] != "hi" || ev.Data["user"] != "alice" || ev.Data["room_id"] != float64(room) || ev.Data["timestamp"] == nil {
			t.Fatalf("event %+v", ev)
		}
	})
}

func TestEventsRefusals(t *testing.T) {
	streams, err := sse.New(sse.Config{MaxStreams: 3, MaxPerUser: 2})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sqliteEngine(), options{streams: streams})
	alice, bob := h.newUser("alice", accounts.CreateOptions{}), h.newUser("bob", accounts.CreateOptions{})

	h.expect(h.call("GET", "/api/events", nil, ""), 401)
	h.expect(h.call("GET", "/api/events?ticket=bm90LWEtdGlja2V0", nil, ""), 401)
	ticket := h.ticketFor(alice)
	h.openEvents(nil, ticket)
	if resp, err := h.getEvents(nil, ticket); err != nil || resp.StatusCode != 401 {
		t.Fatalf("a used ticket: %v %v", resp, err)
	}
	h.openEvents(alice, "")
	resp, err := h.getEvents(alice, "")
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the user's cap: %v %v", resp, err)
	}
	resp.Body.Close()
	h.openEvents(bob, "")
	resp, err = h.getEvents(bob, "")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the process cap: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestSocketCapsAndCleanup(t *testing.T) {
	sockets, err := ws.New(ws.Config{MaxConns: 3, MaxPerUser: 2})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sqliteEngine(), options{sockets: sockets})
	alice, bob := h.newUser("alice", accounts.CreateOptions{}), h.newUser("bob", accounts.CreateOptions{})
	room := h.newRoom(alice, "readers")
	h.addMember(alice, room, "bob")
	id := strconv.FormatInt(room, 10)
	before := connectionGoroutines()
	if before != 0 {
		t.Fatalf("%d connection goroutines before any socket", before)
	}

	conns := []*websocket.Conn{h.join(alice, room), h.join(alice, room)}
	_, resp, err := h.dial(id, h.ticketFor(alice), "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the user's cap: %v %v", err, resp)
	}
	conns = append(conns, h.join(bob, room))
	_, resp, err = h.dial(id, h.ticketFor(bob), "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("over the process cap: %v %v", err, resp)
	}

	if n := connectionGoroutines(); n < len(conns) {
		t.Fatalf("%d connection goroutines for %d open sockets: the count misses them", n, len(conns))
	}
	for _, c := range conns {
		c.Close(websocket.StatusNormalClosure, "")
	}
	deadline := time.Now().Add(5 * time.Second)
	for sockets.Stats().Active != 0 || connectionGoroutines() != 0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after closing: %d sockets open, %d connection goroutines left:\n%s", sockets.Stats().Active, connectionGoroutines(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := h.dial(id, h.ticketFor(alice), ""); err != nil {
		t.Fatalf("after closing, a new socket: %v", err)
	}
}

// connectionGoroutines counts the goroutines serving sockets: the
// server's side of each connection runs in the ws package, coder/websocket
// and the book club's socket handler. Other tests' leftovers (database
// connections closing) do not count.
func connectionGoroutines() int {
	buf := make([]byte, 4<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "websocket.Dial") || strings.Contains(g, "bookclub_test.") && !strings.Contains(g, "connectionGoroutines") {
			continue // the test's own client side and the test itself
		}
		if strings.Contains(g, "wardenhq/warden/ws.") || strings.Contains(g, "bookclub.(*Service).handleChatSocket") || strings.Contains(g, "bookclub.(*Service).relayRoom") {
			n++
		}
	}
	return n
}

// A user's messages are limited across their sockets: two sockets each
// under the per-socket flood limit still cannot exceed the user's.
func TestChatMessagesAreLimitedPerUser(t *testing.T) {
	h := newHarness(t, sqliteEngine(), options{})
	alice := h.newUser("alice", accounts.CreateOptions{})
	room := h.newRoom(alice, "readers")
	first, second := h.join(alice, room), h.join(alice, room)
	for i := range 12 {
		for _, c := range []*websocket.Conn{first, second} {
			// A write to a socket the server closed fails; keep going.
			_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"message":"m`+strconv.Itoa(i)+`"}`))
		}
	}
	flooded := 0
	for _, c := range []*websocket.Conn{first, second} {
		if closedWith(c, 2*time.Second) == websocket.StatusPolicyViolation {
			flooded++
		}
	}
	if flooded == 0 {
		t.Fatal("24 messages in a moment from two sockets: neither was closed for flooding")
	}
}

// closedWith reads c until it closes, returning the code, or -1 when it is
// still open after within.
func closedWith(c *websocket.Conn, within time.Duration) websocket.StatusCode {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}
