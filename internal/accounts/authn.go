package accounts

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wardenhq/warden/auth"
)

// Authenticator verifies access tokens issued by this service: the JWT
// checks, including revocation at every grain (so logout and password
// events take effect on the next request, without a database query), and
// that the token belongs to a login ("sid"): user routes serve logins only.
type Authenticator struct {
	jwt *auth.JWT
	// sessions judges, in Check, the identities the session cookie
	// produced (CookieAuthenticator).
	sessions *auth.Sessions
}

// Authenticator returns the bearer-token backend for user routes. Its
// Check also judges identities of the session cookie, so that one
// checker watches every connection of this service's logins.
func (s *Service) Authenticator() *Authenticator {
	return &Authenticator{jwt: s.cfg.JWT, sessions: s.cookies}
}

// Challenge implements auth.Authenticator.
func (a *Authenticator) Challenge() string { return a.jwt.Challenge() }

// Authenticate implements auth.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*auth.Identity, error) {
	id, err := a.jwt.Authenticate(r)
	if id == nil || err != nil {
		return id, err
	}
	if id.SessionID == "" {
		return nil, &auth.CredentialError{Reason: "The access token is not bound to a session."}
	}
	return id, nil
}

// Check implements auth.Checker for connections that outlive their
// request (chat sockets, event streams): the login is checked against the
// revocation list at every grain, and a cookie session's also against its
// absolute lifetime. Identities from elsewhere that name a login (a
// ticket's) are checked like a token's.
func (a *Authenticator) Check(ctx context.Context, id *auth.Identity) error {
	if id.SessionID == "" {
		return &auth.CredentialError{Reason: "The access token is not bound to a session."}
	}
	if id.Backend == auth.BackendSession {
		return a.sessions.Check(ctx, id)
	}
	return a.jwt.Check(ctx, id)
}

// API keys stored in the database have the form wdn_<id>_<secret>.
const apiKeyPrefix = "wdn_"

// APIKeySource resolves database-stored API keys for auth.APIKeys.
type APIKeySource struct {
	repo *repo
	now  func() time.Time
}

// APIKeySource returns the database-backed key source.
func (s *Service) APIKeySource() *APIKeySource { return &APIKeySource{repo: s.repo, now: s.now} }

// Lookup implements auth.APIKeySource.
func (k *APIKeySource) Lookup(ctx context.Context, presented string) (*auth.Identity, error) {
	rest, ok := strings.CutPrefix(presented, apiKeyPrefix)
	if !ok {
		return nil, nil
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" || len(id) > 64 {
		return nil, nil
	}
	var stored, perms string
	var userID sql.NullString
	var expires, revoked sql.NullInt64
	err := k.repo.db.QueryRowContext(ctx, k.repo.db.Rebind(`SELECT secret_hash, permissions, user_id, expires_at, revoked_at FROM api_keys WHERE id = ?`), id).
		Scan(&stored, &perms, &userID, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", auth.ErrUnavailable, err)
	}
	sum := sha256.Sum256([]byte(secret))
	want, err := hex.DecodeString(stored)
	if err != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return nil, nil
	}
	if revoked.Valid || (expires.Valid && expires.Int64 <= ms(k.now())) {
		return nil, nil
	}
	ident := &auth.Identity{UserID: "apikey:" + id, Backend: auth.BackendAPIKey, Permissions: splitPerms(perms)}
	if userID.Valid {
		ident.Claims = map[string]any{"owner": userID.String}
	}
	return ident, nil
}

// NewAPIKey is a key as created: Key is shown once and never stored.
type NewAPIKey struct {
	ID  string
	Key string
}

// CreateAPIKey stores a new key for an operator command; a password reset
// of its owner revokes it (see CreateAPIKeyWith).
func (s *Service) CreateAPIKey(ctx context.Context, name, username string, permissions []string, ttl time.Duration) (*NewAPIKey, error) {
	return s.CreateAPIKeyWith(ctx, APIKeyOptions{Name: name, Username: username, Permissions: permissions, TTL: ttl})
}

// CreateAPIKeyWith stores a new key described by o.
func (s *Service) CreateAPIKeyWith(ctx context.Context, o APIKeyOptions) (*NewAPIKey, error) {
	name, username, permissions, ttl := o.Name, o.Username, o.Permissions, o.TTL
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("accounts: an API key needs a name")
	}
	if ttl < 0 {
		return nil, errors.New("accounts: an API key's lifetime cannot be negative")
	}
	var owner any
	if username != "" {
		u, err := s.repo.userByUsername(ctx, username)
		if err != nil {
			return nil, fmt.Errorf("accounts: user %q: %w", username, err)
		}
		owner = u.ID
	}
	idBytes, err := auth.RandomToken(9)
	if err != nil {
		return nil, err
	}
	id := strings.NewReplacer("-", "x", "_", "y").Replace(idBytes)
	secret, err := auth.RandomToken(tokenBytes)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	now := s.now()
	var expires any
	if ttl > 0 {
		expires = ms(now.Add(ttl))
	}
	_, err = s.cfg.DB.ExecContext(ctx, s.cfg.DB.Rebind(`INSERT INTO api_keys (id, name, user_id, secret_hash, permissions, created_at, expires_at, survives_reset) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		id, name, owner, hex.EncodeToString(sum[:]), joinPerms(permissions), ms(now), expires, o.SurvivesReset)
	if err != nil {
		return nil, unavailable(err)
	}
	s.event(ctx, slog.LevelInfo, "api_key_created", slog.String("key_id", id))
	return &NewAPIKey{ID: id, Key: apiKeyPrefix + id + "_" + secret}, nil
}

// RevokeAPIKey revokes a stored key; ErrNotFound when no live key has id.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) error {
	res, err := s.cfg.DB.ExecContext(ctx, s.cfg.DB.Rebind(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), ms(s.now()), id)
	if err != nil {
		return unavailable(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	s.event(ctx, slog.LevelInfo, "api_key_revoked", slog.String("key_id", id))
	return nil
}
