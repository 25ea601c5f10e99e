package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/storetest"
)

// Chat and events across three instances sharing a database and Redis: a
// ticket issued by one opens a socket on another, a message sent through
// one reaches members on all, a logout through one closes the login's
// connections on the others, and a Redis restart loses no connection and
// duplicates no message.

type chatter struct {
	name, access, refresh string
}

func (c *cluster) chatter(t *testing.T, i int, name string) *chatter {
	t.Helper()
	c.user(t, name)
	access, refresh := c.login(t, i, name)
	return &chatter{name: name, access: access, refresh: refresh}
}

func (u *chatter) bearer() map[string]string {
	return map[string]string{"Authorization": "Bearer " + u.access, "Content-Type": "application/json"}
}

// chatConn is an open chat socket whose frames a goroutine reads:
// coder/websocket closes a connection whose Read is cancelled, so waits
// with a timeout read from frames instead.
type chatConn struct {
	conn   *websocket.Conn
	frames chan string // chat messages, then closed
	closed websocket.StatusCode
}

// socket opens u's chat socket on room through instance i, with a ticket
// issued by instance from.
func (c *cluster) socket(t *testing.T, u *chatter, from, i int, room int64) *chatConn {
	t.Helper()
	status, _, body := call(t, "POST", c.bases[from]+"/api/ws-ticket", u.bearer(), "")
	if status != 200 {
		t.Fatalf("ticket: %d %v", status, body)
	}
	url := "ws" + strings.TrimPrefix(c.bases[i], "http") + "/ws/chat/" + strconv.FormatInt(room, 10) + "?ticket=" + body["ticket"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial instance %d: %v", i, err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	cc := &chatConn{conn: conn, frames: make(chan string, 64)}
	go func() {
		defer close(cc.frames)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				cc.closed = websocket.CloseStatus(err)
				return
			}
			var f struct{ Type, Message string }
			if json.Unmarshal(b, &f) == nil && f.Type == "chat_message" {
				cc.frames <- f.Message
			} else {
				cc.frames <- "unexpected frame: " + string(b)
			}
		}
	}()
	return cc
}

// read returns the next chat message, or the close code once the socket
// has closed, or timedOut.
func read(t *testing.T, c *chatConn, within time.Duration) (message string, closed websocket.StatusCode, timedOut bool) {
	t.Helper()
	select {
	case msg, ok := <-c.frames:
		if !ok {
			return "", c.closed, false
		}
		return msg, -1, false
	case <-time.After(within):
		return "", -1, true
	}
}

// deliveredOnce checks that each conn receives want exactly once.
func deliveredOnce(t *testing.T, want string, conns ...*chatConn) {
	t.Helper()
	for i, conn := range conns {
		if msg, closed, _ := read(t, conn, 6*time.Second); msg != want {
			t.Fatalf("socket %d: %q (close %d), want %q", i, msg, closed, want)
		}
	}
	for i, conn := range conns {
		if msg, closed, timedOut := read(t, conn, 300*time.Millisecond); !timedOut {
			t.Fatalf("socket %d: a second frame %q (close %d)", i, msg, closed)
		}
	}
}

func say(t *testing.T, c *chatConn, text string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"message": text})
	if err := c.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

func TestRealtimeAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		if e.Name == "sqlite" {
			t.Skip("instances on several machines share a server database")
		}
		redisServer := redistest.StartServer(t)
		c := startCluster(t, e, map[string]string{
			"WARDEN_REDIS_URL":            redisServer.URL(),
			"WARDEN_AUTH_RATE_PER_MINUTE": "1000",
		})
		alice, bob, carol := c.chatter(t, 0, "alice"), c.chatter(t, 1, "bob"), c.chatter(t, 2, "carol")

		status, _, body := call(t, "POST", c.bases[0]+"/api/chat/rooms", alice.bearer(), `{"name":"readers"}`)
		if status != 201 {
			t.Fatalf("room: %d %v", status, body)
		}
		room := int64(body["id"].(float64))
		for _, name := range []string{"bob", "carol"} {
			if status, _, body := call(t, "POST", c.bases[1]+"/api/chat/rooms/"+strconv.FormatInt(room, 10)+"/members", alice.bearer(), `{"username":"`+name+`"}`); status != 204 {
				t.Fatalf("add %s: %d %v", name, status, body)
			}
		}

		// Tickets from one instance open sockets on another.
		a := c.socket(t, alice, 1, 0, room)
		b := c.socket(t, bob, 2, 1, room)
		cs := c.socket(t, carol, 0, 2, room)
		events := openStream(t, c.bases[0], bob)

		say(t, a, "hello from instance 0")
		deliveredOnce(t, "hello from instance 0", a, b, cs)
		if ev := events.next(t); ev.name != "chat_message" || !strings.Contains(ev.data, "hello from instance 0") {
			t.Fatalf("bob's stream on instance 0: %+v", ev)
		}

		// Redis restarts: the sockets stay open, and after it the hubs
		// resubscribe; each message still arrives once.
		redisServer.Stop()
		redisServer.Start()
		if err := redistest.Eventually(10*time.Second, func() error {
			say(t, cs, "after the restart")
			msg, _, _ := read(t, a, 500*time.Millisecond)
			if msg != "after the restart" {
				return errNotYet
			}
			return nil
		}); err != nil {
			t.Fatalf("no delivery across instances after the Redis restart: %v", err)
		}
		// Drain what the retries sent, then check one message end to end.
		for _, conn := range []*chatConn{a, b, cs} {
			for {
				if _, closed, timedOut := read(t, conn, 300*time.Millisecond); timedOut {
					break
				} else if closed != -1 {
					t.Fatalf("a socket closed after the Redis restart: %d", closed)
				}
			}
		}
		say(t, b, "once each")
		deliveredOnce(t, "once each", a, b, cs)

		// Bob logs out through instance 2: his socket on instance 1 and
		// his stream on instance 0 end within 5 s.
		if status, _, body := call(t, "POST", c.bases[2]+"/api/auth/logout", bob.bearer(), `{"refresh_token":"`+bob.refresh+`"}`); status != 200 {
			t.Fatalf("logout: %d %v", status, body)
		}
		if _, closed, _ := read(t, b, 6*time.Second); closed != 4001 {
			t.Fatalf("bob's socket after logout: close %d, want 4001", closed)
		}
		events.expectEnd(t)
		// Alice and carol carry on.
		say(t, cs, "still here")
		deliveredOnce(t, "still here", a, cs)
	})
}

type errString string

func (e errString) Error() string { return string(e) }

const errNotYet = errString("not delivered yet")

// stream is an open GET /api/events.
type stream struct {
	r    *bufio.Reader
	body interface{ Close() error }
}

type streamEvent struct{ name, data string }

func openStream(t *testing.T, base string, u *chatter) *stream {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &stream{r: bufio.NewReader(resp.Body), body: resp.Body}
}

// next returns the next event (comments skipped), failing after 6 s.
func (s *stream) next(t *testing.T) streamEvent {
	t.Helper()
	got := make(chan streamEvent, 1)
	go func() {
		var ev streamEvent
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				close(got)
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && ev.name != "":
				got <- ev
				return
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			}
		}
	}()
	select {
	case ev, ok := <-got:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(6 * time.Second):
		t.Fatal("no event within 6 s")
	}
	return streamEvent{}
}

// expectEnd waits up to 6 s for the server to end the stream.
func (s *stream) expectEnd(t *testing.T) {
	t.Helper()
	ended := make(chan struct{})
	go func() {
		for {
			if _, err := s.r.ReadString('\n'); err != nil {
				close(ended)
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(6 * time.Second):
		t.Fatal("the stream is still open")
	}
}
