package auth

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signer issues access tokens that a JWT backend configured with the
// matching key accepts.
type Signer struct {
	// KeyID is written to the "kid" header when non-empty.
	KeyID string
	// Algorithm is one of the algorithms JWTKey accepts.
	Algorithm string
	// Key is the HMAC secret ([]byte, at least MinHMACSecretBytes long) or
	// the private key (crypto.Signer).
	Key any
	// Issuer and Audience become "iss" and "aud" when non-empty.
	Issuer   string
	Audience string
	// Type is the "typ" header; "at+jwt" (RFC 9068) when empty.
	Type string
	// TTL is the token lifetime; 15 minutes when 0.
	TTL time.Duration
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// Token is an issued access token and the facts a caller may need to
// revoke it.
type Token struct {
	Raw       string
	ID        string    // the "jti" claim
	IssuedAt  time.Time // the "iat" claim, to the microsecond
	ExpiresAt time.Time
}

// Sign issues a token for subject with the standard claims (sub, iat, nbf,
// exp, jti, iss, aud) plus extra. Extra cannot override a standard claim.
func (s *Signer) Sign(subject string, extra map[string]any) (Token, error) {
	if subject == "" {
		return Token{}, errors.New("jwt: empty subject")
	}
	method := jwt.GetSigningMethod(s.Algorithm)
	if method == nil || s.Algorithm == "none" {
		return Token{}, fmt.Errorf("jwt: cannot sign with algorithm %q", s.Algorithm)
	}
	if isHMAC(s.Algorithm) {
		// The verifier refuses shorter secrets (RFC 7518 section 3.2);
		// signing with one would only mint tokens nobody accepts.
		minLen := hmacMinSecretBytes[s.Algorithm]
		secret, ok := s.Key.([]byte)
		if !ok || len(secret) < minLen {
			return Token{}, fmt.Errorf("jwt: %s needs a secret of at least %d bytes", s.Algorithm, minLen)
		}
	} else if _, ok := s.Key.(crypto.Signer); !ok {
		return Token{}, fmt.Errorf("jwt: %s needs a private key", s.Algorithm)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	// iat keeps microseconds (a NumericDate may be fractional, RFC 7519
	// section 2) so that a login right after a "log out everywhere" in the
	// same second is told apart from the tokens it revoked; truncating
	// never moves a token after the instant it was issued.
	issuedAt := now().Truncate(time.Microsecond)
	issued := issuedAt.Truncate(time.Second)
	exp := issued.Add(ttl)
	jti, err := RandomToken(16)
	if err != nil {
		return Token{}, err
	}
	claims := jwt.MapClaims{}
	for k, v := range extra {
		claims[k] = v
	}
	claims["sub"] = subject
	claims["iat"] = float64(issuedAt.UnixMicro()) / 1e6
	claims["nbf"] = issued.Unix()
	claims["exp"] = exp.Unix()
	claims["jti"] = jti
	if s.Issuer != "" {
		claims["iss"] = s.Issuer
	}
	if s.Audience != "" {
		claims["aud"] = s.Audience
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["typ"] = s.Type
	if s.Type == "" {
		t.Header["typ"] = "at+jwt"
	}
	if s.KeyID != "" {
		t.Header["kid"] = s.KeyID
	}
	raw, err := t.SignedString(s.Key)
	if err != nil {
		return Token{}, fmt.Errorf("jwt: sign: %w", err)
	}
	return Token{Raw: raw, ID: jti, IssuedAt: issuedAt, ExpiresAt: exp}, nil
}

// RandomToken returns n bytes from the system CSPRNG, base64url-encoded
// without padding.
func RandomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
