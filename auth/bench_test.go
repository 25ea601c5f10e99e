package auth_test

import (
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/revoke"
)

// BenchmarkJWTVerify compares a token served from the verified-token cache
// with one parsed and checked in full (cache off).
func BenchmarkJWTVerify(b *testing.B) {
	for _, tc := range []struct {
		name string
		size int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			j, err := auth.NewJWT(auth.JWTConfig{
				Keys:   []auth.JWTKey{{ID: "k", Algorithm: "HS256", Secret: hmacSecret}},
				Issuer: "warden", Audience: "warden", Type: "at+jwt",
				Revocation: revoke.NewMemory(revoke.MemoryOptions{}), CacheSize: tc.size,
			})
			if err != nil {
				b.Fatal(err)
			}
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(map[string]any{"permissions": []string{"a", "b"}}))
			tok.Header["kid"], tok.Header["typ"] = "k", "at+jwt"
			raw, err := tok.SignedString(hmacSecret)
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/", nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Verify(req, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
