package config_test

import (
	"net/http/httptest"
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
			// Ids are named in errors; a secret that is also some entry's
			// id cannot be told apart.
			var ids strings.Builder
			for _, entry := range strings.Split(value, ",") {
				ids.WriteString(strconv.Quote(strings.Split(entry, ":")[0]))
			}
			for _, entry := range strings.Split(value, ",") {
				parts := strings.Split(entry, ":")
				if len(parts) >= 2 && len(parts[1]) >= 8 && !strings.Contains(ids.String(), parts[1]) && strings.Contains(err.Error(), parts[1]) {
					t.Fatalf("error repeats a secret: %v", err)
				}
			}
			return
		}
		if c.APIKeys == nil {
			t.Fatal("accepted an empty key set")
		}
		// Every accepted entry is a strong key that the built set honours.
		for _, entry := range strings.Split(value, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			parts := strings.Split(entry, ":")
			if len(parts) < 2 || len(parts[1]) < 32 || parts[0] == "" {
				t.Fatalf("accepted weak entry %q", parts[0])
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-API-Key", parts[1])
			if id, err := c.APIKeys.Authenticate(r); err != nil || id == nil {
				t.Fatalf("the built set refuses configured key %q: %v", parts[0], err)
			}
		}
	})
}
