package accounts

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
)

// refreshSecretLabel separates the successor key from every other use of
// the signing secret: HKDF under this label yields a key that says nothing
// about the secret, so the secret itself is never an HMAC key twice.
const refreshSecretLabel = "warden accounts: refresh-token successor v1"

// minRefreshSecret is the shortest RefreshSecret accepted: as long as the
// HMAC-SHA256 output, so that the key is not the weak link.
const minRefreshSecret = 32

// RefreshSecretFrom derives Config.RefreshSecret from signingKey, the HMAC
// secret that signs access tokens, with HKDF-SHA256 under a label of its
// own. It returns nil for any other kind of key (an asymmetric private key
// is not shared the same way). Every instance signing with one secret
// derives the same successor key, which is what lets racing tabs that
// reach different instances get the same successor.
func RefreshSecretFrom(signingKey any) []byte {
	secret, ok := signingKey.([]byte)
	if !ok || len(secret) == 0 {
		return nil
	}
	key, err := hkdf.Key(sha256.New, secret, nil, refreshSecretLabel, minRefreshSecret)
	if err != nil {
		return nil // only for lengths HKDF cannot produce; 32 bytes it can
	}
	return key
}

// refreshSecret returns the successor key cfg asks for, derived from the
// signer's secret when cfg names none, or random as a last resort (one
// process then answers racing tabs consistently; several do not, and the
// stored-successor check below turns their disagreement into a 401, never
// into a second chain).
func refreshSecret(cfg Config) ([]byte, error) {
	if len(cfg.RefreshSecret) > 0 {
		if len(cfg.RefreshSecret) < minRefreshSecret {
			return nil, fmt.Errorf("accounts: RefreshSecret has %d bytes; it needs at least %d", len(cfg.RefreshSecret), minRefreshSecret)
		}
		return cfg.RefreshSecret, nil
	}
	if key := RefreshSecretFrom(cfg.Signer.Key); key != nil {
		return key, nil
	}
	key := make([]byte, minRefreshSecret)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	cfg.Logger.Warn("refresh-token successor key drawn at random; instances behind one load balancer need Config.RefreshSecret")
	return key, nil
}

// successorOf derives the refresh token that replaces token:
// base64url(HMAC-SHA256(RefreshSecret, token)). Derived rather than drawn,
// it is the same bytes for every answer about token inside the grace
// window, so racing tabs stay on one login chain, and still only its
// digest is stored. It is as unguessable as a random token to anyone
// without the key, and since the first token of a login is random, so is
// every descendant.
func (s *Service) successorOf(token string) string {
	m := hmac.New(sha256.New, s.cfg.RefreshSecret)
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// successorStoredTx checks, for a token re-presented inside the grace
// window, that its successor is the one its first use stored in session.
// Otherwise (an instance with another RefreshSecret, or a token spent
// before successors were derived) the answer would be a token that no row
// backs, so the refresh fails instead: a 401 the client recovers from by
// logging in, never a second chain. The read takes no lock: the caller
// already holds the old token's and the session's, and locking the
// successor too could deadlock with its own rotation. It still sees the
// first use's insert: that transaction committed before the caller got
// its locks, and this is the transaction's first plain read, so MySQL's
// snapshot starts here and PostgreSQL reads what is committed.
func (r *repo) successorStoredTx(ctx context.Context, tx *sql.Tx, sessionID, digest string) error {
	var one int
	err := tx.QueryRowContext(ctx, r.db.Rebind(`SELECT 1 FROM refresh_tokens WHERE token_hash = ? AND session_id = ?`), digest, sessionID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errInvalidToken
	}
	return unavailable(err)
}
