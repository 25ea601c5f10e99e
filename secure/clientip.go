package secure

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/wardenhq/warden/internal/reqinfo"
)

// TrustedProxies is the set of networks whose forwarding headers are
// believed. The zero value trusts nobody: the client IP is always the peer.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses comma-separated CIDRs (a bare address counts as
// a single-host network). An empty string trusts nobody. Any malformed entry
// is an error: a typo here would silently let clients choose their own IP.
//
// A list that trusts every IPv4 or every IPv6 address is refused, whether
// by one /0 network or by several that together cover the family
// (0.0.0.0/1 and 128.0.0.0/1): when every address is a proxy, the walk
// through X-Forwarded-For ends at its left-most entry, which the client
// wrote. An IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) is stored as its
// IPv4 form because addresses are compared unmapped.
func ParseTrustedProxies(list string) (TrustedProxies, error) {
	var tp TrustedProxies
	var fields []string // as written, beside tp.prefixes, for the message
	for _, field := range strings.Split(list, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(field, "/") {
			p, err = netip.ParsePrefix(field)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(field)
			if err == nil {
				a = a.WithZone("")
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return TrustedProxies{}, fmt.Errorf("trusted proxy %q is not a CIDR such as 10.0.0.0/8 or an IP address", field)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return TrustedProxies{}, fmt.Errorf("trusted proxy %q mixes IPv4-mapped and IPv6 addresses; write the IPv4 network, such as 10.0.0.0/8", field)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Bits() == 0 {
			return TrustedProxies{}, trustsEveryAddress(fmt.Sprintf("trusted proxy %q", field))
		}
		tp.prefixes = append(tp.prefixes, p.Masked())
		fields = append(fields, field)
	}
	// The rule is "the list must leave some address of each family
	// untrusted" rather than "no prefix shorter than /8 (or /16)": a length
	// limit would refuse the legitimate fc00::/7 (all unique local IPv6
	// addresses) and still pass 256 /8s that cover IPv4.
	for _, family := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
		if covers(tp.prefixes, family) {
			var named []string
			for i, p := range tp.prefixes {
				if p.Addr().Is4() == family.Addr().Is4() {
					named = append(named, fields[i])
				}
			}
			return TrustedProxies{}, trustsEveryAddress(fmt.Sprintf("trusted proxy list %q", strings.Join(named, ", ")))
		}
	}
	return tp, nil
}

func trustsEveryAddress(what string) error {
	return fmt.Errorf("%s trusts every address, which lets any client choose its own IP; list only your proxies' networks", what)
}

// covers reports whether the union of ps contains every address of p.
// Two CIDR networks are either nested or disjoint, so p is covered when
// one network of ps contains it, or when both of its halves are covered.
// Only halves that some network of ps lies strictly inside are split
// further, so the work is bounded by the networks' lengths and number
// (at most 128 levels for each), not by the size of the address space.
func covers(ps []netip.Prefix, p netip.Prefix) bool {
	var inside []netip.Prefix
	for _, q := range ps {
		switch {
		case q.Bits() <= p.Bits() && q.Contains(p.Addr()):
			return true
		case q.Overlaps(p):
			inside = append(inside, q)
		}
	}
	if len(inside) == 0 || p.Bits() == p.Addr().BitLen() {
		return false
	}
	low, high := halves(p)
	return covers(inside, low) && covers(inside, high)
}

// halves splits the masked network p into its two networks one bit longer.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits()
	b := p.Addr().AsSlice()
	b[bits/8] |= 0x80 >> (bits % 8)
	high, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(p.Addr(), bits+1), netip.PrefixFrom(high, bits+1)
}

// Contains reports whether a is inside a trusted network.
func (tp TrustedProxies) Contains(a netip.Addr) bool {
	a = canonical(a)
	for _, p := range tp.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Empty reports whether no proxy is trusted.
func (tp TrustedProxies) Empty() bool { return len(tp.prefixes) == 0 }

// ClientIPFrom returns the address of the client that sent r.
//
// It is the TCP peer, unless the peer is a trusted proxy: then it is the
// right-most X-Forwarded-For entry that is not itself a trusted proxy (or,
// without X-Forwarded-For, X-Real-IP). Entries left of that one were written
// by the client and are ignored, so a client cannot choose its own address.
// A malformed entry reached while walking ends the walk at the last hop
// that could be verified. More than one X-Real-IP field is ambiguous (a
// proxy that adds rather than replaces it would let the client's copy
// through) and is ignored. Returned addresses are unmapped and carry no
// IPv6 zone, so they are stable keys for rate limits and logs. The
// RFC 7239 Forwarded header is not read.
func (tp TrustedProxies) ClientIPFrom(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() || tp.Empty() || !tp.Contains(peer) {
		return peer
	}
	xff := r.Header["X-Forwarded-For"]
	if len(xff) == 0 {
		if real := r.Header["X-Real-Ip"]; len(real) == 1 {
			if a, err := netip.ParseAddr(strings.TrimSpace(real[0])); err == nil {
				return canonical(a)
			}
		}
		return peer
	}
	last := peer
	// Several X-Forwarded-For fields form one list in order (RFC 9110 5.3).
	for i := len(xff) - 1; i >= 0; i-- {
		hops := xff[i]
		for hops != "" {
			var hop string
			if j := strings.LastIndexByte(hops, ','); j >= 0 {
				hop, hops = hops[j+1:], hops[:j]
			} else {
				hop, hops = hops, ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				return last
			}
			if !tp.Contains(a) {
				return a
			}
			last = a
		}
	}
	return last
}

// IsHTTPS reports whether the client reached Warden over HTTPS: the
// connection is TLS, or the TCP peer is a trusted proxy whose right-most
// X-Forwarded-Proto value is "https". The right-most value is the one the
// nearest proxy wrote; values to its left may come from the client. From
// any other peer the header is ignored.
func (tp TrustedProxies) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if tp.Empty() {
		return false
	}
	proto := r.Header["X-Forwarded-Proto"]
	if len(proto) == 0 {
		return false
	}
	last := proto[len(proto)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if !strings.EqualFold(strings.TrimSpace(last), "https") {
		return false
	}
	return tp.Contains(peerAddr(r.RemoteAddr))
}

// parseHop accepts an IP address, optionally with a port or in brackets, as
// proxies write them into X-Forwarded-For.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return canonical(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return canonical(ap.Addr()), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return canonical(a), true
		}
	}
	return netip.Addr{}, false
}

// canonical drops what would make one host look like several: the IPv4
// mapping and the IPv6 zone (fe80::1%a and fe80::1%b are one client to a
// rate limiter, and a zoned address never matches a netip.Prefix).
func canonical(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return canonical(ap.Addr())
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return canonical(a)
}

// ClientIPMiddleware resolves the client address once per request and stores
// it for ClientIP.
func ClientIPMiddleware(tp TrustedProxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, info := reqinfo.Attach(r)
			info.ClientIP, info.HasClientIP = tp.ClientIPFrom(r), true
			next.ServeHTTP(w, r)
		})
	}
}

// ClientIP returns the client address resolved by ClientIPMiddleware, or the
// TCP peer when the middleware did not run (forwarding headers are never
// believed without it).
func ClientIP(r *http.Request) netip.Addr {
	if info := reqinfo.From(r.Context()); info != nil && info.HasClientIP {
		return info.ClientIP
	}
	return peerAddr(r.RemoteAddr)
}
