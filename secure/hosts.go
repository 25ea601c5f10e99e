package secure

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wardenhq/warden/problem"
)

// HostRefusal is the detail of the 400 problem a request for an unlisted
// host gets.
const HostRefusal = "This server does not serve the host named in the request."

// maxHostLen bounds the Host value looked at: a DNS name (253) with a
// port, or a bracketed IPv6 literal with one.
const maxHostLen = 260

// Hosts is an allow-list of the names a server answers to (the Host
// header, or :authority). It defends against DNS rebinding, where a page
// on an attacker's name that resolves to this server reads its answers as
// same-origin, and against anything that builds URLs or caches from the
// Host. Build it with NewHosts.
//
// An entry is a host name or IP address, which matches it on any port, or
// host:port, which matches that port only. Names compare case-insensitively
// and a trailing dot is ignored (example.com. is example.com in DNS).
// There are no wildcards: every name is listed.
type Hosts struct {
	anyPort map[string]bool // normalised host
	exact   map[string]bool // normalised host:port
	list    []string
}

// NewHosts validates entries. An empty list is refused: it would refuse
// every request; leave the allow-list out instead.
func NewHosts(entries []string) (*Hosts, error) {
	h := &Hosts{anyPort: map[string]bool{}, exact: map[string]bool{}}
	var errs []error
	for i, e := range entries {
		host, port, err := parseHostEntry(strings.TrimSpace(e))
		if err != nil {
			errs = append(errs, fmt.Errorf("host %d %q: %w", i+1, e, err))
			continue
		}
		if port == "" {
			h.anyPort[host] = true
		} else {
			h.exact[host+":"+port] = true
		}
		h.list = append(h.list, e)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("allowed hosts: %w", errors.Join(errs...))
	}
	if len(h.list) == 0 {
		return nil, errors.New("allowed hosts: the list is empty; list the names clients use, such as api.example.com")
	}
	return h, nil
}

// parseHostEntry reads one configured entry.
func parseHostEntry(e string) (host, port string, err error) {
	switch {
	case e == "":
		return "", "", errors.New("empty entry")
	case strings.Contains(e, "*"):
		return "", "", errors.New("wildcards are not supported; list each name")
	case strings.Contains(e, "/"):
		return "", "", errors.New("a host name, not a URL: leave out the scheme and path")
	}
	host, port, ok := splitHost(e)
	if !ok {
		return "", "", errors.New("not a host name, IP address or host:port")
	}
	if port != "" && port == "0" {
		return "", "", errors.New("port 0 is not a port clients use")
	}
	return host, port, nil
}

// splitHost normalises a Host value into host and port ("" when absent).
// host is a lower-case DNS name without a trailing dot, a dotted IPv4
// address or a bracketed, compressed IPv6 address.
func splitHost(v string) (host, port string, ok bool) {
	if v == "" || len(v) > maxHostLen {
		return "", "", false
	}
	host = v
	if strings.HasPrefix(v, "[") || strings.Count(v, ":") == 1 {
		if h, p, err := net.SplitHostPort(v); err == nil {
			host, port = h, p
		} else if !strings.HasPrefix(v, "[") || !strings.HasSuffix(v, "]") {
			return "", "", false
		} else {
			host = v[1 : len(v)-1]
		}
		if port != "" {
			n, err := strconv.Atoi(port)
			if err != nil || n < 0 || n > 65535 || strings.Trim(port, "0123456789") != "" || len(port) > 5 {
				return "", "", false
			}
			port = strconv.Itoa(n)
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		switch {
		case a.Zone() != "":
			return "", "", false
		case a.Is6():
			return "[" + a.String() + "]", port, true
		}
		return a.String(), port, true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !dnsName(host) {
		return "", "", false
	}
	return host, port, true
}

// dnsName reports whether s is letters, digits and hyphens in
// dot-separated labels of 1 to 63 characters, at most 253 in all, with no
// label starting or ending with a hyphen; underscores are refused as
// ParseOrigin refuses them.
func dnsName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Allows reports whether hostport (a request's Host) is listed.
func (h *Hosts) Allows(hostport string) bool {
	host, port, ok := splitHost(hostport)
	if !ok {
		return false
	}
	return h.anyPort[host] || (port != "" && h.exact[host+":"+port])
}

// List returns the entries as configured.
func (h *Hosts) List() []string { return append([]string(nil), h.list...) }

// Handler answers a request whose Host is not listed with 400, before
// next runs. exempt, when not nil, lets requests through whatever their
// Host (health checks, which load balancers send to an address).
func (h *Hosts) Handler(exempt func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.Allows(r.Host) && (exempt == nil || !exempt(r)) {
			problem.Write(w, http.StatusBadRequest, HostRefusal)
			return
		}
		next.ServeHTTP(w, r)
	})
}
