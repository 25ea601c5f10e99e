package secure

import (
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/wardenhq/warden/problem"
)

// Defaults for MultipartLimits.
const (
	DefaultMaxBoundary           = 200
	DefaultMaxParts              = 10
	DefaultMaxPartBytes          = 1 << 20
	DefaultMaxMultipartBodyBytes = DefaultMaxBodyBytes
)

// MultipartLimits bounds a multipart/form-data request body. Zero or
// negative fields mean their defaults, so the zero value is usable.
type MultipartLimits struct {
	// MaxBoundary is the longest boundary parameter accepted, in bytes;
	// DefaultMaxBoundary (200) when zero. RFC 2046 allows 70; clients in
	// the wild send a little more, and a long boundary makes every scan
	// for it slower.
	MaxBoundary int
	// MaxParts is the number of parts accepted; DefaultMaxParts (10) when
	// zero. A body with more is refused as soon as the extra part starts.
	MaxParts int
	// MaxPartBytes caps the content of one part; DefaultMaxPartBytes
	// (1 MiB) when zero.
	MaxPartBytes int64
	// MaxTotalBytes caps the whole body as sent: part headers, boundaries
	// and contents; DefaultMaxMultipartBodyBytes (10 MiB) when zero. It
	// also bounds the part headers, which mime/multipart limits only
	// loosely.
	MaxTotalBytes int64
}

func (l MultipartLimits) withDefaults() MultipartLimits {
	if l.MaxBoundary <= 0 {
		l.MaxBoundary = DefaultMaxBoundary
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxPartBytes <= 0 {
		l.MaxPartBytes = DefaultMaxPartBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxMultipartBodyBytes
	}
	return l
}

// Form is a multipart/form-data body read into memory by ReadMultipart.
type Form struct {
	// Parts in the order they were sent. Several may share a name.
	Parts []Part
}

// Part is one part of a Form.
type Part struct {
	// Name is the form field name (Content-Disposition's name parameter),
	// never empty.
	Name string
	// FileName is the filename parameter with any directory removed
	// (multipart.Part.FileName), or "" when the part is not a file. It is
	// the client's text: never use it as a path or trust its extension.
	FileName string
	// Header is the part's header as sent, Content-Type included. That
	// type is the client's claim too: decide a file's type by its bytes.
	Header textproto.MIMEHeader
	// Data is the part's content, exactly as sent.
	Data []byte
}

// One returns the part named name when exactly one part has that name.
// It returns false when there is none or when the name is repeated, so
// that a handler never picks one of two values while a proxy or
// validator in front of it picked the other.
func (f *Form) One(name string) (Part, bool) {
	var found Part
	n := 0
	for _, p := range f.Parts {
		if p.Name == name {
			found = p
			n++
		}
	}
	return found, n == 1
}

// All returns every part named name, in order.
func (f *Form) All(name string) []Part {
	var out []Part
	for _, p := range f.Parts {
		if p.Name == name {
			out = append(out, p)
		}
	}
	return out
}

// Repeated returns the names carried by more than one part, in the order
// of their first appearance; nil when every name is unique.
func (f *Form) Repeated() []string {
	seen := make(map[string]int, len(f.Parts))
	var out []string
	for _, p := range f.Parts {
		seen[p.Name]++
		if seen[p.Name] == 2 {
			out = append(out, p.Name)
		}
	}
	return out
}

// LimitMultipart refuses a request that is not multipart/form-data (415)
// or whose boundary is missing, malformed or longer than l.MaxBoundary
// (400), and one whose declared length is over l.MaxTotalBytes (413),
// before the body is read. It caps the body at l.MaxTotalBytes for what
// follows, as BodyLimit does. Put it on routes that take a multipart body,
// in front of a handler that calls ReadMultipart; warden.Multipart does.
func LimitMultipart(l MultipartLimits) func(http.Handler) http.Handler {
	l = l.withDefaults()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := multipartBoundary(w, r, l); !ok {
				return
			}
			if r.ContentLength > l.MaxTotalBytes {
				WriteBodyTooLarge(w, &http.MaxBytesError{Limit: l.MaxTotalBytes})
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, l.MaxTotalBytes)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ReadMultipart reads r's multipart/form-data body into memory within l.
// Nothing is written to disk: it reads with mime/multipart.Reader itself
// and never calls ParseMultipartForm, which spools large files to
// temporary files. On failure it has already answered with a problem and
// returns false; the handler just returns:
//
//   - 415 unless Content-Type is multipart/form-data.
//   - 400 for a missing, malformed or overlong boundary, a body that is
//     not well-formed multipart, more than l.MaxParts parts, a part
//     without a form-data Content-Disposition and name, or a part with a
//     Content-Transfer-Encoding other than 7bit, 8bit or binary.
//   - 413 for a part whose content is over l.MaxPartBytes, or a body over
//     l.MaxTotalBytes (or under a lower BodyLimit in front of the route).
//
// The checks of LimitMultipart are repeated, so ReadMultipart is safe on
// a route without it; where both run, the lower limits win. Repeated
// field names are not refused here: Form.One and Form.Repeated let the
// handler decide.
//
// Content-Transfer-Encoding is refused rather than decoded (RFC 7578
// deprecates it, and no browser sends it): a quoted-printable part would
// mean one thing to this reader and another to one that ignores the
// header.
func ReadMultipart(w http.ResponseWriter, r *http.Request, l MultipartLimits) (*Form, bool) {
	l = l.withDefaults()
	boundary, ok := multipartBoundary(w, r, l)
	if !ok {
		return nil, false
	}
	if r.ContentLength > l.MaxTotalBytes {
		WriteBodyTooLarge(w, &http.MaxBytesError{Limit: l.MaxTotalBytes})
		return nil, false
	}
	if r.Body == nil || r.Body == http.NoBody {
		problem.Write(w, http.StatusBadRequest, "The request body is empty; it must be multipart/form-data.")
		return nil, false
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, l.MaxTotalBytes), boundary)
	form := &Form{}
	var total int64
	for {
		// NextRawPart, not NextPart: NextPart silently decodes
		// quoted-printable, which is refused below instead.
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return form, true
		}
		if err != nil {
			writeMultipartError(w, err, "The request body is not valid multipart/form-data.")
			return nil, false
		}
		if len(form.Parts) == l.MaxParts {
			problem.Write(w, http.StatusBadRequest, fmt.Sprintf("The request body has more than %d parts.", l.MaxParts))
			return nil, false
		}
		part, msg := partMeta(p)
		if msg != "" {
			problem.Write(w, http.StatusBadRequest, msg)
			return nil, false
		}
		// One byte more than allowed tells "exactly at the limit" from
		// "over it" without reading the rest.
		data, err := io.ReadAll(io.LimitReader(p, l.MaxPartBytes+1))
		if err != nil {
			writeMultipartError(w, err, "The request body is not valid multipart/form-data.")
			return nil, false
		}
		if int64(len(data)) > l.MaxPartBytes {
			problem.Write(w, http.StatusRequestEntityTooLarge, partTooLarge(part.Name, l.MaxPartBytes))
			return nil, false
		}
		total += int64(len(data))
		if total > l.MaxTotalBytes {
			// Unreachable while the body itself is capped at MaxTotalBytes;
			// kept so that the sum stays bounded if that cap ever moves.
			WriteBodyTooLarge(w, &http.MaxBytesError{Limit: l.MaxTotalBytes})
			return nil, false
		}
		part.Data = data
		form.Parts = append(form.Parts, part)
	}
}

// multipartBoundary checks r's Content-Type and returns its boundary, or
// answers 415 or 400 and returns false.
func multipartBoundary(w http.ResponseWriter, r *http.Request, l MultipartLimits) (string, bool) {
	v := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		// Broken parameters (a duplicate, bad quoting) are refused rather
		// than guessed at; mime reports the type only for some of them.
		typ, _, _ := strings.Cut(v, ";")
		if mt == "multipart/form-data" || strings.EqualFold(strings.TrimSpace(typ), "multipart/form-data") {
			problem.Write(w, http.StatusBadRequest, "The multipart Content-Type has malformed parameters.")
			return "", false
		}
		mt = ""
	}
	if mt != "multipart/form-data" {
		problem.Write(w, http.StatusUnsupportedMediaType, "The request body must be sent with Content-Type: multipart/form-data.")
		return "", false
	}
	b, ok := params["boundary"]
	switch {
	case !ok || b == "":
		problem.Write(w, http.StatusBadRequest, "The multipart Content-Type has no boundary.")
		return "", false
	case len(b) > l.MaxBoundary:
		problem.Write(w, http.StatusBadRequest, fmt.Sprintf("The multipart boundary is longer than %d bytes.", l.MaxBoundary))
		return "", false
	case !validBoundary(b):
		problem.Write(w, http.StatusBadRequest, "The multipart boundary has characters RFC 2046 does not allow.")
		return "", false
	}
	return b, true
}

// validBoundary reports whether b uses only RFC 2046 bchars and does not
// end in a space. Parsers disagree about anything else, and a boundary two
// parsers split differently is a way to smuggle a part past one of them.
func validBoundary(b string) bool {
	if b[len(b)-1] == ' ' {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if strings.IndexByte("'()+_,-./:=? ", c) < 0 {
			return false
		}
	}
	return true
}

// partMeta reads what a Part needs from p's header, or returns why the
// part is refused.
func partMeta(p *multipart.Part) (Part, string) {
	disp, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil || disp != "form-data" || len(p.Header.Values("Content-Disposition")) != 1 {
		return Part{}, "Every multipart part needs one Content-Disposition: form-data header."
	}
	name := params["name"]
	if name == "" {
		return Part{}, "A multipart part has no field name."
	}
	for _, cte := range p.Header.Values("Content-Transfer-Encoding") {
		switch strings.ToLower(strings.TrimSpace(cte)) {
		case "7bit", "8bit", "binary":
		default:
			return Part{}, "Multipart parts must not use a Content-Transfer-Encoding; send the bytes as they are."
		}
	}
	return Part{Name: name, FileName: p.FileName(), Header: p.Header}, ""
}

// writeMultipartError answers for a read error: 413 when a cap was hit,
// otherwise 400 with msg. mime/multipart's own messages are not passed on:
// they quote the client's bytes.
func writeMultipartError(w http.ResponseWriter, err error, msg string) {
	if IsBodyTooLarge(err) {
		WriteBodyTooLarge(w, err)
		return
	}
	problem.Write(w, http.StatusBadRequest, msg)
}

func partTooLarge(name string, limit int64) string {
	if len(name) <= 64 && isPrintable(name) {
		return fmt.Sprintf("The multipart part %q is larger than %d bytes.", name, limit)
	}
	return fmt.Sprintf("A multipart part is larger than %d bytes.", limit)
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
