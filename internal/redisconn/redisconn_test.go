package redisconn_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/redisconn"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
)

func TestParseURLForms(t *testing.T) {
	tests := []struct {
		name string
		url  string
		// want describes the options that matter.
		addrs       []string
		db          int
		user, pass  string
		master      string
		cluster     bool
		tls         bool
		sentinelPW  string
		dialTimeout time.Duration
		retries     int
		describe    string
	}{
		{
			name: "single node", url: "redis://127.0.0.1:6379/0",
			addrs: []string{"127.0.0.1:6379"}, describe: "redis://127.0.0.1:6379/0",
		},
		{
			name: "default port and database", url: "redis://cache.internal",
			addrs: []string{"cache.internal:6379"}, describe: "redis://cache.internal:6379",
		},
		{
			name: "password only", url: "redis://:s3cret@h:6380/2",
			addrs: []string{"h:6380"}, db: 2, pass: "s3cret", describe: "redis://:xxxxx@h:6380/2",
		},
		{
			name: "ACL user and percent-encoded password", url: "redis://warden:p%40ss%2Fw%23rd%3A@h/1",
			addrs: []string{"h:6379"}, db: 1, user: "warden", pass: "p@ss/w#rd:", describe: "redis://warden:xxxxx@h:6379/1",
		},
		{
			name: "unencoded @ in password uses the last @", url: "redis://:p@ss@h:6379",
			addrs: []string{"h:6379"}, pass: "p@ss", describe: "redis://:xxxxx@h:6379",
		},
		{
			name: "TLS", url: "rediss://:pw@redis.example.com:6380/0",
			addrs: []string{"redis.example.com:6380"}, pass: "pw", tls: true, describe: "rediss://:xxxxx@redis.example.com:6380/0",
		},
		{
			name: "IPv6", url: "redis://[::1]:6379/3",
			addrs: []string{"[::1]:6379"}, db: 3, describe: "redis://[::1]:6379/3",
		},
		{
			name: "IPv6 default port", url: "redis://[2001:db8::1]",
			addrs: []string{"[2001:db8::1]:6379"}, describe: "redis://[2001:db8::1]:6379",
		},
		{
			name: "scheme is case-insensitive", url: "REDIS://h:1/0",
			addrs: []string{"h:1"}, describe: "redis://h:1/0",
		},
		{
			name: "options", url: "redis://h/0?dial_timeout=250ms&max_retries=0&client_name=warden-1",
			addrs: []string{"h:6379"}, dialTimeout: 250 * time.Millisecond, retries: -1,
			describe: "redis://h:6379/0?dial_timeout=250ms&max_retries=0&client_name=warden-1",
		},
		{
			name: "cluster", url: "redis+cluster://u:pw@n1:7000,n2:7001,[::1]:7002",
			addrs: []string{"n1:7000", "n2:7001", "[::1]:7002"}, user: "u", pass: "pw", cluster: true,
			describe: "redis+cluster://u:xxxxx@n1:7000,n2:7001,[::1]:7002",
		},
		{
			name: "cluster with one seed", url: "rediss+cluster://cfg.example.com:6379",
			addrs: []string{"cfg.example.com:6379"}, cluster: true, tls: true,
			describe: "rediss+cluster://cfg.example.com:6379",
		},
		{
			name: "sentinel", url: "redis+sentinel://:pw@s1,s2:26380/mymaster/4?sentinel_password=sp%26w",
			addrs: []string{"s1:26379", "s2:26380"}, db: 4, pass: "pw", master: "mymaster", sentinelPW: "sp&w",
			describe: "redis+sentinel://:xxxxx@s1:26379,s2:26380/mymaster/4?sentinel_password=xxxxx",
		},
		{
			name: "sentinel without database", url: "rediss+sentinel://s1:26379/primary",
			addrs: []string{"s1:26379"}, master: "primary", tls: true,
			describe: "rediss+sentinel://s1:26379/primary",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := redisconn.ParseURL(tt.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if strings.Join(o.Addrs, " ") != strings.Join(tt.addrs, " ") {
				t.Errorf("Addrs = %q, want %q", o.Addrs, tt.addrs)
			}
			if o.DB != tt.db || o.Username != tt.user || o.Password != tt.pass || o.MasterName != tt.master {
				t.Errorf("DB, Username, Password, MasterName = %d, %q, %q, %q; want %d, %q, %q, %q",
					o.DB, o.Username, o.Password, o.MasterName, tt.db, tt.user, tt.pass, tt.master)
			}
			if o.IsClusterMode != tt.cluster {
				t.Errorf("IsClusterMode = %v, want %v", o.IsClusterMode, tt.cluster)
			}
			if (o.TLSConfig != nil) != tt.tls {
				t.Errorf("TLS = %v, want %v", o.TLSConfig != nil, tt.tls)
			}
			if o.TLSConfig != nil && (o.TLSConfig.InsecureSkipVerify || o.TLSConfig.MinVersion < 0x0303) {
				t.Errorf("TLS config is weak: %+v", o.TLSConfig)
			}
			if o.SentinelPassword != tt.sentinelPW {
				t.Errorf("SentinelPassword = %q, want %q", o.SentinelPassword, tt.sentinelPW)
			}
			wantDial := tt.dialTimeout
			if wantDial == 0 {
				wantDial = redisconn.DefaultDialTimeout
			}
			if o.DialTimeout != wantDial {
				t.Errorf("DialTimeout = %v, want %v", o.DialTimeout, wantDial)
			}
			wantRetries := tt.retries
			if wantRetries == 0 {
				wantRetries = redisconn.DefaultMaxRetries
			}
			if o.MaxRetries != wantRetries {
				t.Errorf("MaxRetries = %d, want %d", o.MaxRetries, wantRetries)
			}
			if !o.ContextTimeoutEnabled {
				t.Error("ContextTimeoutEnabled is off")
			}
			if o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
				t.Error("reads may go to replicas")
			}
			if got := redisconn.Describe(tt.url); got != tt.describe {
				t.Errorf("Describe = %q, want %q", got, tt.describe)
			}
		})
	}
}

// TestParseURLClientKinds checks that the options make NewUniversalClient
// pick the client each form names.
func TestParseURLClientKinds(t *testing.T) {
	tests := []struct {
		url      string
		isSingle bool
	}{
		{"redis://h:6379/0", true},
		{"redis+sentinel://s:26379/m", true},
		{"redis+cluster://h:7000", false},
		{"redis+cluster://h:7000,h:7001", false},
	}
	for _, tt := range tests {
		o, err := redisconn.ParseURL(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		c := redis.NewUniversalClient(o)
		_, single := c.(*redis.Client)
		_, clustered := c.(*redis.ClusterClient)
		if single != tt.isSingle || clustered == tt.isSingle {
			t.Errorf("%s: client is %T", tt.url, c)
		}
		_ = c.Close()
	}
}

func TestParseURLRejects(t *testing.T) {
	// Every URL carries the password "hunter2" (or a piece of it) where a
	// careless parser might echo it; no error may contain it.
	tests := []struct{ name, url, wantInError string }{
		{"empty", "", "empty"},
		{"no scheme", "hunter2@localhost:6379", "no scheme"},
		{"unknown scheme", "hunter2://localhost", "unsupported scheme"},
		{"http", "http://:hunter2@localhost", "unsupported scheme"},
		{"unencoded # in password", "redis://:hun#ter2@h:6379", "%23"},
		{"unencoded / in password", "redis://:hun/ter2@h:6379", "address 1"},
		{"unencoded ? in password", "redis://:hun?ter2@h:6379", "address 1"},
		{"no host", "redis://:hunter2@", "no host"},
		{"no host, port only", "redis://:hunter2@:6379", "address 1"},
		{"bad port", "redis://:x@h:hunter2", "port"},
		{"port zero", "redis://h:0", "port"},
		{"port too big", "redis://h:65536", "port"},
		{"signed port", "redis://h:+6379", "port"},
		{"bad database", "redis://:x@h/hunter2", "database"},
		{"negative database", "redis://h/-1", "database"},
		{"signed zero database", "redis://h/-0", "database"},
		{"deep path", "redis://h/0/1", "path"},
		{"several hosts in single-node URL", "redis://a:1,b:2", "redis+cluster"},
		{"empty host in list", "redis+cluster://a:1,,b:2", "address 2"},
		{"repeated host", "redis+cluster://a:1,a:1", "repeats"},
		{"unbracketed IPv6", "redis://::1:6379", "brackets"},
		{"unclosed bracket", "redis://[::1:6379", "']'"},
		{"IPv4 in brackets", "redis://[127.0.0.1]:6379", "IPv6"},
		{"IPv6 zone", "redis://[fe80::1%25eth0]:6379", "zone"},
		{"host with underscore-free junk", "redis://hunter2!:6379", "host name"},
		{"control character", "redis://h:6379/0\x00", "control"},
		{"space", "redis://:hunter 2@h", "space"},
		{"newline in decoded password", "redis://:hunter2%0A@h", "control"},
		{"bad escape in password", "redis://:hunter2%zz@h", "percent-encoding"},
		{"cluster database", "redis+cluster://h:7000/1", "no database"},
		{"sentinel without master", "redis+sentinel://s:26379", "master"},
		{"sentinel bad master", "redis+sentinel://s:26379/hunter2!", "master"},
		{"sentinel bad db", "redis+sentinel://s:26379/m/x", "database"},
		{"unknown option", "redis://h?hunter2=1", "option 1 is not supported"},
		{"skip_verify does not exist", "rediss://h?skip_verify=true", "option 1 is not supported"},
		{"option without value", "redis://h?dial_timeout", "no value"},
		{"repeated option", "redis://h?pool_size=2&pool_size=3", "option 2 repeats"},
		{"negative timeout", "redis://h?read_timeout=-1s", "duration"},
		{"unitless timeout", "redis://h?read_timeout=5", "duration"},
		{"huge timeout", "redis://h?read_timeout=1h", "duration"},
		{"pool size zero", "redis://h?pool_size=0", "pool_size"},
		{"retries too many", "redis://h?max_retries=11", "max_retries"},
		{"bad protocol", "redis://h?protocol=4", "protocol"},
		{"bad client name", "redis://h?client_name=a%20b", "client_name"},
		{"sentinel option on single node", "redis://h?sentinel_password=hunter2", "redis+sentinel"},
		{"too long", "redis://h/" + strings.Repeat("9", 5000), "longer"},
		{"too many addresses", "redis+cluster://" + strings.TrimSuffix(strings.Repeat("h:1,", 65), ","), "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redisconn.ParseURL(tt.url)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, redisconn.ErrInvalidURL) {
				t.Errorf("error %v does not wrap ErrInvalidURL", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantInError) {
				t.Errorf("error %q does not mention %q", msg, tt.wantInError)
			}
			for _, secret := range []string{"hunter", "ter2", "hun"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q contains a piece of the password", msg)
				}
			}
			if d := redisconn.Describe(tt.url); strings.Contains(d, "hun") || strings.Contains(d, "ter2") {
				t.Errorf("Describe = %q shows a piece of the password", d)
			}
			if _, err := redisconn.Open(context.Background(), tt.url); !errors.Is(err, redisconn.ErrInvalidURL) {
				t.Errorf("Open error = %v, want ErrInvalidURL", err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://h:6379/0", "rediss://u:p@h/1", "redis+cluster://a:1,b:2",
		"redis+sentinel://:p@s1,s2:26380/m/2?sentinel_password=x", "redis://[::1]:1?dial_timeout=1s",
		"redis://:p%40@h", "redis://:p@ss@h", "redis://::1", "redis://h?x=1&x=2",
	} {
		f.Add(s, "secretpw")
	}
	f.Fuzz(func(t *testing.T, raw, pw string) {
		if len(pw) < 6 || strings.ContainsAny(pw, "%") {
			return
		}
		// Put the password in the user information, percent-encoded, so
		// that it is a password whatever the rest of the URL does.
		scheme, rest, ok := strings.Cut(raw, "://")
		if !ok {
			return
		}
		u := scheme + "://:" + url.PathEscape(pw) + "@" + rest
		o, err := redisconn.ParseURL(u)
		d := redisconn.Describe(u)
		if strings.Contains(d, pw) || strings.Contains(d, url.PathEscape(pw)) {
			if err == nil && strings.Contains(strings.Join(o.Addrs, ","), pw) {
				return // the "password" is also a host name in the URL
			}
			t.Errorf("Describe(%q) = %q shows the password", u, d)
		}
		if err != nil && (strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), url.PathEscape(pw))) {
			t.Errorf("ParseURL(%q) error %q shows the password", u, err)
		}
		if err == nil && len(o.Addrs) == 0 {
			t.Errorf("ParseURL(%q) gave no addresses", u)
		}
	})
}

func TestOpenPingsTheServer(t *testing.T) {
	url := redistest.URL(t)
	ctx := context.Background()
	c, err := redisconn.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open(%s): %v", redisconn.Describe(url), err)
	}
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	redistest.URL(t)
	ctx := context.Background()
	const pw = "Sup3rS3cretPassw0rd"
	tests := []struct{ name, url string }{
		// Nothing listens on port 1.
		{"unreachable", "redis://:" + pw + "@127.0.0.1:1/0"},
		{"unreachable, percent-encoded", "redis://warden:" + url.PathEscape(pw+"/#") + "@127.0.0.1:1/0"},
	}
	// The shared server has no such ACL user (a default user without a
	// password would accept any password): AUTH fails with WRONGPASS.
	if u, err := redisconn.ParseURL(redistest.URL(t)); err == nil && !u.IsClusterMode && u.MasterName == "" {
		tests = append(tests, struct{ name, url string }{"wrong credentials", "redis://warden-no-such-user:" + pw + "@" + u.Addrs[0] + "/0"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c, err := redisconn.Open(ctx, tt.url)
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "S3cret") {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), "xxxxx") && !strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("error does not say which server: %v", err)
			}
			if d := time.Since(start); d > redisconn.PingTimeout+time.Second {
				t.Errorf("Open took %v", d)
			}
		})
	}
}

func TestOpenHonoursContext(t *testing.T) {
	redistest.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c, err := redisconn.Open(ctx, "redis://127.0.0.1:1/0"); err == nil {
		c.Close()
		t.Fatal("Open succeeded with a cancelled context")
	}
}

// TestSilentServerFailsFast points a client with the default options at a
// server that accepts connections and never answers: commands fail within
// the documented bound instead of hanging.
func TestSilentServerFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	o, err := redisconn.ParseURL("redis://" + l.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewUniversalClient(o)
	defer c.Close()
	start := time.Now()
	if err := c.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("a silent server answered")
	}
	el := time.Since(start)
	bound := time.Duration(redisconn.DefaultMaxRetries+1)*redisconn.DefaultReadTimeout + 700*time.Millisecond
	if el > bound {
		t.Errorf("the command failed after %v, want within %v", el, bound)
	}
	t.Logf("failed after %v", el)
}
