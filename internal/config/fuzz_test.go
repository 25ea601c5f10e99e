package config_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/config"
)

// FuzzAPIKeysSetting feeds arbitrary WARDEN_API_KEYS values to Load: it
// must never panic, never accept a key shorter than 32 bytes, and never
// repeat a secret in its error.
func FuzzAPIKeysSetting(f *testing.F) {
	f.Add("ci:0123456789abcdef0123456789abcdef:a|b")
	f.Add("a:short,b:0123456789abcdef0123456789abcdef")
	f.Add(":::,,,")
	f.Add("x:" + strings.Repeat("s", 40) + ":")
	f.Fuzz(func(t *testing.T, value string) {
		c, err := config.Load(nil, env(map[string]string{"WARDEN_API_KEYS": value}))
		if err != nil {
			for _, entry := range strings.Split(value, ",") {
				parts := strings.Split(entry, ":")
				if len(parts) >= 2 && len(parts[1]) >= 8 && !strings.Contains(strconv.Quote(parts[0]), parts[1]) && strings.Contains(err.Error(), parts[1]) {
					t.Fatalf("error repeats a secret: %v", err)
				}
			}
			return
		}
		if len(c.APIKeys) == 0 {
			t.Fatal("accepted an empty key set")
		}
		for _, k := range c.APIKeys {
			if len(k.Secret) < 32 || k.ID == "" {
				t.Fatalf("accepted weak key %+v", k.ID)
			}
		}
	})
}
