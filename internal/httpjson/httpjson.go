// Package httpjson writes a JSON response body: the one writer behind
// warden.WriteJSON and problem documents, so that both frame responses the
// same way.
//
// Contract: Write marshals v, sets Content-Type to contentType and
// Content-Length to the body's size, drops any Content-Encoding a handler
// set (the body is written as is), sends status and the body followed by a
// newline. Headers the caller set before (Retry-After, WWW-Authenticate,
// Allow) are kept. A value that cannot be marshalled is a programming
// error: Write panics, and the router's recovery turns it into a 500.
//
// The body is encoded into a pooled buffer, and a ContentType's header
// value is shared between responses (replace it, never modify the slice in
// place, as with secure.Headers), so that an answer allocates only its
// Content-Length.
package httpjson

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// ContentType is a Content-Type header value made once, for Write.
type ContentType struct{ value []string }

// NewContentType returns the header value for mediaType.
func NewContentType(mediaType string) ContentType {
	return ContentType{value: []string{mediaType}} // cap 1: a handler's Add copies
}

// maxPooledBuffer is the largest encoding buffer kept for reuse: one large
// answer (a page of a hundred reviews) must not pin its memory for ever.
const maxPooledBuffer = 64 << 10

// encoder is a buffer and the json.Encoder writing into it. Encode escapes
// HTML and ends with a newline, so the bytes are json.Marshal's plus the
// newline every answer ends with.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// Write sends v as JSON with status and contentType.
func Write(w http.ResponseWriter, status int, contentType ContentType, v any) {
	e := encoders.Get().(*encoder)
	defer release(e)
	if err := e.enc.Encode(v); err != nil {
		panic("warden: cannot encode a JSON response: " + err.Error())
	}
	h := w.Header()
	h["Content-Type"] = contentType.value
	h.Set("Content-Length", strconv.Itoa(e.buf.Len()))
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	// A ResponseWriter, like any io.Writer, must not keep the slice, so
	// the buffer can go back to the pool once Write returns (json.Encoder
	// relies on the same rule for its own pooled buffers).
	_, _ = w.Write(e.buf.Bytes())
}

func release(e *encoder) {
	if e.buf.Cap() > maxPooledBuffer {
		return
	}
	e.buf.Reset()
	encoders.Put(e)
}
