package secure_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/wardenhq/warden/secure"
)

func mustProxies(t testing.TB, list string) secure.TrustedProxies {
	t.Helper()
	tp, err := secure.ParseTrustedProxies(list)
	if err != nil {
		t.Fatalf("ParseTrustedProxies(%q): %v", list, err)
	}
	return tp
}

func TestClientIPFrom(t *testing.T) {
	tp := mustProxies(t, "10.0.0.0/8, 192.168.1.1, fd00::/8")
	tests := []struct {
		name   string
		remote string
		xff    []string
		realIP []string
		want   string
	}{
		{name: "no proxy headers gives the peer", remote: "203.0.113.7:5000", want: "203.0.113.7"},
		{name: "spoofed XFF from an untrusted peer is ignored", remote: "203.0.113.7:5000", xff: []string{"1.2.3.4"}, want: "203.0.113.7"},
		{name: "spoofed X-Real-IP from an untrusted peer is ignored", remote: "203.0.113.7:5000", realIP: []string{"1.2.3.4"}, want: "203.0.113.7"},
		{name: "trusted peer gives the right-most untrusted hop", remote: "10.0.0.1:443", xff: []string{"6.6.6.6, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "client-written entries left of the proxy's hop are ignored", remote: "10.0.0.1:443", xff: []string{"1.1.1.1, 2.2.2.2, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "chain of trusted proxies is walked", remote: "10.0.0.1:443", xff: []string{"6.6.6.6, 198.51.100.9, 192.168.1.1, 10.2.3.4"}, want: "198.51.100.9"},
		{name: "multiple XFF fields form one list", remote: "10.0.0.1:443", xff: []string{"6.6.6.6, 198.51.100.9", "10.9.9.9"}, want: "198.51.100.9"},
		{name: "multiple XFF fields: right-most field wins", remote: "10.0.0.1:443", xff: []string{"6.6.6.6", "198.51.100.9"}, want: "198.51.100.9"},
		{name: "all hops trusted gives the left-most hop", remote: "10.0.0.1:443", xff: []string{"10.1.1.1, 10.2.2.2"}, want: "10.1.1.1"},
		{name: "empty list elements are skipped", remote: "10.0.0.1:443", xff: []string{" , 198.51.100.9 ,, "}, want: "198.51.100.9"},
		{name: "malformed hop stops at the last verified hop", remote: "10.0.0.1:443", xff: []string{"6.6.6.6, garbage, 10.3.3.3"}, want: "10.3.3.3"},
		{name: "malformed right-most hop gives the peer", remote: "10.0.0.1:443", xff: []string{"6.6.6.6, unknown"}, want: "10.0.0.1"},
		{name: "hop with port", remote: "10.0.0.1:443", xff: []string{"198.51.100.9:4711"}, want: "198.51.100.9"},
		{name: "IPv6 hop", remote: "10.0.0.1:443", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "bracketed IPv6 hop", remote: "10.0.0.1:443", xff: []string{"[2001:db8::1]"}, want: "2001:db8::1"},
		{name: "bracketed IPv6 hop with port", remote: "10.0.0.1:443", xff: []string{"[2001:db8::1]:8080"}, want: "2001:db8::1"},
		{name: "IPv4-mapped hop is unmapped", remote: "10.0.0.1:443", xff: []string{"::ffff:198.51.100.9"}, want: "198.51.100.9"},
		{name: "IPv4-mapped trusted hop is recognised", remote: "10.0.0.1:443", xff: []string{"198.51.100.9, ::ffff:10.1.1.1"}, want: "198.51.100.9"},
		{name: "zoned hop loses its zone", remote: "10.0.0.1:443", xff: []string{"fe80::1%eth0"}, want: "fe80::1"},
		{name: "IPv6 trusted peer", remote: "[fd00::5]:443", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "IPv4-mapped trusted peer", remote: "[::ffff:10.0.0.1]:443", xff: []string{"198.51.100.9"}, want: "198.51.100.9"},
		{name: "IPv4-mapped untrusted peer is unmapped", remote: "[::ffff:203.0.113.7]:443", want: "203.0.113.7"},
		{name: "X-Real-IP from a trusted peer without XFF", remote: "10.0.0.1:443", realIP: []string{"198.51.100.9"}, want: "198.51.100.9"},
		{name: "XFF wins over X-Real-IP", remote: "10.0.0.1:443", xff: []string{"198.51.100.9"}, realIP: []string{"6.6.6.6"}, want: "198.51.100.9"},
		{name: "two X-Real-IP fields are ambiguous", remote: "10.0.0.1:443", realIP: []string{"6.6.6.6", "198.51.100.9"}, want: "10.0.0.1"},
		{name: "malformed X-Real-IP gives the peer", remote: "10.0.0.1:443", realIP: []string{"not-an-ip"}, want: "10.0.0.1"},
		{name: "unparseable peer gives the invalid address", remote: "pipe", xff: []string{"1.2.3.4"}, want: "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tt.realIP {
				r.Header.Add("X-Real-IP", v)
			}
			if got := tp.ClientIPFrom(r).String(); got != tt.want {
				t.Errorf("ClientIPFrom = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIPFromTrustsNobodyByDefault(t *testing.T) {
	var tp secure.TrustedProxies
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	r.Header.Set("X-Real-IP", "1.2.3.4")
	if got := tp.ClientIPFrom(r); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("zero TrustedProxies believed a forwarding header: %s", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		errPart string // empty: must succeed
		in, out []string
	}{
		{name: "empty trusts nobody", list: "", out: []string{"10.0.0.1", "::1"}},
		{name: "CIDRs and bare addresses", list: "10.0.0.0/8, 192.168.1.1 ,2001:db8::/32", in: []string{"10.255.0.1", "192.168.1.1", "2001:db8::99"}, out: []string{"192.168.1.2", "2001:db9::1"}},
		{name: "host bits are masked", list: "10.1.2.3/16", in: []string{"10.1.99.99"}, out: []string{"10.2.0.1"}},
		{name: "IPv4-mapped network becomes IPv4", list: "::ffff:10.0.0.0/104", in: []string{"10.3.3.3"}, out: []string{"11.0.0.1"}},
		{name: "zoned bare address", list: "fe80::1%eth0", in: []string{"fe80::1"}},
		{name: "empty elements are skipped", list: " , 10.0.0.1,,", in: []string{"10.0.0.1"}},
		{name: "typo is refused", list: "10.0.0.0/8, 10.0.0.256", errPart: `"10.0.0.256" is not a CIDR`},
		{name: "bad prefix length is refused", list: "10.0.0.0/33", errPart: "is not a CIDR"},
		{name: "host name is refused", list: "proxy.internal", errPart: "is not a CIDR"},
		{name: "IPv4 /0 is refused", list: "0.0.0.0/0", errPart: "trusts every address"},
		{name: "IPv6 /0 is refused", list: "::/0", errPart: "trusts every address"},
		{name: "short IPv4-mapped prefix is refused", list: "::ffff:0:0/80", errPart: "IPv4-mapped"},
		{name: "IPv4-mapped /96 is IPv4 /0", list: "::ffff:0:0/96", errPart: "trusts every address"},
		{name: "two IPv4 halves are refused", list: "0.0.0.0/1,128.0.0.0/1", errPart: `trusted proxy list "0.0.0.0/1, 128.0.0.0/1" trusts every address`},
		{name: "two IPv6 halves are refused", list: "::/1, 8000::/1", errPart: "trusts every address"},
		{name: "IPv4 covered by unequal networks", list: "10.0.0.0/8, 0.0.0.0/2, 64.0.0.0/2, 128.0.0.0/1", errPart: "trusts every address"},
		{name: "IPv4 covered with a mapped network", list: "::ffff:0.0.0.0/97, 128.0.0.0/1", errPart: "trusts every address"},
		{name: "IPv4 covered by nested and duplicate networks", list: "0.0.0.0/1, 0.0.0.0/1, 1.0.0.0/8, 128.0.0.0/2, 192.0.0.0/2", errPart: "trusts every address"},
		{name: "IPv4 covered by 256 /8 networks", list: everySlash8(), errPart: "trusts every address"},
		{name: "the message names only the covering family", list: "fd00::/8, 0.0.0.0/1, 128.0.0.0/1", errPart: `list "0.0.0.0/1, 128.0.0.0/1" trusts`},
		{name: "halves of different families are not every address", list: "0.0.0.0/1, 8000::/1", in: []string{"1.2.3.4", "8000::1"}, out: []string{"128.0.0.1", "::1"}},
		{name: "all but one IPv4 /8", list: everySlash8()[len("0.0.0.0/8,"):], in: []string{"255.1.2.3"}, out: []string{"0.1.2.3"}},
		{name: "all unique local IPv6 addresses", list: "fc00::/7, 10.0.0.0/8", in: []string{"fd12::1", "10.1.1.1"}, out: []string{"fe80::1", "2001:db8::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := secure.ParseTrustedProxies(tt.list)
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range tt.in {
				if !tp.Contains(netip.MustParseAddr(a)) {
					t.Errorf("%s not trusted", a)
				}
			}
			for _, a := range tt.out {
				if tp.Contains(netip.MustParseAddr(a)) {
					t.Errorf("%s trusted", a)
				}
			}
		})
	}
}

// everySlash8 lists the 256 IPv4 /8 networks, which together are every
// IPv4 address.
func everySlash8() string {
	var b strings.Builder
	for i := range 256 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d.0.0.0/8", i)
	}
	return b.String()
}

func TestClientIPMiddlewareOverRealServer(t *testing.T) {
	tp := mustProxies(t, "127.0.0.1, ::1")
	srv := httptest.NewServer(secure.ClientIPMiddleware(tp)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, secure.ClientIP(r).String())
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.9")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "198.51.100.9" {
		t.Errorf("ClientIP = %s, want 198.51.100.9", body)
	}
}

func TestClientIPWithoutMiddlewareIsThePeer(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8::1%3]:80"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := secure.ClientIP(r).String(); got != "2001:db8::1" {
		t.Errorf("ClientIP = %s", got)
	}
}

func TestIsHTTPS(t *testing.T) {
	tp := mustProxies(t, "10.0.0.0/8")
	tests := []struct {
		name   string
		tp     secure.TrustedProxies
		remote string
		tls    bool
		proto  []string
		want   bool
	}{
		{name: "TLS connection", remote: "203.0.113.1:1", tls: true, want: true},
		{name: "plain connection", tp: tp, remote: "203.0.113.1:1", want: false},
		{name: "trusted proxy says https", tp: tp, remote: "10.0.0.1:1", proto: []string{"https"}, want: true},
		{name: "trusted proxy says HTTPS", tp: tp, remote: "10.0.0.1:1", proto: []string{"HTTPS"}, want: true},
		{name: "trusted proxy says http", tp: tp, remote: "10.0.0.1:1", proto: []string{"http"}, want: false},
		{name: "right-most value counts", tp: tp, remote: "10.0.0.1:1", proto: []string{"https, http"}, want: false},
		{name: "right-most field counts", tp: tp, remote: "10.0.0.1:1", proto: []string{"http", "https"}, want: true},
		{name: "forged by an untrusted peer", tp: tp, remote: "203.0.113.1:1", proto: []string{"https"}, want: false},
		{name: "no proxies configured", remote: "10.0.0.1:1", proto: []string{"https"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			for _, v := range tt.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			if got := tt.tp.IsHTTPS(r); got != tt.want {
				t.Errorf("IsHTTPS = %v, want %v", got, tt.want)
			}
		})
	}
}
