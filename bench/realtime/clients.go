package main

// The generator's clients: event streams over raw HTTP/1.1 (one
// goroutine and two small buffers each, so that 10,000 of them cost the
// generator little), chat sockets with coder/websocket, and, for Warden,
// the access tokens and one-time tickets they need.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/auth"
)

// connectTimeout bounds opening one stream or socket.
const connectTimeout = 30 * time.Second

// token mints user i's access token, as warden serve would issue it at
// login: the "sid" claim names a login that was never recorded, which
// nothing checks since revocation lists only revoked logins.
func (g *gen) token(i int) (string, error) {
	sid, err := auth.RandomToken(16)
	if err != nil {
		return "", err
	}
	t, err := g.signer.Sign(userID(i), map[string]any{"sid": sid})
	if err != nil {
		return "", err
	}
	return t.Raw, nil
}

// socketURLs returns the URL that opens user i's chat socket on room, for
// each i of users. Warden's need a one-time ticket each, fetched here so
// that a caller can take them all before measuring the sockets' memory.
func (g *gen) socketURLs(users []int) ([]string, error) {
	urls := make([]string, len(users))
	base := "ws://" + g.cfg.Addr + "/ws/chat/"
	if g.cfg.Side == sideBaseline {
		for k, i := range users {
			urls[k] = base + strconv.FormatInt(g.cfg.Topo.roomOf(i), 10) + "?user=" + userID(i)
		}
		return urls, nil
	}
	err := parallel(g.ctx, len(users), 32, func(k int) error {
		t, err := g.ticket(users[k])
		if err != nil {
			return err
		}
		urls[k] = base + strconv.FormatInt(g.cfg.Topo.roomOf(users[k]), 10) + "?ticket=" + url.QueryEscape(t)
		return nil
	})
	return urls, err
}

// ticket asks warden serve for user i's one-time ticket.
func (g *gen) ticket(i int) (string, error) {
	tok, err := g.token(i)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(g.ctx, http.MethodPost, "http://"+g.cfg.Addr+"/api/ws-ticket", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := g.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /api/ws-ticket for user %d: %d %s", i, resp.StatusCode, bytes.TrimSpace(body))
	}
	var t struct {
		Ticket string `json:"ticket"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.Ticket == "" {
		return "", fmt.Errorf("POST /api/ws-ticket: no ticket in %q", body)
	}
	return t.Ticket, nil
}

// openStream opens user i's event stream and reads it in a goroutine of
// its own, handing every chat_message event's data to the current phase.
func (g *gen) openStream(i int) error {
	path, header := "/api/events?user="+userID(i), ""
	if g.cfg.Side == sideWarden {
		tok, err := g.token(i)
		if err != nil {
			return err
		}
		path, header = "/api/events", "Authorization: Bearer "+tok+"\r\n"
	}
	ctx, cancel := context.WithTimeout(g.ctx, connectTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", g.cfg.Addr)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(connectTimeout))
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+g.cfg.Addr+"\r\nAccept: text/event-stream\r\n"+header+"\r\n"); err != nil {
		conn.Close()
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 2048), nil)
	if err != nil {
		conn.Close()
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		conn.Close()
		return fmt.Errorf("GET /api/events for user %d: %d %s %s", i, resp.StatusCode, resp.Header.Get("Content-Type"), bytes.TrimSpace(body))
	}
	_ = conn.SetDeadline(time.Time{})
	g.onClose(func() { conn.Close() })
	go g.readStream(i, resp.Body)
	return nil
}

func (g *gen) readStream(i int, body io.Reader) {
	br := bufio.NewReaderSize(body, 2048)
	var ev eventParser
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			g.errorf("stream of user %d ended: %v", i, err)
			return
		}
		if data, ok := ev.line(line); ok {
			if !g.cur.Load().deliver(time.Now().UnixNano(), data) {
				g.errorf("stream of user %d: chat_message without a stamp: %.200q", i, data)
			}
		}
	}
}

// eventParser follows an event stream line by line (text/event-stream,
// as the servers under test write it: one data line per event).
type eventParser struct{ chat bool }

// line takes one line, newline included; it returns the data of a
// chat_message event when the line is one.
func (p *eventParser) line(b []byte) (data []byte, ok bool) {
	b = bytes.TrimRight(b, "\r\n")
	switch {
	case len(b) == 0:
		p.chat = false // the event ended
	case b[0] == ':':
		// a comment: the heartbeat
	default:
		field, value, _ := bytes.Cut(b, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			p.chat = string(value) == "chat_message"
		case "data":
			if p.chat {
				return value, true
			}
		}
	}
	return nil, false
}

// socket is an open chat socket.
type socket struct {
	user int
	c    *websocket.Conn
	// count says whether its chat messages are deliveries of the
	// current phase (a socket that only posts into a room also receives
	// the room's messages, and must read them).
	count bool
}

// dialSocket opens a chat socket at URL u and reads it in a goroutine.
func (g *gen) dialSocket(user int, u string, count bool) (*socket, error) {
	ctx, cancel := context.WithTimeout(g.ctx, connectTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{Proxy: nil}}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, fmt.Errorf("chat socket of user %d: %d %v", user, status, err)
	}
	c.SetReadLimit(1 << 16)
	s := &socket{user: user, c: c, count: count}
	g.onClose(func() { c.CloseNow() })
	if count {
		g.receivers.Add(1)
	}
	go g.readSocket(s)
	return s, nil
}

func (g *gen) readSocket(s *socket) {
	var buf bytes.Buffer
	for {
		_, r, err := s.c.Reader(g.ctx)
		if err != nil {
			g.errorf("socket of user %d ended: %v", s.user, err)
			if s.count {
				// Messages from now on are complete without it.
				g.receivers.Add(-1)
				g.cur.Load().need.Add(-1)
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			g.errorf("socket of user %d: %v", s.user, err)
			return
		}
		frame := buf.Bytes()
		switch {
		case !bytes.HasPrefix(frame, []byte(`{"type":"chat_message"`)):
			g.errorf("socket of user %d: unexpected frame %.200q", s.user, frame)
		case s.count:
			if !g.cur.Load().deliver(time.Now().UnixNano(), frame) {
				g.errorf("socket of user %d: chat_message without a stamp: %.200q", s.user, frame)
			}
		}
	}
}

// sender posts messages on a socket from a goroutine of its own, so that
// one slow write never holds up the schedule of the others. It stamps
// each message when it writes it, at least senderGap after the previous
// one, and only then counts it as sent, due to receivers. When the
// server closes the socket (an error of the run), it reconnects as a
// client would, so that one refusal does not silence a room.
type sender struct {
	g    *gen
	user int
	s    *socket // replaced by reconnect, in the sender's goroutine
	ch   chan outgoing
	// receivers is how many deliveries each message is due; set before
	// the traffic starts.
	receivers int
}

// outgoing is a message to send: its phase and sequence number.
type outgoing struct {
	p   *phase
	seq uint64
}

func (g *gen) newSender(s *socket) *sender {
	sd := &sender{g: g, user: s.user, s: s, ch: make(chan outgoing, 256)}
	go sd.run()
	g.onClose(func() { close(sd.ch) })
	return sd
}

func (sd *sender) run() {
	g := sd.g
	var last time.Time
	for m := range sd.ch {
		if m.p != g.cur.Load() {
			continue // queued for a phase that has ended
		}
		if wait := senderGap - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
		last = time.Now()
		text := messageText(last, m.seq, g.cfg.MessageBytes)
		ctx, cancel := context.WithTimeout(g.ctx, 10*time.Second)
		err := sd.s.c.Write(ctx, websocket.MessageText, []byte(`{"message":"`+text+`"}`))
		cancel()
		if err == nil {
			m.p.sent.Add(1)
			m.p.expected.Add(int64(sd.receivers))
			continue
		}
		g.errorf("sending as user %d: %v", sd.user, err)
		sd.reconnect()
	}
}

// reconnect replaces the sender's socket, trying once a second until the
// run ends.
func (sd *sender) reconnect() {
	g := sd.g
	for g.ctx.Err() == nil && !g.closing.Load() {
		time.Sleep(time.Second)
		urls, err := g.socketURLs([]int{sd.user})
		if err == nil {
			var s *socket
			if s, err = g.dialSocket(sd.user, urls[0], sd.s.count); err == nil {
				sd.s = s
				return
			}
		}
		g.errorf("reconnecting user %d: %v", sd.user, err)
	}
}

// send queues message seq of phase p; a full queue is an error (the
// socket is stuck).
func (sd *sender) send(p *phase, seq uint64) {
	select {
	case sd.ch <- outgoing{p, seq}:
	default:
		sd.g.errorf("sender of user %d: 256 messages waiting", sd.user)
	}
}

// parallel runs f(0..n-1), at most width at a time, and returns the
// first error.
func parallel(ctx context.Context, n, width int, f func(int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, width)
	errs := make(chan error, 1)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		go func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				select {
				case errs <- err:
				default:
				}
				cancel(err)
			}
		}()
	}
	for range width {
		sem <- struct{}{}
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
