package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/revoke"
)

// DefaultMaxTokenBytes is the largest token accepted when
// JWTConfig.MaxTokenBytes is 0.
const DefaultMaxTokenBytes = 8 << 10

// DefaultLeeway absorbs clock skew between issuer and verifier.
const DefaultLeeway = 30 * time.Second

// maxLeeway keeps a configuration from quietly extending every token's life.
const maxLeeway = 5 * time.Minute

// minHMACKeyBytes is the shortest HMAC secret accepted: 256 bits, as
// RFC 7518 section 3.2 requires for HS256.
const minHMACKeyBytes = 32

// JWTKey is one verification key. Each key accepts exactly one algorithm.
type JWTKey struct {
	// ID is matched against the token's "kid". It may be empty only when
	// it is the sole key.
	ID string
	// Algorithm is one of HS256, HS384, HS512, RS256, RS384, RS512, ES256,
	// ES384, EdDSA.
	Algorithm string
	// Secret is the HMAC secret for HS* algorithms (at least 32 bytes).
	Secret []byte
	// PublicKey verifies RS* (*rsa.PublicKey), ES* (*ecdsa.PublicKey) and
	// EdDSA (ed25519.PublicKey) signatures.
	PublicKey crypto.PublicKey
}

// JWTConfig configures the JWT backend.
type JWTConfig struct {
	Keys []JWTKey
	// Issuer, Audience and Type are checked when non-empty. Type matches
	// the "typ" header case-insensitively, with or without "application/".
	Issuer   string
	Audience string
	Type     string
	// Leeway for exp, nbf and iat; DefaultLeeway when 0, at most 5 minutes.
	Leeway time.Duration
	// Header carries the token; "Authorization" (with the Bearer scheme)
	// when empty. Any other header carries the bare token.
	Header string
	// MaxTokenBytes; DefaultMaxTokenBytes when 0.
	MaxTokenBytes int
	// Revocation, when set, makes "jti" required and refuses revoked ids.
	Revocation revoke.Store
	// CacheSize bounds the verified-token cache (see Verify):
	// DefaultJWTCacheSize when 0, no cache when negative.
	CacheSize int
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// JWT authenticates bearer JSON Web Tokens. Create it with NewJWT.
type JWT struct {
	keys       map[string]*JWTKey
	soleKey    *JWTKey
	parser     *jwt.Parser
	typ        string
	header     string
	bearer     bool
	maxBytes   int
	revocation revoke.Store
	challenge  string
	leeway     time.Duration
	now        func() time.Time
	cache      *verifiedCache
}

var keyTypes = map[string]func(crypto.PublicKey) bool{
	"RS256": isRSA, "RS384": isRSA, "RS512": isRSA,
	"ES256": isCurve(elliptic.P256()), "ES384": isCurve(elliptic.P384()),
	"EdDSA": func(k crypto.PublicKey) bool { _, ok := k.(ed25519.PublicKey); return ok },
}

func isRSA(k crypto.PublicKey) bool {
	pub, ok := k.(*rsa.PublicKey)
	return ok && pub.N.BitLen() >= 2048
}

func isCurve(c elliptic.Curve) func(crypto.PublicKey) bool {
	return func(k crypto.PublicKey) bool {
		pub, ok := k.(*ecdsa.PublicKey)
		return ok && pub.Curve == c
	}
}

func isHMAC(alg string) bool { return alg == "HS256" || alg == "HS384" || alg == "HS512" }

// NewJWT validates cfg and returns the backend. It refuses configurations
// that would weaken verification: no keys, "none", unknown algorithms, short
// HMAC secrets, a key whose type does not fit its algorithm (RSA under 2048
// bits included), duplicate or missing key ids.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("jwt: no verification key configured")
	}
	j := &JWT{keys: make(map[string]*JWTKey, len(cfg.Keys)), revocation: cfg.Revocation}
	algs := make([]string, 0, len(cfg.Keys))
	for i := range cfg.Keys {
		k := cfg.Keys[i]
		if err := checkKey(&k); err != nil {
			return nil, err
		}
		if k.ID == "" && len(cfg.Keys) > 1 {
			return nil, errors.New("jwt: every key needs an ID (kid) when several keys are configured")
		}
		if _, dup := j.keys[k.ID]; dup {
			return nil, fmt.Errorf("jwt: key id %q configured twice", k.ID)
		}
		j.keys[k.ID] = &k
		algs = append(algs, k.Algorithm)
	}
	if len(cfg.Keys) == 1 {
		j.soleKey = j.keys[cfg.Keys[0].ID]
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	if leeway < 0 || leeway > maxLeeway {
		return nil, fmt.Errorf("jwt: leeway %v is outside 0..%v", cfg.Leeway, maxLeeway)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithIssuedAt(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	j.parser = jwt.NewParser(opts...)
	j.typ = strings.ToLower(strings.TrimPrefix(strings.ToLower(cfg.Type), "application/"))
	if cfg.Header == "" {
		cfg.Header = "Authorization"
	}
	j.header = http.CanonicalHeaderKey(cfg.Header)
	j.bearer = j.header == "Authorization"
	j.maxBytes = cfg.MaxTokenBytes
	if j.maxBytes <= 0 {
		j.maxBytes = DefaultMaxTokenBytes
	}
	j.challenge = `Bearer realm="warden", error="invalid_token"`
	j.leeway = leeway
	j.now = cfg.Now
	if j.now == nil {
		j.now = time.Now
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultJWTCacheSize
	}
	j.cache = newVerifiedCache(size)
	return j, nil
}

func checkKey(k *JWTKey) error {
	name := k.ID
	if name == "" {
		name = "(no kid)"
	}
	switch {
	case strings.EqualFold(k.Algorithm, "none") || k.Algorithm == "":
		return fmt.Errorf("jwt: key %s: algorithm %q is not allowed; choose HS256, RS256, ES256 or EdDSA", name, k.Algorithm)
	case isHMAC(k.Algorithm):
		if len(k.Secret) < minHMACKeyBytes {
			return fmt.Errorf("jwt: key %s: %s secret is %d bytes; use at least %d random bytes", name, k.Algorithm, len(k.Secret), minHMACKeyBytes)
		}
		if k.PublicKey != nil {
			return fmt.Errorf("jwt: key %s: an HMAC key must not also carry a public key", name)
		}
	default:
		fits, known := keyTypes[k.Algorithm]
		if !known {
			return fmt.Errorf("jwt: key %s: unsupported algorithm %q", name, k.Algorithm)
		}
		if k.Secret != nil {
			return fmt.Errorf("jwt: key %s: %s takes a public key, not a secret", name, k.Algorithm)
		}
		if !fits(k.PublicKey) {
			return fmt.Errorf("jwt: key %s: the public key does not fit %s (RSA keys need at least 2048 bits)", name, k.Algorithm)
		}
	}
	return nil
}

// Challenge implements Authenticator.
func (j *JWT) Challenge() string { return j.challenge }

// token extracts the raw token from r; ok is false when there is none.
func (j *JWT) token(r *http.Request) (string, bool, error) {
	v := r.Header.Get(j.header)
	if v == "" {
		return "", false, nil
	}
	if j.bearer {
		scheme, rest, found := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			// Another scheme (Basic, ApiKey...) belongs to another backend.
			return "", false, nil
		}
		if !found {
			return "", true, invalid("The bearer token is missing.", nil)
		}
		v = strings.TrimLeft(rest, " ")
	}
	if v == "" {
		return "", true, invalid("The bearer token is missing.", nil)
	}
	return v, true, nil
}

// Authenticate implements Authenticator.
func (j *JWT) Authenticate(r *http.Request) (*Identity, error) {
	raw, present, err := j.token(r)
	if !present || err != nil {
		return nil, err
	}
	return j.Verify(r, raw)
}

// Verify checks one raw token and returns its identity. It is Authenticate
// without the header extraction, for tokens that arrive another way.
//
// A token seen before is served from a bounded cache of verified tokens:
// its signature and fixed claims are not checked again, but its exp and
// nbf are, against the clock, and the revocation list is always asked. The
// returned Identity is the caller's own copy; its Claims map and
// Permissions slice are shared and must be treated as read-only.
func (j *JWT) Verify(r *http.Request, raw string) (*Identity, error) {
	if len(raw) > j.maxBytes {
		return nil, invalid("The access token is too large.", nil)
	}
	var key [sha256.Size]byte
	if j.cache != nil {
		key = sha256.Sum256([]byte(raw))
		if id, ok := j.cache.get(&key, j.now()); ok {
			return j.checkRevoked(r, id)
		}
	}
	id, err := j.parse(raw)
	if err != nil {
		return nil, err
	}
	if j.cache != nil {
		if notFrom, notAfter, ok := j.window(id); ok {
			j.cache.put(&key, id, notFrom, notAfter, j.now())
		}
	}
	return j.checkRevoked(r, id)
}

// parse runs every check of a token that does not need a store.
func (j *JWT) parse(raw string) (*Identity, error) {
	claims := jwt.MapClaims{}
	tok, err := j.parser.ParseWithClaims(raw, claims, j.keyFor)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, invalid("The access token has expired.", err)
		}
		return nil, invalid("The access token is invalid.", err)
	}
	if j.typ != "" {
		typ, _ := tok.Header["typ"].(string)
		if strings.TrimPrefix(strings.ToLower(typ), "application/") != j.typ {
			return nil, invalid("The access token is invalid.", errors.New("wrong typ header"))
		}
	}
	id, err := identityFromClaims(claims)
	if err != nil {
		return nil, err
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		id.ExpiresAt = exp.Time
	}
	if j.revocation != nil && id.TokenID == "" {
		return nil, invalid("The access token is invalid.", errors.New("jti required when revocation is on"))
	}
	return id, nil
}

// window is the span in which a verified token stays valid, with the same
// leeway the parser allows: from nbf and iat to exp.
func (j *JWT) window(id *Identity) (notFrom, notAfter time.Time, ok bool) {
	if id.ExpiresAt.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	for _, name := range []string{"nbf", "iat"} {
		if v, isNum := id.Claims[name].(float64); isNum {
			if t := time.Unix(int64(v), 0).Add(-j.leeway); t.After(notFrom) {
				notFrom = t
			}
		}
	}
	return notFrom, id.ExpiresAt.Add(j.leeway), true
}

// numericDate converts a JWT NumericDate, which may carry a fraction of a
// second (RFC 7519 section 2), keeping microseconds: revocation compares
// issue times with a user's not-before at sub-second precision.
func numericDate(v float64) time.Time {
	sec := math.Floor(v)
	return time.Unix(int64(sec), int64(math.Round((v-sec)*1e6))*1e3)
}

// checkRevoked asks the revocation list about a valid token, at each grain
// (the token, its login, its holder's not-before); a list that cannot
// answer refuses it.
func (j *JWT) checkRevoked(r *http.Request, id *Identity) (*Identity, error) {
	if j.revocation == nil {
		return id, nil
	}
	revoked, err := j.revocation.Check(r.Context(), revoke.Token{
		ID: id.TokenID, Session: id.SessionID, Subject: id.UserID, IssuedAt: id.IssuedAt, ExpiresAt: id.ExpiresAt,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: revocation check: %v", ErrUnavailable, err)
	}
	if revoked {
		return nil, invalid("The access token has been revoked.", nil)
	}
	return id, nil
}

// keyFor selects the verification key by "kid" and insists the token's
// algorithm is the one bound to that key.
func (j *JWT) keyFor(t *jwt.Token) (any, error) {
	var k *JWTKey
	switch kid, hasKid := t.Header["kid"]; {
	case hasKid:
		s, ok := kid.(string)
		if !ok {
			return nil, errors.New("kid is not a string")
		}
		if k = j.keys[s]; k == nil {
			return nil, errors.New("unknown kid")
		}
	case j.soleKey != nil:
		k = j.soleKey
	default:
		return nil, errors.New("kid required")
	}
	if t.Method.Alg() != k.Algorithm {
		return nil, errors.New("algorithm does not match the key")
	}
	if k.Secret != nil {
		return k.Secret, nil
	}
	return k.PublicKey, nil
}

func identityFromClaims(c jwt.MapClaims) (*Identity, error) {
	sub, ok := c["sub"].(string)
	if !ok || sub == "" {
		return nil, invalid("The access token is invalid.", errors.New("sub claim missing"))
	}
	id := &Identity{UserID: sub, Backend: BackendJWT, Claims: c}
	id.IsStaff, _ = c["is_staff"].(bool)
	superuser, _ := c["is_superuser"].(bool)
	admin, _ := c["is_admin"].(bool)
	id.IsAdmin = superuser || admin
	id.TokenID, _ = c["jti"].(string)
	id.SessionID, _ = c["sid"].(string)
	if iat, ok := c["iat"].(float64); ok {
		id.IssuedAt = numericDate(iat)
	}
	if perms, ok := c["permissions"].([]any); ok {
		id.Permissions = make([]string, 0, len(perms))
		for _, p := range perms {
			if s, ok := p.(string); ok {
				id.Permissions = append(id.Permissions, s)
			}
		}
	}
	return id, nil
}

// ParsePublicKeyPEM parses a PEM public key for alg (RS*, ES* or EdDSA).
func ParsePublicKeyPEM(alg string, pem []byte) (crypto.PublicKey, error) {
	switch alg {
	case "RS256", "RS384", "RS512":
		return jwt.ParseRSAPublicKeyFromPEM(pem)
	case "ES256", "ES384":
		return jwt.ParseECPublicKeyFromPEM(pem)
	case "EdDSA":
		return jwt.ParseEdPublicKeyFromPEM(pem)
	}
	return nil, fmt.Errorf("algorithm %q takes no public key; use RS256, ES256 or EdDSA", alg)
}
