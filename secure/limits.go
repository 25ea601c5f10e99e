package secure

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wardenhq/warden/problem"
)

// Defaults for HeaderLimits and BodyLimit.
const (
	DefaultMaxHeaderCount      = 100
	DefaultMaxHeaderValueBytes = 8192
	DefaultMaxBodyBytes        = 10 << 20
)

// HeaderLimits refuses, with a 431 problem, a request that has more than
// maxCount header fields or a header name or value longer than
// maxValueBytes. Zero or negative limits mean the defaults.
//
// Every field line counts, so three Cookie lines are three fields. Host is
// not counted: net/http moves it out of r.Header, and a request has exactly
// one. Its length is checked like any value. http.Server.MaxHeaderBytes
// bounds the total before this runs; these limits stop a request that
// stays under that total but would make header processing expensive for
// later layers (many fields, one huge token or cookie).
func HeaderLimits(maxCount, maxValueBytes int) func(http.Handler) http.Handler {
	if maxCount <= 0 {
		maxCount = DefaultMaxHeaderCount
	}
	if maxValueBytes <= 0 {
		maxValueBytes = DefaultMaxHeaderValueBytes
	}
	tooMany := fmt.Sprintf("The request has more than %d header fields.", maxCount)
	tooLong := fmt.Sprintf("A request header is longer than %d bytes.", maxValueBytes)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(r.Host) > maxValueBytes {
				problem.Write(w, http.StatusRequestHeaderFieldsTooLarge, tooLong)
				return
			}
			count := 0
			for name, values := range r.Header {
				count += len(values)
				if count > maxCount {
					problem.Write(w, http.StatusRequestHeaderFieldsTooLarge, tooMany)
					return
				}
				if len(name) > maxValueBytes {
					problem.Write(w, http.StatusRequestHeaderFieldsTooLarge, tooLong)
					return
				}
				for _, v := range values {
					if len(v) > maxValueBytes {
						problem.Write(w, http.StatusRequestHeaderFieldsTooLarge, tooLong)
						return
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// BodyLimit caps the request body at maxBytes (DefaultMaxBodyBytes when
// zero or negative). A declared Content-Length over the cap is answered
// 413 at once, before a byte of the body is read. Otherwise (a smaller
// Content-Length, or a chunked body of unknown length) the body is wrapped
// in http.MaxBytesReader: reading past the cap fails with an error that
// IsBodyTooLarge recognises, and DecodeJSON answers 413 for it. Handlers
// that read the body themselves should do the same.
//
// Limits nest: a route's BodyLimit inside a global one can only lower the
// effective cap, never raise it.
func BodyLimit(maxBytes int64) func(http.Handler) http.Handler {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	tooLarge := bodyTooLargeMessage(maxBytes)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > maxBytes {
				problem.Write(w, http.StatusRequestEntityTooLarge, tooLarge)
				return
			}
			// A bodiless request needs no wrapper; skipping it saves an
			// allocation on every GET.
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func bodyTooLargeMessage(limit int64) string {
	return fmt.Sprintf("The request body is larger than %d bytes.", limit)
}

// IsBodyTooLarge reports whether err comes from reading past a BodyLimit
// (or any http.MaxBytesReader) cap.
func IsBodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// WriteBodyTooLarge answers 413 for err, which IsBodyTooLarge recognised,
// naming the cap that was exceeded.
func WriteBodyTooLarge(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		problem.Write(w, http.StatusRequestEntityTooLarge, bodyTooLargeMessage(mbe.Limit))
		return
	}
	problem.Write(w, http.StatusRequestEntityTooLarge, "The request body is too large.")
}
