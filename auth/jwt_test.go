package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/revoke"
)

var (
	hmacSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")
	// hmacSecret64 is long enough for every HMAC algorithm: RFC 7518
	// section 3.2 wants the key at least as long as the hash (64 bytes
	// for HS512).
	hmacSecret64     = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	rsaKey           = mustRSA(2048)
	ecKey            = mustEC()
	edPub, edPriv, _ = ed25519.GenerateKey(rand.Reader)
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// server runs the JWT backend behind IsAuthenticated and echoes the
// identity's user id.
func server(t *testing.T, backends ...auth.Authenticator) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := auth.FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]any{"user_id": id.UserID, "backend": id.Backend, "admin": id.IsAdmin, "staff": id.IsStaff, "permissions": id.Permissions})
	})
	srv := httptest.NewServer(auth.Middleware(quietLogger, backends...)(guard.Require(guard.IsAuthenticated)(h)))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, header, value string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func claims(extra map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub": "42", "iss": "warden", "aud": "warden", "jti": "jti-1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func sign(t *testing.T, method jwt.SigningMethod, key any, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	tok.Header["typ"] = "at+jwt"
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned builds a token by hand, for algorithms the library will not sign.
func unsigned(header, payload map[string]any, sig string) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "." + sig
}

func pemPublic(t *testing.T, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func newJWT(t *testing.T, cfg auth.JWTConfig) *auth.JWT {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = "warden"
	}
	if cfg.Audience == "" {
		cfg.Audience = "warden"
	}
	j, err := auth.NewJWT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJWTAcceptsEveryAlgorithmWithItsKey(t *testing.T) {
	rsa3072 := mustRSA(3072)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := []struct {
		alg     string
		method  jwt.SigningMethod
		signKey any
		key     auth.JWTKey
	}{
		{"HS256", jwt.SigningMethodHS256, hmacSecret, auth.JWTKey{Algorithm: "HS256", Secret: hmacSecret}},
		{"HS384", jwt.SigningMethodHS384, hmacSecret64, auth.JWTKey{Algorithm: "HS384", Secret: hmacSecret64}},
		{"HS512", jwt.SigningMethodHS512, hmacSecret64, auth.JWTKey{Algorithm: "HS512", Secret: hmacSecret64}},
		{"RS256", jwt.SigningMethodRS256, rsaKey, auth.JWTKey{Algorithm: "RS256", PublicKey: &rsaKey.PublicKey}},
		{"RS384", jwt.SigningMethodRS384, rsa3072, auth.JWTKey{Algorithm: "RS384", PublicKey: &rsa3072.PublicKey}},
		{"RS512", jwt.SigningMethodRS512, rsaKey, auth.JWTKey{Algorithm: "RS512", PublicKey: &rsaKey.PublicKey}},
		{"ES256", jwt.SigningMethodES256, ecKey, auth.JWTKey{Algorithm: "ES256", PublicKey: &ecKey.PublicKey}},
		{"ES384", jwt.SigningMethodES384, ec384, auth.JWTKey{Algorithm: "ES384", PublicKey: &ec384.PublicKey}},
		{"EdDSA", jwt.SigningMethodEdDSA, edPriv, auth.JWTKey{Algorithm: "EdDSA", PublicKey: edPub}},
	}
	for _, tc := range cases {
		t.Run(tc.alg, func(t *testing.T) {
			srv := server(t, newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{tc.key}, Type: "at+jwt"}))
			tok := sign(t, tc.method, tc.signKey, claims(map[string]any{"is_staff": true, "is_superuser": true, "permissions": []string{"books.add_book"}}), nil)
			resp, body := get(t, srv, "Authorization", "Bearer "+tok)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %v", resp.StatusCode, body)
			}
			if body["user_id"] != "42" || body["backend"] != "jwt" || body["admin"] != true || body["staff"] != true {
				t.Fatalf("identity %v", body)
			}
			if perms, _ := body["permissions"].([]any); len(perms) != 1 || perms[0] != "books.add_book" {
				t.Fatalf("permissions %v", body["permissions"])
			}
		})
	}
}

func TestJWTRefusesHostileTokens(t *testing.T) {
	attacker := mustRSA(2048)
	rsaPEM := pemPublic(t, &rsaKey.PublicKey)
	rsaJWT := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{ID: "rsa-1", Algorithm: "RS256", PublicKey: &rsaKey.PublicKey}}, Type: "at+jwt"})
	hsJWT := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Type: "at+jwt"})
	// A key set holds secrets or public keys, never both (see
	// TestNewJWTRefusesMixedKeySets), so the "several keys" cases run
	// against one set of each kind.
	multiJWT := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{
		{ID: "hs", Algorithm: "HS256", Secret: hmacSecret},
		{ID: "hs-2", Algorithm: "HS512", Secret: hmacSecret64},
	}})
	multiPubJWT := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{
		{ID: "rsa-1", Algorithm: "RS256", PublicKey: &rsaKey.PublicKey},
		{ID: "ec-1", Algorithm: "ES256", PublicKey: &ecKey.PublicKey},
	}})
	valid := sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), nil)
	parts := strings.Split(valid, ".")
	tamperedPayload, _ := json.Marshal(claims(map[string]any{"sub": "1", "is_admin": true}))
	jwkHeader := map[string]any{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(attacker.N.Bytes()), "e": "AQAB"}

	cases := []struct {
		name    string
		backend *auth.JWT
		token   string
		want    string // a fragment of the problem detail
	}{
		{"alg none", hsJWT, unsigned(map[string]any{"alg": "none", "typ": "at+jwt"}, claims(nil), ""), "invalid"},
		{"alg None", hsJWT, unsigned(map[string]any{"alg": "None", "typ": "at+jwt"}, claims(nil), ""), "invalid"},
		{"alg NONE with a signature", hsJWT, unsigned(map[string]any{"alg": "NONE", "typ": "at+jwt"}, claims(nil), parts[2]), "invalid"},
		{"HS256 signed with the RSA public key (key confusion)", rsaJWT, sign(t, jwt.SigningMethodHS256, rsaPEM, claims(nil), map[string]any{"kid": "rsa-1"}), "invalid"},
		{"HS256 with the RSA key's kid, among several keys", multiPubJWT, sign(t, jwt.SigningMethodHS256, rsaPEM, claims(nil), map[string]any{"kid": "rsa-1"}), "invalid"},
		{"HS256 with an HMAC key's kid, signed with the other HMAC key", multiJWT, sign(t, jwt.SigningMethodHS256, hmacSecret64, claims(nil), map[string]any{"kid": "hs"}), "invalid"},
		{"HS512 under a key bound to HS256 (one algorithm per key)", hsJWT, sign(t, jwt.SigningMethodHS512, hmacSecret, claims(nil), nil), "invalid"},
		{"HS384 under the HS key's kid, among several keys", multiJWT, sign(t, jwt.SigningMethodHS384, hmacSecret, claims(nil), map[string]any{"kid": "hs"}), "invalid"},
		{"tampered payload", hsJWT, parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedPayload) + "." + parts[2], "invalid"},
		{"stripped signature", hsJWT, parts[0] + "." + parts[1] + ".", "invalid"},
		{"two segments", hsJWT, parts[0] + "." + parts[1], "invalid"},
		{"expired", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), nil), "expired"},
		{"missing exp", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"exp": nil}), nil), "invalid"},
		{"nbf in the future", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), nil), "invalid"},
		{"iat in the future", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"iat": time.Now().Add(time.Hour).Unix()}), nil), "invalid"},
		{"wrong iss", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"iss": "evil"}), nil), "invalid"},
		{"missing iss", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"iss": nil}), nil), "invalid"},
		{"wrong aud", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"aud": "other-service"}), nil), "invalid"},
		{"missing aud", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"aud": nil}), nil), "invalid"},
		{"wrong typ", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), map[string]any{"typ": "JWT"}), "invalid"},
		{"missing typ", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), map[string]any{"typ": nil}), "invalid"},
		{"missing sub", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"sub": nil}), nil), "invalid"},
		{"unknown kid", multiJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), map[string]any{"kid": "nope"}), "invalid"},
		{"no kid among several keys", multiJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), nil), "invalid"},
		{"non-string kid", multiJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), map[string]any{"kid": 7}), "invalid"},
		{"jwk header carrying the attacker's key", rsaJWT, sign(t, jwt.SigningMethodRS256, attacker, claims(nil), map[string]any{"kid": "rsa-1", "jwk": jwkHeader}), "invalid"},
		{"jwk header without kid", rsaJWT, sign(t, jwt.SigningMethodRS256, attacker, claims(nil), map[string]any{"jwk": jwkHeader}), "invalid"},
		{"jku header pointing at the attacker", rsaJWT, sign(t, jwt.SigningMethodRS256, attacker, claims(nil), map[string]any{"kid": "rsa-1", "jku": "https://attacker.example/jwks.json"}), "invalid"},
		{"x5u header pointing at the attacker", rsaJWT, sign(t, jwt.SigningMethodRS256, attacker, claims(nil), map[string]any{"kid": "rsa-1", "x5u": "https://attacker.example/cert.pem"}), "invalid"},
		{"oversize token", hsJWT, sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"pad": strings.Repeat("a", 9000)}), nil), "too large"},
		{"garbage", hsJWT, "not-a-token", "invalid"},
		{"empty bearer", hsJWT, "", "missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := server(t, tc.backend)
			resp, body := get(t, srv, "Authorization", "Bearer "+tc.token)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401; body %v", resp.StatusCode, body)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate %q", ch)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			if detail, _ := body["detail"].(string); !strings.Contains(detail, tc.want) {
				t.Fatalf("detail %q, want it to mention %q", detail, tc.want)
			}
			if tc.token != "" && strings.Contains(body["detail"].(string), tc.token) {
				t.Fatal("the problem echoes the token")
			}
		})
	}
}

func TestJWTAcceptsTheRightKeyAmongSeveral(t *testing.T) {
	// Secrets and public keys live in separate key sets (see
	// TestNewJWTRefusesMixedKeySets): rotation within each kind.
	secrets := server(t, newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{
		{ID: "old", Algorithm: "HS256", Secret: []byte("an-old-secret-that-is-still-32-bytes-long")},
		{ID: "new", Algorithm: "HS256", Secret: hmacSecret},
	}}))
	publicKeys := server(t, newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{
		{ID: "rsa", Algorithm: "RS256", PublicKey: &rsaKey.PublicKey},
		{ID: "ec", Algorithm: "ES256", PublicKey: &ecKey.PublicKey},
	}}))
	for _, tc := range []struct {
		srv    *httptest.Server
		kid    string
		method jwt.SigningMethod
		key    any
	}{
		{secrets, "new", jwt.SigningMethodHS256, hmacSecret},
		{publicKeys, "rsa", jwt.SigningMethodRS256, rsaKey},
		{publicKeys, "ec", jwt.SigningMethodES256, ecKey},
	} {
		resp, _ := get(t, tc.srv, "Authorization", "Bearer "+sign(t, tc.method, tc.key, claims(nil), map[string]any{"kid": tc.kid}))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("kid %s: status %d", tc.kid, resp.StatusCode)
		}
	}
	// The right key under the wrong kid fails: kid selects, it does not hint.
	resp, _ := get(t, secrets, "Authorization", "Bearer "+sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), map[string]any{"kid": "old"}))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong kid: status %d", resp.StatusCode)
	}
	resp, _ = get(t, publicKeys, "Authorization", "Bearer "+sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), map[string]any{"kid": "ec"}))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("RSA token under the EC key's kid: status %d", resp.StatusCode)
	}
}

func TestJWTWithoutCredentialsLeavesTheRequestAnonymous(t *testing.T) {
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}})
	var sawAnonymous bool
	h := auth.Middleware(quietLogger, j)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAnonymous = auth.FromContext(r.Context()) == nil
	}))
	for _, hdr := range []string{"", "Basic dXNlcjpwYXNz"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !sawAnonymous {
			t.Fatalf("%q: status %d, anonymous %v", hdr, rec.Code, sawAnonymous)
		}
	}
	// Behind IsAuthenticated, anonymous is a 401 with a challenge.
	resp, _ := get(t, server(t, j), "", "")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("anonymous: status %d, challenge %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestJWTCustomHeader(t *testing.T) {
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Header: "X-Access-Token"})
	srv := server(t, j)
	tok := sign(t, jwt.SigningMethodHS256, hmacSecret, claims(nil), nil)
	if resp, _ := get(t, srv, "X-Access-Token", tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("custom header: status %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv, "Authorization", "Bearer "+tok); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Authorization ignored when another header is configured: status %d", resp.StatusCode)
	}
}

// failingStore is a revocation store that cannot answer.
type failingStore struct{}

func (failingStore) Revoke(context.Context, string, time.Time) error { return errors.New("down") }
func (failingStore) RevokeSession(context.Context, string, time.Time) error {
	return errors.New("down")
}
func (failingStore) RevokeUser(context.Context, string, time.Time, time.Time) error {
	return errors.New("down")
}
func (failingStore) Check(context.Context, revoke.Token) (bool, error) {
	return false, errors.New("connection refused")
}

func TestJWTRevocation(t *testing.T) {
	store := revoke.NewMemory(revoke.MemoryOptions{})
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Revocation: store})
	srv := server(t, j)
	tok := sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"jti": "to-revoke"}), nil)
	if resp, _ := get(t, srv, "Authorization", "Bearer "+tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("before revocation: %d", resp.StatusCode)
	}
	if err := store.Revoke(context.Background(), "to-revoke", time.Now().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, srv, "Authorization", "Bearer "+tok)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body["detail"].(string), "revoked") {
		t.Fatalf("revoked jti: status %d body %v", resp.StatusCode, body)
	}

	noJTI := sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"jti": nil}), nil)
	if resp, _ := get(t, srv, "Authorization", "Bearer "+noJTI); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("missing jti with revocation on: status %d", resp.StatusCode)
	}

	down := server(t, newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Revocation: failingStore{}}))
	resp, body = get(t, down, "Authorization", "Bearer "+tok)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("store down: status %d (want 503 with Retry-After), body %v", resp.StatusCode, body)
	}
	if strings.Contains(body["detail"].(string), "connection refused") {
		t.Fatal("the problem leaks the store error")
	}
}

func TestNewJWTRefusesWeakConfiguration(t *testing.T) {
	small := mustRSA(1024)
	cases := []struct {
		name string
		cfg  auth.JWTConfig
		want string
	}{
		{"no keys", auth.JWTConfig{}, "no verification key"},
		{"none", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "none", Secret: hmacSecret}}}, "not allowed"},
		{"None", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "None"}}}, "not allowed"},
		{"empty algorithm", auth.JWTConfig{Keys: []auth.JWTKey{{Secret: hmacSecret}}}, "not allowed"},
		{"short HMAC secret", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: []byte("short")}}}, "at least 32"},
		{"31-byte HMAC secret", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: make([]byte, 31)}}}, "at least 32"},
		{"unknown algorithm", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "PS256", PublicKey: &rsaKey.PublicKey}}}, "unsupported"},
		{"RSA under 2048 bits", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", PublicKey: &small.PublicKey}}}, "2048"},
		{"EC key for RS256", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", PublicKey: &ecKey.PublicKey}}}, "does not fit"},
		{"P-256 key for ES384", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "ES384", PublicKey: &ecKey.PublicKey}}}, "does not fit"},
		{"secret for RS256", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", Secret: hmacSecret, PublicKey: &rsaKey.PublicKey}}}, "not a secret"},
		{"duplicate kid", auth.JWTConfig{Keys: []auth.JWTKey{{ID: "a", Algorithm: "HS256", Secret: hmacSecret}, {ID: "a", Algorithm: "HS512", Secret: hmacSecret64}}}, "twice"},
		{"missing kid among several", auth.JWTConfig{Keys: []auth.JWTKey{{ID: "a", Algorithm: "HS256", Secret: hmacSecret}, {Algorithm: "HS512", Secret: hmacSecret64}}}, "needs an ID"},
		{"leeway too large", auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Leeway: time.Hour}, "leeway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.NewJWT(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSignerTokensVerify(t *testing.T) {
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{ID: "k1", Algorithm: "ES256", PublicKey: &ecKey.PublicKey}}, Type: "at+jwt", Revocation: revoke.NewMemory(revoke.MemoryOptions{})})
	s := auth.Signer{KeyID: "k1", Algorithm: "ES256", Key: ecKey, Issuer: "warden", Audience: "warden"}
	tok, err := s.Sign("7", map[string]any{"sub": "overridden?", "permissions": []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, server(t, j), "Authorization", "Bearer "+tok.Raw)
	if resp.StatusCode != http.StatusOK || body["user_id"] != "7" {
		t.Fatalf("status %d body %v", resp.StatusCode, body)
	}
	if tok.ID == "" || time.Until(tok.ExpiresAt) > 15*time.Minute || time.Until(tok.ExpiresAt) < 14*time.Minute {
		t.Fatalf("token facts %+v", tok)
	}
	if _, err := (&auth.Signer{Algorithm: "none", Key: hmacSecret}).Sign("1", nil); err == nil {
		t.Fatal("signed with none")
	}
	if _, err := (&auth.Signer{Algorithm: "HS256", Key: []byte("short")}).Sign("1", nil); err == nil {
		t.Fatal("signed with a short secret")
	}
}

// TestVerifiedTokenCache pins down what a cached token still goes through:
// the clock, the revocation list, and nothing a handler did to an earlier
// request's identity.
func TestVerifiedTokenCache(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().Unix())
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	store := revoke.NewMemory(revoke.MemoryOptions{Now: clock})
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Revocation: store, Now: clock, Leeway: time.Second})
	start := clock()
	c := claims(map[string]any{"iat": start.Unix(), "nbf": start.Add(10 * time.Second).Unix(), "exp": start.Add(time.Minute).Unix(), "jti": "cached", "permissions": []string{"a"}})
	tok := sign(t, jwt.SigningMethodHS256, hmacSecret, c, nil)
	req := httptest.NewRequest("GET", "/", nil)

	if _, err := j.Verify(req, tok); err == nil {
		t.Fatal("accepted before nbf")
	}
	now.Add(10)
	first, err := j.Verify(req, tok)
	if err != nil {
		t.Fatal(err)
	}
	first.UserID = "tampered by a handler"
	first.IsAdmin = true
	second, err := j.Verify(req, tok) // served from the cache
	if err != nil || second.UserID != "42" || second.IsAdmin {
		t.Fatalf("cached identity %+v, %v", second, err)
	}
	// One character changed is another token: verified afresh, refused.
	if _, err := j.Verify(req, tok[:len(tok)-2]+"AA"); err == nil {
		t.Fatal("a tampered token was served")
	}
	// Revocation is asked on every hit.
	if err := store.Revoke(context.Background(), "cached", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(req, tok); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked cached token: %v", err)
	}
	// Expiry is checked against the clock on every hit.
	fresh := sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"iat": clock().Unix(), "nbf": clock().Unix(), "exp": clock().Add(30 * time.Second).Unix(), "jti": "fresh"}), nil)
	if _, err := j.Verify(req, fresh); err != nil {
		t.Fatal(err)
	}
	now.Add(31)
	if _, err := j.Verify(req, fresh); err == nil {
		t.Fatal("an expired cached token was accepted")
	}
}

// TestVerifiedTokenCacheKeysTheWholeToken: the cache key covers every
// byte of the token, on both sides of the size up to which it is hashed
// from a stack copy, so a forgery that shares a cached token's prefix is
// verified afresh and refused.
func TestVerifiedTokenCacheKeysTheWholeToken(t *testing.T) {
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}})
	req := httptest.NewRequest("GET", "/", nil)
	var short, long bool
	for pad := 420; pad < 760; pad += 3 {
		tok := sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"pad": strings.Repeat("x", pad)}), nil)
		short, long = short || len(tok) <= 1024, long || len(tok) > 1024
		if _, err := j.Verify(req, tok); err != nil {
			t.Fatalf("%d-byte token: %v", len(tok), err)
		}
		// The last signature character changed: same prefix, same length.
		last := tok[len(tok)-1]
		forged := tok[:len(tok)-1] + map[bool]string{true: "B", false: "A"}[last == 'A']
		if _, err := j.Verify(req, forged); err == nil {
			t.Fatalf("%d-byte token: a forgery sharing a cached token's prefix was accepted", len(tok))
		}
	}
	if !short || !long {
		t.Fatalf("the paddings did not cover both sides of 1024 bytes (short %v, long %v)", short, long)
	}
}

func TestVerifiedTokenCacheIsBounded(t *testing.T) {
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, CacheSize: 32})
	req := httptest.NewRequest("GET", "/", nil)
	var toks []string
	for i := range 200 {
		tok := sign(t, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"jti": fmt.Sprint(i)}), nil)
		toks = append(toks, tok)
		if _, err := j.Verify(req, tok); err != nil {
			t.Fatal(err)
		}
	}
	// Evicted tokens are simply verified again.
	for _, tok := range toks {
		if _, err := j.Verify(req, tok); err != nil {
			t.Fatal(err)
		}
	}
}
