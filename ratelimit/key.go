package ratelimit

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/secure"
)

// KeyFunc names the bucket a request draws from. Requests with equal keys
// share a bucket; the prefixes of the built-in KeyFuncs keep their kinds of
// keys apart.
type KeyFunc func(r *http.Request) string

// ByIP keys on the client address as secure.ClientIP resolves it:
// "ip:<addr>". Requests without a parseable peer address (over a Unix
// socket) all share the bucket "ip:".
func ByIP() KeyFunc { return ipKey }

func ipKey(r *http.Request) string {
	var buf [64]byte
	b := append(buf[:0], "ip:"...)
	return string(secure.ClientIP(r).AppendTo(b))
}

// ByIPPrefix keys on the network around the client address:
// "ip:<prefix>", with the first v4Bits of an IPv4 address or v6Bits of an
// IPv6 address. ByIPPrefix(32, 64) puts all addresses of one IPv6 /64, which
// a single host usually controls, into one bucket. It panics on a prefix
// length out of range, a mistake to catch at start-up.
func ByIPPrefix(v4Bits, v6Bits int) KeyFunc {
	if v4Bits < 0 || v4Bits > 32 || v6Bits < 0 || v6Bits > 128 {
		panic(fmt.Sprintf("ratelimit: ByIPPrefix(%d, %d): prefix lengths must be 0-32 for IPv4 and 0-128 for IPv6", v4Bits, v6Bits))
	}
	return func(r *http.Request) string {
		a := secure.ClientIP(r)
		if !a.IsValid() {
			return ipKey(r)
		}
		bits := v6Bits
		if a.Is4() {
			bits = v4Bits
		}
		p, err := a.Prefix(bits)
		if err != nil {
			return ipKey(r) // cannot happen: bits were checked above
		}
		var buf [64]byte
		b := append(buf[:0], "ip:"...)
		b = p.Addr().AppendTo(b)
		b = append(b, '/')
		return string(strconv.AppendInt(b, int64(bits), 10))
	}
}

// ByHeader keys on the first value of the named header: "hdr:<value>".
// Requests without the header, or with an empty value, fall back to the IP
// key. The client chooses the value; see the package documentation. It
// panics on an invalid header name, a mistake to catch at start-up.
func ByHeader(name string) KeyFunc {
	if !isToken(name) {
		panic(fmt.Sprintf("ratelimit: ByHeader(%q): not a valid header name", name))
	}
	canon := textproto.CanonicalMIMEHeaderKey(name)
	return func(r *http.Request) string {
		if v := r.Header[canon]; len(v) > 0 && v[0] != "" {
			return "hdr:" + v[0]
		}
		return ipKey(r)
	}
}

// ByUser keys on the authenticated user: "user:<id>" from
// auth.FromContext. Anonymous requests fall back to the IP key, so the
// middleware must run after authentication to see the user.
func ByUser() KeyFunc {
	return func(r *http.Request) string {
		if id := auth.FromContext(r.Context()); id != nil && id.UserID != "" {
			return "user:" + id.UserID
		}
		return ipKey(r)
	}
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}
