package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// DefaultAPIKeyHeader carries API keys unless APIKeysConfig.Header says
// otherwise.
const DefaultAPIKeyHeader = "X-API-Key"

// minAPIKeyBytes refuses guessable configured keys.
const minAPIKeyBytes = 32

// maxAPIKeyBytes bounds the work done on a presented key before refusing it.
const maxAPIKeyBytes = 512

// APIKey is one configured key.
type APIKey struct {
	// ID names the key in identities and logs; never the secret.
	ID string
	// Secret is the whole key a client sends (at least 32 bytes).
	Secret      string
	Permissions []string
	IsAdmin     bool
}

// APIKeySource resolves a presented key. Lookup returns (nil, nil) when the
// key is unknown, and an error wrapping ErrUnavailable when it cannot tell.
// A database-backed source implements this next to the configured set.
type APIKeySource interface {
	Lookup(ctx context.Context, presented string) (*Identity, error)
}

// APIKeysConfig configures the API-key backend.
type APIKeysConfig struct {
	// Keys is the configured set; it may be empty only when Sources has
	// another source.
	Keys []APIKey
	// Sources are consulted after Keys, in order.
	Sources []APIKeySource
	// Header carries the key; DefaultAPIKeyHeader when empty.
	Header string
}

// APIKeys authenticates requests by API key.
type APIKeys struct {
	header  string
	sources []APIKeySource
}

// NewAPIKeys validates cfg. An empty key set is refused: it would
// authenticate nobody and usually means a configuration mistake.
func NewAPIKeys(cfg APIKeysConfig) (*APIKeys, error) {
	if len(cfg.Keys) == 0 && len(cfg.Sources) == 0 {
		return nil, errors.New("api keys: the key set is empty; configure at least one key or do not enable the backend")
	}
	if cfg.Header == "" {
		cfg.Header = DefaultAPIKeyHeader
	}
	a := &APIKeys{header: http.CanonicalHeaderKey(cfg.Header)}
	if len(cfg.Keys) > 0 {
		set, err := newStaticKeys(cfg.Keys)
		if err != nil {
			return nil, err
		}
		a.sources = append(a.sources, set)
	}
	a.sources = append(a.sources, cfg.Sources...)
	return a, nil
}

// With returns a copy of a that also consults sources, after a's own: a
// configured set built (and validated) once can be joined later by a
// source that opens after configuration, such as keys in a database.
func (a *APIKeys) With(sources ...APIKeySource) *APIKeys {
	return &APIKeys{header: a.header, sources: append(slices.Clip(a.sources), sources...)}
}

// Challenge implements Authenticator.
func (a *APIKeys) Challenge() string {
	return `Bearer realm="warden", ApiKey realm="warden", header="` + a.header + `"`
}

// Authenticate implements Authenticator.
func (a *APIKeys) Authenticate(r *http.Request) (*Identity, error) {
	values, present := r.Header[a.header]
	if !present {
		return nil, nil
	}
	if len(values) != 1 {
		return nil, invalid("Send exactly one API key.", nil)
	}
	key := strings.TrimSpace(values[0])
	if key == "" || len(key) > maxAPIKeyBytes {
		return nil, invalid("The API key is invalid.", nil)
	}
	for _, s := range a.sources {
		id, err := s.Lookup(r.Context(), key)
		if err != nil {
			if errors.Is(err, ErrUnavailable) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if id != nil {
			return id, nil
		}
	}
	return nil, invalid("The API key is invalid.", nil)
}

type staticKey struct {
	digest [sha256.Size]byte
	id     *Identity
}

// staticKeys is the configured set. Keys are held as SHA-256 digests and
// compared in constant time against every entry, so neither the contents
// nor the position of a matching key shows in the timing.
type staticKeys []staticKey

func newStaticKeys(keys []APIKey) (staticKeys, error) {
	set := make(staticKeys, 0, len(keys))
	seen := map[string]bool{}
	for _, k := range keys {
		switch {
		case k.ID == "" || strings.ContainsAny(k.ID, " \t\r\n:,"):
			return nil, fmt.Errorf("api keys: key id %q must be non-empty without spaces, ':' or ','", k.ID)
		case seen[k.ID]:
			return nil, fmt.Errorf("api keys: key id %q configured twice", k.ID)
		case len(k.Secret) < minAPIKeyBytes:
			return nil, fmt.Errorf("api keys: key %q is %d bytes; use at least %d random characters", k.ID, len(k.Secret), minAPIKeyBytes)
		case len(k.Secret) > maxAPIKeyBytes || !sendable(k.Secret):
			// Authenticate refuses such a key before looking it up: a
			// configured one could never be used, which hides a mistake.
			return nil, fmt.Errorf("api keys: key %q must be at most %d printable ASCII characters without spaces", k.ID, maxAPIKeyBytes)
		}
		seen[k.ID] = true
		set = append(set, staticKey{
			digest: sha256.Sum256([]byte(k.Secret)),
			id: &Identity{
				UserID:      "apikey:" + k.ID,
				Backend:     BackendAPIKey,
				Permissions: append([]string(nil), k.Permissions...),
				IsAdmin:     k.IsAdmin,
			},
		})
	}
	return set, nil
}

// sendable reports whether a key survives a trip in an HTTP header
// unchanged: printable ASCII, no spaces (Authenticate trims them).
func sendable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (s staticKeys) Lookup(_ context.Context, presented string) (*Identity, error) {
	d := sha256.Sum256([]byte(presented))
	var found *Identity
	for i := range s {
		if subtle.ConstantTimeCompare(d[:], s[i].digest[:]) == 1 {
			found = s[i].id
		}
	}
	if found == nil {
		return nil, nil
	}
	// A copy, so that a handler cannot alter the configured identity.
	id := *found
	id.Permissions = append([]string(nil), found.Permissions...)
	return &id, nil
}
