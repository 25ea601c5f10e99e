package bookclub

// Realtime: the chat's WebSocket, the per-user event stream and the
// one-time tickets that open them.
//
// Every event goes through one fanout.Hub (one bus channel for the whole
// deployment, so one Redis subscription per instance however many clients
// are connected). An event names the keys it is for: "room:<id>" reaches
// the sockets open on that room, "user:<id>" the event streams of that
// user, wherever they are connected. A chat message is one publish for
// its room and all its members.
//
// Sockets and streams outlive the request that authenticated them, so each
// one registers its login with an auth.Watcher, which ends it when the
// login is revoked (logout, logout everywhere, a password change or reset,
// an operator's revoke) on any instance, within revoke.MaxPropagation.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/sse"
	"github.com/wardenhq/warden/ticket"
	"github.com/wardenhq/warden/ws"
)

const (
	// ticketTTL is a ticket's life (API.md: single use, 30 s).
	ticketTTL = 30 * time.Second
	// eventsChannel is the bus channel every instance's hub shares.
	eventsChannel = "bookclub:events"
	// maxConnectionAge bounds a socket's or stream's life, so that no
	// connection outlives every token its login could have been issued;
	// a client reconnects with a fresh ticket.
	maxConnectionAge = auth.DefaultMaxLifetime

	// The chat's application close codes (API.md).
	closeBadTicket websocket.StatusCode = 4001 // bad, used or expired ticket, or the login was revoked
	closeNotMember websocket.StatusCode = 4003 // not a member, removed, or no such room
)

// ticketRate limits tickets per user: each opens a connection, and the
// connection caps refuse more than a handful at once anyway.
var ticketRate = ratelimit.Policy{Name: "ws_ticket", Rate: 1, Burst: 30}

// chatRate limits a user's chat messages across all their sockets and
// instances: each is a database write and a fan-out to the room. The
// socket's own flood limit (ws.Config) bounds one connection; this bounds
// a user with several. Going over it closes the socket with 1008, as a
// flood on one socket does.
var chatRate = ratelimit.Policy{Name: "chat_message", Rate: 5, Burst: 20}

// realtime is the Service's realtime state, built by New.
type realtime struct {
	hub     *fanout.Hub
	watcher *auth.Watcher
	checker auth.Checker
	tickets ticket.Store
	sockets *ws.Server
	streams *sse.Server
	// messages is the per-user chat limiter (chatRate), built by Mount.
	messages ratelimit.Limiter
	// stopWatcher ends the watcher's loop (Start).
	stopWatcher context.CancelFunc
}

// newRealtime fills in the defaults for what cfg leaves out.
func newRealtime(cfg *Config) (*realtime, error) {
	checker, ok := cfg.Bearer.(auth.Checker)
	if !ok {
		return nil, errors.New("bookclub: Bearer must implement auth.Checker, so that open sockets and streams end when their login is revoked")
	}
	rt := &realtime{checker: checker, tickets: cfg.Tickets, sockets: cfg.Sockets, streams: cfg.Streams}
	if rt.tickets == nil {
		rt.tickets = ticket.NewMemory()
	}
	bus := cfg.Bus
	if bus == nil {
		bus = fanout.NewMemory()
	}
	rt.hub = fanout.NewHub(bus, eventsChannel, fanout.HubOptions{Logger: cfg.Logger})
	rt.watcher = auth.NewWatcher(checker, auth.WatcherOptions{Logger: cfg.Logger})
	var err error
	if rt.sockets == nil {
		if rt.sockets, err = ws.New(ws.Config{Logger: cfg.Logger}); err != nil {
			return nil, err
		}
	}
	if rt.streams == nil {
		if rt.streams, err = sse.New(sse.Config{Logger: cfg.Logger}); err != nil {
			return nil, err
		}
	}
	return rt, nil
}

// Start subscribes the event hub and starts watching open connections'
// logins. Call it once before serving; Close ends both.
func (s *Service) Start(ctx context.Context) error {
	if err := s.rt.hub.Start(ctx); err != nil {
		return fmt.Errorf("bookclub: subscribing to events: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.rt.stopWatcher = cancel
	go s.rt.watcher.Run(ctx)
	return nil
}

// Shutdown closes every open socket (1001) and event stream, refusing new
// ones, and waits for them or ctx: http.Server.Shutdown does not wait for
// hijacked connections and would wait for streams until its deadline.
func (s *Service) Shutdown(ctx context.Context) error {
	return errors.Join(s.rt.sockets.Shutdown(ctx), s.rt.streams.Shutdown(ctx))
}

// Close stops the watcher and the hub.
func (s *Service) Close() error {
	if s.rt.stopWatcher != nil {
		s.rt.stopWatcher()
	}
	return s.rt.hub.Close()
}

// Sockets and Streams give the app the connection servers, for metrics.
func (s *Service) Sockets() *ws.Server  { return s.rt.sockets }
func (s *Service) Streams() *sse.Server { return s.rt.streams }

func (s *Service) mountRealtime(r *warden.Router) error {
	l, err := s.cfg.NewLimiter(ticketRate)
	if err != nil {
		return err
	}
	if s.rt.messages, err = s.cfg.NewLimiter(chatRate); err != nil {
		return err
	}
	signedIn := warden.Require(guard.IsAuthenticated)
	r.Post("/api/ws-ticket", s.handleTicket, s.signedIn(), signedIn,
		warden.Limit(l, ratelimit.ByUser()), warden.NoStore(), docTicket)
	// The socket authenticates in its handler: a bad ticket is a close
	// code after the upgrade (API.md), not a 401 before it.
	r.Get("/ws/chat/{room_id}", s.handleChatSocket, warden.Require(guard.AllowAny), warden.NoStore(), docChatSocket)
	events := warden.Auth(s.cfg.Bearer, ticketAuth{s})
	if s.cfg.Session != nil {
		events = warden.Auth(s.cfg.Bearer, s.cfg.Session, ticketAuth{s})
	}
	r.Get("/api/events", s.handleEvents, events, signedIn, warden.NoStore(), docEvents)
	return nil
}

// ticketClaims is what a ticket stands for: the login whose token asked
// for it, so that the connection it opens can be watched like that token.
type ticketClaims struct {
	User      string `json:"u"`
	Session   string `json:"s"`
	Token     string `json:"t"`
	IssuedAt  int64  `json:"i"` // microseconds, as revocation compares them
	ExpiresAt int64  `json:"e"` // seconds
}

func (c ticketClaims) identity() *auth.Identity {
	return &auth.Identity{
		UserID: c.User, Backend: "ticket", SessionID: c.Session, TokenID: c.Token,
		IssuedAt: time.UnixMicro(c.IssuedAt), ExpiresAt: time.Unix(c.ExpiresAt, 0),
	}
}

type ticketResponse struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expires_in"`
}

// handleTicket issues a one-time ticket bound to the caller's login.
func (s *Service) handleTicket(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	value, err := json.Marshal(ticketClaims{
		User: id.UserID, Session: id.SessionID, Token: id.TokenID,
		IssuedAt: id.IssuedAt.UnixMicro(), ExpiresAt: id.ExpiresAt.Unix(),
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	// 256 random bits: the store keys on it, so it must not be guessable.
	t, err := auth.RandomToken(32)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if err := s.rt.tickets.Issue(r.Context(), t, string(value), ticketTTL); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "ticket not issued", slog.String("request_id", warden.RequestID(r.Context())), slog.Any("error", err))
		problem.Unavailable(w, "Tickets cannot be issued right now; try again shortly.")
		return
	}
	warden.WriteJSON(w, http.StatusOK, ticketResponse{Ticket: t, ExpiresIn: int(ticketTTL / time.Second)})
}

// redeem trades a ticket for the login it stands for, and checks that
// the login still stands. Any failure means the ticket is refused.
func (s *Service) redeem(ctx context.Context, t string) (*auth.Identity, error) {
	if ticket.CheckTicket(t) != nil {
		return nil, auth.ErrInvalidCredentials
	}
	value, ok, err := s.rt.tickets.Redeem(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", auth.ErrUnavailable, err)
	}
	if !ok {
		return nil, &auth.CredentialError{Reason: "The ticket is unknown, used or expired."}
	}
	var c ticketClaims
	if err := json.Unmarshal([]byte(value), &c); err != nil || c.User == "" {
		return nil, &auth.CredentialError{Reason: "The ticket is malformed.", Err: err}
	}
	id := c.identity()
	if err := s.rt.checker.Check(ctx, id); err != nil {
		return nil, err
	}
	return id, nil
}

// ticketAuth authenticates an event stream by ?ticket=, since a browser's
// EventSource cannot send an Authorization header.
type ticketAuth struct{ s *Service }

func (ticketAuth) Challenge() string { return `Ticket realm="warden"` }

func (a ticketAuth) Authenticate(r *http.Request) (*auth.Identity, error) {
	q := r.URL.Query()
	if !q.Has("ticket") {
		return nil, nil
	}
	return a.s.redeem(r.Context(), q.Get("ticket"))
}

func (ticketAuth) Scheme() auth.Scheme {
	return auth.Scheme{
		Name: "ticketAuth", Type: "apiKey", In: "query", ParamName: "ticket",
		Description: "A one-time ticket from POST /api/ws-ticket (single use, 30 s), for clients that cannot send headers.",
	}
}

// watch ends a connection when id's login is revoked, or after
// maxConnectionAge, whichever comes first: the returned context ends then.
// end, when not nil, is called instead of ending the context on
// revocation, so that a socket can close with its own code first; it runs
// on the watcher's goroutine and must not block. stop releases both.
func (s *Service) watch(ctx context.Context, id *auth.Identity, end func(error)) (context.Context, func()) {
	ctx, cancel := context.WithTimeout(ctx, maxConnectionAge)
	unwatch := s.rt.watcher.Watch(id, func(err error) {
		if end == nil {
			cancel()
			return
		}
		end(err)
	})
	return ctx, func() { unwatch(); cancel() }
}

// event is what travels on the hub, rendered once by the publisher for
// every transport, so that a message to a room of 1000 members is encoded
// twice, not 2000 times. Its encoding (encode, decodeEvent) is a kind
// byte, then three length-prefixed fields: the subject (the removed
// member's user id), the socket frame and the stream event's data.
type event struct {
	Kind    byte
	Subject string
	// Frame is the chat socket's frame; Data the event stream's data.
	Frame, Data []byte
}

const (
	kindChatMessage byte = iota + 1
	kindMemberRemoved
	kindFollower
	kindFollowRequest
)

// streamEventNames are the event-stream names of the kinds streams carry.
var streamEventNames = map[byte]string{
	kindChatMessage:   "chat_message",
	kindFollower:      "follower",
	kindFollowRequest: "follow_request",
}

func (e event) encode() []byte {
	b := make([]byte, 0, 13+len(e.Subject)+len(e.Frame)+len(e.Data))
	b = append(b, e.Kind)
	for _, f := range [][]byte{[]byte(e.Subject), e.Frame, e.Data} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// decodeEvent reads an encoded event; ok is false for anything malformed
// (the bus is shared, so its messages are checked). The fields share
// payload's memory, which receivers must not modify.
func decodeEvent(payload []byte) (e event, ok bool) {
	if len(payload) < 1 {
		return event{}, false
	}
	e.Kind, payload = payload[0], payload[1:]
	var fields [3][]byte
	for i := range fields {
		if len(payload) < 4 {
			return event{}, false
		}
		n := binary.BigEndian.Uint32(payload)
		payload = payload[4:]
		if uint64(n) > uint64(len(payload)) {
			return event{}, false
		}
		fields[i], payload = payload[:n:n], payload[n:]
	}
	if len(payload) != 0 {
		return event{}, false
	}
	e.Subject, e.Frame, e.Data = string(fields[0]), fields[1], fields[2]
	return e, true
}

func roomKey(roomID int64) string  { return "room:" + strconv.FormatInt(roomID, 10) }
func userKey(userID string) string { return "user:" + userID }

// publish sends e for keys. Delivery is at most once: a message that
// cannot be published is still stored (history shows it), so a failure is
// logged, not returned.
func (s *Service) publish(ctx context.Context, e event, keys ...string) {
	if err := s.rt.hub.Publish(ctx, e.encode(), keys...); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "event not published", slog.Int("kind", int(e.Kind)), slog.Any("error", err))
	}
}

// mustJSON encodes v, whose types cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// notifyChatMessage tells the room's open sockets and its members' event
// streams about a stored message.
func (s *Service) notifyChatMessage(ctx context.Context, m chatMessage, memberIDs []string) {
	keys := make([]string, 0, len(memberIDs)+1)
	keys = append(keys, roomKey(m.RoomID))
	for _, id := range memberIDs {
		keys = append(keys, userKey(id))
	}
	s.publish(ctx, event{
		Kind:  kindChatMessage,
		Frame: mustJSON(socketFrame{Type: "chat_message", Message: m.Body, User: m.Username, Timestamp: m.CreatedAt}),
		Data:  mustJSON(chatEventData{RoomID: m.RoomID, Message: m.Body, User: m.Username, Timestamp: m.CreatedAt}),
	}, keys...)
}

// notifyMemberRemoved closes the removed member's sockets in the room, on
// every instance.
func (s *Service) notifyMemberRemoved(ctx context.Context, roomID int64, userID string) {
	s.publish(ctx, event{Kind: kindMemberRemoved, Subject: userID}, roomKey(roomID))
}

// notifyFollower tells followeeID about a new follower or follow request
// (the caller checked the followee's preference).
func (c *social) notifyFollower(ctx context.Context, followeeID, followerID string, pending bool) {
	names, err := c.usernames(ctx, []string{followerID})
	if err != nil || names[followerID] == "" {
		c.log.LogAttrs(ctx, slog.LevelWarn, "follow not notified: the follower's name is unknown", slog.Any("error", err))
		return
	}
	kind := kindFollower
	if pending {
		kind = kindFollowRequest
	}
	c.publish(ctx, event{Kind: kind, Data: mustJSON(followEventData{Username: names[followerID]})}, userKey(followeeID))
}

// socketMessage is what a chat client sends.
type socketMessage struct {
	Message *string `json:"message"`
}

// socketFrame is what the server sends on a chat socket.
type socketFrame struct {
	Type      string    `json:"type"`
	Message   string    `json:"message"`
	User      string    `json:"user,omitempty"`
	Timestamp time.Time `json:"timestamp,omitzero"`
}

// handleChatSocket serves GET /ws/chat/{room_id}?ticket=: Origin and
// connection caps before the upgrade (403, 503, 429), then the ticket
// (4001) and membership (4003) after it, then the chat until the client
// leaves, is removed (4003), floods (1008) or its login is revoked (4001).
func (s *Service) handleChatSocket(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	roomID, roomErr := strconv.ParseInt(r.PathValue("room_id"), 10, 64)
	// Origin comes before the ticket: a page on another origin must not
	// spend (or learn anything from) a ticket it got hold of.
	if !s.rt.sockets.OriginAllowed(r) {
		s.rt.sockets.RefuseOrigin(w, r)
		return
	}
	id, err := s.redeem(ctx, r.URL.Query().Get("ticket"))
	if err != nil {
		if c, aerr := s.rt.sockets.Accept(w, r, ""); aerr == nil {
			c.Close(closeBadTicket, "bad, used or expired ticket")
		}
		return
	}
	// Membership is checked and the room listened to before the upgrade:
	// a client whose upgrade succeeded receives every message sent after
	// it. The answer is given after the upgrade, as a close code.
	var member bool
	var memberErr error
	if roomErr == nil {
		member, memberErr = s.isRoomMember(ctx, roomID, id.UserID)
	}
	var listener *fanout.Listener
	if member {
		listener = s.rt.hub.Listen(roomKey(roomID))
		defer listener.Close()
	}
	conn, err := s.rt.sockets.Accept(w, r, id.UserID)
	if err != nil {
		return // Accept answered: 403, 429 or 503
	}
	switch {
	case memberErr != nil:
		conn.Close(websocket.StatusTryAgainLater, "the database is not answering")
		return
	case !member:
		conn.Close(closeNotMember, "not a member of this room")
		return
	}

	ctx, stop := s.watch(ctx, id, func(error) {
		// Close waits for the client's answer; the watcher must not. The
		// close ends Read, and so this handler, which then cancels ctx:
		// cancelling it first would close with 1001 instead of 4001.
		go conn.Close(closeBadTicket, "the login was revoked")
	})
	defer stop()
	go s.relayRoom(ctx, conn, listener, id.UserID)

	for {
		raw, err := conn.Read(ctx)
		if err != nil {
			conn.Close(websocket.StatusNormalClosure, "")
			return
		}
		s.chatFromSocket(ctx, conn, roomID, id.UserID, raw)
	}
}

// chatFromSocket posts one client message, or answers it with an error
// frame.
func (s *Service) chatFromSocket(ctx context.Context, conn *ws.Conn, roomID int64, userID string, raw []byte) {
	var in socketMessage
	if err := json.Unmarshal(raw, &in); err != nil || in.Message == nil {
		s.sendFrame(conn, socketFrame{Type: "error", Message: `Send a JSON object {"message": "..."}.`})
		return
	}
	switch d, err := s.rt.messages.Allow(ctx, userID); {
	case err != nil:
		// Fail closed, but keep the socket: the limiter's store may be
		// back for the next message.
		s.sendFrame(conn, socketFrame{Type: "error", Message: "The message could not be accepted right now; try again shortly."})
		return
	case !d.Allowed:
		conn.Close(websocket.StatusPolicyViolation, "too many messages")
		return
	}
	_, err := s.postChatMessage(ctx, roomID, userID, *in.Message)
	var refused chatTextError
	switch {
	case err == nil:
	case errors.As(err, &refused):
		s.sendFrame(conn, socketFrame{Type: "error", Message: refused.Error()})
	case errors.Is(err, errNotMember):
		conn.Close(closeNotMember, "no longer a member of this room")
	case err != nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "chat message not stored", slog.Int64("room_id", roomID), slog.Any("error", err))
		s.sendFrame(conn, socketFrame{Type: "error", Message: "The message could not be stored; try again."})
	}
}

// relayRoom hands the room's events to one socket until it closes.
func (s *Service) relayRoom(ctx context.Context, conn *ws.Conn, l *fanout.Listener, userID string) {
	for {
		select {
		case <-conn.Done():
			return
		case <-ctx.Done():
			return
		case payload, ok := <-l.C():
			if !ok {
				// Dropped for falling behind: the client reconnects and
				// reads the history it missed.
				conn.Close(websocket.StatusTryAgainLater, "fell behind; reconnect")
				return
			}
			e, ok := decodeEvent(payload)
			switch {
			case !ok:
			case e.Kind == kindChatMessage:
				conn.Send(e.Frame)
			case e.Kind == kindMemberRemoved:
				if e.Subject == userID {
					conn.Close(closeNotMember, "removed from this room")
					return
				}
			}
		}
	}
}

// internalError logs err and answers 500 without its detail.
func (s *Service) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, "internal error", slog.String("request_id", warden.RequestID(r.Context())), slog.Any("error", err))
	problem.Write(w, http.StatusInternalServerError, "An internal error occurred.")
}

func (s *Service) sendFrame(conn *ws.Conn, f socketFrame) {
	b, err := json.Marshal(f)
	if err == nil {
		conn.Send(b)
	}
}

// The data of each event on GET /api/events (API.md).
type (
	followEventData struct {
		Username string `json:"username"`
	}
	chatEventData struct {
		RoomID    int64     `json:"room_id"`
		Message   string    `json:"message"`
		User      string    `json:"user"`
		Timestamp time.Time `json:"timestamp"`
	}
)

// handleEvents streams the caller's events until the client leaves, the
// server shuts down or the login is revoked.
func (s *Service) handleEvents(w http.ResponseWriter, r *http.Request) {
	id := auth.FromContext(r.Context())
	// Preferences are read once per stream: no route changes them.
	prefs, err := s.NotificationPrefs(r.Context(), id.UserID)
	if err != nil {
		s.failBooks(w, r, err)
		return
	}
	// Listening starts before the stream's headers go out: a client that
	// sees the stream open receives every event published after.
	l := s.rt.hub.Listen(userKey(id.UserID))
	defer l.Close()
	s.rt.streams.Serve(w, r, id.UserID, func(ctx context.Context, st *sse.Stream) error {
		ctx, stop := s.watch(ctx, id, nil)
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case payload, ok := <-l.C():
				if !ok {
					return l.Err()
				}
				e, ok := decodeEvent(payload)
				name := streamEventNames[e.Kind]
				if !ok || name == "" || e.Kind == kindChatMessage && !prefs.Chat {
					continue
				}
				if err := st.Send(name, e.Data); err != nil {
					return err
				}
			}
		}
	})
}
