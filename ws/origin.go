package ws

import (
	"net/http"
	"strings"

	"github.com/wardenhq/warden/secure"
)

// checkOrigin reports whether r's Origin may open a WebSocket and, when
// it may not, a short reason for the log.
//
// Browsers always send Origin on a WebSocket handshake, and nothing else
// stops a page on another site from opening one with the user's cookies,
// so this is the whole defence against cross-site WebSocket hijacking.
func checkOrigin(r *http.Request, allow func(string) bool) (ok bool, why string) {
	values := r.Header.Values("Origin")
	switch len(values) {
	case 0:
		// Not a browser: such a client sends only credentials it holds
		// itself, so there is nothing for another site to hijack.
		return true, ""
	case 1:
	default:
		return false, "several Origin fields"
	}
	// ParseOrigin refuses "null", which sandboxed frames and redirects let
	// any site send, and anything that is not scheme://host[:port].
	origin, err := secure.ParseOrigin(values[0])
	if err != nil {
		return false, "malformed or null Origin"
	}
	if sameOrigin(origin, r.Host) {
		return true, ""
	}
	if allow != nil && allow(origin) {
		return true, ""
	}
	return false, "origin not allowed"
}

// sameOrigin reports whether origin, already normalised, names the host
// and port the request was sent to. The scheme is taken from origin
// because behind a TLS-terminating proxy the server cannot see which one
// the client used. Normalising Host the same way makes EXAMPLE.com:443
// equal https://example.com.
func sameOrigin(origin, host string) bool {
	scheme, _, _ := strings.Cut(origin, "://")
	self, err := secure.ParseOrigin(scheme + "://" + host)
	return err == nil && self == origin
}
