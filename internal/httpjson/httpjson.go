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
package httpjson

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Write sends v as JSON with status and contentType.
func Write(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic("warden: cannot encode a JSON response: " + err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
