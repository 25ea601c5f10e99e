package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/internal/reqinfo"
	"github.com/wardenhq/warden/problem"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxConns     = 10000
	DefaultMaxPerUser   = 8
	DefaultReadLimit    = 8 << 10
	DefaultMessageRate  = 10
	DefaultMessageBurst = 20
	DefaultWriteTimeout = 5 * time.Second
	DefaultPingInterval = 25 * time.Second
	// DefaultPongTimeout leaves room for a mobile link's worst round trips
	// while still finding a vanished peer well within a minute.
	DefaultPongTimeout = 10 * time.Second
	DefaultSendBuffer  = 64
	// DefaultRetryAfter is long enough for a burst of connections to
	// settle and short enough that a chat reconnects promptly.
	DefaultRetryAfter = 5 * time.Second
)

// Refusals returned by Accept after it has written the response.
var (
	ErrOrigin       = errors.New("ws: origin not allowed")
	ErrCapacity     = errors.New("ws: too many connections")
	ErrUserCapacity = errors.New("ws: too many connections for this user")
	ErrShuttingDown = errors.New("ws: server is shutting down")
	// ErrUpgrade wraps the WebSocket library's error when the request is
	// not a valid handshake or the connection cannot be hijacked.
	ErrUpgrade = errors.New("ws: upgrade failed")
)

// Config configures a Server. The zero value is usable: every zero field
// takes its documented default; negative values are refused by New.
type Config struct {
	// AllowOrigin reports whether a cross-origin Origin is allowed, such
	// as secure.CORS.AllowsOrigin. It receives the origin normalised by
	// secure.ParseOrigin (lower case, no default port). Requests without
	// Origin and same-origin requests are allowed without asking it;
	// "null" and malformed origins are refused without asking it. Nil
	// allows no cross origin.
	AllowOrigin func(origin string) bool
	// MaxConns caps open connections in this process; default
	// DefaultMaxConns. Beyond it Accept answers 503.
	MaxConns int
	// MaxPerUser caps open connections per user key; default
	// DefaultMaxPerUser. Beyond it Accept answers 429.
	MaxPerUser int
	// ReadLimit is the largest message accepted, in bytes; default
	// DefaultReadLimit. A larger one closes the connection with 1009.
	ReadLimit int64
	// MessageRate is how many messages per second a connection may send
	// on average, and MessageBurst how many at once (a token bucket);
	// defaults DefaultMessageRate and DefaultMessageBurst. More closes
	// the connection with 1008.
	MessageRate  float64
	MessageBurst int
	// WriteTimeout bounds each write to the peer; default
	// DefaultWriteTimeout. A write that takes longer closes the
	// connection as a slow consumer.
	WriteTimeout time.Duration
	// PingInterval is how often a keepalive ping is sent; default
	// DefaultPingInterval. A pong not received within PongTimeout
	// (default DefaultPongTimeout) drops the connection.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// SendBuffer is how many outgoing messages may wait per connection;
	// default DefaultSendBuffer. A Send that finds it full closes the
	// connection with 1013 (try again later) as a slow consumer.
	SendBuffer int
	// RetryAfter is sent with 503 and 429 refusals; default
	// DefaultRetryAfter, rounded up to whole seconds.
	RetryAfter time.Duration
	// Logger receives open, close and refusal records; default
	// slog.Default().
	Logger *slog.Logger
}

// Server accepts WebSocket connections and enforces the limits of its
// Config. It is safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	active   int
	perUser  map[string]int
	conns    map[*Conn]struct{}
	stopping bool
	drained  chan struct{} // closed when stopping and active reaches 0
}

// Stats is a snapshot of a Server's connections.
type Stats struct {
	Active int // connections holding a slot, upgrades in progress included
	Max    int // Config.MaxConns after defaults
}

// New returns a Server for cfg with defaults applied, or an error naming
// every field that is out of range.
func New(cfg Config) (*Server, error) {
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("ws: Config.%s %s", field, why)) }
	if cfg.MaxConns < 0 {
		bad("MaxConns", "must not be negative")
	}
	if cfg.MaxPerUser < 0 {
		bad("MaxPerUser", "must not be negative")
	}
	if cfg.ReadLimit < 0 {
		bad("ReadLimit", "must not be negative")
	}
	if cfg.MessageRate < 0 || math.IsNaN(cfg.MessageRate) || math.IsInf(cfg.MessageRate, 0) {
		bad("MessageRate", "must be a finite number of messages per second, at least 0")
	}
	if cfg.MessageBurst < 0 {
		bad("MessageBurst", "must not be negative")
	}
	if cfg.WriteTimeout < 0 {
		bad("WriteTimeout", "must not be negative")
	}
	if cfg.PingInterval < 0 {
		bad("PingInterval", "must not be negative")
	}
	if cfg.PongTimeout < 0 {
		bad("PongTimeout", "must not be negative")
	}
	if cfg.SendBuffer < 0 {
		bad("SendBuffer", "must not be negative")
	}
	if cfg.RetryAfter < 0 {
		bad("RetryAfter", "must not be negative")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	setDefault(&cfg.MaxConns, DefaultMaxConns)
	setDefault(&cfg.MaxPerUser, DefaultMaxPerUser)
	setDefault(&cfg.ReadLimit, DefaultReadLimit)
	setDefault(&cfg.MessageRate, DefaultMessageRate)
	setDefault(&cfg.MessageBurst, DefaultMessageBurst)
	setDefault(&cfg.WriteTimeout, DefaultWriteTimeout)
	setDefault(&cfg.PingInterval, DefaultPingInterval)
	setDefault(&cfg.PongTimeout, DefaultPongTimeout)
	setDefault(&cfg.SendBuffer, DefaultSendBuffer)
	setDefault(&cfg.RetryAfter, DefaultRetryAfter)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		perUser: make(map[string]int),
		conns:   make(map[*Conn]struct{}),
	}, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Accept checks r's Origin (403), that the server is not shutting down
// (503), the process cap (503) and, when user is not empty, the user's
// cap (429), then upgrades the connection. Refusals are problem documents,
// the 503 and 429 ones with Retry-After; on any refusal Accept has
// written the response and returns an error: ErrOrigin, ErrShuttingDown,
// ErrCapacity, ErrUserCapacity, or one wrapping ErrUpgrade and the
// library's error.
//
// user is the key connections are counted under per user, such as the
// user id. An empty user means the caller does not know the user yet (it
// will close with an application code at once): only the process cap
// applies.
//
// After Accept returns a Conn the handler may return; the connection
// lives until it is closed, and r's context must no longer be used.
func (s *Server) Accept(w http.ResponseWriter, r *http.Request, user string) (*Conn, error) {
	attrs := s.requestAttrs(r, user)
	if ok, why := checkOrigin(r, s.cfg.AllowOrigin); !ok {
		s.refuseOrigin(w, r, why, attrs)
		return nil, ErrOrigin
	}
	if err := s.acquire(user); err != nil {
		status, level, detail := http.StatusServiceUnavailable, slog.LevelWarn, "The server has too many open connections; try again later."
		switch err {
		case ErrUserCapacity:
			status, level, detail = http.StatusTooManyRequests, slog.LevelInfo, "Too many open connections for this user; close one or try again later."
		case ErrShuttingDown:
			level, detail = slog.LevelInfo, "The server is shutting down; try again later."
		}
		s.log.LogAttrs(r.Context(), level, "websocket refused", withAttrs(attrs, slog.String("reason", err.Error()))...)
		problem.WriteRetry(w, status, s.cfg.RetryAfter, detail)
		return nil, err
	}
	uw := newUpgradeWriter(w)
	wsc, err := websocket.Accept(uw, r, &websocket.AcceptOptions{
		// checkOrigin above already decided, with a stricter rule than
		// the library's host patterns; its own check would refuse the
		// cross origins AllowOrigin allows.
		InsecureSkipVerify: true,
		// Compression would keep a deflate window per connection and let
		// a small frame inflate to the read limit's worth of work.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		s.release(user, nil)
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "websocket upgrade failed", withAttrs(attrs, slog.Int("status", uw.status()))...)
		return nil, fmt.Errorf("%w: %w", ErrUpgrade, err)
	}
	wsc.SetReadLimit(s.cfg.ReadLimit)
	c := newConn(s, wsc, uw.conn(), user, attrs)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	stopping := s.stopping
	s.mu.Unlock()
	go c.writeLoop()
	if stopping {
		// Shutdown began while this upgrade was under way and did not
		// see this connection.
		c.closeAsync(websocket.StatusGoingAway, reasonShutdown, nil)
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "websocket opened", attrs...)
	return c, nil
}

// OriginAllowed reports whether r's Origin passes the check Accept makes
// first. A route that spends something before Accept, such as a one-time
// ticket, asks it beforehand, so that a page on another site can neither
// use up a ticket it got hold of nor learn whether it was valid.
func (s *Server) OriginAllowed(r *http.Request) bool {
	ok, _ := checkOrigin(r, s.cfg.AllowOrigin)
	return ok
}

// RefuseOrigin answers r as Accept answers a disallowed origin (403, a
// problem document) and logs the refusal, for routes that call
// OriginAllowed first.
func (s *Server) RefuseOrigin(w http.ResponseWriter, r *http.Request) {
	_, why := checkOrigin(r, s.cfg.AllowOrigin)
	if why == "" {
		why = "origin refused by the route"
	}
	s.refuseOrigin(w, r, why, s.requestAttrs(r, ""))
}

func (s *Server) refuseOrigin(w http.ResponseWriter, r *http.Request, why string, attrs []slog.Attr) {
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "websocket refused",
		withAttrs(attrs, slog.String("reason", why), slog.String("origin", clip(r.Header.Get("Origin"))))...)
	problem.Write(w, http.StatusForbidden, "This origin may not open a WebSocket connection here.")
}

// acquire takes a process slot and, for a non-empty user, a user slot,
// both or neither.
func (s *Server) acquire(user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		return ErrShuttingDown
	case s.active >= s.cfg.MaxConns:
		return ErrCapacity
	case user != "" && s.perUser[user] >= s.cfg.MaxPerUser:
		return ErrUserCapacity
	}
	s.active++
	if user != "" {
		s.perUser[user]++
	}
	return nil
}

// release gives back the slots acquire took, and forgets c.
func (s *Server) release(user string, c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if user != "" {
		// Entries are removed at zero so that the map holds only users
		// with open connections, however many come and go.
		if n := s.perUser[user] - 1; n > 0 {
			s.perUser[user] = n
		} else {
			delete(s.perUser, user)
		}
	}
	if c != nil {
		delete(s.conns, c)
	}
	if s.active == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// Stats reports how many connections are open and the cap.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Active: s.active, Max: s.cfg.MaxConns}
}

// Shutdown refuses new connections (503), closes every open connection
// with 1001 (going away) and waits until all have ended or ctx ends,
// returning ctx's error then. Calling it again waits again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopping {
		s.stopping = true
		if s.active > 0 {
			s.drained = make(chan struct{})
		}
	}
	// nil once every slot is free: release closes and forgets it.
	wait := s.drained
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if wait == nil {
		return nil
	}
	for _, c := range conns {
		c.closeAsync(websocket.StatusGoingAway, reasonShutdown, nil)
	}
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestAttrs are the log attributes of a connection: never the query
// string, which may hold a one-time ticket.
func (s *Server) requestAttrs(r *http.Request, user string) []slog.Attr {
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("path", r.URL.Path))
	if info := reqinfo.From(r.Context()); info != nil {
		if info.RequestID != "" {
			attrs = append(attrs, slog.String("request_id", info.RequestID))
		}
		if info.HasClientIP {
			attrs = append(attrs, slog.String("client_ip", info.ClientIP.String()))
		}
	}
	if user != "" {
		attrs = append(attrs, slog.String("user", user))
	}
	return attrs
}

// withAttrs returns base followed by more, never writing into base's
// array: base is shared by every record of one connection.
func withAttrs(base []slog.Attr, more ...slog.Attr) []slog.Attr {
	return append(base[:len(base):len(base)], more...)
}

// clip bounds a client-chosen value before it is logged.
func clip(s string) string {
	const maxLog = 200
	if len(s) > maxLog {
		return s[:maxLog] + "…"
	}
	return s
}
