package warden

import (
	"net/http"

	"github.com/wardenhq/warden/internal/httpjson"
)

// JSONContentType is the Content-Type of every JSON response.
const JSONContentType = "application/json; charset=utf-8"

// WriteJSON sends v as JSON with status. Encoding failures are programming
// errors (unsupported types) and become a 500 problem.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	httpjson.Write(w, status, jsonContentType, v)
}

var jsonContentType = httpjson.NewContentType(JSONContentType)
