// Package sse serves Server-Sent Events (text/event-stream) on any net/http
// route with bounded resources: capped streams, per-write deadlines,
// heartbeats and a graceful drain.
//
// The caller authenticates the request first (Warden's pipeline) and hands
// Serve the key of the user the stream belongs to: a user id, never a
// secret, since it is logged and kept in memory while the stream is open.
//
// # Contract
//
// Caps. A Server admits at most MaxStreams streams at once in the process
// (DefaultMaxStreams when 0) and at most MaxPerUser per user key
// (DefaultMaxPerUser when 0). Admission is one atomic decision, so
// concurrent requests never exceed either cap. A request over the process
// cap, or arriving after Shutdown, is answered 503; one over its user's
// cap 429. Both are RFC 9457 problem documents with Retry-After
// (RetryAfter), and run is not called: a refused client is never served.
//
// Response. An admitted stream is answered 200 with Content-Type
// text/event-stream, Cache-Control no-store and X-Accel-Buffering no (so
// that nginx does not buffer it), and opens with a "retry:" field of
// RetryAfter, the delay an EventSource waits before reconnecting. Over
// HTTP/1.x it also carries Connection: close: the connection carried the
// stream's own deadlines and is not reused after it.
//
// Framing. Stream.Send writes one event: an "event:" line (omitted for
// the empty name, which a client reads as "message") and the data as one
// "data:" line per line of data, with LF, CRLF and CR all ending a line; a
// client joins them with LF. Data therefore can never start another field
// or event. Event names with a control character (CR, LF, NUL and the
// other C0 controls, DEL) or invalid UTF-8 are refused with
// ErrInvalidEvent, data that is not UTF-8 with ErrInvalidData; neither
// ends the stream. Send is safe for concurrent use with itself and with
// the heartbeat, and flushes each event.
//
// Heartbeat. While run runs, the Server writes a comment line whenever
// the stream has been silent for Heartbeat (DefaultHeartbeat when 0, at
// most MaxHeartbeat), so that proxies keep an idle stream open and a
// vanished client is noticed.
//
// Timeouts. Each write (event or heartbeat) gets a deadline of
// WriteTimeout from when it starts (http.ResponseController), replacing
// the http.Server's WriteTimeout for this response only: a stream outlives
// the server's WriteTimeout, and a client that stops reading is cut off
// after WriteTimeout. The server's ReadTimeout does not end a stream
// either (net/http lifts the read deadline once a request without a body
// has been read). A ResponseWriter that cannot flush, or cannot take
// write deadlines (a middleware's wrapper without Unwrap), is answered 500
// and logged: without both a stream can be neither delivered nor bounded.
//
// End. run's context ends when the client disconnects, when a write
// fails, or at Shutdown (its cause is then ErrShutdown); after that every
// Send fails with an error wrapping ErrClosed, and a failed write fails
// every later Send. When run returns (or panics), Serve stops the
// heartbeat, waits for a write in progress, frees the stream's slot and
// returns; a Send after that fails with ErrClosed and never touches the
// ResponseWriter.
//
// Shutdown refuses new streams (503), ends every open stream and waits
// for their run functions to return. http.Server.Shutdown waits for
// streams too, and they never go idle by themselves: call the Server's
// Shutdown first, or from http.Server.RegisterOnShutdown.
//
// Logs (slog): a stream's opening and closing at Info (request id, path,
// user key, open streams; on closing also the reason, duration, events
// sent and run's error, never event data); refusals at a cap at Warn (the
// process cap) or Info (a user's cap, shutdown), at most one per kind
// every ten seconds with a count of those suppressed; a ResponseWriter
// that cannot stream at Error. The query string is never logged: it may
// carry a one-time ticket.
//
// Monitoring: Stats reports open streams, the caps and counters of
// streams opened and refused, without taking a lock.
package sse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/internal/reqinfo"
	"github.com/wardenhq/warden/problem"
)

// Defaults and limits of Config.
const (
	// DefaultMaxStreams is the process-wide cap when Config.MaxStreams is 0.
	DefaultMaxStreams = 1000
	// DefaultMaxPerUser is the per-user cap when Config.MaxPerUser is 0:
	// a few tabs and devices, about what a browser opens at most to one
	// HTTP/1.1 origin (six connections), while one user cannot take a
	// large share of the process cap.
	DefaultMaxPerUser = 5
	// DefaultHeartbeat is the heartbeat interval when Config.Heartbeat is 0.
	DefaultHeartbeat = 15 * time.Second
	// MaxHeartbeat is the longest heartbeat interval New accepts: the
	// API promises a comment line at least every 30 seconds.
	MaxHeartbeat = 30 * time.Second
	// MinHeartbeat is the shortest heartbeat interval New accepts, so that
	// a typo cannot turn each stream into a busy loop.
	MinHeartbeat = 10 * time.Millisecond
	// DefaultWriteTimeout is the deadline of each write when
	// Config.WriteTimeout is 0: long enough for a slow mobile link to take
	// an event, short enough that a client that stopped reading soon
	// gives its slot back.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultRetryAfter is Config.RetryAfter when 0.
	DefaultRetryAfter = 5 * time.Second
)

// refusalLogEvery spaces out refusal logs of one kind, so that clients
// hammering a full server cannot flood the log.
const refusalLogEvery = 10 * time.Second

var (
	// ErrInvalidEvent is returned by Send for an event name holding a
	// control character or invalid UTF-8.
	ErrInvalidEvent = errors.New("sse: event name must be UTF-8 without control characters")
	// ErrInvalidData is returned by Send for data that is not valid UTF-8:
	// an event stream is UTF-8 text, and a client would replace the bytes.
	ErrInvalidData = errors.New("sse: event data must be valid UTF-8")
	// ErrClosed is wrapped by every error Send returns once the stream
	// has ended (client gone, write failed, shutdown, run returned).
	ErrClosed = errors.New("sse: stream closed")
	// ErrShutdown is the cause (context.Cause) of the contexts that
	// Shutdown ends.
	ErrShutdown = errors.New("sse: server shutting down")
)

// Config sets a Server's limits. The zero value is usable: every zero
// field takes its default.
type Config struct {
	// MaxStreams caps the streams open at once in the process;
	// DefaultMaxStreams when 0.
	MaxStreams int
	// MaxPerUser caps the streams open at once for one user key;
	// DefaultMaxPerUser when 0.
	MaxPerUser int
	// Heartbeat is the longest silence on a stream before a comment line
	// is written; DefaultHeartbeat when 0, from MinHeartbeat to
	// MaxHeartbeat.
	Heartbeat time.Duration
	// WriteTimeout is the deadline of each write (event or heartbeat);
	// DefaultWriteTimeout when 0.
	WriteTimeout time.Duration
	// RetryAfter is the Retry-After of refusals and the "retry:" field
	// sent when a stream opens; DefaultRetryAfter when 0. Retry-After is
	// rounded up to whole seconds, "retry:" is in milliseconds.
	RetryAfter time.Duration
	// Logger receives the logs described in the package comment;
	// slog.Default() when nil.
	Logger *slog.Logger
}

// Stats is a snapshot of a Server's streams, for monitoring.
type Stats struct {
	// Active is the number of streams open now.
	Active int
	// Max is the process-wide cap, MaxPerUser the per-user cap.
	Max        int
	MaxPerUser int
	// Opened counts the streams admitted since New.
	Opened uint64
	// Refused counts every refusal since New: process cap and shutdown
	// (503) and user cap (429). RefusedUser counts the user-cap ones.
	Refused     uint64
	RefusedUser uint64
}

// Server admits, runs and ends event streams. Create it with New; it is
// safe for concurrent use.
type Server struct {
	maxStreams, maxPerUser  int
	heartbeat, writeTimeout time.Duration
	retryAfter              time.Duration
	retryFrame              []byte
	logger                  *slog.Logger

	mu            sync.Mutex
	streams       map[*Stream]struct{}
	perUser       map[string]int // entries removed at 0, so the map is bounded by open streams
	closing       bool
	drained       chan struct{} // closed once closing and no stream is open
	drainedClosed bool

	// Written under mu, read without it by Stats.
	active         atomic.Int64
	opened         atomic.Uint64
	refusedProcess atomic.Uint64
	refusedUser    atomic.Uint64

	gates [refusalKinds]logGate
}

// New returns a Server for cfg, or an error for a negative value or a
// heartbeat outside MinHeartbeat to MaxHeartbeat.
func New(cfg Config) (*Server, error) {
	if cfg.MaxStreams < 0 || cfg.MaxPerUser < 0 || cfg.Heartbeat < 0 || cfg.WriteTimeout < 0 || cfg.RetryAfter < 0 {
		return nil, errors.New("sse: negative limit in Config")
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Heartbeat > MaxHeartbeat || cfg.Heartbeat < MinHeartbeat {
		return nil, fmt.Errorf("sse: Heartbeat %v outside %v to %v", cfg.Heartbeat, MinHeartbeat, MaxHeartbeat)
	}
	s := &Server{
		maxStreams:   orDefault(cfg.MaxStreams, DefaultMaxStreams),
		maxPerUser:   orDefault(cfg.MaxPerUser, DefaultMaxPerUser),
		heartbeat:    cfg.Heartbeat,
		writeTimeout: orDefault(cfg.WriteTimeout, DefaultWriteTimeout),
		retryAfter:   orDefault(cfg.RetryAfter, DefaultRetryAfter),
		logger:       cfg.Logger,
		streams:      make(map[*Stream]struct{}),
		perUser:      make(map[string]int),
		drained:      make(chan struct{}),
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	// A blank line after the field dispatches nothing: the retry applies
	// as soon as it is read.
	s.retryFrame = []byte("retry: " + strconv.FormatInt(s.retryAfter.Milliseconds(), 10) + "\n\n")
	return s, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Stats returns the current numbers without taking a lock.
func (s *Server) Stats() Stats {
	p, u := s.refusedProcess.Load(), s.refusedUser.Load()
	return Stats{
		Active:      int(s.active.Load()),
		Max:         s.maxStreams,
		MaxPerUser:  s.maxPerUser,
		Opened:      s.opened.Load(),
		Refused:     p + u,
		RefusedUser: u,
	}
}

// refusal is the outcome of admission.
type refusal int

const (
	admitted refusal = iota - 1
	refusedShutdown
	refusedProcess
	refusedUser
	refusalKinds
)

// Serve admits one stream for user (a non-empty key such as a user id).
// At the process cap, or after Shutdown, it answers 503; at the user's cap
// 429; both with Retry-After, and without calling run. Otherwise it sends
// the stream's headers, flushes, and calls run with a context that ends
// when the client disconnects, when a write fails or at Shutdown; the
// Server writes heartbeats while run runs. Serve returns after run has
// returned and the stream's slot is free, also when run panics (the panic
// goes on to the caller).
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, user string, run func(ctx context.Context, st *Stream) error) {
	if user == "" {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "event stream refused: no user key", requestAttrs(r, user)...)
		problem.Write(w, http.StatusInternalServerError, "The event stream cannot be opened.")
		return
	}
	// Probed before admission so that a misconfigured route never holds
	// a slot, and before any header is written so that it can still
	// answer 500.
	if !canStream(w) {
		s.logger.LogAttrs(r.Context(), slog.LevelError,
			"event stream refused: the ResponseWriter cannot flush or set write deadlines (does a middleware wrap it without Unwrap?)",
			requestAttrs(r, user)...)
		problem.Write(w, http.StatusInternalServerError, "The event stream cannot be opened.")
		return
	}

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	st := &Stream{
		w: w, rc: http.NewResponseController(w),
		ctx: ctx, cancel: cancel, timeout: s.writeTimeout, user: user,
	}
	if why := s.admit(st); why != admitted {
		s.refuse(w, r, user, why)
		return
	}
	start := time.Now()
	s.logger.LogAttrs(r.Context(), slog.LevelInfo, "event stream opened",
		append(requestAttrs(r, user), slog.Int64("active", s.active.Load()))...)

	var runErr error
	returned := false
	defer func() {
		reason := st.endReason(returned)
		st.end()
		// net/http writes the response's last chunk after Serve returns:
		// give it a fresh deadline, or a stream silent for longer than the
		// write timeout would end truncated (the client sees an
		// incomplete chunked encoding, not the end of the stream).
		st.mu.Lock()
		if !st.writeFailed {
			_ = st.rc.SetWriteDeadline(time.Now().Add(st.timeout))
		}
		st.mu.Unlock()
		s.release(st)
		attrs := append(requestAttrs(r, user),
			slog.String("reason", reason),
			slog.Duration("duration", time.Since(start)),
			slog.Uint64("events", st.sentCount()),
			slog.Int64("active", s.active.Load()))
		if runErr != nil {
			attrs = append(attrs, slog.String("error", runErr.Error()))
		}
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "event stream closed", attrs...)
	}()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	if r.ProtoMajor == 1 {
		// HTTP/2 turns this header into a GOAWAY for the whole
		// connection, so only HTTP/1.x gets it.
		h.Set("Connection", "close")
	}
	w.WriteHeader(http.StatusOK)
	st.mu.Lock()
	err := st.writeLocked(s.retryFrame)
	st.mu.Unlock()
	if err != nil {
		returned = true // nothing ran; the reason comes from the failed write
		return
	}
	st.startHeartbeat(s.heartbeat)
	runErr = run(ctx, st)
	returned = true
}

// admit takes a slot for st, or says why not, in one critical section so
// that concurrent requests cannot both take the last slot.
func (s *Server) admit(st *Stream) refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		s.refusedProcess.Add(1)
		return refusedShutdown
	case len(s.streams) >= s.maxStreams:
		s.refusedProcess.Add(1)
		return refusedProcess
	case s.perUser[st.user] >= s.maxPerUser:
		s.refusedUser.Add(1)
		return refusedUser
	}
	s.streams[st] = struct{}{}
	s.perUser[st.user]++
	s.active.Add(1)
	s.opened.Add(1)
	return admitted
}

// release frees st's slot and ends a drain once the last stream is gone.
func (s *Server) release(st *Stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[st]; !ok {
		return
	}
	delete(s.streams, st)
	if n := s.perUser[st.user] - 1; n > 0 {
		s.perUser[st.user] = n
	} else {
		delete(s.perUser, st.user)
	}
	s.active.Add(-1)
	s.closeDrainedLocked()
}

func (s *Server) closeDrainedLocked() {
	if s.closing && len(s.streams) == 0 && !s.drainedClosed {
		s.drainedClosed = true
		close(s.drained)
	}
}

// refuse answers a refused request and logs it, sparingly.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, user string, why refusal) {
	status, level, msg, detail := http.StatusServiceUnavailable, slog.LevelWarn,
		"event stream refused: process cap reached", "Too many event streams are open; try again later."
	switch why {
	case refusedShutdown:
		level, msg, detail = slog.LevelInfo, "event stream refused: shutting down", "The server is restarting; reconnect shortly."
	case refusedUser:
		status, level, msg, detail = http.StatusTooManyRequests, slog.LevelInfo,
			"event stream refused: user cap reached", "You have too many event streams open; close one or try again later."
	}
	if suppressed, ok := s.gates[why].pass(); ok {
		s.logger.LogAttrs(r.Context(), level, msg, append(requestAttrs(r, user),
			slog.Int64("active", s.active.Load()),
			slog.Int("max", s.maxStreams),
			slog.Int("max_per_user", s.maxPerUser),
			slog.Uint64("suppressed", suppressed))...)
	}
	problem.WriteRetry(w, status, s.retryAfter, detail)
}

// Shutdown refuses new streams (503), ends every open stream (their
// context's cause is ErrShutdown) and waits until all of them have
// returned, or until ctx ends, when it returns ctx's error. It may be
// called more than once; later calls wait for the same drain.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.logger.LogAttrs(ctx, slog.LevelInfo, "event streams shutting down", slog.Int("active", len(s.streams)))
	}
	s.closing = true
	for st := range s.streams {
		st.cancel(ErrShutdown)
	}
	s.closeDrainedLocked()
	s.mu.Unlock()
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestAttrs are the log attributes naming a stream. The path only,
// never the query string: it may carry a one-time ticket.
func requestAttrs(r *http.Request, user string) []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	if id := reqinfo.RequestID(r.Context()); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	return append(attrs, slog.String("path", r.URL.Path), slog.String("user", user))
}

// canStream reports whether w, or a writer it unwraps to, can flush and
// take a write deadline: the lookup http.ResponseController makes, done
// without side effects, before the status line is committed.
func canStream(w http.ResponseWriter) bool {
	flush, deadline := false, false
	for rw := w; rw != nil; {
		switch rw.(type) {
		case interface{ FlushError() error }, http.Flusher:
			flush = true
		}
		if _, ok := rw.(interface{ SetWriteDeadline(time.Time) error }); ok {
			deadline = true
		}
		if flush && deadline {
			return true
		}
		u, ok := rw.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		rw = u.Unwrap()
	}
	return false
}

// logGate lets one log line through per refusalLogEvery and counts the
// rest.
type logGate struct {
	last       atomic.Int64 // unix nanoseconds of the last line let through
	suppressed atomic.Uint64
}

func (g *logGate) pass() (suppressed uint64, ok bool) {
	now := time.Now().UnixNano()
	last := g.last.Load()
	if (last != 0 && now-last < int64(refusalLogEvery)) || !g.last.CompareAndSwap(last, now) {
		g.suppressed.Add(1)
		return 0, false
	}
	return g.suppressed.Swap(0), true
}
