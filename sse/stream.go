package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"
)

// heartbeatFrame is a comment line: every client ignores it, but it
// keeps proxies from closing an idle stream and makes a write that fails
// once the client is gone.
var heartbeatFrame = []byte(": heartbeat\n\n")

// maxKeptBuffer is the largest frame buffer a stream keeps between events.
const maxKeptBuffer = 64 << 10

// Stream is one open event stream, handed to Serve's run function. Its
// methods are safe for concurrent use.
type Stream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timeout time.Duration
	user    string

	mu  sync.Mutex // serialises writes: events and heartbeats never interleave
	err error      // sticky: once set, nothing more is written
	// heartbeat is the timer of the next comment on a silent stream (nil
	// before it starts); heartbeatStopped, set by end, keeps a timer that
	// fires afterwards from writing.
	heartbeat        *time.Timer
	heartbeatStopped bool
	// writeFailed tells a failed write from other ends: net/http cancels
	// the request's context on a write error too, so the cause alone
	// would say "client disconnected".
	writeFailed bool
	last        time.Time // end of the last successful write
	sent        uint64
	buf         []byte // the frame being written, reused between events
}

// Send writes one event named event (the empty name means "message") with
// data, and flushes it. Each line of data (ended by LF, CRLF or CR)
// becomes one "data:" line, which a client joins with LF. It returns
// ErrInvalidEvent or ErrInvalidData, leaving the stream open, for an
// argument that cannot be framed faithfully, and an error wrapping
// ErrClosed once the stream has ended; a failed write ends the stream and
// cancels run's context. Each write has its own deadline of the Server's
// WriteTimeout.
func (st *Stream) Send(event string, data []byte) error {
	if !validEvent(event) {
		return ErrInvalidEvent
	}
	if !utf8.Valid(data) {
		return ErrInvalidData
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return st.err
	}
	st.buf = appendEvent(st.buf[:0], event, data)
	err := st.writeLocked(st.buf)
	if cap(st.buf) > maxKeptBuffer {
		// One large event must not pin its size to the stream for life.
		st.buf = nil
	}
	if err != nil {
		return err
	}
	st.sent++
	return nil
}

// validEvent reports whether name can be written on an "event:" line and
// read back unchanged: UTF-8, without a line break or any other control
// character.
func validEvent(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(name)
}

// appendEvent appends the frame of one event to dst. The data is split on
// every line ending so that no byte of it can end the "data:" line and
// begin another field; the blank line dispatches the event.
func appendEvent(dst []byte, event string, data []byte) []byte {
	if event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, event...)
		dst = append(dst, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		line := data
		if i >= 0 {
			line = data[:i]
		}
		// One space after the colon, which a parser strips, so that data
		// starting with a space keeps it.
		dst = append(dst, "data: "...)
		dst = append(dst, line...)
		dst = append(dst, '\n')
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(dst, '\n')
}

// writeLocked writes and flushes frame under a fresh write deadline.
// st.mu must be held. A failure is sticky and cancels run's context.
func (st *Stream) writeLocked(frame []byte) error {
	if st.err != nil {
		return st.err
	}
	if st.ctx.Err() != nil {
		st.err = closedError(context.Cause(st.ctx))
		return st.err
	}
	err := st.rc.SetWriteDeadline(time.Now().Add(st.timeout))
	if err == nil {
		_, err = st.w.Write(frame)
	}
	if err == nil {
		err = st.rc.Flush()
	}
	if err != nil {
		st.err = closedError(err)
		st.writeFailed = true
		st.cancel(st.err)
		return st.err
	}
	st.last = time.Now()
	return nil
}

// closedError wraps cause in ErrClosed, once.
func closedError(cause error) error {
	if errors.Is(cause, ErrClosed) {
		return cause
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}

// startHeartbeat writes a comment whenever the stream has been silent for
// interval, until the stream ends or a write fails. It is a timer rather
// than a goroutine, so that an idle stream holds no stack of its own
// between beats (ten thousand open streams are ten thousand stacks less).
func (st *Stream) startHeartbeat(interval time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.heartbeat = time.AfterFunc(interval, func() { st.beat(interval) })
}

// beat runs when the heartbeat timer fires: events count as signs of
// life, so only a silent stream gets a comment, never more than interval
// after the last write; then it sets the timer for the next one.
func (st *Stream) beat(interval time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.heartbeatStopped {
		return
	}
	wait := interval - time.Since(st.last)
	if wait <= 0 {
		if st.writeLocked(heartbeatFrame) != nil {
			return // the stream is over: no more beats
		}
		wait = interval
	}
	st.heartbeat.Reset(wait)
}

// endReason names why the stream is ending, for the log; called before
// end cancels the context.
func (st *Stream) endReason(returned bool) string {
	st.mu.Lock()
	failed := st.writeFailed
	st.mu.Unlock()
	cause := context.Cause(st.ctx)
	switch {
	case !returned:
		return "run panicked"
	case failed:
		return "write failed"
	case cause == nil:
		return "run returned"
	case errors.Is(cause, ErrShutdown):
		return "shutdown"
	default:
		return "client disconnected"
	}
}

// end cancels the stream, stops the heartbeat and waits for a write in
// progress, after which nothing touches the ResponseWriter again.
func (st *Stream) end() {
	st.cancel(ErrClosed)
	// A beat in progress holds the lock, so once end has it no heartbeat
	// is writing, and a timer firing later finds heartbeatStopped.
	st.mu.Lock()
	st.heartbeatStopped = true
	if st.heartbeat != nil {
		st.heartbeat.Stop()
	}
	if st.err == nil {
		st.err = ErrClosed
	}
	st.mu.Unlock()
}

func (st *Stream) sentCount() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sent
}
