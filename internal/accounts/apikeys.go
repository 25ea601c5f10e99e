package accounts

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// APIKeyOptions describe a key for CreateAPIKeyWith.
type APIKeyOptions struct {
	// Name says what the key is for.
	Name string
	// Username owns the key; empty for a key that is its own principal.
	Username string
	// Permissions are the key's own; it never acts with its owner's.
	Permissions []string
	// TTL is the key's lifetime; zero for a key that never expires (the
	// command line gives keys a default lifetime and asks for
	// --no-expiry explicitly).
	TTL time.Duration
	// SurvivesReset keeps the key through a password reset of its owner.
	// By default a reset revokes the owner's keys: a reset is what an
	// owner does who fears the account is in someone else's hands, and
	// keys made by that someone must not outlive it. Keys that run
	// unattended (and were made by the operator) may opt out.
	SurvivesReset bool
}

// revokeKeysOnResetTx revokes, inside a password reset's transaction,
// every live key of userID not created to survive one; it returns how many.
func (r *repo) revokeKeysOnResetTx(ctx context.Context, tx *sql.Tx, userID string, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND survives_reset = ?`),
		ms(now), userID, false)
	if err != nil {
		return 0, unavailable(err)
	}
	n, err := res.RowsAffected()
	return n, unavailable(err)
}

// logKeysRevokedOnReset records the keys a reset revoked, by count (the
// key ids are in the database; no secret is ever logged).
func (s *Service) logKeysRevokedOnReset(ctx context.Context, userID string, n int64) {
	if n > 0 {
		s.event(ctx, slog.LevelInfo, "api_keys_revoked", slog.String("user_id", userID), slog.Int64("count", n), slog.String("reason", "password reset"))
	}
}
