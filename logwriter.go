package warden

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// LogWriter is a buffered, asynchronous io.Writer for a server's log:
// lines are appended to a bounded in-memory buffer and written to the
// destination by one goroutine, many lines per write, so that a request
// does not pay a write system call for its access line.
//
//	lw := warden.NewLogWriter(os.Stderr, warden.LogWriterOptions{})
//	defer lw.Close() // writes what is buffered
//	logger := slog.New(lw.JSONHandler(nil)) // or lw.Handler(anyHandlerWritingToLw)
//
// warden serve logs this way. With JSONHandler the Router's access line
// is also formatted by the LogWriter, straight into its buffer (byte for
// byte the JSON handler's line), which saves building a slog.Record.
//
// What it guarantees, and what it trades:
//
//   - Nothing is dropped but the Router's own access lines, and those only
//     while the destination has fallen behind by three quarters of
//     MaxBuffer; every other line (security events, errors, anything a
//     handler logs) is kept. Dropped access lines are counted (Dropped)
//     and, through Handler or JSONHandler, reported in one warning line
//     once there is room again. An Observer still counts every request.
//   - A request never waits for its access line: the line is appended or
//     dropped. Any other line waits for room while the buffer is full:
//     back-pressure, as a direct write waits for a slow destination. So a
//     request that logs a security event waits while the destination is
//     stalled, for as long as it stays stalled (a blocked pipe): the
//     server slows down rather than serve on without its audit trail.
//   - Through Handler or JSONHandler, every line but an access line is
//     handed to the writing goroutine at once; access lines gather for at
//     most MaxDelay. A crash (a kill, an unrecovered panic outside a
//     request, the process running out of memory) loses what is not yet
//     written: at most MaxDelay's worth of access lines, and the other
//     lines of the last microseconds. Close writes everything buffered;
//     call it on shutdown, once the server has stopped serving.
//   - Memory is bounded: at most MaxBuffer bytes wait, plus the batch
//     being written (itself at most MaxBuffer and one line).
//
// A write error of the destination is kept (Err, and returned by Flush and
// Close); the lines of that batch are lost, later lines are still tried.
// After Close, Write writes through to the destination synchronously.
type LogWriter struct {
	dst       io.Writer
	limit     int // MaxBuffer
	shedAt    int // access lines are dropped at or above this many bytes
	threshold int // a batch this large is written without waiting MaxDelay
	delay     time.Duration

	mu     sync.Mutex
	room   *sync.Cond // broadcast when a batch has been written
	buf    []byte     // lines waiting
	spare  []byte     // the previous batch's memory, for reuse
	closed bool
	err    error

	writeMu   sync.Mutex // one batch at a time reaches dst, in order
	closeOnce sync.Once

	kick    chan struct{} // a line arrived in an empty buffer
	urgent  chan struct{} // write now: a large batch, a non-access line, Flush
	stop    chan struct{}
	stopped chan struct{}

	dropped  atomic.Uint64 // access lines dropped, in all
	reported atomic.Uint64 // of which a warning has been logged
}

// LogWriterOptions configures a LogWriter; the zero value is usable.
type LogWriterOptions struct {
	// MaxBuffer bounds the bytes waiting to be written; 1 MiB when zero
	// (about 4,000 access lines).
	MaxBuffer int
	// MaxDelay is the longest an access line waits before it is written;
	// 20 ms when zero. Longer batches more lines per write and loses more
	// on a crash.
	MaxDelay time.Duration
}

// Defaults of LogWriterOptions.
const (
	DefaultLogMaxBuffer = 1 << 20
	DefaultLogMaxDelay  = 20 * time.Millisecond
)

// NewLogWriter returns a LogWriter writing to dst from a goroutine of its
// own, which Close ends.
func NewLogWriter(dst io.Writer, o LogWriterOptions) *LogWriter {
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultLogMaxBuffer
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultLogMaxDelay
	}
	lw := &LogWriter{
		dst: dst, limit: o.MaxBuffer, shedAt: o.MaxBuffer / 4 * 3, threshold: max(o.MaxBuffer/16, 1), delay: o.MaxDelay,
		kick: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	lw.room = sync.NewCond(&lw.mu)
	go lw.run()
	return lw
}

// Write buffers p, a whole line (slog handlers write one line per call).
// It waits while the buffer is full; it never drops p.
func (lw *LogWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	for !lw.closed && len(lw.buf) >= lw.limit {
		signal(lw.urgent)
		lw.room.Wait()
	}
	if lw.closed {
		lw.mu.Unlock()
		lw.writeMu.Lock()
		defer lw.writeMu.Unlock()
		return lw.dst.Write(p)
	}
	before := len(lw.buf)
	lw.buf = append(lw.buf, p...)
	lw.appendedUnlock(before)
	return len(p), nil
}

// appendedUnlock is called, with mu held, once lines were appended to a
// buffer that held before bytes: it unlocks mu and wakes the writing
// goroutine, at once for a large batch, to wait MaxDelay for a first
// line.
func (lw *LogWriter) appendedUnlock(before int) {
	large := len(lw.buf) >= lw.threshold
	lw.mu.Unlock()
	switch {
	case large:
		signal(lw.urgent)
	case before == 0:
		signal(lw.kick)
	}
}

// signal wakes the writing goroutine through c without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// admitAccessLine reports whether an access line may be buffered now:
// false while the destination has fallen behind by three quarters of the
// buffer, when the line is counted as dropped instead.
func (lw *LogWriter) admitAccessLine() bool {
	lw.mu.Lock()
	ok := lw.closed || len(lw.buf) < lw.shedAt
	lw.mu.Unlock()
	if !ok {
		lw.dropped.Add(1)
	}
	return ok
}

// Dropped returns how many access lines were dropped because the
// destination had fallen behind.
func (lw *LogWriter) Dropped() uint64 { return lw.dropped.Load() }

// Err returns the last error the destination returned, or nil.
func (lw *LogWriter) Err() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.err
}

// Flush writes what is buffered and returns once it is written, with the
// last write error.
func (lw *LogWriter) Flush() error {
	lw.writeBatch()
	return lw.Err()
}

// Close writes what is buffered, ends the writing goroutine and returns
// the last write error. Lines written after Close go straight to the
// destination. Close may be called more than once.
func (lw *LogWriter) Close() error {
	lw.closeOnce.Do(func() {
		close(lw.stop)
		<-lw.stopped
		lw.writeMu.Lock() // no batch in flight, and none after
		lw.mu.Lock()
		for len(lw.buf) > 0 { // lines may arrive while a batch is written
			lw.writeBatchLocked()
		}
		lw.closed = true
		lw.room.Broadcast() // writers waiting for room now write through
		lw.mu.Unlock()
		lw.writeMu.Unlock()
	})
	return lw.Err()
}

// run is the writing goroutine: it waits for a first line, lets lines
// gather for at most MaxDelay (less when a batch is large or a line is
// urgent), and writes them in one call.
func (lw *LogWriter) run() {
	defer close(lw.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-lw.stop:
			return
		case <-lw.urgent:
		case <-lw.kick:
			timer.Reset(lw.delay)
			select {
			case <-lw.stop:
				timer.Stop()
				return
			case <-lw.urgent:
				timer.Stop()
			case <-timer.C:
			}
		}
		lw.writeBatch()
	}
}

// writeBatch writes the lines buffered so far, while new lines gather in
// the other buffer.
func (lw *LogWriter) writeBatch() {
	lw.writeMu.Lock()
	defer lw.writeMu.Unlock()
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.writeBatchLocked()
}

// writeBatchLocked is writeBatch with writeMu and mu held; it releases mu
// while the destination writes.
func (lw *LogWriter) writeBatchLocked() {
	if len(lw.buf) == 0 {
		return
	}
	out := lw.buf
	lw.buf = lw.spare[:0]
	lw.mu.Unlock()
	_, err := lw.dst.Write(out)
	lw.mu.Lock()
	if err != nil {
		lw.err = err
	}
	if cap(out) <= 2*lw.limit { // keep a grown buffer, but not a huge one
		lw.spare = out[:0]
	} else {
		lw.spare = nil
	}
	lw.room.Broadcast()
}

// Handler returns h (whose output goes to lw) with the LogWriter's
// policy: the Router's access lines may be dropped when the destination
// has fallen behind (see LogWriter), and every other line is handed to
// the writing goroutine at once rather than after MaxDelay. The first
// access line written after some were dropped is preceded by a warning
// that counts them.
func (lw *LogWriter) Handler(h slog.Handler) slog.Handler {
	return &logWriterHandler{lw: lw, h: h}
}

// JSONHandler is lw.Handler(slog.NewJSONHandler(lw, opts)), and, when opts
// neither replaces attributes nor adds the source, it also appends the
// Router's access line to the buffer itself, byte for byte as the JSON
// handler would write it, without building a slog.Record: one formatting
// pass and no allocation per request. A line whose strings would need
// escaping (a path with a quote or a non-ASCII byte, say) still goes
// through the JSON handler, which escapes it.
func (lw *LogWriter) JSONHandler(opts *slog.HandlerOptions) slog.Handler {
	direct := opts == nil || (opts.ReplaceAttr == nil && !opts.AddSource)
	return &logWriterHandler{lw: lw, h: slog.NewJSONHandler(lw, opts), direct: direct}
}

type logWriterHandler struct {
	lw *LogWriter
	h  slog.Handler
	// direct: h is lw's JSON handler with default formatting and neither
	// attributes nor groups added, so writeAccessLine may write for it.
	direct bool
}

func (l *logWriterHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l *logWriterHandler) Handle(ctx context.Context, r slog.Record) error {
	if !isAccessLine(ctx) {
		err := l.h.Handle(ctx, r)
		signal(l.lw.urgent)
		return err
	}
	if !l.lw.admitAccessLine() {
		return nil
	}
	l.reportDropped(ctx)
	return l.h.Handle(ctx, r)
}

// reportDropped logs, once, a warning counting the access lines dropped
// since the last such warning.
func (l *logWriterHandler) reportDropped(ctx context.Context) {
	d := l.lw.dropped.Load()
	if d <= l.lw.reported.Load() {
		return
	}
	if prev := l.lw.reported.Swap(d); prev < d {
		w := slog.NewRecord(time.Now(), slog.LevelWarn, "access log lines dropped: the log destination fell behind", 0)
		w.AddAttrs(slog.Uint64("dropped", d-prev), slog.Uint64("dropped_total", d))
		_ = l.h.Handle(ctx, w)
		signal(l.lw.urgent)
	}
}

// writeAccessLine appends a to the buffer as the JSON handler would
// format it (see JSONHandler), or reports false when it cannot.
func (l *logWriterHandler) writeAccessLine(ctx context.Context, a *accessLine) bool {
	if !l.direct || !a.plain() {
		return false
	}
	if !l.h.Enabled(ctx, slog.LevelInfo) {
		return true // as the logger would: nothing to write
	}
	lw := l.lw
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		return false // through the handler, which writes through
	}
	if len(lw.buf) >= lw.shedAt {
		lw.mu.Unlock()
		lw.dropped.Add(1)
		return true
	}
	if lw.dropped.Load() > lw.reported.Load() {
		// There is room again: report the dropped lines first.
		lw.mu.Unlock()
		l.reportDropped(ctx)
		lw.mu.Lock()
		if lw.closed {
			lw.mu.Unlock()
			return false
		}
	}
	before := len(lw.buf)
	lw.buf = appendAccessLine(lw.buf, a)
	lw.appendedUnlock(before)
	return true
}

// appendAccessLine appends a's JSON line, as slog.JSONHandler formats a
// record at time a.at with message accessLineMessage and a.attrs(), for a
// line whose strings are plain (accessLine.plain).
func appendAccessLine(b []byte, a *accessLine) []byte {
	b = append(b, `{"time":"`...)
	b = a.at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"`+accessLineMessage+`","request_id":"`...)
	b = append(b, a.requestID...)
	b = append(b, `","method":"`...)
	b = append(b, a.method...)
	b = append(b, `","path":"`...)
	b = append(b, a.path...)
	b = append(b, `","query":"`...)
	b = append(b, a.query...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(a.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, a.bytes, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(a.duration), 10)
	b = append(b, `,"client_ip":"`...)
	if a.info.HasClientIP {
		if a.info.ClientIP.IsValid() {
			b = a.info.ClientIP.AppendTo(b)
		} else {
			b = append(b, a.info.ClientIP.String()...)
		}
	}
	b = append(b, `","user_id":"`...)
	b = append(b, userID(a.info)...)
	return append(b, "\"}\n"...)
}

// plain reports whether every string of the line is printable ASCII
// other than the quote and the backslash: JSON writes those strings as
// they are.
func (a *accessLine) plain() bool {
	return plainJSON(a.requestID) && plainJSON(a.method) && plainJSON(a.path) && plainJSON(a.query) &&
		plainJSON(a.info.ClientIP.Zone()) && plainJSON(userID(a.info))
}

func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// WithAttrs and WithGroup keep the policy; the access line is then
// written through h, which adds the attributes and groups.
func (l *logWriterHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logWriterHandler{lw: l.lw, h: l.h.WithAttrs(attrs)}
}

func (l *logWriterHandler) WithGroup(name string) slog.Handler {
	return &logWriterHandler{lw: l.lw, h: l.h.WithGroup(name)}
}

// accessLineKey marks the context of the Router's access line, the only
// line a LogWriter may drop.
type accessLineKey struct{}

// accessLineCtx is the context the Router logs its access line with: the
// request's context, marked. It lives in the per-request state, so that
// marking allocates nothing.
type accessLineCtx struct{ context.Context }

func (c *accessLineCtx) Value(key any) any {
	if key == (accessLineKey{}) {
		return true
	}
	return c.Context.Value(key)
}

func isAccessLine(ctx context.Context) bool {
	return ctx.Value(accessLineKey{}) != nil
}
