package files

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDownloadName bounds the suggested file name in bytes (before
// encoding); file systems commonly allow 255, and the header stays short.
const maxDownloadName = 200

// AttachmentHeader returns a Content-Disposition value that makes the
// browser download the response and suggests name as the file name
// (RFC 6266, with the RFC 8187 encoding for names outside ASCII).
//
// The name is treated as untrusted text: control characters, invisible
// Unicode formatting characters (such as the right-to-left override used
// to disguise "gpj.exe") and invalid UTF-8 are dropped, path separators
// become "_", and the result is cut to 200 bytes. The value it returns
// is printable ASCII with no quote or backslash inside the quoted
// filename, so nothing in name can end the parameter or the header line.
// Browsers that understand filename* (all current ones) use the exact
// UTF-8 name; older ones fall back to an ASCII approximation.
func AttachmentHeader(name string) string {
	name = cleanDownloadName(name)
	fallback := asciiFallback(name)
	v := `attachment; filename="` + fallback + `"`
	if fallback != name {
		v += "; filename*=UTF-8''" + percentEncode(name)
	}
	return v
}

func cleanDownloadName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			// Dropped: RuneError also stands for invalid UTF-8 here, which
			// the UTF-8'' encoding could not honestly claim to carry.
			continue
		case r == '/' || r == '\\':
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > maxDownloadName {
			break
		}
		b.WriteRune(r)
	}
	name = strings.TrimSpace(b.String())
	if name == "" || strings.Trim(name, ".") == "" {
		return "download"
	}
	return name
}

// asciiFallback keeps letters, digits and a few punctuation marks that mean
// nothing in a quoted-string or to old browsers that percent-decode the
// filename parameter; everything else becomes "_".
func asciiFallback(name string) string {
	b := make([]byte, 0, len(name))
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '-', r == '_', r == ' ', r == '(', r == ')', r == '+', r == ',':
			b = append(b, byte(r))
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

// percentEncode encodes s as an RFC 8187 value-chars: attr-char as is,
// every other byte as %XX.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// isAttrChar reports whether c is an RFC 8187 attr-char.
func isAttrChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
