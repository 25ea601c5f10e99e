package secure_test

import (
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

// addrsIn collects every address a forwarding header value could name,
// parsed independently of the code under test: bare, with a port, or in
// brackets, with any zone and IPv4 mapping dropped.
func addrsIn(values []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range values {
		for _, el := range strings.Split(v, ",") {
			el = strings.TrimSpace(el)
			candidates := []string{el, strings.Trim(el, "[]")}
			if host, _, err := net.SplitHostPort(el); err == nil {
				candidates = append(candidates, host)
			}
			for _, c := range candidates {
				if a, err := netip.ParseAddr(c); err == nil {
					out = append(out, a.Unmap().WithZone(""))
				}
			}
		}
	}
	return out
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:443", "1.2.3.4, 198.51.100.9", "", "")
	f.Add("10.0.0.1:443", "1.2.3.4", "10.2.2.2, 10.3.3.3", "5.6.7.8")
	f.Add("203.0.113.7:5000", "1.2.3.4", "", "1.2.3.4")
	f.Add("[fd00::1]:443", "[2001:db8::1]:80, fe80::1%eth0", "", "")
	f.Add("[::ffff:10.0.0.1]:1", "::ffff:1.2.3.4", "", "")
	f.Add("10.0.0.1:443", "", "", "2001:db8::5")
	f.Add("10.0.0.1:443", ",,,[,]:, ", "garbage", "garbage")
	f.Add("pipe", "1.2.3.4", "", "")
	tp, err := secure.ParseTrustedProxies("10.0.0.0/8, fd00::/8, 127.0.0.1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2, realIP string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		var xff []string
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				r.Header.Add("X-Forwarded-For", v)
				xff = append(xff, v)
			}
		}
		if realIP != "" {
			r.Header.Set("X-Real-IP", realIP)
		}
		got := tp.ClientIPFrom(r)

		var peer netip.Addr
		if ap, err := netip.ParseAddrPort(remote); err == nil {
			peer = ap.Addr()
		} else if host, _, err := net.SplitHostPort(remote); err == nil {
			peer, _ = netip.ParseAddr(host)
		} else {
			peer, _ = netip.ParseAddr(remote)
		}
		peer = peer.Unmap().WithZone("")
		if got == peer {
			return
		}
		if !peer.IsValid() || !tp.Contains(peer) {
			t.Fatalf("untrusted peer %q: ClientIPFrom = %v, want the peer %v", remote, got, peer)
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIPFrom = %v: not canonical", got)
		}
		for _, a := range addrsIn(append(xff, realIP)) {
			if a == got {
				return
			}
		}
		t.Fatalf("ClientIPFrom = %v appears nowhere in XFF %q, X-Real-IP %q, peer %q", got, xff, realIP, remote)
	})
}

func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{
		"https://example.com", "HTTP://Example.COM:80", "https://[::1]:8443", "http://127.0.0.1",
		"null", "*", "https://*.a.com", "https://a.com/", "https://a.com:0", "https://0x7f.1",
		"https://[::ffff:1.2.3.4]", "https://user@a.com", "https://a.com:65535",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := secure.ParseOrigin(s)
		if err != nil {
			if out != "" {
				t.Fatalf("ParseOrigin(%q) returned %q with error %v", s, out, err)
			}
			return
		}
		again, err := secure.ParseOrigin(out)
		if err != nil || again != out {
			t.Fatalf("ParseOrigin(%q) = %q does not round-trip: %q, %v", s, out, again, err)
		}
		scheme, rest, ok := strings.Cut(out, "://")
		if !ok || (scheme != "https" && scheme != "http") {
			t.Fatalf("ParseOrigin(%q) = %q: bad scheme", s, out)
		}
		if strings.ContainsAny(rest, "*/?#@\\ ") {
			t.Fatalf("ParseOrigin(%q) = %q: wildcard, path, query, fragment or user", s, out)
		}
		if out == "null" || strings.ToLower(out) != out {
			t.Fatalf("ParseOrigin(%q) = %q: not normalised", s, out)
		}
		// A browser-facing check: Go's URL parser must agree that out is
		// a bare origin.
		u, err := url.Parse(out)
		if err != nil || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Scheme+"://"+u.Host != out {
			t.Fatalf("ParseOrigin(%q) = %q: net/url reads %+v, %v", s, out, u, err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"username":"ann","password":"pw"}`, `{"a":1,"A":2}`, `null`, `[]`, `{} {}`,
		`{"profile":{"bio":"x"}}`, `{"age":"x"}`, `"\u212a"`, `{"k":{"k":{"k":1}},"K":0}`, `{"username":"ann"`, `[1,`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		var dst loginBody
		ok := secure.DecodeJSON(w, r, &dst)
		if ok != (w.Code == http.StatusOK) {
			t.Fatalf("DecodeJSON = %v with status %d", ok, w.Code)
		}
		if ok && !json.Valid([]byte(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if !ok && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		if !json.Valid([]byte(body)) {
			var p problem.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p.Detail, "not valid JSON") && !strings.Contains(p.Detail, "JSON value") {
				t.Fatalf("invalid JSON %q answered %q, not as a syntax error", body, p.Detail)
			}
		}
	})
}

// FuzzParseTrustedProxies checks the refusal of lists that trust every
// address against an independent count: CIDR networks are nested or
// disjoint, so the addresses a list trusts in one family number the sum of
// the sizes of its outermost networks, and the family is covered when that
// sum is 2^32 (IPv4) or 2^128 (IPv6).
func FuzzParseTrustedProxies(f *testing.F) {
	for _, s := range []string{
		"10.0.0.0/8, fd00::/8, 127.0.0.1",
		"0.0.0.0/0", "::/0", "::ffff:0:0/96",
		"0.0.0.0/1,128.0.0.0/1",
		"::/1,8000::/1",
		"0.0.0.0/2,64.0.0.0/2,128.0.0.0/1",
		"::ffff:0.0.0.0/97,128.0.0.0/1",
		"0.0.0.0/1,128.0.0.0/2,192.0.0.0/3,224.0.0.0/4,240.0.0.0/5,248.0.0.0/5",
		"0.0.0.0/1,128.0.0.0/2,192.0.0.0/3,224.0.0.0/4,240.0.0.0/5,248.0.0.0/6",
		"::/2,4000::/2,8000::/1,fc00::/7",
		"0.0.0.0/1,8000::/1",
		"fe80::1%eth0, 10.0.0.0/33, ,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		tp, err := secure.ParseTrustedProxies(list)
		if err != nil && !strings.Contains(err.Error(), "trusts every address") {
			return // malformed: other tests check those messages
		}
		var v4, v6 []netip.Prefix
	fields:
		for _, field := range strings.Split(list, ",") {
			field = strings.TrimSpace(field)
			if field == "" {
				continue
			}
			p, perr := netip.ParsePrefix(field)
			if perr != nil {
				a, aerr := netip.ParseAddr(field)
				switch {
				case aerr != nil && err == nil:
					t.Fatalf("ParseTrustedProxies(%q) accepted %q", list, field)
				case aerr != nil:
					// Refused before this field was read: by a /0
					// among the fields before it.
					break fields
				}
				a = a.WithZone("")
				p = netip.PrefixFrom(a, a.BitLen())
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			if p.Addr().Is4() {
				v4 = append(v4, p.Masked())
			} else {
				v6 = append(v6, p.Masked())
			}
		}
		covered := trustedCount(v4).Cmp(new(big.Int).Lsh(big.NewInt(1), 32)) == 0 ||
			trustedCount(v6).Cmp(new(big.Int).Lsh(big.NewInt(1), 128)) == 0
		switch {
		case err == nil && covered:
			t.Fatalf("ParseTrustedProxies(%q) accepted a list that trusts every address", list)
		case err != nil && !covered:
			t.Fatalf("ParseTrustedProxies(%q) = %v, but some address is untrusted", list, err)
		case err == nil && tp.Empty() != (len(v4)+len(v6) == 0):
			t.Fatalf("ParseTrustedProxies(%q): Empty() = %v", list, tp.Empty())
		}
	})
}

// trustedCount returns how many addresses ps (of one family) contain
// together.
func trustedCount(ps []netip.Prefix) *big.Int {
	sum := new(big.Int)
	for i, p := range ps {
		outermost := true
		for j, q := range ps {
			// Of equal networks only the first counts.
			if j != i && q.Bits() <= p.Bits() && q.Contains(p.Addr()) && (q.Bits() < p.Bits() || j < i) {
				outermost = false
				break
			}
		}
		if outermost {
			sum.Add(sum, new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits())))
		}
	}
	return sum
}
