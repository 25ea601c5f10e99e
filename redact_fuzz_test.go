package warden_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
)

// FuzzRedactQuery checks that no value of a parameter named like a secret
// survives redaction, whatever the query looks like.
func FuzzRedactQuery(f *testing.F) {
	f.Add("token=abc&page=2")
	f.Add("a=1&&b&password=x=y&ticket=")
	f.Add("%74oken=encoded-name")
	f.Add(";token=semicolon")
	f.Fuzz(func(t *testing.T, raw string) {
		out := warden.RedactQuery(raw)
		for _, pair := range strings.Split(raw, "&") {
			name, value, ok := strings.Cut(pair, "=")
			if !ok || value == "" || len(value) < 4 {
				continue
			}
			lower := strings.ToLower(name)
			if strings.Contains(lower, "token") || strings.Contains(lower, "password") || strings.Contains(lower, "secret") {
				if strings.Contains(out, name+"="+value) {
					t.Fatalf("RedactQuery(%q) = %q keeps the value of %q", raw, out, name)
				}
			}
		}
		// Percent-encoded names are decoded by servers: they must not
		// smuggle a secret past the redactor either.
		if q, err := url.ParseQuery(raw); err == nil {
			for name, values := range q {
				lower := strings.ToLower(name)
				if !strings.Contains(lower, "token") && !strings.Contains(lower, "password") {
					continue
				}
				for _, v := range values {
					if len(v) >= 4 && !strings.Contains(raw, "REDACTED") && strings.Contains(out, url.QueryEscape(v)) && strings.Contains(out, v) {
						t.Fatalf("RedactQuery(%q) = %q keeps %q of %q", raw, out, v, name)
					}
				}
			}
		}
	})
}
