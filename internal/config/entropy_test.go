package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestSecretEntropyBits(t *testing.T) {
	random := func(n int, encode func([]byte) string) string {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return encode(b)
	}
	// What generators print is accepted, every time: each of these is
	// estimated far above the limit (openssl rand -base64 48 at about 300
	// bits), so a refusal would be a bug, not bad luck.
	generators := map[string]func() string{
		"openssl rand -base64 48": func() string { return random(48, base64.StdEncoding.EncodeToString) },
		"openssl rand -base64 32": func() string { return random(32, base64.StdEncoding.EncodeToString) },
		"openssl rand -hex 32":    func() string { return random(32, hex.EncodeToString) },
		"generated development":   func() string { return random(48, base64.RawURLEncoding.EncodeToString) },
	}
	for name, gen := range generators {
		for range 500 {
			if s := gen(); secretEntropyBits([]byte(s)) < minSecretEntropyBits {
				t.Fatalf("%s: %q estimated at %.0f bits", name, s, secretEntropyBits([]byte(s)))
			}
		}
	}
	for _, s := range []string{
		strings.Repeat("a", 32),
		strings.Repeat("a", 1000),
		strings.Repeat("ab", 16),
		strings.Repeat("ab", 500),
		strings.Repeat("0123456789abcdef", 2),
		strings.Repeat("0123456789abcdef", 4),
		strings.Repeat("0123456789abcdef", 64),
		"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"the secret is the secret is the secret is the secret",
		"passwordpasswordpasswordpassword",
		"changeme-changeme-changeme-changeme",
		"correct horse battery staple correct horse battery staple",
	} {
		if bits := secretEntropyBits([]byte(s)); bits >= minSecretEntropyBits {
			t.Errorf("%q estimated at %.0f bits", s, bits)
		}
	}
}

// TestSecretEntropyBitsIsCheapForLongValues: however long the setting,
// the estimate examines a bounded prefix.
func TestSecretEntropyBitsIsCheapForLongValues(t *testing.T) {
	long := []byte(strings.Repeat("ab", 1<<20) + strings.Repeat("abc", 1<<20))
	start := time.Now()
	secretEntropyBits(long)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}
