package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/auth"
)

func TestJWTSetChoosesTheBackendByKeyIDOrAlgorithm(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	own := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{ID: "own", Algorithm: "HS256", Secret: hmacSecret}}})
	external := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{ID: "partner", Algorithm: "ES256", PublicKey: &ec.PublicKey}}})
	set, err := auth.NewJWTSet(own, external)
	if err != nil {
		t.Fatal(err)
	}
	srv := server(t, set)
	cases := []struct {
		name string
		tok  string
		want int
	}{
		{"own token", sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), map[string]any{"kid": "own"}), 200},
		{"own token without kid", sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), nil), 200},
		{"partner token", sign(t, jwt.SigningMethodES256, ec, claims(nil), map[string]any{"kid": "partner"}), 200},
		{"partner token without kid", sign(t, jwt.SigningMethodES256, ec, claims(nil), nil), 200},
		// HS256 signed with the partner's public key bytes: key confusion.
		{"HMAC token naming the public key", sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), map[string]any{"kid": "partner"}), 401},
		{"unknown kid", sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), map[string]any{"kid": "nobody"}), 401},
		{"algorithm nobody is bound to", sign(t, jwt.SigningMethodHS384, hmacSecret64, claims(nil), nil), 401},
		{"garbage", "not.a.token", 401},
	}
	for _, tc := range cases {
		if resp, _ := get(t, srv, "Authorization", "Bearer "+tc.tok); resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if resp, _ := get(t, srv, "", ""); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	if _, err := auth.NewJWTSet(own, own); err == nil {
		t.Error("a key id configured twice was accepted")
	}
	if _, err := auth.NewJWTSet(); err == nil {
		t.Error("an empty set was accepted")
	}
}
