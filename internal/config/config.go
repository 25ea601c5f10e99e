// Package config reads Warden's settings once, at start-up, and refuses
// insecure or contradictory ones.
//
// Contract: Load merges, lowest precedence first, built-in defaults, an
// optional file of WARDEN_*=value lines, the environment and command-line
// flags, then validates the result. Every refusal names the setting and
// says how to fix it; several problems are reported together. Secrets are
// never included in an error or in String. A Config that Load returned is
// safe to serve with.
package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
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
	Env         string
	Addr        string
	DataDir     string
	DatabaseURL string
	RedisURL    string
	// RedisPrefix starts every key Warden writes to Redis, so that several
	// deployments can share one server.
	RedisPrefix string
	// SecretKey signs access tokens. Empty in development means "generate
	// one in the data directory" (see DevSecret).
	SecretKey   []byte
	PublicURL   string
	SMTPURL     string
	MailFrom    string
	CORSOrigins []string
	// CORSCredentials allows credentialed cross-origin requests.
	CORSCredentials bool
	TrustedProxies  secure.TrustedProxies
	// APIKeys is the configured key set; nil when WARDEN_API_KEYS is unset.
	APIKeys []auth.APIKey
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
	// AuthRatePerMinute limits register, login, refresh, reset and resend
	// per client IP.
	AuthRatePerMinute int
	// Argon2id parameters of new password hashes and the memory budget
	// (bytes) of all hashing in flight.
	Argon2              password.Params
	HashMemoryBudget    int64
	PasswordComposition bool
}

// Production reports whether the production rules apply.
func (c *Config) Production() bool { return c.Env == Production }

// settings lists every variable Load understands with its default.
var settings = map[string]string{
	"WARDEN_ENV":                    Development,
	"WARDEN_ADDR":                   "127.0.0.1:8080",
	"WARDEN_DATA_DIR":               "./warden_data",
	"WARDEN_DATABASE_URL":           "",
	"WARDEN_REDIS_URL":              "",
	"WARDEN_REDIS_PREFIX":           "warden:",
	"WARDEN_SECRET_KEY":             "",
	"WARDEN_PUBLIC_URL":             "",
	"WARDEN_SMTP_URL":               "",
	"WARDEN_MAIL_FROM":              "warden@localhost",
	"WARDEN_CORS_ALLOWED_ORIGINS":   "",
	"WARDEN_CORS_ALLOW_CREDENTIALS": "false",
	"WARDEN_TRUSTED_PROXIES":        "",
	"WARDEN_API_KEYS":               "",
	"WARDEN_JWT_ALGORITHM":          "HS256",
	"WARDEN_JWT_ISSUER":             "warden",
	"WARDEN_JWT_AUDIENCE":           "warden",
	"WARDEN_JWT_KEYS":               "",
	"WARDEN_ACCESS_TOKEN_TTL":       "15m",
	"WARDEN_REFRESH_TOKEN_TTL":      "168h",
	"WARDEN_REFRESH_GRACE":          "5s",
	"WARDEN_AUTH_RATE_PER_MINUTE":   "5",
	"WARDEN_ARGON2_MEMORY_KIB":      "19456",
	"WARDEN_ARGON2_ITERATIONS":      "2",
	"WARDEN_ARGON2_PARALLELISM":     "1",
	"WARDEN_HASH_MEMORY_BUDGET_MIB": "256",
	"WARDEN_PASSWORD_COMPOSITION":   "false",
}

// flagNames maps command-line flags to the variables they override.
var flagNames = map[string]string{
	"env":          "WARDEN_ENV",
	"addr":         "WARDEN_ADDR",
	"data-dir":     "WARDEN_DATA_DIR",
	"database-url": "WARDEN_DATABASE_URL",
	"redis-url":    "WARDEN_REDIS_URL",
	"public-url":   "WARDEN_PUBLIC_URL",
}

// Load reads the configuration from args (flags, without the program and
// command names), lookupEnv (os.LookupEnv in production) and the file
// named by --config or WARDEN_CONFIG, then validates it.
func Load(args []string, lookupEnv func(string) (string, bool)) (*Config, error) {
	fs := flag.NewFlagSet("warden", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configFile := fs.String("config", "", "file of WARDEN_*=value lines")
	flagValues := map[string]*string{}
	for name, env := range flagNames {
		flagValues[name] = fs.String(name, "", "overrides "+env)
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}

	values := map[string]string{}
	present := map[string]bool{}
	for k, v := range settings {
		values[k] = v
	}
	path := *configFile
	if path == "" {
		path, _ = lookupEnv("WARDEN_CONFIG")
	}
	if path != "" {
		if err := readFile(path, values, present); err != nil {
			return nil, err
		}
	}
	for k := range settings {
		if v, ok := lookupEnv(k); ok {
			values[k], present[k] = v, true
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if env, ok := flagNames[f.Name]; ok {
			values[env], present[env] = *flagValues[f.Name], true
		}
	})
	return build(values, present)
}

func readFile(path string, values map[string]string, present map[string]bool) error {
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
		if _, known := settings[k]; !known {
			return fmt.Errorf("config: %s line %d: unknown setting %s", path, n, k)
		}
		values[k], present[k] = strings.TrimSpace(v), true
	}
	return sc.Err()
}

// problems collects every validation failure so that one start-up attempt
// reports them all.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func build(v map[string]string, present map[string]bool) (*Config, error) {
	var errs problems
	c := &Config{
		Env:          strings.ToLower(strings.TrimSpace(v["WARDEN_ENV"])),
		Addr:         v["WARDEN_ADDR"],
		DataDir:      v["WARDEN_DATA_DIR"],
		DatabaseURL:  v["WARDEN_DATABASE_URL"],
		RedisURL:     v["WARDEN_REDIS_URL"],
		RedisPrefix:  v["WARDEN_REDIS_PREFIX"],
		SecretKey:    []byte(v["WARDEN_SECRET_KEY"]),
		PublicURL:    strings.TrimRight(v["WARDEN_PUBLIC_URL"], "/"),
		SMTPURL:      v["WARDEN_SMTP_URL"],
		MailFrom:     v["WARDEN_MAIL_FROM"],
		JWTAlgorithm: strings.TrimSpace(v["WARDEN_JWT_ALGORITHM"]),
		JWTIssuer:    v["WARDEN_JWT_ISSUER"],
		JWTAudience:  v["WARDEN_JWT_AUDIENCE"],
	}
	if c.Env != Development && c.Env != Production {
		errs.add("WARDEN_ENV is %q; set it to development or production", c.Env)
	}
	if c.Addr == "" {
		errs.add("WARDEN_ADDR is empty; set a listen address such as 127.0.0.1:8080")
	}
	if c.DataDir == "" {
		errs.add("WARDEN_DATA_DIR is empty; set a directory for the database and generated secrets")
	}

	switch {
	case len(c.SecretKey) == 0 && c.Production():
		errs.add("WARDEN_SECRET_KEY is required in production; generate one with: openssl rand -base64 48")
	case len(c.SecretKey) == 0 && present["WARDEN_SECRET_KEY"]:
		errs.add("WARDEN_SECRET_KEY is set but empty; unset it to use a generated development key, or set at least 32 bytes")
	case len(c.SecretKey) > 0 && len(c.SecretKey) < 32:
		errs.add("WARDEN_SECRET_KEY is %d bytes; use at least 32 (openssl rand -base64 48)", len(c.SecretKey))
	}

	switch strings.ToUpper(c.JWTAlgorithm) {
	case "HS256", "HS384", "HS512":
		c.JWTAlgorithm = strings.ToUpper(c.JWTAlgorithm)
	case "NONE", "":
		errs.add("WARDEN_JWT_ALGORITHM %q would accept unsigned tokens; use HS256, HS384 or HS512", c.JWTAlgorithm)
	default:
		errs.add("WARDEN_JWT_ALGORITHM %q: the server signs with WARDEN_SECRET_KEY, so use HS256, HS384 or HS512 (verify other algorithms with WARDEN_JWT_KEYS)", c.JWTAlgorithm)
	}
	if c.JWTIssuer == "" || c.JWTAudience == "" {
		errs.add("WARDEN_JWT_ISSUER and WARDEN_JWT_AUDIENCE must not be empty; tokens are checked against them")
	}
	ttl, err := time.ParseDuration(v["WARDEN_ACCESS_TOKEN_TTL"])
	if err != nil || ttl < time.Minute || ttl > 24*time.Hour {
		errs.add("WARDEN_ACCESS_TOKEN_TTL %q must be a duration between 1m and 24h, such as 15m", v["WARDEN_ACCESS_TOKEN_TTL"])
	}
	c.AccessTTL = ttl
	refreshTTL, err := time.ParseDuration(v["WARDEN_REFRESH_TOKEN_TTL"])
	if err != nil || refreshTTL < time.Hour || refreshTTL > 90*24*time.Hour {
		errs.add("WARDEN_REFRESH_TOKEN_TTL %q must be a duration between 1h and 2160h, such as 168h", v["WARDEN_REFRESH_TOKEN_TTL"])
	}
	c.RefreshTTL = refreshTTL
	grace, err := time.ParseDuration(v["WARDEN_REFRESH_GRACE"])
	if err != nil || grace < 0 || grace > time.Minute {
		errs.add("WARDEN_REFRESH_GRACE %q must be a duration from 0s to 1m; it only absorbs racing browser tabs", v["WARDEN_REFRESH_GRACE"])
	}
	c.RefreshGrace = grace
	c.AuthRatePerMinute = intSetting(&errs, v, "WARDEN_AUTH_RATE_PER_MINUTE", 1, 100000)
	c.Argon2 = password.Params{
		Memory:      uint32(intSetting(&errs, v, "WARDEN_ARGON2_MEMORY_KIB", 7168, 4<<20)),
		Iterations:  uint32(intSetting(&errs, v, "WARDEN_ARGON2_ITERATIONS", 1, 100)),
		Parallelism: uint8(intSetting(&errs, v, "WARDEN_ARGON2_PARALLELISM", 1, 16)),
	}
	c.HashMemoryBudget = int64(intSetting(&errs, v, "WARDEN_HASH_MEMORY_BUDGET_MIB", 16, 1<<20)) << 20
	if _, err := password.NewHasher(password.Options{Params: c.Argon2, MemoryBudget: c.HashMemoryBudget}); err != nil {
		errs.add("WARDEN_ARGON2_*: %v", err)
	}
	c.PasswordComposition = boolSetting(&errs, v, "WARDEN_PASSWORD_COMPOSITION")
	if keys, err := parseJWTKeys(v["WARDEN_JWT_KEYS"]); err != nil {
		errs.add("WARDEN_JWT_KEYS: %v", err)
	} else {
		c.JWTExtraKeys = keys
	}

	c.CORSOrigins = splitList(v["WARDEN_CORS_ALLOWED_ORIGINS"])
	c.CORSCredentials = boolSetting(&errs, v, "WARDEN_CORS_ALLOW_CREDENTIALS")
	for _, o := range c.CORSOrigins {
		switch {
		case strings.Contains(o, "*") && c.CORSCredentials:
			errs.add("WARDEN_CORS_ALLOWED_ORIGINS contains %q together with credentials, which would let any site act as the user; list exact origins such as https://app.example.com", o)
		case strings.Contains(o, "*"):
			errs.add("WARDEN_CORS_ALLOWED_ORIGINS contains the wildcard %q; list exact origins such as https://app.example.com", o)
		case c.Production() && strings.HasPrefix(o, "http://") && !isLoopbackOrigin(o):
			errs.add("WARDEN_CORS_ALLOWED_ORIGINS contains %q; production allows only https origins (or http://localhost)", o)
		default:
			if _, err := secure.ParseOrigin(o); err != nil {
				errs.add("WARDEN_CORS_ALLOWED_ORIGINS: %v", err)
			}
		}
	}

	tp, err := secure.ParseTrustedProxies(v["WARDEN_TRUSTED_PROXIES"])
	if err != nil {
		errs.add("WARDEN_TRUSTED_PROXIES: %v", err)
	}
	c.TrustedProxies = tp

	if present["WARDEN_API_KEYS"] {
		keys, err := parseAPIKeys(v["WARDEN_API_KEYS"])
		switch {
		case err != nil:
			errs.add("WARDEN_API_KEYS: %v", err)
		case len(keys) == 0:
			errs.add("WARDEN_API_KEYS is set but holds no key; unset it to disable configured API keys, or list id:secret entries")
		default:
			if _, err := auth.NewAPIKeys(auth.APIKeysConfig{Keys: keys}); err != nil {
				errs.add("WARDEN_API_KEYS: %v", err)
			}
			c.APIKeys = keys
		}
	}

	if c.PublicURL == "" {
		if c.Production() {
			errs.add("WARDEN_PUBLIC_URL is required in production: links in email must not be built from the listen address")
		}
		c.PublicURL = "http://" + c.Addr
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs.add("WARDEN_PUBLIC_URL %q must be an absolute http(s) URL such as https://books.example.com", c.PublicURL)
	}
	for _, name := range []string{"WARDEN_DATABASE_URL", "WARDEN_REDIS_URL", "WARDEN_SMTP_URL"} {
		if raw := v[name]; raw != "" {
			if u, err := url.Parse(raw); err != nil || u.Scheme == "" {
				// The URL may hold a password: name the setting, not the value.
				errs.add("%s is not a valid URL", name)
			}
		}
	}

	if c.RedisURL != "" && (c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, " \r\n*?[")) {
		errs.add("WARDEN_REDIS_PREFIX %q must be non-empty, without spaces or glob characters, such as warden:", c.RedisPrefix)
	}
	if len(errs) > 0 {
		return nil, &Error{Problems: errs}
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

func intSetting(errs *problems, v map[string]string, name string, lo, hi int) int {
	n, err := strconv.Atoi(strings.TrimSpace(v[name]))
	if err != nil || n < lo || n > hi {
		errs.add("%s %q must be a whole number from %d to %d", name, v[name], lo, hi)
	}
	return n
}

func boolSetting(errs *problems, v map[string]string, name string) bool {
	switch strings.ToLower(strings.TrimSpace(v[name])) {
	case "true", "1", "yes":
		return true
	case "false", "0", "no", "":
		return false
	}
	errs.add("%s must be true or false", name)
	return false
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

func isLoopbackOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
}

// parseAPIKeys reads "id:secret[:perm1|perm2]" entries separated by commas.
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
