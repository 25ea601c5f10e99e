package ws

import (
	"bufio"
	"net"
	"net/http"
	"time"

	"github.com/wardenhq/warden/problem"
)

// upgradeWriter is the http.ResponseWriter handed to the WebSocket
// library. It turns the library's plain-text handshake errors into
// problem documents, and, when the writer underneath can be hijacked,
// keeps the hijacked net.Conn so that the close handshake can be bounded.
type upgradeWriter interface {
	http.ResponseWriter
	status() int
	conn() net.Conn
}

func newUpgradeWriter(w http.ResponseWriter) upgradeWriter {
	pw := &problemWriter{ResponseWriter: w}
	// Offer Hijack only when the writer chain has it, as the library
	// checks before it writes 101: an HTTP/2 request must get its 501
	// problem, not a 101 on a stream that cannot be taken over.
	for u := w; ; {
		switch t := u.(type) {
		case http.Hijacker:
			return &hijackWriter{problemWriter: pw, hj: t}
		case interface{ Unwrap() http.ResponseWriter }:
			u = t.Unwrap()
		default:
			return pw
		}
	}
}

// problemWriter rewrites error responses written through it.
type problemWriter struct {
	http.ResponseWriter
	code int
}

func (w *problemWriter) status() int    { return w.code }
func (w *problemWriter) conn() net.Conn { return nil }

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *problemWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteHeader passes success through and answers an error status with a
// problem document, keeping headers the library set (Upgrade,
// Sec-WebSocket-Version) for the client to act on.
func (w *problemWriter) WriteHeader(status int) {
	if w.code != 0 {
		return
	}
	w.code = status
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	detail := "This request is not a valid WebSocket handshake."
	switch status {
	case http.StatusUpgradeRequired:
		detail = "This endpoint accepts only WebSocket connections."
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodGet)
		detail = "A WebSocket handshake uses GET."
	case http.StatusInternalServerError, http.StatusNotImplemented:
		detail = "The connection cannot be upgraded to a WebSocket."
	}
	problem.Write(w.ResponseWriter, status, detail)
}

// Write discards the library's plain-text error body: WriteHeader has
// sent a problem document instead.
func (w *problemWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.code >= 400 {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// hijackWriter is a problemWriter over a writer that can be hijacked.
type hijackWriter struct {
	*problemWriter
	hj  http.Hijacker
	raw net.Conn
}

func (w *hijackWriter) conn() net.Conn { return w.raw }

// Hijack takes the connection over for the library and clears the
// http.Server's deadlines on it: ReadTimeout and WriteTimeout bound one
// request and would otherwise cut every WebSocket after that long. The
// limits of Config take over.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := w.hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	w.raw = nc
	return nc, brw, nil
}
