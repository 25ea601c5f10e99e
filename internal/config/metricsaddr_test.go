package config_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/config"
)

func TestMetricsAddr(t *testing.T) {
	c, err := config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "" {
		t.Fatalf("metrics are on by default: %q", c.MetricsAddr)
	}
	for _, addr := range []string{"127.0.0.1:9090", "[::1]:9090", "localhost:9090", ":9090", "10.0.0.5:0", "[fe80::1%eth0]:9090", " 127.0.0.1:9090 "} {
		c, err := config.Load(nil, env(map[string]string{"WARDEN_METRICS_ADDR": addr}))
		if err != nil {
			t.Errorf("%q refused: %v", addr, err)
			continue
		}
		if c.MetricsAddr != strings.TrimSpace(addr) {
			t.Errorf("%q read as %q", addr, c.MetricsAddr)
		}
	}
	// In production too: a private network address is an operator's
	// choice (the README warns that /metrics has no authentication).
	prod := map[string]string{
		"WARDEN_ENV": "production", "WARDEN_SECRET_KEY": randomSecret(t), "WARDEN_PUBLIC_URL": "https://books.example.com",
		"WARDEN_METRICS_ADDR": "10.0.0.5:9090",
	}
	if c, err := config.Load(nil, env(prod)); err != nil || c.MetricsAddr != "10.0.0.5:9090" {
		t.Fatalf("production with a private metrics address: %v", err)
	}
	c, err = config.Load([]string{"--metrics-addr", "127.0.0.1:9191"}, env(nil))
	if err != nil || c.MetricsAddr != "127.0.0.1:9191" {
		t.Fatalf("flag: %v %+v", err, c)
	}

	cases := []struct{ name, addr, want string }{
		{"no port", "127.0.0.1", "host:port"},
		{"a URL", "http://127.0.0.1:9090", "host:port"},
		{"a path", "127.0.0.1:9090/metrics", "port number"},
		{"a service name", "127.0.0.1:http", "port number"},
		{"a port too large", "127.0.0.1:65536", "port number"},
		{"a signed port", "127.0.0.1:+9090", "port number"},
		{"a negative port", "127.0.0.1:-1", "port number"},
		{"a long port", "127.0.0.1:000009090", "port number"},
		{"an empty port", "127.0.0.1:", "port number"},
		{"user info", "user@127.0.0.1:9090", "character"},
		{"a control character", "127.0.0.1\n:9090", "character"},
		{"a space", "local host:9090", "character"},
		{"non-ASCII", "lоcalhost:9090", "character"}, // Cyrillic о
		{"an oversize host", strings.Repeat("a", 300) + ":9090", "longer than"},
		{"unbracketed IPv6", "::1:9090", "host:port"},
		{"the API's own address", "127.0.0.1:8080", "differ from WARDEN_ADDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(nil, env(map[string]string{"WARDEN_METRICS_ADDR": tc.addr}))
			if err == nil || !strings.Contains(err.Error(), "WARDEN_METRICS_ADDR") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q: %v, want an error about %q", tc.addr, err, tc.want)
			}
		})
	}
}

// FuzzMetricsAddr feeds arbitrary WARDEN_METRICS_ADDR values to Load: it
// must never panic, and whatever it accepts must be a host:port that
// net.Listen can be given: a port from 0 to 65535 and a host of
// printable ASCII.
func FuzzMetricsAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1:9090", "[::1]:0", ":9090", "a:b:c", "[::1", "x:99999", "\x00:1", "h:+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		c, err := config.Load(nil, env(map[string]string{"WARDEN_METRICS_ADDR": value}))
		if err != nil {
			return
		}
		if c.MetricsAddr == "" {
			if strings.TrimSpace(value) != "" {
				t.Fatalf("%q turned metrics off", value)
			}
			return
		}
		host, port, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil {
			t.Fatalf("accepted %q: %v", c.MetricsAddr, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strings.ContainsAny(port, "+-") {
			t.Fatalf("accepted port %q", port)
		}
		for _, r := range host {
			if r <= ' ' || r > '~' {
				t.Fatalf("accepted host %q", host)
			}
		}
	})
}
