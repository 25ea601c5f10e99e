package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/password"
	"github.com/wardenhq/warden/secure"
)

// setting is one row of the configuration table.
type setting struct {
	name string // environment variable, also the key in a --config file
	flag string // command-line flag without dashes; "" for none
	def  string // default, in the form the variable takes
	// about describes the default when def alone would not say it (an
	// empty def that means "generated" or "derived"), in Markdown.
	about string
	// doc is one line of Markdown for `warden help` and README.md.
	doc string
	// parse checks the raw value on its own and stores it in c. Rules that
	// involve several rows belong in finish.
	parse func(c *Config, v value) error
}

// value is one setting's raw text after merging defaults, file,
// environment and flags.
type value struct {
	name string
	def  string
	raw  string
	set  bool // given in the file, the environment or a flag, even if empty
}

// inputs holds the value of every row, by name.
type inputs map[string]value

func defaults() inputs {
	in := make(inputs, len(table))
	for _, s := range table {
		in[s.name] = value{name: s.name, def: s.def, raw: s.def}
	}
	return in
}

func (in inputs) set(name, raw string) {
	v := in[name]
	v.raw, v.set = raw, true
	in[name] = v
}

// of returns the value of a row that finish refers to by name; a name
// missing from the table is a bug in this package, not in the settings.
func (in inputs) of(name string) value {
	v, ok := in[name]
	if !ok {
		panic("config: no setting " + name)
	}
	return v
}

// table is every setting Warden reads, in the order `warden help` and
// README.md list them. Adding a setting is one row here (and the Config
// field it fills): use a parse helper below or write its parse function
// inline, then run go generate ./internal/config to update README.md.
var table = []setting{
	{name: "WARDEN_ENV", flag: "env", def: Development,
		doc: "`development` or `production` (production requires a random `WARDEN_SECRET_KEY` and an https `WARDEN_PUBLIC_URL`, allows https origins only, and sends HSTS)",
		parse: func(c *Config, v value) error {
			c.Env = strings.ToLower(strings.TrimSpace(v.raw))
			if c.Env != Development && c.Env != Production {
				return fmt.Errorf("%s is %q; set it to development or production", v.name, c.Env)
			}
			return nil
		}},
	{name: "WARDEN_ADDR", flag: "addr", def: "127.0.0.1:8080",
		doc:   "listen address",
		parse: nonEmpty("set a listen address such as 127.0.0.1:8080", func(c *Config, s string) { c.Addr = s })},
	{name: "WARDEN_METRICS_ADDR", flag: "metrics-addr",
		about: "none (off)",
		doc:   "listen address (`host:port`) of `GET /metrics` (Prometheus), apart from the API; it has no authentication, so keep it on loopback or a private network, never public",
		parse: func(c *Config, v value) error {
			addr, err := parseListenAddr(v.raw)
			if err != nil {
				return fmt.Errorf("%s %v", v.name, err)
			}
			c.MetricsAddr = addr
			return nil
		}},
	{name: "WARDEN_DATA_DIR", flag: "data-dir", def: "./warden_data",
		doc:   "data directory (created 0700): SQLite database (created 0600; refused if the group or others may access it), generated development key, mail outbox",
		parse: nonEmpty("set a directory for the database and generated secrets", func(c *Config, s string) { c.DataDir = s })},
	{name: "WARDEN_SECRET_KEY",
		about: "generated in development (`<data dir>/secret_key`, mode 0600)",
		doc:   "HMAC signing secret, at least 32 bytes (48 for `HS384`, 64 for `HS512`); production refuses a guessable one (repeats, counting, few distinct characters): use `openssl rand -base64 48`",
		parse: func(c *Config, v value) error {
			// Judged in finish: whether it may be empty depends on the
			// environment, its length on the algorithm.
			c.secretKey = []byte(v.raw)
			return nil
		}},
	{name: "WARDEN_JWT_ALGORITHM", def: "HS256",
		doc:   "`HS256`, `HS384` or `HS512` for the server's own tokens",
		parse: parseJWTAlgorithm},
	{name: "WARDEN_JWT_ISSUER", def: "warden",
		doc:   "`iss` of issued tokens, required in accepted ones",
		parse: nonEmpty("tokens are checked against it", func(c *Config, s string) { c.JWTIssuer = s })},
	{name: "WARDEN_JWT_AUDIENCE", def: "warden",
		doc:   "`aud` of issued tokens, required in accepted ones",
		parse: nonEmpty("tokens are checked against it", func(c *Config, s string) { c.JWTAudience = s })},
	{name: "WARDEN_JWT_KEYS",
		doc: "further verification keys, `kid:ALG:/path/public.pem,...` (RS256/384/512, ES256/384, EdDSA)",
		parse: func(c *Config, v value) error {
			keys, err := parseJWTKeys(v.raw)
			if err != nil {
				return fmt.Errorf("%s: %v", v.name, err)
			}
			c.JWTExtraKeys = keys
			return nil
		}},
	{name: "WARDEN_ACCESS_TOKEN_TTL", def: "15m",
		doc:   "access token lifetime",
		parse: durationIn(time.Minute, 24*time.Hour, func(c *Config, d time.Duration) { c.AccessTTL = d })},
	{name: "WARDEN_API_KEYS",
		doc:   "configured API keys, `id:secret[:perm1|perm2],...`; secrets at least 32 characters; set-but-empty is refused",
		parse: parseAPIKeysSetting},
	{name: "WARDEN_CORS_ALLOWED_ORIGINS",
		doc: "exact origins, comma-separated (no `*`, no `null`)",
		// Checked in finish, with the credentials setting and the
		// environment that decide which origins are acceptable.
		parse: func(c *Config, v value) error { c.corsOrigins = splitList(v.raw); return nil }},
	{name: "WARDEN_CORS_ALLOW_CREDENTIALS", def: "false",
		doc:   "allow credentialed CORS requests",
		parse: boolean(func(c *Config, b bool) { c.corsCredentials = b })},
	{name: "WARDEN_ALLOWED_HOSTS",
		about: "none (any host)",
		doc:   "host names (or `host:port`) this server answers to, comma-separated, no wildcards; any other `Host` gets 400 (defends against DNS rebinding); `/healthz` and `/readyz` answer any host, since load balancers probe by address",
		parse: func(c *Config, v value) error {
			list := splitList(v.raw)
			if len(list) == 0 {
				if strings.TrimSpace(v.raw) != "" {
					return fmt.Errorf("%s holds no host; unset it to answer any host, or list names such as api.example.com", v.name)
				}
				return nil
			}
			hosts, err := secure.NewHosts(list)
			if err != nil {
				return fmt.Errorf("%s: %v", v.name, err)
			}
			c.AllowedHosts = hosts
			return nil
		}},
	{name: "WARDEN_HSTS_PRELOAD", def: "false",
		doc:   "add `preload` to Strict-Transport-Security (max-age two years, includeSubDomains): only once every subdomain serves HTTPS, before submitting the domain to hstspreload.org",
		parse: boolean(func(c *Config, b bool) { c.HSTSPreload = b })},
	{name: "WARDEN_TRUSTED_PROXIES",
		doc: "CIDRs whose `X-Forwarded-For` / `X-Real-IP` / `X-Forwarded-Proto` are believed; a list that covers every IPv4 or IPv6 address is refused",
		parse: func(c *Config, v value) error {
			tp, err := secure.ParseTrustedProxies(v.raw)
			if err != nil {
				return fmt.Errorf("%s: %v", v.name, err)
			}
			c.TrustedProxies = tp
			return nil
		}},
	{name: "WARDEN_PUBLIC_URL", flag: "public-url",
		about: "`http://` + listen address",
		doc:   "base URL for links in email; https in production",
		parse: func(c *Config, v value) error {
			// Empty is judged in finish: it defaults to the listen address
			// outside production.
			c.PublicURL = strings.TrimRight(v.raw, "/")
			if c.PublicURL == "" {
				return nil
			}
			if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				// Not quoted: a URL may carry user:password@.
				return fmt.Errorf("%s must be an absolute http(s) URL such as https://books.example.com", v.name)
			}
			return nil
		}},
	{name: "WARDEN_DATABASE_URL", flag: "database-url",
		about: "SQLite in the data dir",
		doc:   "`sqlite:///abs/path.db`, `mysql://user:pass@host:3306/db`, `postgres://user:pass@host:5432/db`",
		parse: serviceURL(func(c *Config, s string) { c.DatabaseURL = s })},
	{name: "WARDEN_DB_MAX_CONNS",
		about: "SQLite: 2 per CPU, 8 to 16; MySQL, PostgreSQL: 16",
		doc:   "database connections per process, all kept open between requests; requests beyond them wait. With several instances on one MySQL or PostgreSQL server, keep instances × this under the server's connection limit",
		parse: func(c *Config, v value) error {
			if strings.TrimSpace(v.raw) == "" {
				c.DBMaxConns = 0 // the store's own size for its dialect
				return nil
			}
			return intIn(1, 1000, func(c *Config, n int) { c.DBMaxConns = n })(c, v)
		}},
	{name: "WARDEN_REDIS_URL", flag: "redis-url",
		about: "none (memory)",
		doc:   "shared state for several instances (see docs/deploy.md)",
		parse: serviceURL(func(c *Config, s string) { c.RedisURL = s })},
	{name: "WARDEN_REDIS_PREFIX", def: "warden:",
		doc: "start of every Redis key, so that several deployments can share one server",
		// Checked in finish: it matters only with WARDEN_REDIS_URL.
		parse: func(c *Config, v value) error { c.RedisPrefix = v.raw; return nil }},
	{name: "WARDEN_SMTP_URL",
		about: "outbox (`<data dir>/outbox`)",
		doc:   "`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://...:465`",
		parse: serviceURL(func(c *Config, s string) { c.SMTPURL = s })},
	{name: "WARDEN_MAIL_FROM", def: "warden@localhost",
		doc:   "sender of email",
		parse: func(c *Config, v value) error { c.MailFrom = v.raw; return nil }},
	{name: "WARDEN_REFRESH_TOKEN_TTL", def: "168h",
		doc:   "refresh token lifetime",
		parse: durationIn(time.Hour, 90*24*time.Hour, func(c *Config, d time.Duration) { c.RefreshTTL = d })},
	{name: "WARDEN_SESSION_IDLE", def: "24h",
		doc:   "browser mode: a session cookie unused this long ends (at least 5m, at most `WARDEN_SESSION_MAX`)",
		parse: durationIn(auth.MinSessionIdle, auth.MaxSessionMax, func(c *Config, d time.Duration) { c.SessionIdle = d })},
	{name: "WARDEN_SESSION_MAX", def: "168h",
		doc:   "browser mode: a session cookie ends this long after its login, however much it is used (at most 9600h, the 400 days browsers keep a cookie)",
		parse: durationIn(time.Hour, auth.MaxSessionMax, func(c *Config, d time.Duration) { c.SessionMax = d })},
	{name: "WARDEN_REFRESH_GRACE", def: "5s",
		doc:   "grace window for racing browser tabs (`0s` for none)",
		parse: durationIn(0, time.Minute, func(c *Config, d time.Duration) { c.RefreshGrace = d })},
	{name: "WARDEN_AUTH_RATE_PER_MINUTE", def: "5",
		doc:   "per-IP limit on register/login/refresh/reset/resend",
		parse: intIn(1, 100000, func(c *Config, n int) { c.AuthRatePerMinute = n })},
	{name: "WARDEN_DEMO_ROUTES", def: "", about: "on in development, off in production",
		doc:   "mount the `/api/demo` routes (`true` or `false`)",
		parse: boolean(func(c *Config, b bool) { c.DemoRoutes = b })},
	{name: "WARDEN_RATE_ANON_PER_MINUTE", def: "600",
		doc:   "router-wide limit per anonymous client (IPv4 address, IPv6 /64), after authentication; health checks exempt; `0` turns it off",
		parse: intIn(0, 1000000, func(c *Config, n int) { c.RateAnonPerMinute = n })},
	{name: "WARDEN_RATE_USER_PER_MINUTE", def: "1200",
		doc:   "router-wide limit per signed-in user, after authentication; health checks exempt; `0` turns it off",
		parse: intIn(0, 1000000, func(c *Config, n int) { c.RateUserPerMinute = n })},
	{name: "WARDEN_WS_MAX_CONNS", def: "10000",
		doc:   "open chat WebSockets per process (beyond it the upgrade answers 503 with Retry-After)",
		parse: intIn(1, 1000000, func(c *Config, n int) { c.WSMaxConns = n })},
	{name: "WARDEN_WS_MAX_PER_USER", def: "8",
		doc:   "open chat WebSockets per user (beyond it 429 with Retry-After)",
		parse: intIn(1, 1000, func(c *Config, n int) { c.WSMaxPerUser = n })},
	{name: "WARDEN_SSE_MAX_STREAMS", def: "1000",
		doc:   "open event streams (`/api/events`) per process (beyond it 503 with Retry-After)",
		parse: intIn(1, 1000000, func(c *Config, n int) { c.SSEMaxStreams = n })},
	{name: "WARDEN_SSE_MAX_PER_USER", def: "5",
		doc:   "open event streams per user (beyond it 429 with Retry-After)",
		parse: intIn(1, 1000, func(c *Config, n int) { c.SSEMaxPerUser = n })},
	{name: "WARDEN_ARGON2_MEMORY_KIB", def: "19456",
		doc:   "Argon2id memory of new password hashes, KiB",
		parse: intIn(7168, 4<<20, func(c *Config, n int) { c.argon2.Memory = uint32(n) })},
	{name: "WARDEN_ARGON2_ITERATIONS", def: "2",
		doc:   "Argon2id passes of new password hashes",
		parse: intIn(1, 100, func(c *Config, n int) { c.argon2.Iterations = uint32(n) })},
	{name: "WARDEN_ARGON2_PARALLELISM", def: "1",
		doc:   "Argon2id lanes of new password hashes",
		parse: intIn(1, 16, func(c *Config, n int) { c.argon2.Parallelism = uint8(n) })},
	{name: "WARDEN_HASH_MEMORY_BUDGET_MIB", def: "256",
		doc:   "memory for password hashing in flight, MiB (beyond it requests get 503); `warden serve` also bounds the whole process with it: a Go soft memory limit of this + 112 MiB, unless `GOMEMLIMIT` is set",
		parse: intIn(16, 1<<20, func(c *Config, n int) { c.hashMemoryBudget = int64(n) << 20 })},
	{name: "WARDEN_PASSWORD_COMPOSITION", def: "false",
		doc: "require upper, lower, digit and symbol",
		parse: boolean(func(c *Config, b bool) {
			if b {
				c.PasswordPolicy = password.Policy{RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true}
			}
		})},
}

// finish applies the rules that involve several settings and builds the
// objects made of several of them. failed names the rows whose parse
// failed, so that a bad row does not cause a second, confusing problem.
func (c *Config) finish(in inputs, failed map[string]bool) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// The one place that decides whether a configuration may run without
	// an explicit signing secret; SigningKey relies on it.
	switch {
	case len(c.secretKey) == 0 && c.Production():
		add("WARDEN_SECRET_KEY is required in production; generate one with: openssl rand -base64 48")
	case len(c.secretKey) == 0 && in.of("WARDEN_SECRET_KEY").set:
		add("WARDEN_SECRET_KEY is set but empty; unset it to use a generated development key, or set at least 32 bytes")
	case len(c.secretKey) > 0:
		problems = append(problems, c.checkSecret(anyFailed(in, failed, "WARDEN_JWT_ALGORITHM"))...)
	}

	// Demonstration routes are a development aid: production mounts them
	// only when asked to, explicitly.
	if !in.of("WARDEN_DEMO_ROUTES").set || strings.TrimSpace(in.of("WARDEN_DEMO_ROUTES").raw) == "" {
		c.DemoRoutes = !c.Production()
	}

	if c.PublicURL == "" {
		if c.Production() {
			add("WARDEN_PUBLIC_URL is required in production: links in email must not be built from the listen address")
		}
		c.PublicURL = "http://" + c.Addr
	} else if c.Production() && !anyFailed(in, failed, "WARDEN_PUBLIC_URL") && !strings.HasPrefix(strings.ToLower(c.PublicURL), "https://") {
		// Email links carry verification and password-reset tokens;
		// over http anyone on the path reads them. Even http://localhost
		// is refused: production links are mailed to users, for whom
		// localhost is their own machine. The URL is not quoted: it may
		// carry user:password@.
		add("WARDEN_PUBLIC_URL must be an https URL in production: links in email carry verification and password-reset tokens")
	}

	if !anyFailed(in, failed, "WARDEN_CORS_ALLOWED_ORIGINS", "WARDEN_CORS_ALLOW_CREDENTIALS") {
		problems = append(problems, c.buildCORS()...)
	}

	if !anyFailed(in, failed, "WARDEN_SESSION_IDLE", "WARDEN_SESSION_MAX") && c.SessionIdle > c.SessionMax {
		add("WARDEN_SESSION_IDLE (%s) must not exceed WARDEN_SESSION_MAX (%s)", shortDuration(c.SessionIdle), shortDuration(c.SessionMax))
	}

	if !anyFailed(in, failed, "WARDEN_ARGON2_MEMORY_KIB", "WARDEN_ARGON2_ITERATIONS", "WARDEN_ARGON2_PARALLELISM", "WARDEN_HASH_MEMORY_BUDGET_MIB") {
		h, err := password.NewHasher(password.Options{Params: c.argon2, MemoryBudget: c.hashMemoryBudget})
		if err != nil {
			add("WARDEN_ARGON2_*: %v", err)
		}
		c.Hasher = h
	}

	// The same address twice would fail at listen time with a less
	// helpful message; other overlaps (0.0.0.0 and 127.0.0.1) still do.
	if c.MetricsAddr != "" && c.MetricsAddr == c.Addr {
		add("WARDEN_METRICS_ADDR must differ from WARDEN_ADDR: /metrics has no authentication and is served on its own listener")
	}

	if c.RedisURL != "" && (c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, " \r\n*?[")) {
		add("WARDEN_REDIS_PREFIX %q must be non-empty, without spaces or glob characters, such as warden:", c.RedisPrefix)
	}
	return problems
}

// checkSecret applies the rules for a configured WARDEN_SECRET_KEY. Its
// messages give the secret's length at most, never the secret.
// algFailed reports that WARDEN_JWT_ALGORITHM was refused; then only the
// 32 bytes that every algorithm needs are asked for.
func (c *Config) checkSecret(algFailed bool) []string {
	n := len(c.secretKey)
	// 32 bytes is what every algorithm needs; HS384 and HS512 need their
	// hash's size (RFC 7518 section 3.2), which auth.NewJWT would
	// otherwise refuse only once the server starts.
	need := 32
	if m := auth.MinHMACSecretBytes(c.JWTAlgorithm); !algFailed && m > need {
		need = m
	}
	switch {
	case n < need && need > 32:
		return []string{fmt.Sprintf("WARDEN_SECRET_KEY is %d bytes, but WARDEN_JWT_ALGORITHM %s needs at least %d (RFC 7518 section 3.2); generate one with: openssl rand -base64 48", n, c.JWTAlgorithm, need)}
	case n < need:
		return []string{fmt.Sprintf("WARDEN_SECRET_KEY is %d bytes; use at least 32 (openssl rand -base64 48)", n)}
	// Only production: a development key such as "dev-secret-dev-secret..."
	// signs nothing of value, and refusing it would only get in the way.
	case c.Production() && secretEntropyBits(c.secretKey) < minSecretEntropyBits:
		// No estimate in the message: it would describe the secret.
		return []string{fmt.Sprintf("WARDEN_SECRET_KEY looks guessable: it repeats itself, counts or uses few distinct characters, so it holds less than %d bits of randomness; production needs a random one: openssl rand -base64 48", minSecretEntropyBits)}
	}
	return nil
}

func anyFailed(in inputs, failed map[string]bool, names ...string) bool {
	for _, name := range names {
		in.of(name) // a misspelt name must not silently skip a rule
		if failed[name] {
			return true
		}
	}
	return false
}

// corsPolicy is what Warden's API accepts from browsers besides the
// configured origins: bearer tokens, JSON bodies, API keys and the CSRF
// token; preflights are cached for ten minutes.
var corsPolicy = secure.CORSPolicy{
	AllowedHeaders: []string{"Authorization", "Content-Type", "X-API-Key", "X-CSRF-Token"},
	MaxAge:         10 * time.Minute,
}

// buildCORS checks every origin, with the rules that depend on the
// credentials setting and the environment, and builds the policy when all
// are acceptable.
func (c *Config) buildCORS() []string {
	var problems []string
	for _, o := range c.corsOrigins {
		if strings.Contains(o, "*") && c.corsCredentials {
			problems = append(problems, fmt.Sprintf("WARDEN_CORS_ALLOWED_ORIGINS contains %q together with credentials, which would let any site act as the user; list exact origins such as https://app.example.com", o))
			continue
		}
		origin, err := secure.ParseOrigin(o)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("WARDEN_CORS_ALLOWED_ORIGINS: %v", err))
		case c.Production() && strings.HasPrefix(origin, "http://") && !isLoopbackOrigin(origin):
			problems = append(problems, fmt.Sprintf("WARDEN_CORS_ALLOWED_ORIGINS contains %q; production allows only https origins (or http://localhost)", o))
		}
	}
	if len(problems) > 0 || len(c.corsOrigins) == 0 {
		return problems
	}
	p := corsPolicy
	p.AllowedOrigins, p.AllowCredentials = c.corsOrigins, c.corsCredentials
	cors, err := secure.NewCORS(p)
	if err != nil {
		return []string{fmt.Sprintf("WARDEN_CORS_*: %v", err)}
	}
	c.CORS = cors
	return nil
}

func isLoopbackOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
}

// Parse helpers for the common kinds of row.

func nonEmpty(hint string, store func(*Config, string)) func(*Config, value) error {
	return func(c *Config, v value) error {
		if v.raw == "" {
			return fmt.Errorf("%s is empty; %s", v.name, hint)
		}
		store(c, v.raw)
		return nil
	}
}

func intIn(lo, hi int, store func(*Config, int)) func(*Config, value) error {
	return func(c *Config, v value) error {
		n, err := strconv.Atoi(strings.TrimSpace(v.raw))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%s %q must be a whole number from %d to %d", v.name, v.raw, lo, hi)
		}
		store(c, n)
		return nil
	}
}

func durationIn(lo, hi time.Duration, store func(*Config, time.Duration)) func(*Config, value) error {
	return func(c *Config, v value) error {
		d, err := time.ParseDuration(v.raw)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("%s %q must be a duration between %s and %s, such as %s", v.name, v.raw, shortDuration(lo), shortDuration(hi), v.def)
		}
		store(c, d)
		return nil
	}
}

// shortDuration writes d as an operator would: 24h rather than 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func boolean(store func(*Config, bool)) func(*Config, value) error {
	return func(c *Config, v value) error {
		switch strings.ToLower(strings.TrimSpace(v.raw)) {
		case "true", "1", "yes":
			store(c, true)
		case "false", "0", "no", "":
			store(c, false)
		default:
			return fmt.Errorf("%s must be true or false", v.name)
		}
		return nil
	}
}

// serviceURL accepts an empty value (the service is not used) or a URL
// with a scheme; the driver checks the rest when it connects.
func serviceURL(store func(*Config, string)) func(*Config, value) error {
	return func(c *Config, v value) error {
		if v.raw != "" {
			if u, err := url.Parse(v.raw); err != nil || u.Scheme == "" {
				// The URL may hold a password: name the setting, not the value.
				return fmt.Errorf("%s is not a valid URL", v.name)
			}
		}
		store(c, v.raw)
		return nil
	}
}

// maxHostBytes is the longest host name DNS allows.
const maxHostBytes = 253

// parseListenAddr reads an optional listen address, host:port with a
// numeric port ("" is returned as it is: off). The host may be empty (every
// interface), a name or an IP address (IPv6 in brackets). Its errors say
// what is wrong without repeating the value, which the operator has in
// front of them.
func parseListenAddr(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return "", errors.New("must be host:port, such as 127.0.0.1:9090 or [::1]:9090")
	}
	if len(host) > maxHostBytes {
		return "", fmt.Errorf("has a host longer than %d bytes", maxHostBytes)
	}
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == ':', c == '%', c == '_': // names, IPv6, zones
		default:
			return "", errors.New("has a host with a character other than letters, digits and .-:%_")
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || len(port) > 5 || strings.Trim(port, "0123456789") != "" || n > 65535 {
		return "", errors.New("must end in a port number from 0 to 65535, such as :9090")
	}
	return raw, nil
}

func parseJWTAlgorithm(c *Config, v value) error {
	alg := strings.TrimSpace(v.raw)
	switch strings.ToUpper(alg) {
	case "HS256", "HS384", "HS512":
		c.JWTAlgorithm = strings.ToUpper(alg)
		return nil
	case "NONE", "":
		return fmt.Errorf("%s %q would accept unsigned tokens; use HS256, HS384 or HS512", v.name, alg)
	}
	return fmt.Errorf("%s %q: the server signs with WARDEN_SECRET_KEY, so use HS256, HS384 or HS512 (verify other algorithms with WARDEN_JWT_KEYS)", v.name, alg)
}

func parseAPIKeysSetting(c *Config, v value) error {
	if !v.set {
		return nil
	}
	keys, err := parseAPIKeys(v.raw)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %v", v.name, err)
	case len(keys) == 0:
		return fmt.Errorf("%s is set but holds no key; unset it to disable configured API keys, or list id:secret entries", v.name)
	}
	// auth owns the rules for a key set (id syntax, duplicates, secret
	// length); building the set here reports a weak key with every other
	// problem at start-up, and app joins it to the database's keys.
	set, err := auth.NewAPIKeys(auth.APIKeysConfig{Keys: keys})
	if err != nil {
		return fmt.Errorf("%s: %v", v.name, err)
	}
	c.APIKeys = set
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseAPIKeys reads "id:secret[:perm1|perm2]" entries separated by commas.
// Its errors never quote an entry: entries hold secrets.
func parseAPIKeys(s string) ([]auth.APIKey, error) {
	var keys []auth.APIKey
	for i, entry := range splitList(s) {
		parts := strings.Split(entry, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("entry %d must be id:secret or id:secret:perm1|perm2", i+1)
		}
		k := auth.APIKey{ID: parts[0], Secret: parts[1]}
		if len(parts) == 3 {
			for _, p := range strings.Split(parts[2], "|") {
				if p = strings.TrimSpace(p); p != "" {
					k.Permissions = append(k.Permissions, p)
				}
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseJWTKeys reads "kid:ALG:/path/to/public.pem" entries separated by
// commas.
func parseJWTKeys(s string) ([]auth.JWTKey, error) {
	var keys []auth.JWTKey
	for i, entry := range splitList(s) {
		kid, rest, ok1 := strings.Cut(entry, ":")
		alg, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || kid == "" || path == "" {
			return nil, fmt.Errorf("entry %d must be kid:ALGORITHM:/path/to/public-key.pem", i+1)
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", kid, err)
		}
		key, err := auth.ParsePublicKeyPEM(alg, pem)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", kid, err)
		}
		keys = append(keys, auth.JWTKey{ID: kid, Algorithm: alg, PublicKey: key})
	}
	return keys, nil
}
