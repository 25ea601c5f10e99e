package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Why verification does not go through jwt.Parser.ParseWithClaims: that
// function decodes the payload as JSON into the claims before it calls the
// key function and checks the signature. Any bug in, or resource cost of,
// decoding attacker-chosen claims is then reachable without a key, and a
// forged token is refused by the JSON decoder rather than by the signature.
// verifyCompact keeps the library's algorithms (SigningMethod.Verify), its
// strict segment decoder and its claims Validator, but orders the steps so
// that nothing in the payload is looked at before the signature over it
// verifies.

// errPayloadNotClaims is the cause (for logs and tests; clients see
// CredentialError.Reason) of refusing a token whose signature verified but
// whose payload is not a JSON object of claims.
var errPayloadNotClaims = errors.New("payload is not a JSON object")

const (
	reasonInvalid = "The access token is invalid."
	reasonCrit    = "The access token requires a header extension this server does not support."
)

// verifiedToken is what verifyCompact establishes about a token.
type verifiedToken struct {
	id        *Identity
	notBefore time.Time // zero without "nbf"
}

// notFrom is the start of the span in which the token is valid, with the
// same leeway the validator allows: the later of nbf and iat, less leeway.
func (v *verifiedToken) notFrom(leeway time.Duration) time.Time {
	from := v.notBefore
	if v.id.IssuedAt.After(from) {
		from = v.id.IssuedAt
	}
	if from.IsZero() {
		return from
	}
	return from.Add(-leeway)
}

// malformed wraps a cause found before the signature was checked.
func malformed(what string) error {
	return invalid(reasonInvalid, fmt.Errorf("%w: %s", jwt.ErrTokenMalformed, what))
}

// verifyCompact runs every check of a JWS compact serialization that does
// not need a store, in this order:
//
//  1. shape: three segments, each unpadded base64url (RFC 7515 section 7.1);
//  2. header, decoded but not yet trusted: "crit" (refused: we implement no
//     extension), then "alg" and "kid" choose one configured key;
//  3. payload and signature decoded, strictly, so that no two spellings of
//     one token exist (no byte of the payload is interpreted), then the
//     signature verified over the segments as received;
//  4. only then the payload parsed as a JSON object and its claims
//     validated (exp, nbf, iat, iss, aud, sub, lifetime); and "typ", which
//     the signature now vouches for.
func (j *JWT) verifyCompact(raw string) (*verifiedToken, error) {
	h64, rest, ok1 := strings.Cut(raw, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return nil, malformed("not three segments")
	}
	// The decoder refuses padding and non-zero trailing bits but, like
	// every encoding/base64 decoder, skips CR and LF; checking the alphabet
	// first closes that gap.
	if !isBase64URL(h64) || !isBase64URL(p64) || !isBase64URL(s64) {
		return nil, malformed("segment is not unpadded base64url")
	}
	headerJSON, err := j.decoder.DecodeSegment(h64)
	if err != nil {
		return nil, malformed("header is not canonical base64url")
	}
	var header map[string]any
	if err := json.Unmarshal(headerJSON, &header); err != nil || header == nil {
		return nil, malformed("header is not a JSON object")
	}
	if problem := critProblem(header); problem != "" {
		return nil, invalid(reasonCrit, fmt.Errorf("%w: %s", jwt.ErrTokenUnverifiable, problem))
	}
	key, method, err := j.keyFor(header)
	if err != nil {
		return nil, invalid(reasonInvalid, fmt.Errorf("%w: %v", jwt.ErrTokenUnverifiable, err))
	}
	payload, err := j.decoder.DecodeSegment(p64)
	if err != nil {
		return nil, malformed("payload is not canonical base64url")
	}
	sig, err := j.decoder.DecodeSegment(s64)
	if err != nil {
		return nil, malformed("signature is not canonical base64url")
	}
	// The signing input is the two segments exactly as received: a token
	// is verified as it was sent, never as we would re-encode it.
	if err := method.Verify(raw[:len(h64)+1+len(p64)], sig, key); err != nil {
		return nil, invalid(reasonInvalid, fmt.Errorf("%w: %v", jwt.ErrTokenSignatureInvalid, err))
	}

	// From here on, the header and the payload are the issuer's.
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, invalid(reasonInvalid, fmt.Errorf("%w: %w", jwt.ErrTokenMalformed, err))
	}
	if err := j.validator.Validate(claims); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, refusedAs(FailureExpired, "The access token has expired.", err)
		}
		return nil, invalid(reasonInvalid, err)
	}
	if j.typ != "" {
		typ, _ := header["typ"].(string)
		if strings.TrimPrefix(strings.ToLower(typ), "application/") != j.typ {
			return nil, invalid(reasonInvalid, errors.New("wrong typ header"))
		}
	}
	v := &verifiedToken{notBefore: claimTime(claims, "nbf")}
	if v.id, err = identityFromClaims(claims); err != nil {
		return nil, err
	}
	v.id.ExpiresAt = claimTime(claims, "exp") // present: the validator requires it
	if j.lifetimeExceeded(v.id.IssuedAt, v.id.ExpiresAt, j.now()) {
		return nil, errLifetime()
	}
	if j.revocation != nil && v.id.TokenID == "" {
		return nil, invalid(reasonInvalid, errors.New("jti required when revocation is on"))
	}
	return v, nil
}

// decodeClaims parses a verified payload as a claims object.
func decodeClaims(payload []byte) (jwt.MapClaims, error) {
	// json.Unmarshal accepts "null" into a map without complaint; a JWT
	// claims set is an object (RFC 7519 section 7.2, step 10).
	if trimmed := bytes.TrimLeft(payload, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errPayloadNotClaims
	}
	claims := jwt.MapClaims{}
	// The decoder's message can quote payload bytes; the cause stays
	// generic so that no part of a token reaches a log.
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, errPayloadNotClaims
	}
	return claims, nil
}

// claimTime reads a NumericDate claim (see numericDate); zero when the
// claim is absent. The validator has already refused one of another type.
func claimTime(c jwt.MapClaims, name string) time.Time {
	if v, ok := c[name].(float64); ok {
		return numericDate(v)
	}
	return time.Time{}
}

// base64URLAlphabet marks the 64 characters of RFC 4648 section 5.
var base64URLAlphabet = func() (set [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		set[c] = true
	}
	return set
}()

// isBase64URL reports whether s uses only the base64url alphabet: no
// padding, no whitespace, no standard-alphabet "+" or "/".
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if !base64URLAlphabet[s[i]] {
			return false
		}
	}
	return true
}

// registeredHeaders are the header parameter names that RFC 7515 section
// 4.1 and RFC 7518 section 4.1 define. RFC 7515 section 4.1.11 forbids
// listing them in "crit": "crit" names extensions only.
var registeredHeaders = map[string]bool{
	"alg": true, "jku": true, "jwk": true, "kid": true, "x5u": true, "x5c": true,
	"x5t": true, "x5t#S256": true, "typ": true, "cty": true, "crit": true,
	"enc": true, "zip": true, "epk": true, "apu": true, "apv": true,
	"iv": true, "tag": true, "p2s": true, "p2c": true,
}

// critProblem explains why a header's "crit" parameter makes the token
// unacceptable, or returns "" when the header has none. RFC 7515 section
// 4.1.11: a recipient must refuse a token whose "crit" lists an extension
// it does not understand. This server understands none (not even RFC 7797
// "b64", which would change what is signed), so every "crit" is refused;
// the distinctions only make logs useful.
func critProblem(header map[string]any) string {
	v, present := header["crit"]
	if !present {
		return ""
	}
	list, ok := v.([]any)
	if !ok {
		return "crit is not a list"
	}
	if len(list) == 0 {
		return "crit is an empty list"
	}
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		name, ok := e.(string)
		switch {
		case !ok || name == "":
			return "crit lists a non-string or empty name"
		case registeredHeaders[name]:
			return "crit lists a standard header parameter"
		case seen[name]:
			return "crit lists a name twice"
		}
		if _, inHeader := header[name]; !inHeader {
			return "crit lists a parameter the header does not carry"
		}
		seen[name] = true
	}
	return "crit lists an extension this server does not implement"
}
