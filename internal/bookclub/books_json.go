package bookclub

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden"
)

// The book list is the server's busiest answer, and encoding/json's
// reflection was a fifth of its cost: the list is written here by hand,
// byte for byte what encoding/json writes for listView[bookView]
// (TestBookJSONMatchesEncodingJSON holds the two together).

// renderBookList returns the body warden.WriteJSON would send for l.
func renderBookList(l listView[bookView]) []byte {
	b := make([]byte, 0, 128+len(l.Results)*192)
	b = appendBookList(b, l)
	return append(b, '\n')
}

// writeJSONBody answers 200 with body, a rendered JSON body, framed as
// warden.WriteJSON frames one.
func writeJSONBody(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", warden.JSONContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Content-Encoding")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func appendBookList(b []byte, l listView[bookView]) []byte {
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, l.Count, 10)
	b = append(b, `,"page":`...)
	b = strconv.AppendInt(b, int64(l.Page), 10)
	b = append(b, `,"page_size":`...)
	b = strconv.AppendInt(b, int64(l.PageSize), 10)
	b = append(b, `,"results":[`...)
	for i, v := range l.Results {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBook(b, v)
	}
	b = append(b, `],"next":`...)
	if l.Next == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *l.Next)
	}
	return append(b, '}')
}

func appendBook(b []byte, v bookView) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, v.ID, 10)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, v.Title)
	b = append(b, `,"author":`...)
	b = appendJSONString(b, v.Author)
	b = append(b, `,"isbn":`...)
	b = appendJSONString(b, v.ISBN)
	b = append(b, `,"added_by":`...)
	if v.AddedBy == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *v.AddedBy)
	}
	b = append(b, `,"created_at":"`...)
	b = v.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json writes a string: quoted,
// with '"' and '\' escaped, control characters as \b \f \n \r \t or
// \u00XX, the HTML-sensitive <, > and & as \u003c \u003e \u0026, U+2028 and
// U+2029 (line breaks to JavaScript) as \u2028 and \u2029, and each byte
// of invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
