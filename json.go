package warden

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// JSONContentType is the Content-Type of every JSON response.
const JSONContentType = "application/json; charset=utf-8"

// WriteJSON sends v as JSON with status. Encoding failures are programming
// errors (unsupported types) and become a 500 problem.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic("warden: WriteJSON: " + err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", JSONContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
