package warden

import (
	"bufio"
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/reqinfo"
	"github.com/wardenhq/warden/problem"
)

// requestState is allocated once per request: the shared request facts,
// the response recorder, the X-Request-Id header value and the access
// line's context live in one allocation.
type requestState struct {
	info  reqinfo.Info
	cx    reqinfo.Carrier // the request's context, carrying info
	rw    responseWriter
	id    [1]string     // the X-Request-Id value; cap 1, so Add copies
	logCx accessLineCtx // see LogWriter
	line  accessLine
}

// ServeHTTP runs the router-wide pipeline: request id, access log and
// panic recovery around header limits, client IP, security headers and the
// routes.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &requestState{}
	st.info.RequestID = newRequestID()
	st.rw = responseWriter{ResponseWriter: w, info: &st.info}
	r = reqinfo.AttachNew(r, &st.info, &st.cx)
	st.id[0] = st.info.RequestID
	w.Header()["X-Request-Id"] = st.id[:]
	start := time.Now()
	defer rt.finish(st, r, start)
	rt.core.handler.ServeHTTP(&st.rw, r)
}

// RequestID returns the id the router gave the request ctx belongs to (the
// X-Request-Id response header, the request_id of its log lines), or ""
// for a context that did not come through a Router. Handlers put it in
// their own log lines and security events so that they can be joined with
// the access log.
func RequestID(ctx context.Context) string { return reqinfo.RequestID(ctx) }

// finish recovers a panic into a 500 problem, tells the Observer and
// writes the access log.
func (rt *Router) finish(st *requestState, r *http.Request, start time.Time) {
	c, rw := rt.core, &st.rw
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v) // the handler asked net/http to drop the connection
		}
		c.logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
			slog.String("request_id", rw.info.RequestID),
			slog.Any("panic", v),
			slog.String("stack", string(debug.Stack())))
		if !rw.wroteHeader {
			rw.Header().Del("Content-Length")
			problem.Write(rw, http.StatusInternalServerError, "An internal error occurred.")
		}
		rw.status = http.StatusInternalServerError
	}
	if c.cfg.DisableAccessLog && c.cfg.Observer == nil {
		return
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	end := time.Now() // one clock read for the duration and the line's time
	d := end.Sub(start)
	if c.cfg.Observer != nil {
		observe(c.cfg.Observer, rw.info, status, d)
	}
	if c.cfg.DisableAccessLog {
		return
	}
	st.line = accessLine{
		requestID: rw.info.RequestID,
		method:    r.Method,
		path:      r.URL.Path,
		query:     RedactQuery(r.URL.RawQuery),
		status:    status,
		bytes:     rw.bytes,
		duration:  d,
		at:        end,
		info:      rw.info,
	}
	// The access line's context is marked, so that a LogWriter may drop
	// this line, and no other, when its destination falls behind.
	st.logCx.Context = r.Context()
	if w, ok := c.logger.Handler().(accessLineWriter); ok && w.writeAccessLine(&st.logCx, &st.line) {
		return
	}
	attrs := st.line.attrs()
	c.logger.LogAttrs(&st.logCx, slog.LevelInfo, accessLineMessage, attrs[:]...)
}

// accessLineMessage is the access line's msg.
const accessLineMessage = "request"

// accessLine is what the access log says of one request.
type accessLine struct {
	requestID, method, path, query string
	status                         int
	bytes                          int64
	duration                       time.Duration
	at                             time.Time     // when the request finished
	info                           *reqinfo.Info // client IP and identity
}

// attrs are the access line's attributes, in order.
func (a *accessLine) attrs() [9]slog.Attr {
	return [...]slog.Attr{
		slog.String("request_id", a.requestID),
		slog.String("method", a.method),
		slog.String("path", a.path),
		slog.String("query", a.query),
		slog.Int("status", a.status),
		slog.Int64("bytes", a.bytes),
		slog.Duration("duration", a.duration),
		slog.String("client_ip", clientIPString(a.info)),
		slog.String("user_id", userID(a.info)),
	}
}

// accessLineWriter is implemented by a handler that can write the access
// line itself, faster than through a slog.Record (see
// LogWriter.JSONHandler); false means it did not, and the line goes
// through the logger as usual.
type accessLineWriter interface {
	writeAccessLine(ctx context.Context, a *accessLine) bool
}

func clientIPString(info *reqinfo.Info) string {
	if !info.HasClientIP {
		return ""
	}
	return info.ClientIP.String()
}

func userID(info *reqinfo.Info) string {
	if id, ok := info.Identity.(*auth.Identity); ok && id != nil {
		return id.UserID
	}
	return ""
}

func newRequestID() string {
	// Request ids correlate log lines; they grant nothing, so a fast
	// non-cryptographic source is enough.
	var b [16]byte
	return string(strconv.AppendUint(b[:0], rand.Uint64(), 36))
}

// harmlessQueryParams are the query parameters whose values the access
// log keeps: paging, ordering and presentation, which say what was asked
// for and carry no credential or personal data. Every other value is
// logged as REDACTED, so that a parameter nobody thought of (?jwt=,
// ?refresh=, ?otp=, ?access=) is safe until it is added here on purpose.
// Left out deliberately: free text (q, search), which may hold an email
// address or a pasted token; opaque cursors and ids, which may be signed
// or personal; redirect targets, whose URLs may carry tokens. Names are
// lower-case ASCII.
var harmlessQueryParams = []string{
	"page", "page_size", "per_page", "limit", "offset",
	"sort", "order", "order_by",
	"fields", "include", "expand", "format", "lang", "visibility",
	"since", "until",
}

// RedactQuery returns rawQuery for the access log: every name is kept
// (names say what was asked, not with what), and a value is kept only for
// a parameter in harmlessQueryParams; other values become "REDACTED".
// Names are compared percent-decoded, as servers read them ("%70age" is
// page), ignoring ASCII case. A value holding ';' is redacted even after a
// harmless name: some proxies and frameworks split queries at ';', so
// "page=1;jwt=..." carries a token to them. Pairs without '=' are kept as
// they are.
func RedactQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	for first, rest := true, rawQuery; ; first = false {
		pair, more, found := strings.Cut(rest, "&")
		if !first {
			b.WriteByte('&')
		}
		name, value, hasValue := strings.Cut(pair, "=")
		switch {
		case !hasValue:
			b.WriteString(pair)
		case harmlessQueryParam(name) && !strings.Contains(value, ";"):
			b.WriteString(pair)
		default:
			b.WriteString(name)
			b.WriteString("=REDACTED")
		}
		if !found {
			return b.String()
		}
		rest = more
	}
}

// harmlessQueryParam reports whether the raw query name names a parameter
// in harmlessQueryParams.
func harmlessQueryParam(name string) bool {
	if strings.ContainsAny(name, "%+") {
		decoded, err := url.QueryUnescape(name)
		if err != nil {
			return false // no server reads a malformed name as a harmless one
		}
		name = decoded
	}
	for _, h := range harmlessQueryParams {
		if equalFoldASCII(name, h) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether s is lower with ASCII letters in any
// case. strings.EqualFold would also match "ſort" (with a long s), a name
// no handler reads as sort.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// responseWriter records the status and size for the access log and turns
// the mux's own plain-text 404 and 405 answers into problem documents.
type responseWriter struct {
	http.ResponseWriter
	info        *reqinfo.Info
	status      int
	bytes       int64
	wroteHeader bool
	discard     bool // the body of a replaced mux answer
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 100 && code < 200 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	if !w.info.Routed && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.discard = true
		detail := "No resource exists at this path."
		if code == http.StatusMethodNotAllowed {
			detail = "This method is not allowed on this resource."
		}
		problem.Write(w.ResponseWriter, code, detail)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(b), nil
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer (for
// flushing, deadlines and hijacking).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher for streaming handlers.
func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker for WebSocket upgrades.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.wroteHeader = true
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}
