package secure

import (
	"net/http"
	"time"
)

// Recommended http.Server limits. A server without them lets one client
// hold a connection and a goroutine forever by sending slowly (slowloris)
// or never reading the response.
const (
	// ReadHeaderTimeout bounds the request line and headers, the phase a
	// slowloris client stretches.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request, body included: room for
	// a 10 MB upload on a slow mobile link.
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds one response. Streaming handlers (SSE,
	// WebSocket) extend their own deadline with
	// http.NewResponseController(w).SetWriteDeadline.
	WriteTimeout = 60 * time.Second
	// IdleTimeout closes keep-alive connections nobody uses.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds the request line plus headers; HeaderLimits
	// applies finer limits inside it.
	MaxHeaderBytes = 1 << 20
)

// ApplyServerLimits sets each of s's timeouts and MaxHeaderBytes that is
// still zero to the recommended value above; values already set are kept,
// so a caller can choose differently on purpose but not by omission.
func ApplyServerLimits(s *http.Server) {
	if s.ReadHeaderTimeout == 0 {
		s.ReadHeaderTimeout = ReadHeaderTimeout
	}
	if s.ReadTimeout == 0 {
		s.ReadTimeout = ReadTimeout
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = WriteTimeout
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = IdleTimeout
	}
	if s.MaxHeaderBytes == 0 {
		s.MaxHeaderBytes = MaxHeaderBytes
	}
}
