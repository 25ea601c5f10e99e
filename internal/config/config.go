// Package config reads Warden's settings once, at start-up, refuses
// insecure or contradictory ones, and builds the objects the server is
// made of from them.
//
// Contract: Load merges, lowest precedence first, built-in defaults, an
// optional file of WARDEN_*=value lines, the environment and command-line
// flags, then validates the result. Every refusal names the setting and
// says how to fix it; several problems are reported together as an
// *Error, which matches ErrConfig. No error repeats a secret or a URL that
// may hold a password. A Config that Load returned is safe to serve with,
// and its built objects (Hasher, CORS, TrustedProxies, the checked
// APIKeys) are the ones to serve with: nothing needs to be built or
// checked again. Config values come only from Load.
//
// Every setting is one row of a single table (settings.go), which also
// produces `warden help` (Help) and the settings table of README.md.
package config

//go:generate go test -run ^TestREADMESettingsTable$ -update .

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/password"
	"github.com/wardenhq/warden/secure"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// Config is the validated configuration of a Warden server.
type Config struct {
	Env  string
	Addr string
	// MetricsAddr is the listen address of GET /metrics, apart from Addr;
	// empty when metrics are off.
	MetricsAddr string
	DataDir     string
	DatabaseURL string
	// DBMaxConns is the database connection pool's size; 0 leaves it to
	// store.PoolSize.
	DBMaxConns int
	RedisURL   string
	// RedisPrefix starts every key Warden writes to Redis, so that several
	// deployments can share one server.
	RedisPrefix string
	// PublicURL is the base of links in email, without a trailing slash.
	PublicURL string
	SMTPURL   string
	MailFrom  string
	// CORS is the cross-origin policy of every route; nil when no origin
	// is allowed.
	CORS           *secure.CORS
	TrustedProxies secure.TrustedProxies
	// AllowedHosts is the Host allow-list; nil when any host is answered.
	AllowedHosts *secure.Hosts
	// HSTSPreload adds "preload" to Strict-Transport-Security.
	HSTSPreload bool
	// APIKeys is the configured key set, built and validated; nil when
	// WARDEN_API_KEYS is unset. The server joins it to the keys stored in
	// the database (APIKeys.With).
	APIKeys *auth.APIKeys
	// JWT settings for tokens this server issues and accepts.
	JWTAlgorithm string
	JWTIssuer    string
	JWTAudience  string
	AccessTTL    time.Duration
	// JWTExtraKeys are further verification keys (key rotation, external
	// issuers), from WARDEN_JWT_KEYS.
	JWTExtraKeys []auth.JWTKey

	// Accounts.
	RefreshTTL   time.Duration
	RefreshGrace time.Duration
	// SessionIdle and SessionMax are the lifetimes of a browser-mode
	// session cookie: unused, and in all.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// AuthRatePerMinute limits register, login, refresh, reset and resend
	// per client IP.
	AuthRatePerMinute int
	// RateAnonPerMinute and RateUserPerMinute are the router-wide default
	// limits per anonymous client and per signed-in user; 0 turns one off.
	RateAnonPerMinute int
	RateUserPerMinute int
	// WSMaxConns and WSMaxPerUser cap open chat sockets per process and
	// per user; SSEMaxStreams and SSEMaxPerUser cap event streams.
	WSMaxConns, WSMaxPerUser     int
	SSEMaxStreams, SSEMaxPerUser int
	// DemoRoutes mounts the /api/demo routes: on in development, off in
	// production unless WARDEN_DEMO_ROUTES asks for them.
	DemoRoutes bool
	// Hasher hashes and verifies passwords at the configured Argon2id
	// cost. There is one per Config because its memory budget must bound
	// all hashing in flight in the process.
	Hasher         *password.Hasher
	PasswordPolicy password.Policy

	// Inputs of the values above that the server does not use directly;
	// the secret is read through SigningKey.
	secretKey        []byte
	corsOrigins      []string
	corsCredentials  bool
	argon2           password.Params
	hashMemoryBudget int64
}

// Production reports whether the production rules apply.
func (c *Config) Production() bool { return c.Env == Production }

// Load reads the configuration from args (flags, without the program and
// command names), lookupEnv (os.LookupEnv in production) and the file
// named by --config or WARDEN_CONFIG, then validates it.
func Load(args []string, lookupEnv func(string) (string, bool)) (*Config, error) {
	fs := flag.NewFlagSet("warden", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configFile := fs.String("config", "", "file of WARDEN_NAME=value lines")
	settingOfFlag := map[string]string{}
	for _, s := range table {
		if s.flag != "" {
			fs.String(s.flag, "", s.doc)
			settingOfFlag[s.flag] = s.name
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}

	in := defaults()
	path := *configFile
	if path == "" {
		path, _ = lookupEnv("WARDEN_CONFIG")
	}
	if path != "" {
		if err := readFile(path, in); err != nil {
			return nil, err
		}
	}
	for _, s := range table {
		if v, ok := lookupEnv(s.name); ok {
			in.set(s.name, v)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if name, ok := settingOfFlag[f.Name]; ok {
			in.set(name, f.Value.String())
		}
	})
	return build(in)
}

func readFile(path string, in inputs) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return fmt.Errorf("config: %s line %d: expected WARDEN_NAME=value", path, n)
		}
		if _, known := in[k]; !known {
			return fmt.Errorf("config: %s line %d: unknown setting %s", path, n, k)
		}
		in.set(k, strings.TrimSpace(v))
	}
	return sc.Err()
}

// build parses every row, then applies the rules that span rows, keeping
// every problem so that one start-up attempt reports them all.
func build(in inputs) (*Config, error) {
	c := &Config{}
	var problems []string
	failed := map[string]bool{}
	for _, s := range table {
		if err := s.parse(c, in[s.name]); err != nil {
			problems = append(problems, err.Error())
			failed[s.name] = true
		}
	}
	problems = append(problems, c.finish(in, failed)...)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return c, nil
}

// Error lists every refused setting.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "refusing to start with this configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// ErrConfig matches any *Error with errors.Is.
var ErrConfig = errors.New("config: invalid configuration")

// Is makes *Error match ErrConfig.
func (e *Error) Is(target error) bool { return target == ErrConfig }
