package secure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden/problem"
)

// DecodeJSON reads r's body as one JSON value into dst, a non-nil pointer.
// On failure it has already answered with a problem and returns false; the
// handler just returns:
//
//   - 415 unless Content-Type is application/json (a charset parameter, if
//     any, must be utf-8). Requiring it also keeps the endpoint out of
//     reach of HTML forms, which cannot send that type without CORS.
//   - 413 when the body is over the cap: the BodyLimit in front of the
//     route, or DefaultMaxBodyBytes when there is none.
//   - 400 for malformed JSON or UTF-8, a body that is empty or null, data
//     after the value, a member name repeated within one object, or a
//     value of the wrong type (named in "fields").
//   - 500 if dst is not a non-nil pointer, a programming error.
//
// Unknown members are ignored, so clients may send more than a handler
// reads (PATCH /api/users/me relies on this).
//
// Repeated member names are refused because decoders disagree about them
// (encoding/json keeps the last, others keep the first), and a proxy or
// validator that reads {"role":"user","role":"admin"} differently from
// this handler could be fooled. Names equal under Unicode case folding
// count as repeated: encoding/json matches struct fields without regard
// to case, so "Role" and "role" would fill the same field.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		problem.Write(w, http.StatusUnsupportedMediaType, "The request body must be JSON, sent with Content-Type: application/json.")
		return false
	}
	if r.ContentLength > DefaultMaxBodyBytes {
		WriteBodyTooLarge(w, &http.MaxBytesError{Limit: DefaultMaxBodyBytes})
		return false
	}
	if r.Body == nil || r.Body == http.NoBody {
		problem.Write(w, http.StatusBadRequest, "The request body is empty; it must be a JSON value.")
		return false
	}
	// A second cap is harmless under a BodyLimit (the lower one wins) and
	// keeps a route that forgot its BodyLimit from buffering without end.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, DefaultMaxBodyBytes))
	if err != nil {
		if IsBodyTooLarge(err) {
			WriteBodyTooLarge(w, err)
		} else {
			problem.Write(w, http.StatusBadRequest, "The request body could not be read.")
		}
		return false
	}
	// Syntax first, so that a malformed body is always reported as such,
	// whatever else the walk below would have found before the error.
	if !json.Valid(body) {
		problem.Write(w, http.StatusBadRequest, syntaxMessage(body))
		return false
	}
	// encoding/json turns invalid UTF-8 into U+FFFD where other parsers
	// may refuse or keep the bytes: another chance for two readers of one
	// body to disagree.
	if !utf8.Valid(body) {
		problem.Write(w, http.StatusBadRequest, "The request body is not valid UTF-8.")
		return false
	}
	if msg := checkJSON(body); msg != "" {
		problem.Write(w, http.StatusBadRequest, msg)
		return false
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		var invalid *json.InvalidUnmarshalError
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			// Unreachable after json.Valid; answered the same way.
			problem.Write(w, http.StatusBadRequest, "The request body is not valid JSON.")
		case errors.As(err, &invalid):
			problem.Write(w, http.StatusInternalServerError, "")
		case errors.As(err, &typeErr) && typeErr.Field != "" && len(typeErr.Field) <= 128:
			msg := "must be " + jsonKind(typeErr.Type)
			problem.New(http.StatusBadRequest, fmt.Sprintf("The member %q %s.", typeErr.Field, msg)).
				WithField(typeErr.Field, msg).Write(w)
		case errors.As(err, &typeErr):
			problem.Write(w, http.StatusBadRequest, "The request body must be "+jsonKind(typeErr.Type)+".")
		default:
			// Errors from custom UnmarshalJSON methods may describe
			// internals; the client gets a fixed sentence.
			problem.Write(w, http.StatusBadRequest, "The request body is not valid for this endpoint.")
		}
		return false
	}
	return true
}

func isJSONContentType(ct string) bool {
	if ct == "" {
		return false
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	return true
}

// syntaxMessage describes why body, which json.Valid refused, is not
// JSON, with the offset so that a client developer can find the mistake.
func syntaxMessage(body []byte) string {
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return "The request body is empty; it must be a JSON value."
	}
	var syn *json.SyntaxError
	if err := json.Unmarshal(body, new(json.RawMessage)); errors.As(err, &syn) {
		if syn.Offset >= int64(len(body)) {
			return "The request body is not valid JSON (it ends too early)."
		}
		return fmt.Sprintf("The request body is not valid JSON (error at byte %d).", syn.Offset)
	}
	return "The request body is not valid JSON."
}

// checkJSON walks the tokens of body, which json.Valid accepted, and
// returns why it is refused anyway, or "": a top-level null (which
// encoding/json silently accepts, leaving dst untouched) or a member name
// repeated within one object. json.Valid also bounds the nesting depth,
// and so the stack here.
func checkJSON(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	// Numbers stay text: 1e400 is valid JSON even if no float64 holds it.
	dec.UseNumber()
	type frame struct {
		object    bool
		expectKey bool
		names     map[string]struct{}
	}
	var stack []frame
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			return "The request body is not valid JSON."
		}
		if first && tok == nil {
			return "The request body must not be null."
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			top := &stack[n-1]
			if top.expectKey {
				if tok == json.Delim('}') {
					stack = stack[:n-1]
					continue
				}
				name := foldJSONName(tok.(string))
				if _, dup := top.names[name]; dup {
					return "A JSON object in the request body repeats a member name."
				}
				if top.names == nil {
					top.names = make(map[string]struct{})
				}
				top.names[name] = struct{}{}
				top.expectKey = false
				continue
			}
			top.expectKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, expectKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// foldJSONName maps names that encoding/json would match to the same
// struct field to one string: each rune becomes the smallest rune of its
// Unicode simple case-folding orbit, which is the equivalence
// strings.EqualFold (and so encoding/json) uses.
func foldJSONName(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// The smallest rune of an ASCII letter's orbit is its upper case
		// (k, K and the Kelvin sign fold to K).
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(low)
	}
	return b.String()
}

// jsonKind names the JSON type a Go type is decoded from, so that the
// client reads "a number", not "int64" or a struct name.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a different type"
}
