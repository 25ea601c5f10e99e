package warden

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/reqinfo"
)

// slogAccessLine is the access line as slog's JSON handler writes it.
func slogAccessLine(t testing.TB, a *accessLine) []byte {
	t.Helper()
	var buf bytes.Buffer
	rec := slog.NewRecord(a.at, slog.LevelInfo, accessLineMessage, 0)
	attrs := a.attrs()
	rec.AddAttrs(attrs[:]...)
	if err := slog.NewJSONHandler(&buf, nil).Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkAccessLine asserts that the direct encoding of a at time at, when
// it takes the line, is slog's byte for byte.
func checkAccessLine(t testing.TB, at time.Time, a *accessLine) {
	t.Helper()
	if !a.plain() {
		return // goes through slog itself
	}
	a.at = at
	got := appendAccessLine(nil, a)
	if want := slogAccessLine(t, a); !bytes.Equal(got, want) {
		t.Errorf("direct access line differs from slog's:\n got %s\nwant %s", got, want)
	}
}

func TestDirectAccessLineIsSlogsByteForByte(t *testing.T) {
	at := time.Date(2026, 11, 29, 13, 49, 1, 363749245, time.UTC)
	user := &reqinfo.Info{HasClientIP: true, ClientIP: netip.MustParseAddr("203.0.113.9"), Identity: &auth.Identity{UserID: "14bc2f90-fa0f-4c79-9d08-48bfa62a79c1"}}
	v6 := &reqinfo.Info{HasClientIP: true, ClientIP: netip.MustParseAddr("2001:db8::1")}
	zoned := &reqinfo.Info{HasClientIP: true, ClientIP: netip.MustParseAddr("fe80::1%eth0")}
	mapped := &reqinfo.Info{HasClientIP: true, ClientIP: netip.MustParseAddr("::ffff:192.0.2.1")}
	invalid := &reqinfo.Info{HasClientIP: true}
	anon := &reqinfo.Info{}
	for _, a := range []accessLine{
		{requestID: "1fpmo86b6ly6k", method: "GET", path: "/api/demo/jwt", status: 200, bytes: 123, duration: 469838, info: user},
		{requestID: "x", method: "POST", path: "/api/books", query: "page=2&token=REDACTED", status: 201, bytes: 0, duration: 1, info: v6},
		{requestID: "x", method: "GET", path: "/<script>&amp;", status: 404, bytes: -1, duration: -5, info: zoned},
		{requestID: "", method: "", path: "", status: 0, info: mapped},
		{requestID: "x", method: "GET", path: "/", status: 500, info: invalid},
		{requestID: "x", method: "GET", path: "/", status: 200, info: anon},
		{requestID: "x", method: "GET", path: "/a\"b", status: 200, info: anon},      // not plain: through slog
		{requestID: "x", method: "GET", path: "/caf\u00e9", status: 200, info: anon}, // not plain
	} {
		checkAccessLine(t, at, &a)
	}
	// Local time zones other than UTC keep their offset, as slog does.
	checkAccessLine(t, at.In(time.FixedZone("", -7*3600)), &accessLine{requestID: "z", method: "GET", path: "/", info: anon})
	if (&accessLine{path: "/a\"b", info: anon}).plain() || (&accessLine{path: "/\x7f", info: anon}).plain() {
		t.Error("a string JSON escapes counted as plain")
	}
}

// FuzzDirectAccessLine holds the direct encoding to slog's for any
// request line, user id and time.
func FuzzDirectAccessLine(f *testing.F) {
	f.Add("GET", "/api/demo/jwt", "page=1", "14bc2f90", "fe80::1%eth0", 200, int64(123), int64(469838), int64(1795960141363749245))
	f.Add("POST", "/a b/<c>&d", "", "", "127.0.0.1", 0, int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, method, path, query, uid, ip string, status int, n, d, unixNano int64) {
		info := &reqinfo.Info{}
		if addr, err := netip.ParseAddr(ip); err == nil {
			info.HasClientIP, info.ClientIP = true, addr
		}
		if uid != "" {
			info.Identity = &auth.Identity{UserID: uid}
		}
		at := time.Unix(0, unixNano).UTC()
		if y := at.Year(); y < 0 || y >= 10000 {
			return // slog reports an error for such a time; time.Now never is one
		}
		checkAccessLine(t, at, &accessLine{requestID: "r", method: method, path: path, query: query,
			status: status, bytes: n, duration: time.Duration(d), info: info})
	})
}
