package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// Why a connection ended, as Read reports it: each error Read returns
// wraps ErrClosed and, when this package closed the connection for a
// reason of its own, one of the others.
var (
	ErrClosed          = errors.New("ws: connection closed")
	ErrMessageTooLarge = errors.New("ws: message larger than the read limit")
	ErrFlood           = errors.New("ws: message rate exceeded")
	ErrBinary          = errors.New("ws: binary messages are not supported")
	ErrInvalidUTF8     = errors.New("ws: text message is not valid UTF-8")
	ErrSlowConsumer    = errors.New("ws: peer did not keep up with outgoing messages")
	ErrPongTimeout     = errors.New("ws: peer did not answer a keepalive ping")
)

// Close reasons sent to the peer: fixed sentences, never a client's data.
const (
	reasonShutdown  = "server shutting down"
	reasonGoingAway = "going away"
	reasonTooBig    = "message too big"
	reasonFlood     = "message rate exceeded"
	reasonBinary    = "binary messages are not supported"
	reasonUTF8      = "text message is not valid UTF-8"
	reasonSlow      = "slow consumer"
)

// Conn is one accepted WebSocket connection. Read must be called from one
// goroutine at a time (the handler's); Send, Close, Done and CloseStatus
// may be called from any goroutine.
type Conn struct {
	s      *Server
	ws     *websocket.Conn
	raw    net.Conn // the hijacked connection under ws
	user   string
	attrs  []slog.Attr
	opened time.Time

	send     chan []byte   // never closed, so a late Send cannot panic
	done     chan struct{} // closed by closeAsync
	finished chan struct{} // closed once the slot is released

	closeOnce sync.Once
	// Written once inside closeOnce before done is closed, and read only
	// after done is closed.
	status websocket.StatusCode
	reason string
	cause  error

	bucket tokenBucket // only Read touches it

	pinging atomic.Bool
	pingWG  sync.WaitGroup
}

func newConn(s *Server, wsc *websocket.Conn, raw net.Conn, user string, attrs []slog.Attr) *Conn {
	return &Conn{
		s:        s,
		ws:       wsc,
		raw:      raw,
		user:     user,
		attrs:    attrs,
		opened:   time.Now(),
		send:     make(chan []byte, s.cfg.SendBuffer),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
		bucket:   newTokenBucket(s.cfg.MessageRate, s.cfg.MessageBurst),
	}
}

// Read returns the next text message. It closes the connection, with
// 1009 for a message over ReadLimit, 1008 when the peer sends faster than
// MessageRate and MessageBurst allow, 1003 for a binary message and 1007
// for text that is not UTF-8, and then returns an error wrapping
// ErrClosed and the reason (ErrMessageTooLarge, ErrFlood, ErrBinary,
// ErrInvalidUTF8). Once the connection is closed, for any reason, Read
// returns an error wrapping ErrClosed.
//
// ctx bounds the connection rather than one read: when it ends, the
// connection is closed with 1001 (going away) and Read returns an error
// wrapping ErrClosed and ctx's error, since a half-read message cannot be
// resumed. Pongs are processed only inside Read: keep calling it.
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	select {
	case <-c.done:
		return nil, c.err()
	default:
	}
	// The library drops the socket, without a close frame, when the
	// context of a read ends. A caller whose context ends (the handler is
	// done, a login was revoked) should rather close politely: 1001, the
	// handshake bounded by WriteTimeout like any other close.
	stop := context.AfterFunc(ctx, func() {
		c.closeAsync(websocket.StatusGoingAway, reasonGoingAway, nil)
	})
	typ, msg, err := c.ws.Read(context.WithoutCancel(ctx))
	stop()
	if err != nil {
		c.readFailed(err)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", c.err(), ctx.Err())
		}
		return nil, c.err()
	}
	switch {
	case !c.bucket.take(time.Now()):
		c.closeAsync(websocket.StatusPolicyViolation, reasonFlood, ErrFlood)
	case typ != websocket.MessageText:
		c.closeAsync(websocket.StatusUnsupportedData, reasonBinary, ErrBinary)
	case !utf8.Valid(msg):
		// RFC 6455 section 8.1: an endpoint must fail the connection on
		// text that is not UTF-8; passing it on would let it reach JSON
		// decoders and logs as replacement characters or worse.
		c.closeAsync(websocket.StatusInvalidFramePayloadData, reasonUTF8, ErrInvalidUTF8)
	default:
		return msg, nil
	}
	return nil, c.err()
}

// readFailed records why the library's Read failed.
func (c *Conn) readFailed(err error) {
	if errors.Is(err, websocket.ErrMessageTooBig) {
		// The library has already sent close 1009 to the peer.
		c.closeAsync(websocket.StatusMessageTooBig, reasonTooBig, ErrMessageTooLarge)
		return
	}
	if code := websocket.CloseStatus(err); code != -1 {
		// The peer closed; the library answered its close frame.
		c.closeAsync(code, "", nil)
		return
	}
	// A network or protocol error, or ctx ended: the library has dropped
	// the connection, so there is no close code to send.
	c.closeAsync(websocket.StatusAbnormalClosure, "", nil)
}

// err is what Read returns once the connection is closed.
func (c *Conn) err() error {
	if c.cause != nil {
		return fmt.Errorf("%w: %w", ErrClosed, c.cause)
	}
	return ErrClosed
}

// Send queues msg to be written as a text message and returns at once.
// It returns false when the connection is closed, or when SendBuffer
// messages are already waiting: then the peer is a slow consumer and the
// connection is closed with 1013 rather than buffering without bound.
// msg is written later and must not be modified after Send, which lets a
// broadcaster hand one payload to many connections.
func (c *Conn) Send(msg []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.send <- msg:
		return true
	default:
		c.closeAsync(websocket.StatusTryAgainLater, reasonSlow, ErrSlowConsumer)
		return false
	}
}

// Close closes the connection with code and reason (cut to the 123 bytes
// a close frame holds) and waits until it has ended and its slots are
// released: for the peer's answer to the close frame, at most
// WriteTimeout (plus the end of a write in progress, also bounded by
// WriteTimeout). Messages still queued are dropped. A code that cannot be sent (1005, 1006, 1015, out of range)
// drops the connection without a close frame. Only the first close of a
// connection, by anyone, sets its code; later calls just wait.
func (c *Conn) Close(code websocket.StatusCode, reason string) {
	c.closeAsync(code, clipReason(reason), nil)
	<-c.finished
}

// Done is closed when the connection is closed for any reason.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseStatus reports why the connection closed, once Done is closed,
// and -1 before. It is the code this package or the application sent,
// the code the peer sent when the peer closed first, or 1006 when the
// connection was dropped without a close handshake (network error,
// missing pong, protocol error).
func (c *Conn) CloseStatus() websocket.StatusCode {
	select {
	case <-c.done:
		return c.status
	default:
		return -1
	}
}

// closeAsync marks the connection closed with code, unless it is closed
// already, and returns at once: the writer goroutine performs the close
// handshake, so that Send and Read never wait for a slow peer.
func (c *Conn) closeAsync(code websocket.StatusCode, reason string, cause error) {
	c.closeOnce.Do(func() {
		c.status, c.reason, c.cause = code, reason, cause
		close(c.done)
	})
}

// writeLoop is the connection's one writer: it writes queued messages,
// each within WriteTimeout, and starts keepalive pings, until the
// connection is closed; then it closes the socket and releases the slots.
func (c *Conn) writeLoop() {
	defer c.finish()
	ticker := time.NewTicker(c.s.cfg.PingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.send:
			// select picks at random among ready cases; once closed,
			// nothing more is written.
			select {
			case <-c.done:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					c.closeAsync(websocket.StatusTryAgainLater, reasonSlow, ErrSlowConsumer)
				} else {
					c.closeAsync(websocket.StatusAbnormalClosure, "", nil)
				}
				return
			}
		case <-ticker.C:
			// The pong wait runs beside the writer so that a slow pong
			// does not hold up queued messages; one ping at a time.
			if c.pinging.CompareAndSwap(false, true) {
				c.pingWG.Add(1)
				go c.ping()
			}
		}
	}
}

// ping sends one keepalive ping and drops the connection when no pong
// comes back within PongTimeout.
func (c *Conn) ping() {
	defer c.pingWG.Done()
	defer c.pinging.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.PongTimeout)
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil {
		// A peer that does not answer would not read a close frame
		// either: 1006 makes finish drop it without a handshake.
		c.closeAsync(websocket.StatusAbnormalClosure, "", ErrPongTimeout)
	}
}

// finish ends the connection once done is closed: the close handshake
// (or a plain drop when the code cannot be sent), then the slots.
func (c *Conn) finish() {
	// The library waits up to 5 s for each step of the close handshake;
	// a peer that does not answer within WriteTimeout (a slow consumer,
	// a vanished one) loses its socket instead of holding the slot.
	cut := time.AfterFunc(c.s.cfg.WriteTimeout, func() {
		if c.raw != nil {
			_ = c.raw.Close()
		}
	})
	if sendable(c.status) {
		_ = c.ws.Close(c.status, c.reason)
	} else {
		_ = c.ws.CloseNow()
	}
	cut.Stop()
	// The socket is closed, so a ping in flight returns now.
	c.pingWG.Wait()
	// Logged before the slot is released, so that whoever sees the slot
	// free also finds the record.
	level := slog.LevelDebug
	attrs := withAttrs(c.attrs, slog.Int("status", int(c.status)), slog.Duration("duration", time.Since(c.opened)))
	if c.cause != nil {
		level = slog.LevelInfo
		attrs = append(attrs, slog.String("reason", c.cause.Error()))
	}
	c.s.log.LogAttrs(context.Background(), level, "websocket closed", attrs...)
	c.s.release(c.user, c)
	close(c.finished)
}

// sendable reports whether code may appear in a close frame (RFC 6455
// section 7.4): 1005, 1006 and 1015 only describe closes locally.
func sendable(code websocket.StatusCode) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code < websocket.StatusNormalClosure || code > websocket.StatusBadGateway:
		return false
	}
	return code != 1004 && code != websocket.StatusNoStatusRcvd && code != websocket.StatusAbnormalClosure
}

// clipReason makes reason fit a close frame: valid UTF-8 of at most 123
// bytes. The library would otherwise replace the whole close with 1011.
func clipReason(reason string) string {
	const maxReason = 123
	reason = strings.ToValidUTF8(reason, "")
	if len(reason) <= maxReason {
		return reason
	}
	reason = reason[:maxReason]
	for !utf8.ValidString(reason) {
		reason = reason[:len(reason)-1]
	}
	return reason
}

// tokenBucket limits one connection's message rate: burst messages at
// once, refilled at rate per second.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newTokenBucket(rate float64, burst int) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take spends one token and reports whether there was one.
func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
