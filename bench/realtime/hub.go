package main

// The baselines: what the same chat costs without Warden. One plain
// net/http server, in a process of its own, serves
//
//   - GET /api/events?user=<id>: a Server-Sent Events stream of that
//     user's chat_message events (the plain SSE hub), and
//   - GET /ws/chat/{room}?user=<id>: a coder/websocket connection to a
//     room (the plain WebSocket room hub); a message a client sends is
//     broadcast to every socket in the room and to every member's event
//     streams, as Warden's chat does.
//
// There is nothing else: no authentication (the user is whoever the
// query names), no caps, no rate or flood limits, no write deadlines,
// no pings, no logs, no database (membership is the fixture's topology),
// and each message is rendered once for all its receivers. The queues are
// as deep as Warden's (a listener's buffer, a socket's send buffer), and
// a receiver whose queue is full is dropped, as Warden drops it, so that
// neither side buffers without bound. It is the physical limit of
// net/http and coder/websocket on this machine, against which Warden's
// costs are ratios.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/sse"
	"github.com/wardenhq/warden/ws"
)

// hub is the baseline's state: the open streams of each user and the
// open sockets of each room.
type hub struct {
	topo topology

	mu      sync.RWMutex
	streams map[string]map[*receiver]struct{} // by user id
	sockets map[int64]map[*receiver]struct{}  // by room
}

// receiver is one open stream or socket: a queue of rendered messages
// that its own goroutine writes out.
type receiver struct {
	ch chan []byte
	// dropped is closed when the hub drops the receiver for falling
	// behind.
	dropped chan struct{}
}

func newHub(t topology) *hub {
	return &hub{topo: t, streams: map[string]map[*receiver]struct{}{}, sockets: map[int64]map[*receiver]struct{}{}}
}

// serveHub runs the baseline server for t on a loopback port, prints its
// address and serves until the process is ended.
func serveHub(t topology) error {
	if t.Rooms < 1 || t.Members < 1 {
		return fmt.Errorf("bad topology %+v", t)
	}
	h := newHub(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/events", h.serveEvents)
	mux.HandleFunc("GET /ws/chat/{room}", h.serveSocket)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return (&http.Server{Handler: mux}).Serve(ln)
}

// register adds r under key in m, creating the set.
func register[K comparable](h *hub, m map[K]map[*receiver]struct{}, key K, r *receiver) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := m[key]
	if set == nil {
		set = map[*receiver]struct{}{}
		m[key] = set
	}
	set[r] = struct{}{}
}

// unregister removes r from key's set in m.
func unregister[K comparable](h *hub, m map[K]map[*receiver]struct{}, key K, r *receiver) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := m[key]
	delete(set, r)
	if len(set) == 0 {
		delete(m, key)
	}
}

func newReceiver(buffer int) *receiver {
	return &receiver{ch: make(chan []byte, buffer), dropped: make(chan struct{})}
}

// serveEvents is the plain SSE hub's stream.
func (h *hub) serveEvents(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	flusher, ok := w.(http.Flusher)
	if !ok || user == "" {
		http.Error(w, "no stream", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	// The same opening as Warden's streams: the reconnection delay.
	fmt.Fprintf(w, "retry: %d\n\n", sse.DefaultRetryAfter.Milliseconds())
	flusher.Flush()

	rc := newReceiver(fanout.DefaultBuffer)
	register(h, h.streams, user, rc)
	defer unregister(h, h.streams, user, rc)
	heartbeat := time.NewTicker(sse.DefaultHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-rc.dropped:
			return
		case <-heartbeat.C:
			if _, err := w.Write([]byte(":\n\n")); err != nil {
				return
			}
			flusher.Flush()
		case b := <-rc.ch:
			if _, err := w.Write(b); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// serveSocket is the plain WebSocket room hub's connection.
func (h *hub) serveSocket(w http.ResponseWriter, r *http.Request) {
	room, err := strconv.ParseInt(r.PathValue("room"), 10, 64)
	user, ok := userIndex(r.URL.Query().Get("user"))
	if err != nil || !ok || room != h.topo.roomOf(user) {
		http.Error(w, "not a member", http.StatusForbidden)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	rc := newReceiver(ws.DefaultSendBuffer)
	register(h, h.sockets, room, rc)
	defer unregister(h, h.sockets, room, rc)
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case <-rc.dropped:
				c.Close(websocket.StatusTryAgainLater, "fell behind")
				return
			case b := <-rc.ch:
				if c.Write(ctx, websocket.MessageText, b) != nil {
					return
				}
			}
		}
	}()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var in struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &in) != nil || in.Message == "" || utf8.RuneCountInString(in.Message) > 1000 {
			continue
		}
		h.publish(room, user, in.Message)
	}
}

// The baseline's payloads, in Warden's member order.
type (
	hubFrame struct {
		Type      string    `json:"type"`
		Message   string    `json:"message"`
		User      string    `json:"user"`
		Timestamp time.Time `json:"timestamp"`
	}
	hubEvent struct {
		RoomID    int64     `json:"room_id"`
		Message   string    `json:"message"`
		User      string    `json:"user"`
		Timestamp time.Time `json:"timestamp"`
	}
)

// publish renders a message once per transport and queues it for the
// room's sockets and its members' streams. A receiver whose queue is
// full is dropped.
func (h *hub) publish(room int64, author int, text string) {
	ts := chatTime(time.Now())
	frame, err1 := json.Marshal(hubFrame{Type: "chat_message", Message: text, User: username(author), Timestamp: ts})
	data, err2 := json.Marshal(hubEvent{RoomID: room, Message: text, User: username(author), Timestamp: ts})
	if err1 != nil || err2 != nil {
		return
	}
	event := make([]byte, 0, len(data)+40)
	event = append(event, "event: chat_message\ndata: "...)
	event = append(event, data...)
	event = append(event, "\n\n"...)

	var slow []*receiver
	h.mu.RLock()
	for rc := range h.sockets[room] {
		if !rc.offer(frame) {
			slow = append(slow, rc)
		}
	}
	for k := range h.topo.Members {
		for rc := range h.streams[userID(h.topo.member(room, k))] {
			if !rc.offer(event) {
				slow = append(slow, rc)
			}
		}
	}
	h.mu.RUnlock()
	for _, rc := range slow {
		h.drop(rc)
	}
}

// offer queues b without waiting.
func (rc *receiver) offer(b []byte) bool {
	select {
	case rc.ch <- b:
		return true
	default:
		return false
	}
}

// drop ends a receiver that fell behind, once.
func (h *hub) drop(rc *receiver) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-rc.dropped:
	default:
		close(rc.dropped)
	}
}
