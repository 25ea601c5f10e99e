// Package redisconn opens the one Redis client that Warden's shared stores
// use, from a URL that names a single node, a Cluster or a Sentinel-managed
// primary.
//
// # URL forms
//
//	redis://[[user]:password@]host[:port][/db][?options]          single node
//	rediss://...                                                  single node over TLS
//	redis+cluster://[[user]:password@]host[:port],host[:port],...[?options]
//	rediss+cluster://...                                          Cluster over TLS
//	redis+sentinel://[[user]:password@]host[:port],...,host[:port]/master[/db][?options]
//	rediss+sentinel://...                                         Sentinel over TLS
//
// The +cluster and +sentinel schemes are Warden's; go-redis's own forms
// (ParseClusterURL's and ParseFailoverURL's ?addr=host:port lists on a
// redis:// URL) are not accepted, so that a redis:// URL always means one
// node. The default port is 6379, or 26379 for Sentinel addresses. IPv6 addresses
// go in brackets: [::1]:6379. The user name and password are
// percent-encoded (a '#', '/', '?', '@', ':' or '%' in a password must be
// written %23, %2F, %3F, %40, %3A, %25). A Cluster URL lists seed nodes, one
// or more; Cluster has no databases, so a Cluster URL has no /db. In a
// Sentinel URL the addresses are the Sentinels', the path names the
// monitored primary, and the credentials are those of the primary and its
// replicas; Sentinels that require their own credentials get them from the
// sentinel_username and sentinel_password options.
//
// Options, each at most once:
//
//	dial_timeout, read_timeout, write_timeout, pool_timeout
//	    Go durations ("500ms", "2s"), more than 0 and at most 1m.
//	    Defaults: 1s, 1s, 1s, 2s.
//	pool_size          connections per node, 1-10000 (go-redis default: 10 per CPU)
//	min_idle_conns     0-10000
//	max_retries        retries of a failed command, 0-10 (default 2; 0 means none)
//	client_name        CLIENT SETNAME, letters, digits and -._: up to 64 bytes
//	protocol           2 or 3 (RESP version; default 3)
//	sentinel_username, sentinel_password   Sentinel URLs only
//
// Options that weaken security or consistency do not exist: there is no way
// to skip TLS certificate verification (trust a private CA through the
// SSL_CERT_FILE or SSL_CERT_DIR environment variables instead), and no way
// to read from replicas, whose answers may lag behind a revocation.
//
// # Failure behaviour
//
// ParseURL and Open reject a malformed URL with an error wrapping
// ErrInvalidURL. Open returns an error, and no client, when the server does
// not answer a PING within a few seconds. No error this package returns,
// and no string Describe returns, contains a password: errors name the part
// of the URL that is wrong (for example "address 2") without quoting it,
// because a password written without percent-encoding can spill into any
// part of a URL.
//
// Once opened, the client reconnects by itself after an outage. The
// defaults favour failing fast over waiting, so that a security check that
// depends on Redis answers "unknown" (fail closed) promptly instead of
// holding requests: a refused connection fails a command within
// milliseconds; a server that accepts connections but does not answer
// fails it after read_timeout (1s by default: go-redis does not repeat a
// command that timed out once sent); a host that drops connection
// attempts fails it after max_retries+1 dial timeouts (3s by default).
// The request's context ends the wait sooner when its deadline is nearer.
// After a pool's worth of failed dials go-redis fails commands at once
// and probes the server in the background until it answers.
//
// A Cluster client reloads its map of slots to masters after every
// command or pipeline that fails for any reason other than an ordinary
// Redis reply (a connection refused or timed out, CLUSTERDOWN, ...).
// go-redis by itself relearns the map only from MOVED replies and every
// minute, so a client whose commands all went to a master that died would
// keep failing for up to a minute after its replica had taken over; with
// the reload, commands find the promoted replica as soon as the cluster
// has promoted it. Reloads are asynchronous and coalesced, so an outage
// costs the cluster a CLUSTER SLOTS every 200 ms or so per client at
// most.
package redisconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrInvalidURL is wrapped by every error about the form of a Redis URL.
var ErrInvalidURL = errors.New("redisconn: invalid Redis URL")

// Defaults applied when the URL does not set the option.
const (
	DefaultDialTimeout  = time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
	DefaultPoolTimeout  = 2 * time.Second
	DefaultMaxRetries   = 2
	// PingTimeout bounds the PING with which Open checks the connection.
	PingTimeout = 3 * time.Second
)

const (
	maxURLBytes   = 4096
	maxAddrs      = 64
	redacted      = "xxxxx"
	defaultPort   = "6379"
	sentinelPort  = "26379"
	maxOptTimeout = time.Minute
)

type kind int

const (
	single kind = iota
	cluster
	sentinel
)

// parsed is a URL taken apart, kept so that Describe can rebuild it without
// the secrets.
type parsed struct {
	scheme    string
	kind      kind
	tls       bool
	user      string
	hasPass   bool
	opts      redis.UniversalOptions
	addrs     []string
	path      string
	queryKeys []string // in the order given
}

var schemes = map[string]struct {
	kind kind
	tls  bool
}{
	"redis":           {single, false},
	"rediss":          {single, true},
	"redis+cluster":   {cluster, false},
	"rediss+cluster":  {cluster, true},
	"redis+sentinel":  {sentinel, false},
	"rediss+sentinel": {sentinel, true},
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidURL}, args...)...)
}

// ParseURL turns a Redis URL into the options for redis.NewUniversalClient,
// with Warden's defaults filled in. It does not connect. Use it to validate
// configuration at start-up.
func ParseURL(rawURL string) (*redis.UniversalOptions, error) {
	p, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	return &p.opts, nil
}

func parse(raw string) (*parsed, error) {
	if raw == "" {
		return nil, invalid("empty; expected for example redis://host:6379/0")
	}
	if len(raw) > maxURLBytes {
		return nil, invalid("longer than %d bytes", maxURLBytes)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return nil, invalid("contains a space or control character; percent-encode it")
		}
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, invalid("no scheme; expected redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://")
	}
	scheme = strings.ToLower(scheme)
	sk, ok := schemes[scheme]
	if !ok {
		return nil, invalid("unsupported scheme; expected redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://")
	}
	if strings.Contains(rest, "#") {
		return nil, invalid("contains '#'; a '#' in a password must be written %%23")
	}
	p := &parsed{scheme: scheme, kind: sk.kind, tls: sk.tls}

	authority, pathQuery := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, pathQuery = rest[:i], rest[i:]
	}
	path, query, _ := strings.Cut(pathQuery, "?")

	hosts := authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		if err := p.parseUserinfo(authority[:i]); err != nil {
			return nil, err
		}
		hosts = authority[i+1:]
	}
	if err := p.parseAddrs(hosts); err != nil {
		return nil, err
	}
	if err := p.parsePath(path); err != nil {
		return nil, err
	}
	if err := p.parseQuery(query); err != nil {
		return nil, err
	}
	p.finish()
	return p, nil
}

func (p *parsed) parseUserinfo(userinfo string) error {
	user, pass, hasPass := strings.Cut(userinfo, ":")
	u, err := url.PathUnescape(user)
	if err != nil {
		return invalid("the user name has an invalid percent-encoding")
	}
	pw, err := url.PathUnescape(pass)
	if err != nil {
		return invalid("the password has an invalid percent-encoding; write '%%' as %%25")
	}
	if !validText(u) || !validText(pw) {
		return invalid("the user name or password contains a control character")
	}
	p.user, p.hasPass = u, hasPass && pw != ""
	p.opts.Username, p.opts.Password = u, pw
	return nil
}

func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func (p *parsed) parseAddrs(hosts string) error {
	if hosts == "" {
		return invalid("no host; expected for example redis://localhost:6379")
	}
	list := strings.Split(hosts, ",")
	if len(list) > maxAddrs {
		return invalid("more than %d addresses", maxAddrs)
	}
	if p.kind == single && len(list) > 1 {
		return invalid("several addresses in a single-node URL; use redis+cluster:// or redis+sentinel://")
	}
	port := defaultPort
	if p.kind == sentinel {
		port = sentinelPort
	}
	seen := make(map[string]bool, len(list))
	for i, h := range list {
		addr, err := normalizeAddr(h, port)
		if err != nil {
			return invalid("address %d of %d: %v", i+1, len(list), err)
		}
		if seen[addr] {
			return invalid("address %d of %d repeats an earlier one", i+1, len(list))
		}
		seen[addr] = true
		p.addrs = append(p.addrs, addr)
	}
	return nil
}

// normalizeAddr checks one host[:port] and returns it as host:port. Its
// errors never quote the input.
func normalizeAddr(s, defPort string) (string, error) {
	if s == "" {
		return "", errors.New("empty")
	}
	host, port := s, defPort
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", errors.New("'[' without ']'")
		}
		host = s[1:end]
		if tail := s[end+1:]; tail != "" {
			if tail[0] != ':' {
				return "", errors.New("unexpected text after ']'")
			}
			port = tail[1:]
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Is4In6() {
			return "", errors.New("not an IPv6 address inside brackets")
		}
		if a.Zone() != "" {
			return "", errors.New("IPv6 zones are not supported")
		}
		host = a.String()
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i+1:]
		}
		if strings.Contains(host, ":") {
			return "", errors.New("an IPv6 address must be written in brackets, [::1]:6379")
		}
		if !validHostname(host) {
			return "", errors.New("not a host name or IPv4 address (a password with '@', '/', '?' or ':' must be percent-encoded)")
		}
	}
	n, err := strconv.Atoi(port)
	if !allDigits(port) || err != nil || n < 1 || n > 65535 || port[0] == '0' {
		return "", errors.New("the port must be a number from 1 to 65535")
	}
	return net.JoinHostPort(host, port), nil
}

// allDigits reports whether s is a non-empty run of ASCII digits, which
// excludes the signs strconv.Atoi would accept.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

const maxDB = 1 << 16

func parseDB(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if !allDigits(s) || err != nil || n >= maxDB || (len(s) > 1 && s[0] == '0') {
		return 0, invalid("the database must be a number from 0 to %d", maxDB-1)
	}
	return n, nil
}

func (p *parsed) parsePath(path string) error {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if path == "" || path == "/" {
		segs = nil
	}
	switch p.kind {
	case single:
		switch len(segs) {
		case 0:
		case 1:
			db, err := parseDB(segs[0])
			if err != nil {
				return err
			}
			p.opts.DB = db
			p.path = "/" + segs[0]
		default:
			return invalid("the path must be /db, a database number")
		}
	case cluster:
		if len(segs) > 1 || (len(segs) == 1 && segs[0] != "0") {
			return invalid("a Cluster URL has no database; drop the path")
		}
	case sentinel:
		if len(segs) == 0 || len(segs) > 2 {
			return invalid("a Sentinel URL's path must be /master or /master/db")
		}
		if !validName(segs[0], 128) {
			return invalid("the Sentinel master name must be 1-128 letters, digits and -._:")
		}
		p.opts.MasterName = segs[0]
		p.path = "/" + segs[0]
		if len(segs) == 2 {
			db, err := parseDB(segs[1])
			if err != nil {
				return err
			}
			p.opts.DB = db
			p.path += "/" + segs[1]
		}
	}
	return nil
}

func validName(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

const supported = "dial_timeout, read_timeout, write_timeout, pool_timeout, pool_size, min_idle_conns, max_retries, client_name, protocol, sentinel_username, sentinel_password"

func (p *parsed) parseQuery(query string) error {
	if query == "" {
		return nil
	}
	seen := map[string]bool{}
	for i, kv := range strings.Split(query, "&") {
		n := i + 1
		k, v, hasValue := strings.Cut(kv, "=")
		if !hasValue || v == "" {
			return invalid("option %d has no value", n)
		}
		val, err := url.QueryUnescape(v)
		if err != nil || !validText(val) {
			return invalid("option %d has an invalid percent-encoding", n)
		}
		if seen[k] {
			return invalid("option %d repeats an earlier option", n)
		}
		switch k {
		case "dial_timeout", "read_timeout", "write_timeout", "pool_timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 || d > maxOptTimeout {
				return invalid("option %d (%s) must be a duration such as 500ms or 2s, at most 1m", n, k)
			}
			switch k {
			case "dial_timeout":
				p.opts.DialTimeout = d
			case "read_timeout":
				p.opts.ReadTimeout = d
			case "write_timeout":
				p.opts.WriteTimeout = d
			case "pool_timeout":
				p.opts.PoolTimeout = d
			}
		case "pool_size", "min_idle_conns":
			lo := 1
			if k == "min_idle_conns" {
				lo = 0
			}
			x, err := strconv.Atoi(val)
			if err != nil || x < lo || x > 10000 {
				return invalid("option %d (%s) must be a number from %d to 10000", n, k, lo)
			}
			if k == "pool_size" {
				p.opts.PoolSize = x
			} else {
				p.opts.MinIdleConns = x
			}
		case "max_retries":
			x, err := strconv.Atoi(val)
			if err != nil || x < 0 || x > 10 {
				return invalid("option %d (max_retries) must be a number from 0 to 10", n)
			}
			p.opts.MaxRetries = x
			if x == 0 {
				p.opts.MaxRetries = -1 // go-redis: -1 disables retries, 0 is its default
			}
		case "client_name":
			if !validName(val, 64) {
				return invalid("option %d (client_name) must be 1-64 letters, digits and -._:", n)
			}
			p.opts.ClientName = val
		case "protocol":
			if val != "2" && val != "3" {
				return invalid("option %d (protocol) must be 2 or 3", n)
			}
			p.opts.Protocol = int(val[0] - '0')
		case "sentinel_username", "sentinel_password":
			if p.kind != sentinel {
				return invalid("option %d (%s) belongs in a redis+sentinel:// URL", n, k)
			}
			if k == "sentinel_username" {
				p.opts.SentinelUsername = val
			} else {
				p.opts.SentinelPassword = val
			}
		default:
			// The name is not quoted: it may be a misplaced password.
			return invalid("option %d is not supported; the options are %s", n, supported)
		}
		seen[k] = true
		p.queryKeys = append(p.queryKeys, k+"="+v)
	}
	return nil
}

// finish fills in the addresses, TLS and the defaults.
func (p *parsed) finish() {
	o := &p.opts
	o.Addrs = p.addrs
	o.IsClusterMode = p.kind == cluster
	if p.tls {
		// ServerName stays empty so that each connection verifies the
		// certificate against the host it dials, for every cluster node.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = DefaultPoolTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	// One dial attempt per command attempt (go-redis would otherwise make
	// five, 100ms apart): the command retries above cover the rest, and a
	// down server should be reported, not waited for.
	o.DialerRetries = 1
	// Deadlines of the request contexts bound every command.
	o.ContextTimeoutEnabled = true
}

// Describe returns rawURL fit for logs: passwords (in the user information
// and in sentinel_password) are replaced with xxxxx. A URL that does not
// parse is not shown at all, since its password could be anywhere in it.
func Describe(rawURL string) string {
	p, err := parse(rawURL)
	if err != nil {
		return "(invalid Redis URL, not shown)"
	}
	return p.describe()
}

func (p *parsed) describe() string {
	var b strings.Builder
	b.WriteString(p.scheme)
	b.WriteString("://")
	if p.user != "" || p.hasPass {
		b.WriteString(url.PathEscape(p.user))
		if p.hasPass {
			b.WriteString(":" + redacted)
		}
		b.WriteByte('@')
	}
	b.WriteString(strings.Join(p.addrs, ","))
	b.WriteString(p.path)
	for i, kv := range p.queryKeys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		if strings.HasPrefix(kv, "sentinel_password=") {
			kv = "sentinel_password=" + redacted
		}
		b.WriteString(kv)
	}
	return b.String()
}

// Open parses rawURL, creates the client (a *redis.Client for a single
// node or Sentinel, a *redis.ClusterClient for Cluster) and checks it with
// a PING bounded by PingTimeout and ctx. The caller closes the client.
func Open(ctx context.Context, rawURL string) (redis.UniversalClient, error) {
	p, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	client := redis.NewUniversalClient(&p.opts)
	if cc, ok := client.(*redis.ClusterClient); ok {
		cc.AddHook(reloadOnFailure{cc})
	}
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, &redactedError{
			msg: fmt.Sprintf("redisconn: no answer from %s: %s", p.describe(), redact(err.Error(), p.opts.Password, p.opts.SentinelPassword)),
			err: err,
		}
	}
	return client, nil
}

// reloadOnFailure is the hook that has a Cluster client reload its slot
// map after a failure that may mean the topology changed (see the package
// documentation).
type reloadOnFailure struct{ c *redis.ClusterClient }

// DialHook implements redis.Hook.
func (h reloadOnFailure) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h reloadOnFailure) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h reloadOnFailure) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnFailure) check(ctx context.Context, err error) {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return
	}
	// A reply of Redis (WRONGTYPE, a script's error, ...) says nothing of
	// the topology, except CLUSTERDOWN, seen while a master is replaced.
	var reply redis.Error
	if errors.As(err, &reply) && !strings.HasPrefix(reply.Error(), "CLUSTERDOWN") {
		return
	}
	h.c.ReloadState(ctx)
}

// redactedError carries a server or network error whose text has had the
// passwords removed. Unwrap keeps errors.Is working for context errors.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact removes every secret, raw and percent-encoded, from s. Neither
// go-redis nor Redis is known to echo a password, so this is a second line
// of defence.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, form := range []string{sec, url.PathEscape(sec), url.QueryEscape(sec)} {
			s = strings.ReplaceAll(s, form, redacted)
		}
	}
	return s
}
