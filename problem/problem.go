// Package problem writes RFC 9457 problem documents, the only error format
// Warden sends.
//
// Contract: every document carries type, title, status and detail plus the
// extension member "error" (one short sentence that older clients read), and
// optionally "details" (a list) and "fields" (field name to messages). The
// Content-Type is application/problem+json with a charset. A document never
// contains a stack trace, SQL, a file path, an internal identifier or a
// secret: callers pass only sentences written for the client.
package problem

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/httpjson"
)

// ContentType is the media type of every problem document.
const ContentType = "application/problem+json; charset=utf-8"

var contentType = httpjson.NewContentType(ContentType)

// Problem is one RFC 9457 problem document with Warden's extension members.
type Problem struct {
	Type    string              `json:"type"`
	Title   string              `json:"title"`
	Status  int                 `json:"status"`
	Detail  string              `json:"detail"`
	Error   string              `json:"error"`
	Details []string            `json:"details,omitempty"`
	Fields  map[string][]string `json:"fields,omitempty"`
}

// New returns a problem for status whose detail and error members are both
// detail. An empty detail falls back to the status text.
func New(status int, detail string) *Problem {
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	if detail == "" {
		detail = title + "."
	}
	return &Problem{Type: "about:blank", Title: title, Status: status, Detail: detail, Error: detail}
}

// WithField adds a validation message for one input field.
func (p *Problem) WithField(field, message string) *Problem {
	if p.Fields == nil {
		p.Fields = make(map[string][]string)
	}
	p.Fields[field] = append(p.Fields[field], message)
	return p
}

// WithDetails appends free-standing validation messages.
func (p *Problem) WithDetails(messages ...string) *Problem {
	p.Details = append(p.Details, messages...)
	return p
}

// Write sends p. Headers already set by the caller (WWW-Authenticate,
// Retry-After, Allow) are kept; Content-Type and Content-Length are replaced.
func (p *Problem) Write(w http.ResponseWriter) {
	httpjson.Write(w, p.Status, contentType, p)
}

// Write sends a problem for status with detail as its sentence.
func Write(w http.ResponseWriter, status int, detail string) {
	New(status, detail).Write(w)
}

// UnavailableRetry is the Retry-After of a 503 sent because a store a
// decision depends on (database, Redis) did not answer: long enough for a
// reconnect, short enough that clients come back soon after recovery.
const UnavailableRetry = 5 * time.Second

// Seconds rounds d up to whole seconds, at least one: the unit of
// Retry-After, so that a client that waits as told is not refused again
// for a fraction of a second.
func Seconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// WriteRetry sends a problem for status (429 or 503) with a Retry-After of
// after, rounded up to whole seconds.
func WriteRetry(w http.ResponseWriter, status int, after time.Duration, detail string) {
	w.Header().Set("Retry-After", strconv.FormatInt(Seconds(after), 10))
	Write(w, status, detail)
}

// Unavailable sends 503 with a Retry-After of UnavailableRetry: the answer
// whenever a security decision cannot be made because a store is down.
func Unavailable(w http.ResponseWriter, detail string) {
	WriteRetry(w, http.StatusServiceUnavailable, UnavailableRetry, detail)
}
