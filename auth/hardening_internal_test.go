package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// wycheproofFile is the subset of Project Wycheproof's JSON Web Signature
// vectors described in testdata/wycheproof/README.md.
type wycheproofFile struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		Comment string            `json:"comment"`
		Private map[string]string `json:"private"`
		Public  map[string]string `json:"public"`
		Tests   []struct {
			TcID    int    `json:"tcId"`
			Comment string `json:"comment"`
			JWS     string `json:"jws"`
			Result  string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// wycheproofDeviations are vectors whose Wycheproof verdict we deliberately
// do not follow, with the reason.
var wycheproofDeviations = map[int]string{
	// The stored copy marks these "valid" although a "?" sits inside a
	// segment; RFC 7515 base64url has no "?", and a lenient decoder that
	// skips it is exactly what strict decoding exists to rule out. We
	// refuse them before any key is used.
	372: "refused: '?' is not base64url",
	373: "refused: '?' is not base64url",
}

// jwkKey turns a Wycheproof JWK into the JWTKey it describes.
func jwkKey(t *testing.T, jwk map[string]string) JWTKey {
	t.Helper()
	raw := func(name string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(jwk[name])
		if err != nil {
			t.Fatalf("jwk %s: %v", name, err)
		}
		return b
	}
	switch jwk["kty"] {
	case "oct":
		return JWTKey{ID: jwk["kid"], Algorithm: jwk["alg"], Secret: raw("k")}
	case "RSA":
		e := new(big.Int).SetBytes(raw("e"))
		return JWTKey{ID: jwk["kid"], Algorithm: jwk["alg"], PublicKey: &rsa.PublicKey{N: new(big.Int).SetBytes(raw("n")), E: int(e.Int64())}}
	case "EC":
		if jwk["crv"] != "P-256" {
			t.Fatalf("curve %s", jwk["crv"])
		}
		point := append(append([]byte{4}, raw("x")...), raw("y")...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			t.Fatal(err)
		}
		return JWTKey{ID: jwk["kid"], Algorithm: jwk["alg"], PublicKey: pub}
	}
	t.Fatalf("kty %q", jwk["kty"])
	return JWTKey{}
}

// TestWycheproofJSONWebSignature runs Wycheproof's JWS vectors through the
// verifier. Their payloads are not JWT claims sets ("foo", RFC 7520 prose),
// which makes them sharper here: a "valid" vector must get through the
// signature check and be refused only by the claims parser, and an
// "invalid" one must be refused before the payload is ever parsed.
func TestWycheproofJSONWebSignature(t *testing.T) {
	b, err := os.ReadFile("testdata/wycheproof/json_web_signature_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var f wycheproofFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	ran, verified := 0, 0
	for _, g := range f.TestGroups {
		jwk := g.Public
		if jwk == nil {
			jwk = g.Private
		}
		j, err := NewJWT(JWTConfig{Keys: []JWTKey{jwkKey(t, jwk)}})
		if err != nil {
			t.Fatalf("group %s: %v", g.Comment, err)
		}
		for _, tc := range g.Tests {
			ran++
			_, err := j.Verify(req, tc.JWS)
			if err == nil {
				t.Errorf("tcId %d (%s): accepted", tc.TcID, tc.Comment)
				continue
			}
			afterSignature := errors.Is(err, errPayloadNotClaims)
			switch {
			case wycheproofDeviations[tc.TcID] != "":
				if afterSignature || !errors.Is(err, jwt.ErrTokenMalformed) {
					t.Errorf("tcId %d (%s): %v; want it refused as malformed (%s)", tc.TcID, tc.Comment, err, wycheproofDeviations[tc.TcID])
				}
			case tc.Result == "valid":
				verified++
				if !afterSignature {
					t.Errorf("tcId %d (%s) is valid: %v; want the signature to verify and the payload to be refused", tc.TcID, tc.Comment, err)
				}
			default:
				if afterSignature {
					t.Errorf("tcId %d (%s) is invalid, yet its signature verified: %v", tc.TcID, tc.Comment, err)
				}
			}
		}
	}
	if ran != f.NumberOfTests || verified == 0 {
		t.Fatalf("ran %d of %d vectors, %d valid", ran, f.NumberOfTests, verified)
	}
}

// rocaPrimorial is 2 * 3 * ... * 167, the smallest M of the paper.
func rocaPrimorial() *big.Int {
	m := big.NewInt(2)
	for _, p := range rocaPrimes {
		m.Mul(m, new(big.Int).SetUint64(p))
	}
	return m
}

// rocaPrime builds a prime the way the vulnerable library did:
// p = k*M + (65537^a mod M), for k of kBits bits and a random a, stepping k
// until p is prime. This is a synthetic stand-in for a real key, built from
// the paper's description, with a deterministic generator.
func rocaPrime(t *testing.T, rng *mrand.Rand, m *big.Int, kBits int) *big.Int {
	t.Helper()
	kBytes := make([]byte, (kBits+7)/8)
	for i := range kBytes {
		kBytes[i] = byte(rng.Uint32())
	}
	k := new(big.Int).SetBytes(kBytes)
	k.SetBit(k, kBits-1, 1)
	a := new(big.Int).SetUint64(rng.Uint64())
	base := new(big.Int).Exp(big.NewInt(65537), a, m)
	p := new(big.Int)
	for range 100_000 {
		p.Mul(k, m).Add(p, base)
		if p.ProbablyPrime(20) {
			return p
		}
		k.Add(k, big.NewInt(1))
	}
	t.Fatal("no prime found")
	return nil
}

func TestROCAFingerprint(t *testing.T) {
	// The table encodes the rule: each set is a subgroup holding 1 and
	// 65537, whose size divides r - 1.
	for i, r := range rocaPrimes {
		size := 0
		for x := range r {
			if rocaSubgroups[i].has(x) {
				size++
			}
		}
		if !rocaSubgroups[i].has(1) || !rocaSubgroups[i].has(65537%r) || rocaSubgroups[i].has(0) || (r-1)%uint64(size) != 0 {
			t.Fatalf("subgroup mod %d is wrong (size %d)", r, size)
		}
	}
	if m := rocaPrimorial(); m.String() != "962947420735983927056946215901134429196419130606213075415963491270" {
		t.Fatalf("primorial %s", m) // the value the paper's detector uses
	}

	b, err := os.ReadFile("testdata/roca/mod03.txt")
	if err != nil {
		t.Fatal(err)
	}
	published, _ := new(big.Int).SetString(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16)
	if !hasROCAFingerprint(published) {
		t.Fatal("published vulnerable modulus not detected")
	}

	// Synthetic 2048-bit moduli built the vulnerable way.
	rng := mrand.New(mrand.NewChaCha8([32]byte{'w', 'a', 'r', 'd', 'e', 'n'}))
	m := rocaPrimorial()
	for range 2 {
		p := rocaPrime(t, rng, m, 1024-m.BitLen())
		q := rocaPrime(t, rng, m, 1024-m.BitLen())
		n := new(big.Int).Mul(p, q)
		if n.BitLen() < 2047 || !hasROCAFingerprint(n) {
			t.Fatalf("synthetic modulus (%d bits) not detected", n.BitLen())
		}
		err := checkKey(&JWTKey{Algorithm: "RS256", PublicKey: &rsa.PublicKey{N: n, E: 65537}})
		if n.BitLen() >= minRSABits && (err == nil || !strings.Contains(err.Error(), "ROCA")) {
			t.Fatalf("checkKey: %v", err)
		}
	}

	// Sound moduli are not flagged: a generated key, and a large sample of
	// random odd numbers (each passes with probability about 2^-27.8).
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if hasROCAFingerprint(k.N) {
		t.Fatal("a crypto/rsa key flagged")
	}
	buf := make([]byte, 256)
	for i := range 20_000 {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		buf[0] |= 0x80
		buf[len(buf)-1] |= 1
		if hasROCAFingerprint(new(big.Int).SetBytes(buf)) {
			t.Fatalf("random number %d flagged", i)
		}
	}
	if hasROCAFingerprint(nil) || hasROCAFingerprint(big.NewInt(0)) {
		t.Fatal("degenerate input flagged")
	}
}

func hsToken(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifiedCacheCannotBypassTheRules: refused tokens never enter the
// cache, and a cached token meets the lifetime rule on every hit.
func TestVerifiedCacheCannotBypassTheRules(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	j, err := NewJWT(JWTConfig{
		Keys:        []JWTKey{{Algorithm: "HS256", Secret: []byte(strings.Repeat("s", 32))}},
		MaxLifetime: 2 * time.Hour,
		Now:         func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	forger := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(strings.Repeat("x", 32)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	refused := []string{
		hsToken(t, jwt.MapClaims{"sub": "1", "iat": now.Unix(), "exp": now.Add(3 * time.Hour).Unix()}),
		hsToken(t, jwt.MapClaims{"sub": "1", "exp": now.Add(30 * 24 * time.Hour).Unix()}),
		forger(jwt.MapClaims{"sub": "1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
	}
	for _, tok := range refused {
		for range 3 {
			if _, err := j.Verify(req, tok); err == nil {
				t.Fatal("accepted")
			}
		}
	}
	if n := j.cache.len(); n != 0 {
		t.Fatalf("%d refused tokens in the cache", n)
	}

	tok := hsToken(t, jwt.MapClaims{"sub": "1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if _, err := j.Verify(req, tok); err != nil {
		t.Fatal(err)
	}
	if j.cache.len() != 1 {
		t.Fatal("a valid token was not cached")
	}
	// Were the rule stricter than when the token was cached, the hit
	// would still be judged by it: the cache holds no verdict of its own.
	j.maxLifetime = 30 * time.Minute
	if _, err := j.Verify(req, tok); err == nil || !strings.Contains(err.Error(), "lifetime") {
		t.Fatalf("cached token: %v, want a lifetime refusal", err)
	}
}
