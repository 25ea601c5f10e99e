package auth_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/revoke"
)

// FuzzJWTVerify feeds arbitrary tokens to the verifier: it must never
// panic, and nothing but the one genuinely signed seed may authenticate.
func FuzzJWTVerify(f *testing.F) {
	// A fixed clock makes the genuine seed the same token in every fuzzing
	// worker: each builds its own, and one minted a second later in
	// another process would be a second genuine token.
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	j, err := auth.NewJWT(auth.JWTConfig{
		Keys:       []auth.JWTKey{{ID: "k", Algorithm: "HS256", Secret: hmacSecret}},
		Issuer:     "warden",
		Audience:   "warden",
		Type:       "at+jwt",
		Revocation: revoke.NewMemory(revoke.MemoryOptions{Now: clock}),
		Now:        clock,
	})
	if err != nil {
		f.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(map[string]any{
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}))
	tok.Header["kid"] = "k"
	tok.Header["typ"] = "at+jwt"
	good, err := tok.SignedString(hmacSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")
	f.Add("a.b.c")
	f.Add("....")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/", nil)
		id, err := j.Verify(req, raw)
		if err == nil && raw != good {
			t.Fatalf("a token that was never signed authenticated as %q", id.UserID)
		}
		if err != nil && id != nil {
			t.Fatal("identity returned with an error")
		}
	})
}
