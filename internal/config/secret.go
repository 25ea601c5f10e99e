package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wardenhq/warden/auth"
)

// devSecretFile is the generated development secret inside the data
// directory.
const devSecretFile = "secret_key"

// SigningKey returns the secret that signs access tokens: WARDEN_SECRET_KEY,
// or, when it is unset, a key generated once in the data directory and
// reused on later starts; generated reports that case so that the caller
// can warn. Load refused a missing secret in production, so a generated
// key only ever serves development.
func (c *Config) SigningKey() (key []byte, generated bool, err error) {
	if len(c.secretKey) > 0 {
		return c.secretKey, false, nil
	}
	key, err = devSecret(c.DataDir)
	if err != nil {
		return nil, true, err
	}
	// The file may predate WARDEN_JWT_ALGORITHM=HS384 or HS512, whose keys
	// must be longer (a generated one is 64 bytes, enough for every one).
	if need := auth.MinHMACSecretBytes(c.JWTAlgorithm); len(key) < need {
		path := filepath.Join(c.DataDir, devSecretFile)
		return nil, true, fmt.Errorf("config: %s holds %d bytes, but WARDEN_JWT_ALGORITHM %s needs at least %d; delete it to generate a new one", path, len(key), c.JWTAlgorithm, need)
	}
	return key, true, nil
}

// devSecret returns the development signing secret kept in dataDir,
// generating 48 random bytes on first use. The file is created with mode
// 0600 and refused if others can read it, because anyone who reads it can
// mint tokens.
func devSecret(dataDir string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("config: data directory: %w", err)
	}
	path := filepath.Join(dataDir, devSecretFile)
	if secret, err := readSecret(path); !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	encoded := base64.RawURLEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first; use theirs.
		return readSecret(path)
	}
	if err != nil {
		return nil, fmt.Errorf("config: create %s: %w", path, err)
	}
	if _, err := f.WriteString(encoded + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return []byte(encoded), nil
}

func readSecret(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("config: %s is readable by other users; run: chmod 600 %s", path, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	secret := []byte(strings.TrimSpace(string(b)))
	if len(secret) < 32 {
		return nil, fmt.Errorf("config: %s holds fewer than 32 bytes; delete it to generate a new one", path)
	}
	return secret, nil
}
