package config_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/config"
)

const goodSecret = "this-is-a-test-secret-of-more-than-32-bytes"

// randomSecret is what openssl rand -base64 48 prints.
func randomSecret(t testing.TB) string {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsNeedNoSetup(t *testing.T) {
	c, err := config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != config.Development || c.Addr != "127.0.0.1:8080" || c.DataDir != "./warden_data" || c.JWTAlgorithm != "HS256" || c.APIKeys != nil || c.CORS != nil || c.Hasher == nil {
		t.Fatalf("defaults %+v", c)
	}
	if c.PublicURL != "http://127.0.0.1:8080" {
		t.Fatalf("public url %q", c.PublicURL)
	}
	if c.DBMaxConns != 0 {
		t.Fatalf("DBMaxConns %d: unset must leave the pool to the store", c.DBMaxConns)
	}
	if c, err := config.Load(nil, env(map[string]string{"WARDEN_DB_MAX_CONNS": " 24 "})); err != nil || c.DBMaxConns != 24 {
		t.Fatalf("WARDEN_DB_MAX_CONNS=24: %d, %v", c.DBMaxConns, err)
	}
}

func TestRefusesInsecureConfiguration(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"short HMAC secret", map[string]string{"WARDEN_SECRET_KEY": "short-secret"}, "at least 32"},
		{"empty secret variable", map[string]string{"WARDEN_SECRET_KEY": ""}, "set but empty"},
		{"none algorithm", map[string]string{"WARDEN_JWT_ALGORITHM": "none"}, "unsigned"},
		{"None algorithm", map[string]string{"WARDEN_JWT_ALGORITHM": "None"}, "unsigned"},
		{"empty API-key set", map[string]string{"WARDEN_API_KEYS": ""}, "holds no key"},
		{"API-key set of separators", map[string]string{"WARDEN_API_KEYS": " , ,"}, "holds no key"},
		{"short API key", map[string]string{"WARDEN_API_KEYS": "ci:tooshort"}, "at least 32"},
		{"malformed API-key entry", map[string]string{"WARDEN_API_KEYS": "justonefield"}, "id:secret"},
		{"wildcard origin with credentials", map[string]string{"WARDEN_CORS_ALLOWED_ORIGINS": "*", "WARDEN_CORS_ALLOW_CREDENTIALS": "true"}, "credentials"},
		{"wildcard origin", map[string]string{"WARDEN_CORS_ALLOWED_ORIGINS": "https://*.example.com"}, "wildcard"},
		{"null origin", map[string]string{"WARDEN_CORS_ALLOWED_ORIGINS": "null"}, "null"},
		{"origin with a path", map[string]string{"WARDEN_CORS_ALLOWED_ORIGINS": "https://app.example.com/x"}, "WARDEN_CORS_ALLOWED_ORIGINS"},
		{"malformed trusted proxy CIDR", map[string]string{"WARDEN_TRUSTED_PROXIES": "10.0.0.0/33"}, "WARDEN_TRUSTED_PROXIES"},
		{"trusted proxy hostname", map[string]string{"WARDEN_TRUSTED_PROXIES": "proxy.internal"}, "WARDEN_TRUSTED_PROXIES"},
		{"production without a secret", map[string]string{"WARDEN_ENV": "production", "WARDEN_PUBLIC_URL": "https://x.example"}, "required in production"},
		{"production without a public URL", map[string]string{"WARDEN_ENV": "production", "WARDEN_SECRET_KEY": goodSecret}, "WARDEN_PUBLIC_URL"},
		{"production with an http origin", map[string]string{"WARDEN_ENV": "production", "WARDEN_SECRET_KEY": goodSecret, "WARDEN_PUBLIC_URL": "https://x.example", "WARDEN_CORS_ALLOWED_ORIGINS": "http://app.example.com"}, "only https"},
		{"unknown environment", map[string]string{"WARDEN_ENV": "staging"}, "development or production"},
		{"RS256 for the server's own tokens", map[string]string{"WARDEN_JWT_ALGORITHM": "RS256"}, "WARDEN_JWT_KEYS"},
		{"access TTL too long", map[string]string{"WARDEN_ACCESS_TOKEN_TTL": "720h"}, "between 1m and 24h"},
		{"bad credentials flag", map[string]string{"WARDEN_CORS_ALLOW_CREDENTIALS": "maybe"}, "true or false"},
		{"HS384 with a 32-byte secret", map[string]string{"WARDEN_JWT_ALGORITHM": "HS384", "WARDEN_SECRET_KEY": strings.Repeat("k", 47)}, "WARDEN_SECRET_KEY is 47 bytes, but WARDEN_JWT_ALGORITHM HS384 needs at least 48"},
		{"HS512 with a 48-byte secret", map[string]string{"WARDEN_JWT_ALGORITHM": "hs512", "WARDEN_SECRET_KEY": strings.Repeat("k", 48)}, "WARDEN_JWT_ALGORITHM HS512 needs at least 64"},
		{"HS512 with a short secret", map[string]string{"WARDEN_JWT_ALGORITHM": "HS512", "WARDEN_SECRET_KEY": "short-secret"}, "HS512 needs at least 64"},
		{"trusted proxies covering IPv4", map[string]string{"WARDEN_TRUSTED_PROXIES": "0.0.0.0/1, 128.0.0.0/1"}, "WARDEN_TRUSTED_PROXIES: trusted proxy list"},
		{"trusted proxies covering IPv6", map[string]string{"WARDEN_TRUSTED_PROXIES": "::/1,8000::/1"}, "trusts every address"},
		{"no database connections", map[string]string{"WARDEN_DB_MAX_CONNS": "0"}, "WARDEN_DB_MAX_CONNS \"0\" must be a whole number from 1 to 1000"},
		{"too many database connections", map[string]string{"WARDEN_DB_MAX_CONNS": "5000"}, "from 1 to 1000"},
		{"database connections not a number", map[string]string{"WARDEN_DB_MAX_CONNS": "lots"}, "WARDEN_DB_MAX_CONNS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(nil, env(tc.env))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestProductionRefusesWeakSecretsAndHTTPLinks: production refuses a
// signing secret that is long enough but guessable, and a public URL that
// would mail tokens in http links; development accepts both.
func TestProductionRefusesWeakSecretsAndHTTPLinks(t *testing.T) {
	production := func(secret, publicURL string) map[string]string {
		return map[string]string{"WARDEN_ENV": "production", "WARDEN_SECRET_KEY": secret, "WARDEN_PUBLIC_URL": publicURL}
	}
	for name, secret := range map[string]string{
		"one character":            strings.Repeat("a", 64),
		"two characters":           strings.Repeat("ab", 32),
		"hex digits over and over": strings.Repeat("0123456789abcdef", 4),
		"counting":                 "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"a phrase over and over":   "the secret is the secret is the secret is the secret",
		"a word over and over":     "changeme-changeme-changeme-changeme",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load(nil, env(production(secret, "https://books.example.com")))
			if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), "WARDEN_SECRET_KEY looks guessable") {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), secret[:16]) {
				t.Fatalf("error repeats the secret: %v", err)
			}
			if _, err := config.Load(nil, env(map[string]string{"WARDEN_SECRET_KEY": secret})); err != nil {
				t.Fatalf("development refused it: %v", err)
			}
		})
	}
	for _, publicURL := range []string{"http://books.example.com", "HTTP://books.example.com", "http://localhost:8080", "http://admin:hunter7@books.example.com"} {
		_, err := config.Load(nil, env(production(randomSecret(t), publicURL)))
		if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), "WARDEN_PUBLIC_URL must be an https URL in production") {
			t.Errorf("%s: err = %v", publicURL, err)
		} else if strings.Contains(err.Error(), "hunter7") {
			t.Errorf("error repeats the URL's password: %v", err)
		}
		if _, err := config.Load(nil, env(map[string]string{"WARDEN_PUBLIC_URL": publicURL})); err != nil {
			t.Errorf("development refused %s: %v", publicURL, err)
		}
	}
	// What the messages suggest is accepted.
	for range 20 {
		if _, err := config.Load(nil, env(production(randomSecret(t), "https://books.example.com/"))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecretLengthFollowsTheAlgorithm: HS384 and HS512 keys as long as
// their hash (RFC 7518 section 3.2) are accepted, so are the keys that
// auth.NewJWT will accept at start-up.
func TestSecretLengthFollowsTheAlgorithm(t *testing.T) {
	for alg, n := range map[string]int{"HS256": 32, "HS384": 48, "HS512": 64} {
		c, err := config.Load(nil, env(map[string]string{"WARDEN_JWT_ALGORITHM": alg, "WARDEN_SECRET_KEY": strings.Repeat("k", n)}))
		if err != nil {
			t.Fatalf("%s with %d bytes: %v", alg, n, err)
		}
		key, _, err := c.SigningKey()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: alg, Secret: key}}}); err != nil {
			t.Fatalf("%s: config accepted a key auth refuses: %v", alg, err)
		}
	}
	// A generated development key is long enough for every algorithm; a
	// shorter one left in the data directory is refused with the fix.
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		c, err := config.Load(nil, env(map[string]string{"WARDEN_JWT_ALGORITHM": alg, "WARDEN_DATA_DIR": t.TempDir()}))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.SigningKey(); err != nil {
			t.Fatalf("%s: generated key refused: %v", alg, err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret_key"), []byte(strings.Repeat("k", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(nil, env(map[string]string{"WARDEN_JWT_ALGORITHM": "HS384", "WARDEN_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.SigningKey(); err == nil || !strings.Contains(err.Error(), "HS384 needs at least 48; delete it") {
		t.Fatalf("short generated key: %v", err)
	}
}

func TestErrorsNeverContainSecrets(t *testing.T) {
	_, err := config.Load(nil, env(map[string]string{
		"WARDEN_SECRET_KEY":   "hunter2-short",
		"WARDEN_API_KEYS":     "ci:hunter3-short",
		"WARDEN_DATABASE_URL": "mysql//root:hunter4@db",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, s := range []string{"hunter2", "hunter3", "hunter4"} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error contains %q: %v", s, err)
		}
	}
	// Several problems are reported at once.
	if n := strings.Count(err.Error(), "\n  - "); n < 3 {
		t.Fatalf("%d problems reported: %v", n, err)
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "warden.env")
	content := "# comment\nWARDEN_ADDR=127.0.0.1:7000\nWARDEN_DATA_DIR=/from/file\nWARDEN_MAIL_FROM=file@example.com\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load([]string{"--config", file, "--addr", "127.0.0.1:9000"}, env(map[string]string{
		"WARDEN_ADDR":     "127.0.0.1:8000",
		"WARDEN_DATA_DIR": "/from/env",
		"WARDEN_API_KEYS": "ci:0123456789abcdef0123456789abcdef:reports.view|books.add_book",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.DataDir != "/from/env" || c.MailFrom != "file@example.com" {
		t.Fatalf("precedence: %+v", c)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", "0123456789abcdef0123456789abcdef")
	if id, err := c.APIKeys.Authenticate(r); err != nil || id == nil || id.UserID != "apikey:ci" || len(id.Permissions) != 2 {
		t.Fatalf("api keys: %+v %v", id, err)
	}
	if err := os.WriteFile(file, []byte("WARDEN_TYPO=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load([]string{"--config", file}, env(nil)); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Fatalf("unknown setting: %v", err)
	}
}

func TestDevSecretIsGeneratedOncePrivately(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c, err := config.Load(nil, env(map[string]string{"WARDEN_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	a, generated, err := c.SigningKey()
	if err != nil || !generated {
		t.Fatalf("generated %v, err %v", generated, err)
	}
	b, _, err := c.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) || len(a) < 32 {
		t.Fatalf("secret changed or short: %d bytes", len(a))
	}
	info, err := os.Stat(filepath.Join(dir, "secret_key"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", info.Mode().Perm())
	}
	if err := os.Chmod(filepath.Join(dir, "secret_key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.SigningKey(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable secret accepted: %v", err)
	}
}

func TestConfiguredSecretIsUsedAsIs(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Load(nil, env(map[string]string{"WARDEN_SECRET_KEY": goodSecret, "WARDEN_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	key, generated, err := c.SigningKey()
	if err != nil || generated || string(key) != goodSecret {
		t.Fatalf("key of %d bytes, generated %v, err %v", len(key), generated, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret_key")); err == nil {
		t.Fatal("a key was generated although one is configured")
	}
}

func TestBuildsWhatTheServerUses(t *testing.T) {
	c, err := config.Load(nil, env(map[string]string{
		"WARDEN_CORS_ALLOWED_ORIGINS":   "https://app.example.com, http://localhost:3000",
		"WARDEN_CORS_ALLOW_CREDENTIALS": "true",
		"WARDEN_ARGON2_MEMORY_KIB":      "8192",
		"WARDEN_ARGON2_ITERATIONS":      "5",
		"WARDEN_PASSWORD_COMPOSITION":   "yes",
		"WARDEN_TRUSTED_PROXIES":        "10.0.0.0/8",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.CORS == nil || !c.CORS.AllowsOrigin("https://app.example.com") || !c.CORS.AllowsOrigin("http://localhost:3000") || c.CORS.AllowsOrigin("https://evil.example") {
		t.Fatalf("cors %+v", c.CORS)
	}
	if p := c.Hasher.Params(); p.Memory != 8192 || p.Iterations != 5 || p.Parallelism != 1 {
		t.Fatalf("hasher params %+v", p)
	}
	if !c.PasswordPolicy.RequireUpper || !c.PasswordPolicy.RequireSymbol {
		t.Fatalf("policy %+v", c.PasswordPolicy)
	}
	if c.TrustedProxies.Empty() {
		t.Fatal("trusted proxies not set")
	}
}

func TestOneProblemPerBadSetting(t *testing.T) {
	// A malformed Argon2 setting is reported once, not again by the hasher
	// built from it.
	_, err := config.Load(nil, env(map[string]string{"WARDEN_ARGON2_MEMORY_KIB": "lots"}))
	var cerr *config.Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 || !strings.Contains(cerr.Problems[0], "WARDEN_ARGON2_MEMORY_KIB") {
		t.Fatalf("err %v", err)
	}
	// Parameters each within range but together too weak are refused by
	// the hasher.
	_, err = config.Load(nil, env(map[string]string{"WARDEN_ARGON2_MEMORY_KIB": "7168", "WARDEN_ARGON2_ITERATIONS": "1"}))
	if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), "WARDEN_ARGON2_*") {
		t.Fatalf("err %v", err)
	}
}

func TestFlagsOverrideEveryFlaggedSetting(t *testing.T) {
	c, err := config.Load([]string{"--env", "production", "--addr", "127.0.0.1:1", "--data-dir", "/d",
		"--database-url", "postgres://db/x", "--redis-url", "redis://r:6379/0", "--public-url", "https://p.example/"},
		env(map[string]string{"WARDEN_SECRET_KEY": randomSecret(t)}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Production() || c.Addr != "127.0.0.1:1" || c.DataDir != "/d" || c.DatabaseURL != "postgres://db/x" || c.RedisURL != "redis://r:6379/0" || c.PublicURL != "https://p.example" {
		t.Fatalf("flags: env %s addr %s dir %s public %s", c.Env, c.Addr, c.DataDir, c.PublicURL)
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	help := config.Help()
	for _, want := range []string{"WARDEN_ENV, --env ENV  (default development)", "WARDEN_REDIS_PREFIX  (default warden:)", "--config FILE", "WARDEN_PASSWORD_COMPOSITION"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "`") {
		t.Error("help contains Markdown")
	}
}
