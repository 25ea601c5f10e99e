package auth_test

// Tests for the JWT hardening rules (crit, lifetime, HMAC key length,
// strict base64url, signature before claims, key sets of one kind, ROCA).
// Each fails against the verifier as it was before those rules.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/revoke"
)

var b64 = base64.RawURLEncoding

// mac returns the base64url HS256 signature of input under key: tests use
// it to sign exactly the bytes they choose, including encodings the jwt
// library would never produce.
func mac(t *testing.T, input string, key []byte) string {
	t.Helper()
	sig, err := jwt.SigningMethodHS256.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(sig)
}

// compact signs header and payload (already encoded) with HS256.
func compact(t *testing.T, h64, p64 string, key []byte) string {
	t.Helper()
	return h64 + "." + p64 + "." + mac(t, h64+"."+p64, key)
}

func encodeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

func verify(j *auth.JWT, raw string) (*auth.Identity, error) {
	return j.Verify(httptest.NewRequest(http.MethodGet, "/", nil), raw)
}

func reasonOf(err error) string {
	var ce *auth.CredentialError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

func TestJWTRefusesCriticalHeaderExtensions(t *testing.T) {
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{ID: "k", Algorithm: "HS256", Secret: hmacSecret}}, Type: "at+jwt"})
	p64 := encodeJSON(t, claims(nil))
	header := func(extra map[string]any) string {
		h := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "k"}
		for k, v := range extra {
			h[k] = v
		}
		return encodeJSON(t, h)
	}
	// The same header without crit is accepted: crit is the only reason
	// for each refusal below.
	for _, extra := range []map[string]any{nil, {"b64": false}, {"x-ext": 1}} {
		if _, err := verify(j, compact(t, header(extra), p64, hmacSecret)); err != nil {
			t.Fatalf("control %v: %v", extra, err)
		}
	}
	cases := []struct {
		name  string
		extra map[string]any
	}{
		{"RFC 7797 b64 (an extension we do not implement)", map[string]any{"b64": false, "crit": []string{"b64"}}},
		{"private extension", map[string]any{"x-ext": 1, "crit": []string{"x-ext"}}},
		{"empty list", map[string]any{"crit": []string{}}},
		{"not a list", map[string]any{"b64": false, "crit": "b64"}},
		{"null", map[string]any{"crit": nil}},
		{"object", map[string]any{"crit": map[string]any{"b64": true}}},
		{"non-string name", map[string]any{"crit": []any{7}}},
		{"empty name", map[string]any{"crit": []string{""}}},
		{"standard header alg", map[string]any{"crit": []string{"alg"}}},
		{"standard header kid", map[string]any{"crit": []string{"kid"}}},
		{"standard header crit", map[string]any{"crit": []string{"crit"}}},
		{"name listed twice", map[string]any{"x-ext": 1, "crit": []string{"x-ext", "x-ext"}}},
		{"name absent from the header", map[string]any{"crit": []string{"x-missing"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := compact(t, header(tc.extra), p64, hmacSecret)
			_, err := verify(j, tok)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, auth.ErrInvalidCredentials) || !strings.Contains(reasonOf(err), "extension") {
				t.Fatalf("err %v, want a refusal naming the header extension", err)
			}
		})
	}
	// Over HTTP: 401 with the reason, never the token.
	tok := compact(t, header(map[string]any{"b64": false, "crit": []string{"b64"}}), p64, hmacSecret)
	resp, body := get(t, server(t, j), "Authorization", "Bearer "+tok)
	if detail, _ := body["detail"].(string); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(detail, "extension") || strings.Contains(detail, tok) {
		t.Fatalf("status %d, body %v", resp.StatusCode, body)
	}
}

func TestJWTRefusesTokensThatLiveTooLong(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	def := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Now: clock})
	hour := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Now: clock, MaxLifetime: time.Hour})
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	cases := []struct {
		name string
		j    *auth.JWT
		c    map[string]any
		ok   bool
	}{
		{"default: exactly 24h", def, map[string]any{"iat": at(0), "nbf": at(0), "exp": at(24 * time.Hour)}, true},
		{"default: 24h and a second", def, map[string]any{"iat": at(0), "nbf": at(0), "exp": at(24*time.Hour + time.Second)}, false},
		{"default: 30 days, issued an hour ago", def, map[string]any{"iat": at(-time.Hour), "nbf": at(-time.Hour), "exp": at(30 * 24 * time.Hour)}, false},
		{"default: 25h, issued 23h ago (1h left)", def, map[string]any{"iat": at(-23 * time.Hour), "nbf": nil, "exp": at(2 * time.Hour)}, false},
		{"default: no iat, 23h left", def, map[string]any{"iat": nil, "nbf": nil, "exp": at(23 * time.Hour)}, true},
		{"default: no iat, 25h left", def, map[string]any{"iat": nil, "nbf": nil, "exp": at(25 * time.Hour)}, false},
		{"default: no iat, a year left", def, map[string]any{"iat": nil, "nbf": nil, "exp": at(365 * 24 * time.Hour)}, false},
		{"1h: one hour", hour, map[string]any{"iat": at(0), "exp": at(time.Hour)}, true},
		{"1h: two hours", hour, map[string]any{"iat": at(0), "exp": at(2 * time.Hour)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, jwt.SigningMethodHS256, hmacSecret, claims(tc.c), nil)
			// Twice: a refused token must not become acceptable through
			// the verified-token cache, nor an accepted one stop being so.
			for range 2 {
				_, err := verify(tc.j, tok)
				if tc.ok && err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !tc.ok && (err == nil || !strings.Contains(reasonOf(err), "lifetime")) {
					t.Fatalf("err %v, want a lifetime refusal", err)
				}
			}
		})
	}
	if _, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, MaxLifetime: -time.Second}); err == nil {
		t.Fatal("negative MaxLifetime accepted")
	}
	// The server's own longest access token (WARDEN_ACCESS_TOKEN_TTL is at
	// most 24h) passes the default rule.
	s := auth.Signer{Algorithm: "HS256", Key: hmacSecret, Issuer: "warden", Audience: "warden", TTL: auth.DefaultMaxLifetime, Now: clock}
	tok, err := s.Sign("7", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Now: clock}), tok.Raw); err != nil {
		t.Fatalf("a %v token from Signer: %v", auth.DefaultMaxLifetime, err)
	}
}

func TestHMACSecretsAreAtLeastAsLongAsTheHash(t *testing.T) {
	secret := func(n int) []byte { return []byte(strings.Repeat("k", n)) }
	for _, tc := range []struct {
		alg    string
		method jwt.SigningMethod
		min    int
	}{
		{"HS256", jwt.SigningMethodHS256, 32},
		{"HS384", jwt.SigningMethodHS384, 48},
		{"HS512", jwt.SigningMethodHS512, 64},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			if got := auth.MinHMACSecretBytes(tc.alg); got != tc.min {
				t.Fatalf("MinHMACSecretBytes = %d, want %d", got, tc.min)
			}
			want := fmt.Sprintf("at least %d", tc.min)
			_, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: tc.alg, Secret: secret(tc.min - 1)}}})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("NewJWT with %d bytes: %v, want it to say %q", tc.min-1, err, want)
			}
			_, err = (&auth.Signer{Algorithm: tc.alg, Key: secret(tc.min - 1)}).Sign("1", nil)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Signer with %d bytes: %v, want it to say %q", tc.min-1, err, want)
			}
			// The minimum itself works end to end.
			j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: tc.alg, Secret: secret(tc.min)}}})
			tok, err := (&auth.Signer{Algorithm: tc.alg, Key: secret(tc.min), Issuer: "warden", Audience: "warden"}).Sign("1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verify(j, tok.Raw); err != nil {
				t.Fatal(err)
			}
		})
	}
	if auth.MinHMACSecretBytes("RS256") != 0 {
		t.Fatal("RS256 reported as an HMAC algorithm")
	}
}

// withSlack returns the encoding of build(pad) for the shortest pad whose
// encoding does not end on a 4-character boundary: only such a segment
// has unused bits in its last character, and needs "=" to be padded.
func withSlack(t *testing.T, build func(pad string) any) string {
	t.Helper()
	for pad := ""; len(pad) < 4; pad += "x" {
		if s := encodeJSON(t, build(pad)); len(s)%4 != 0 {
			return s
		}
	}
	t.Fatal("no length with slack")
	return ""
}

// nonCanonical sets the lowest unused bit of seg's last character: it
// decodes, leniently, to the same bytes, but is another spelling.
func nonCanonical(t *testing.T, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		t.Fatal("segment has no unused bits")
	}
	v := strings.IndexByte(alphabet, seg[len(seg)-1])
	if v&1 != 0 {
		t.Fatal("segment is not canonical to begin with")
	}
	return seg[:len(seg)-1] + string(alphabet[v|1])
}

func padded(seg string) string { return seg + strings.Repeat("=", (4-len(seg)%4)%4) }

func TestJWTDecodesSegmentsStrictly(t *testing.T) {
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Type: "at+jwt"})
	h64 := withSlack(t, func(pad string) any { return map[string]any{"alg": "HS256", "typ": "at+jwt", "x": pad} })
	p64 := withSlack(t, func(pad string) any { return claims(map[string]any{"x": pad}) })
	good := compact(t, h64, p64, hmacSecret)
	if _, err := verify(j, good); err != nil {
		t.Fatalf("canonical token: %v", err)
	}
	s64 := good[strings.LastIndexByte(good, '.')+1:] // 43 characters: 2 unused bits
	insert := func(seg, s string) string { return seg[:8] + s + seg[8:] }

	// Header and payload variants are signed as sent, so the MAC holds and
	// only the decoding can refuse them; signature variants carry the
	// right MAC bytes under another spelling.
	cases := map[string]string{}
	for name, variant := range map[string]func(string) string{
		"non-canonical last character":  func(s string) string { return nonCanonical(t, s) },
		"padding":                       padded,
		"line feed":                     func(s string) string { return insert(s, "\n") },
		"carriage return and line feed": func(s string) string { return insert(s, "\r\n") },
	} {
		cases["header, "+name] = compact(t, variant(h64), p64, hmacSecret)
		cases["payload, "+name] = compact(t, h64, variant(p64), hmacSecret)
		cases["signature, "+name] = h64 + "." + p64 + "." + variant(s64)
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := verify(j, tok)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, jwt.ErrTokenMalformed) || errors.Is(err, jwt.ErrTokenSignatureInvalid) {
				t.Fatalf("err %v, want it refused as malformed, not by the signature check", err)
			}
		})
	}
}

// countingStore is a revocation list that records what it was asked.
type countingStore struct {
	mu   sync.Mutex
	seen []revoke.Token
}

func (*countingStore) Revoke(context.Context, string, time.Time) error                { return nil }
func (*countingStore) RevokeSession(context.Context, string, time.Time) error         { return nil }
func (*countingStore) RevokeUser(context.Context, string, time.Time, time.Time) error { return nil }
func (s *countingStore) Check(_ context.Context, tok revoke.Token) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, tok)
	return false, nil
}

func (s *countingStore) asked() []revoke.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]revoke.Token(nil), s.seen...)
}

// TestJWTVerifiesTheSignatureBeforeReadingClaims: a forged token is refused
// by the signature check whatever its payload holds, a genuine token with a
// payload that is not a claims set is refused by the claims parser, and no
// claim of a forged token reaches the revocation list or the cache.
func TestJWTVerifiesTheSignatureBeforeReadingClaims(t *testing.T) {
	store := &countingStore{}
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}, Type: "at+jwt", Revocation: store})
	attacker := []byte("an-attacker-key-of-thirty-two-bytes!")
	h64 := encodeJSON(t, map[string]any{"alg": "HS256", "typ": "at+jwt"})

	// malformed: the payload is not a JSON object, so once the signature
	// verifies the claims parser refuses it; otherwise it is one, and a
	// claim check does.
	payloads := map[string]struct {
		payload   string
		malformed bool
	}{
		"not JSON":          {"not json at all", true},
		"empty":             {"", true},
		"JSON null":         {"null", true},
		"JSON array":        {`[{"sub":"1"}]`, true},
		"JSON string":       {`"claims"`, true},
		"truncated object":  {`{"sub":"1",`, true},
		"invalid UTF-8":     {"\xff\xfe\xfd", true},
		"trailing garbage":  {`{"sub":"1"} x`, true},
		"deeply nested":     {strings.Repeat("[", 5000), true},
		"wrong claim types": {`{"sub":"1","exp":"tomorrow"}`, false},
	}
	for name, tc := range payloads {
		t.Run(name, func(t *testing.T) {
			p64 := b64.EncodeToString([]byte(tc.payload))
			_, err := verify(j, compact(t, h64, p64, attacker))
			if !errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenMalformed) {
				t.Fatalf("forged: err %v, want the signature check to refuse it", err)
			}
			_, err = verify(j, compact(t, h64, p64, hmacSecret))
			if err == nil || errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenMalformed) != tc.malformed {
				t.Fatalf("genuine: err %v, want it refused after the signature verified (as malformed: %v)", err, tc.malformed)
			}
		})
	}

	// Claims that would each be refused on their own are never looked at
	// when the signature is forged: the refusal is the signature's.
	for name, c := range map[string]jwt.MapClaims{
		"expired":            claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}),
		"wrong issuer":       claims(map[string]any{"iss": "evil"}),
		"no subject":         claims(map[string]any{"sub": nil}),
		"lives for a year":   claims(map[string]any{"exp": time.Now().Add(365 * 24 * time.Hour).Unix()}),
		"admin, well-formed": claims(map[string]any{"is_admin": true, "jti": "forged-jti", "sid": "forged-sid"}),
	} {
		_, err := verify(j, compact(t, h64, encodeJSON(t, c), attacker))
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Fatalf("%s, forged: err %v, want the signature check to refuse it", name, err)
		}
	}
	if seen := store.asked(); len(seen) != 0 {
		t.Fatalf("claims of refused tokens reached the revocation list: %+v", seen)
	}
	// A genuine token does reach it, with its claims.
	if _, err := verify(j, compact(t, h64, encodeJSON(t, claims(map[string]any{"jti": "real", "sid": "s1"})), hmacSecret)); err != nil {
		t.Fatal(err)
	}
	if seen := store.asked(); len(seen) != 1 || seen[0].ID != "real" || seen[0].Session != "s1" {
		t.Fatalf("revocation list asked %+v", seen)
	}
}

func TestNewJWTRefusesMixedKeySets(t *testing.T) {
	for name, pub := range map[string]auth.JWTKey{
		"RSA":   {ID: "pub", Algorithm: "RS256", PublicKey: &rsaKey.PublicKey},
		"ECDSA": {ID: "pub", Algorithm: "ES256", PublicKey: &ecKey.PublicKey},
		"EdDSA": {ID: "pub", Algorithm: "EdDSA", PublicKey: edPub},
	} {
		for _, keys := range [][]auth.JWTKey{
			{{ID: "hs", Algorithm: "HS256", Secret: hmacSecret}, pub},
			{pub, {ID: "hs", Algorithm: "HS512", Secret: hmacSecret64}},
		} {
			_, err := auth.NewJWT(auth.JWTConfig{Keys: keys})
			if err == nil || !strings.Contains(err.Error(), "must not mix") {
				t.Fatalf("HMAC with %s (%s first): %v", name, keys[0].Algorithm, err)
			}
		}
	}
}

func rocaModulus(t *testing.T) *big.Int {
	t.Helper()
	b, err := os.ReadFile("testdata/roca/mod03.txt")
	if err != nil {
		t.Fatal(err)
	}
	n, ok := new(big.Int).SetString(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16)
	if !ok {
		t.Fatal("bad modulus file")
	}
	return n
}

func TestJWTRefusesROCAKeys(t *testing.T) {
	// A published vulnerable modulus (see testdata/roca/README.md).
	vulnerable := &rsa.PublicKey{N: rocaModulus(t), E: 65537}
	if vulnerable.N.BitLen() < 2048 {
		t.Fatal("test modulus is too small to reach the ROCA check")
	}
	_, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", PublicKey: vulnerable}}})
	if err == nil || !strings.Contains(err.Error(), "ROCA") {
		t.Fatalf("NewJWT: %v, want a ROCA refusal", err)
	}
	pemBytes, err := os.ReadFile("testdata/roca/pubkey03.pem")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"RS256", "RS384", "RS512"} {
		if _, err := auth.ParsePublicKeyPEM(alg, pemBytes); err == nil || !strings.Contains(err.Error(), "ROCA") {
			t.Fatalf("ParsePublicKeyPEM(%s): %v, want a ROCA refusal", alg, err)
		}
	}
	// Keys from a sound generator load as before.
	fresh, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.ParsePublicKeyPEM("RS256", pemPublic(t, &fresh.PublicKey)); err != nil {
		t.Fatal(err)
	}
	newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", PublicKey: &fresh.PublicKey}}})
}
