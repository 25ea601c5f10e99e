package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// JWTSet authenticates bearer tokens with one of several JWT backends,
// chosen by the token's header: the backend that holds the "kid", or, for
// a token without one, the backend bound to its "alg". It lets a server
// accept its own HMAC-signed tokens and tokens of external issuers signed
// with public keys without putting an HMAC secret and public keys in one
// verifier (which NewJWT refuses). The header only chooses a backend; that
// backend then verifies the token entirely, so a lie in the header can
// only make verification fail.
type JWTSet struct {
	backends []*JWT
	byKID    map[string]*JWT
	byAlg    map[string]*JWT // algorithms bound to exactly one backend
	first    *JWT            // reads the token and gives the challenge
}

// NewJWTSet returns a set of backends. They must read the token from the
// same header and share no key id.
func NewJWTSet(backends ...*JWT) (*JWTSet, error) {
	if len(backends) == 0 {
		return nil, errors.New("jwt set: no backend")
	}
	s := &JWTSet{backends: backends, byKID: map[string]*JWT{}, byAlg: map[string]*JWT{}, first: backends[0]}
	shared := map[string]bool{}
	for _, b := range backends {
		if b == nil {
			return nil, errors.New("jwt set: nil backend")
		}
		if b.header != s.first.header {
			return nil, errors.New("jwt set: every backend must read the token from the same header")
		}
		for kid := range b.keys {
			if s.byKID[kid] != nil {
				return nil, fmt.Errorf("jwt set: key id %q is configured twice", kid)
			}
			s.byKID[kid] = b
		}
		for alg := range b.algs {
			if s.byAlg[alg] != nil {
				shared[alg] = true
			}
			s.byAlg[alg] = b
		}
	}
	for alg := range shared {
		delete(s.byAlg, alg) // ambiguous without a kid
	}
	return s, nil
}

// Challenge implements Authenticator.
func (s *JWTSet) Challenge() string { return s.first.Challenge() }

// Authenticate implements Authenticator.
func (s *JWTSet) Authenticate(r *http.Request) (*Identity, error) {
	raw, present, err := s.first.token(r)
	if !present || err != nil {
		return nil, err
	}
	return s.Verify(r, raw)
}

// Verify checks raw with the backend its header names.
func (s *JWTSet) Verify(r *http.Request, raw string) (*Identity, error) {
	if len(s.backends) == 1 {
		return s.first.Verify(r, raw)
	}
	if len(raw) > s.first.maxBytes {
		return nil, invalid("The access token is too large.", nil)
	}
	b := s.choose(raw)
	if b == nil {
		return nil, invalid(reasonInvalid, errors.New("no backend holds the token's key"))
	}
	return b.Verify(r, raw)
}

// choose reads the untrusted header just far enough to pick a backend.
func (s *JWTSet) choose(raw string) *JWT {
	h64, _, ok := strings.Cut(raw, ".")
	if !ok {
		return nil
	}
	headerJSON, err := base64.RawURLEncoding.Strict().DecodeString(h64)
	if err != nil {
		return nil
	}
	var header struct {
		Alg string  `json:"alg"`
		Kid *string `json:"kid"`
	}
	if json.Unmarshal(headerJSON, &header) != nil {
		return nil
	}
	if header.Kid != nil {
		return s.byKID[*header.Kid]
	}
	return s.byAlg[header.Alg]
}
