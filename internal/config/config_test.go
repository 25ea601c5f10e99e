package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/config"
)

const goodSecret = "this-is-a-test-secret-of-more-than-32-bytes"

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
	if len(c.APIKeys) != 1 || c.APIKeys[0].ID != "ci" || len(c.APIKeys[0].Permissions) != 2 {
		t.Fatalf("api keys %+v", c.APIKeys)
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
		env(map[string]string{"WARDEN_SECRET_KEY": goodSecret}))
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
