package accounts

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// Repository errors.
var (
	ErrNotFound      = errors.New("accounts: not found")
	ErrUsernameTaken = errors.New("accounts: username taken")
	ErrEmailTaken    = errors.New("accounts: email taken")
	errInvalidToken  = errors.New("accounts: token invalid, used or expired")
	errRefreshReuse  = errors.New("accounts: refresh token reuse")
)

// User is an account.
type User struct {
	ID            string
	Username      string
	Email         string
	PasswordHash  string
	FirstName     string
	LastName      string
	IsStaff       bool
	IsAdmin       bool
	EmailVerified bool
	Permissions   []string
	CreatedAt     time.Time
}

// Session is one login: the family of refresh tokens descended from it.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	UserAgent  string
	IP         string
	// Cookie reports a browser-mode login (a session cookie, no refresh
	// tokens).
	Cookie bool
}

// migrations holds the accounts schema, one directory of goose SQL files
// per dialect: the tables are this feature's, so their definition lives
// beside the queries that use them.
//
//go:embed migrations
var migrations embed.FS

// Migrate brings the accounts tables of db up to date. Call it before New,
// and before serving: the service never runs on a half-migrated schema.
// Concurrent calls from several processes are safe (see store.DB.Migrate).
func Migrate(ctx context.Context, db *store.DB) error {
	dirs, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx, "accounts", dirs); err != nil {
		return err
	}
	return backfillUsernameKeys(ctx, db)
}

// repo is the SQL repository. Queries are portable SQL with '?'
// placeholders (rebound per dialect); timestamps are Unix milliseconds.
type repo struct {
	db    *store.DB
	stmts sync.Map // query -> *sql.Stmt
	// caches keep the hot reads of signed-in requests (readcache.go).
	caches readCaches
}

// prepared returns the statement for a hot read query, prepared once: the
// per-request session check and user lookup then skip SQL parsing, which
// dominated their cost on SQLite.
func (r *repo) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := r.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := r.db.PrepareContext(ctx, r.db.Rebind(query))
	if err != nil {
		return nil, unavailable(err)
	}
	if prev, loaded := r.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// key folds a username or email for uniqueness and lookup.
func key(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func joinPerms(p []string) string { return strings.Join(p, " ") }

func splitPerms(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Fields(s)
}

// unavailable marks errors of a database that did not answer, so handlers
// can answer 503 without details.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return errors.Join(store.ErrUnavailable, err)
}

const userColumns = `id, username, email, password_hash, first_name, last_name, is_staff, is_admin, email_verified, permissions, created_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var perms string
	var created int64
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.FirstName, &u.LastName, &u.IsStaff, &u.IsAdmin, &u.EmailVerified, &perms, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	u.Permissions = splitPerms(perms)
	u.CreatedAt = fromMS(created)
	return &u, nil
}

func (r *repo) createUser(ctx context.Context, u *User, now time.Time) error {
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		emailTaken, err := r.newUserTx(ctx, tx, u)
		if err != nil {
			return err
		}
		if emailTaken {
			return ErrEmailTaken
		}
		_, err = tx.ExecContext(ctx, r.db.Rebind(`INSERT INTO users (id, username, username_key, username_norm, email, email_key, password_hash, first_name, last_name, is_staff, is_admin, email_verified, permissions, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			u.ID, u.Username, key(u.Username), usernameKey(u.Username), u.Email, key(u.Email), u.PasswordHash, u.FirstName, u.LastName,
			u.IsStaff, u.IsAdmin, u.EmailVerified, joinPerms(u.Permissions), ms(now), ms(now))
		if err != nil {
			return insertUserError(err)
		}
		u.CreatedAt = fromMS(ms(now))
		return nil
	})
}

// newUserTx checks, inside tx, that u's username (or a look-alike) is
// free, ErrUsernameTaken otherwise, and reports whether u's address
// already belongs to an account.
func (r *repo) newUserTx(ctx context.Context, tx *sql.Tx, u *User) (emailTaken bool, err error) {
	taken, err := r.usernameTakenTx(ctx, tx, u.Username)
	if err != nil {
		return false, err
	}
	if taken {
		return false, ErrUsernameTaken
	}
	var n int
	if err := tx.QueryRowContext(ctx, r.db.Rebind(`SELECT COUNT(*) FROM users WHERE email_key = ?`), key(u.Email)).Scan(&n); err != nil {
		return false, unavailable(err)
	}
	return n > 0, nil
}

// insertUserError maps a failed INSERT into users: a unique index won by a
// concurrent registration is ErrEmailTaken or ErrUsernameTaken.
func insertUserError(err error) error {
	if isUniqueViolation(err) {
		if strings.Contains(strings.ToLower(err.Error()), "email") {
			return ErrEmailTaken
		}
		return ErrUsernameTaken
	}
	return unavailable(err)
}

func isUniqueViolation(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "unique") || strings.Contains(s, "duplicate")
}

func (r *repo) userBy(ctx context.Context, column, value string) (*User, error) {
	st, err := r.prepared(ctx, `SELECT `+userColumns+` FROM users WHERE `+column+` = ?`)
	if err != nil {
		return nil, err
	}
	return scanUser(st.QueryRowContext(ctx, value))
}

func (r *repo) userByID(ctx context.Context, id string) (*User, error) {
	return r.userBy(ctx, "id", id)
}

func (r *repo) userByEmail(ctx context.Context, email string) (*User, error) {
	return r.userBy(ctx, "email_key", key(email))
}

func (r *repo) userByUsername(ctx context.Context, username string) (*User, error) {
	return r.userBy(ctx, "username_key", key(username))
}

func (r *repo) setPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`), hash, ms(now), userID)
	r.accountChanged(userID)
	return unavailable(err)
}

func (r *repo) createOneTimeToken(ctx context.Context, userID, purpose, digest string, now time.Time, ttl time.Duration) error {
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		digest, userID, purpose, ms(now), ms(now.Add(ttl)))
	return unavailable(err)
}

// queryRower is what *sql.DB and *sql.Tx share for single-row reads.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// liveOneTimeToken returns the user of an unused, unexpired token of
// purpose, without spending it; errInvalidToken when there is none.
func (r *repo) liveOneTimeToken(ctx context.Context, q queryRower, digest, purpose string, now time.Time) (string, error) {
	var userID string
	err := q.QueryRowContext(ctx, r.db.Rebind(`SELECT user_id FROM one_time_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?`),
		digest, purpose, ms(now)).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errInvalidToken
	}
	if err != nil {
		return "", unavailable(err)
	}
	return userID, nil
}

// consumeOneTimeToken marks a live token used inside tx and returns its user.
func (r *repo) consumeOneTimeToken(ctx context.Context, tx *sql.Tx, digest, purpose string, now time.Time) (string, error) {
	userID, err := r.liveOneTimeToken(ctx, tx, digest, purpose, now)
	if err != nil {
		return "", err
	}
	res, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE one_time_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL`), ms(now), digest)
	if err != nil {
		return "", unavailable(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", errInvalidToken
	}
	return userID, nil
}

// invalidateOneTimeTokens retires every unused token of purpose for user,
// so only the newest link works.
func (r *repo) invalidateOneTimeTokens(ctx context.Context, userID, purpose string, now time.Time) error {
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`UPDATE one_time_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL`), ms(now), userID, purpose)
	return unavailable(err)
}

func (r *repo) insertSession(ctx context.Context, tx *sql.Tx, s *Session, refreshDigest string, refreshExp time.Time) error {
	_, err := tx.ExecContext(ctx, r.db.Rebind(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		s.ID, s.UserID, ms(s.CreatedAt), ms(s.LastUsedAt), ms(s.ExpiresAt), s.UserAgent, s.IP)
	if err != nil {
		return unavailable(err)
	}
	return r.insertRefresh(ctx, tx, s.ID, refreshDigest, s.CreatedAt, refreshExp)
}

func (r *repo) insertRefresh(ctx context.Context, tx *sql.Tx, sessionID, digest string, now, exp time.Time) error {
	_, err := tx.ExecContext(ctx, r.db.Rebind(`INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		digest, sessionID, ms(now), ms(exp))
	return unavailable(err)
}

// rotation is the outcome of presenting a refresh token.
type rotation struct {
	SessionID string
	UserID    string
	Reused    bool // a used token outside the grace window: the login was revoked
}

// rotateRefresh spends the refresh token with digest old and stores its
// successor newDigest, all in one transaction. A token already spent within
// grace is honoured again (racing tabs) with the successor its first use
// stored, which the caller derives again byte for byte: no second chain is
// ever stored. One spent earlier revokes the whole session and reports
// Reused.
func (r *repo) rotateRefresh(ctx context.Context, old, newDigest string, now time.Time, grace time.Duration, refreshTTL time.Duration) (rotation, error) {
	var out rotation
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		var tokExp, sessExp int64
		var usedAt, revokedAt sql.NullInt64
		err := tx.QueryRowContext(ctx, r.db.Rebind(`SELECT rt.session_id, rt.expires_at, rt.used_at, s.user_id, s.expires_at, s.revoked_at
			FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = ?`+r.forUpdate()), old).
			Scan(&out.SessionID, &tokExp, &usedAt, &out.UserID, &sessExp, &revokedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return errInvalidToken
		}
		if err != nil {
			return unavailable(err)
		}
		if revokedAt.Valid || tokExp <= ms(now) || sessExp <= ms(now) {
			return errInvalidToken
		}
		if usedAt.Valid {
			if grace <= 0 || ms(now)-usedAt.Int64 > grace.Milliseconds() {
				if _, err := r.revokeSessionTx(ctx, tx, out.SessionID, "", "refresh token reuse", now); err != nil {
					return err
				}
				out.Reused = true
				return nil
			}
			return r.successorStoredTx(ctx, tx, out.SessionID, newDigest)
		}
		res, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL`), ms(now), old)
		if err != nil {
			return unavailable(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errInvalidToken
		}
		exp := now.Add(refreshTTL)
		if exp.After(fromMS(sessExp)) {
			exp = fromMS(sessExp)
		}
		if err := r.insertRefresh(ctx, tx, out.SessionID, newDigest, now, exp); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, r.db.Rebind(`UPDATE sessions SET last_used_at = ? WHERE id = ?`), ms(now), out.SessionID)
		return unavailable(err)
	})
	// Only a reuse ends a login here; a refused token, which anyone can
	// send, must not empty the cache.
	r.sessionsEnded(out.Reused, nil)
	if err == nil && out.Reused {
		return out, errRefreshReuse
	}
	return out, err
}

// forUpdate locks the selected rows on engines with row locks; SQLite's
// immediate transactions already hold the database write lock.
func (r *repo) forUpdate() string {
	if r.db.Dialect == store.SQLite {
		return ""
	}
	return " FOR UPDATE"
}

// sessionOfRefresh returns the session a refresh token belongs to.
func (r *repo) sessionOfRefresh(ctx context.Context, digest string) (string, error) {
	var id string
	err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT session_id FROM refresh_tokens WHERE token_hash = ?`), digest).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return id, unavailable(err)
}

func (r *repo) revokeSessionTx(ctx context.Context, tx *sql.Tx, id, userID, reason string, now time.Time) (bool, error) {
	q := `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL`
	args := []any{ms(now), reason, id}
	if userID != "" {
		q += ` AND user_id = ?`
		args = append(args, userID)
	}
	res, err := tx.ExecContext(ctx, r.db.Rebind(q), args...)
	if err != nil {
		return false, unavailable(err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// revokeSession ends one session of userID; false when there was none live.
func (r *repo) revokeSession(ctx context.Context, id, userID, reason string, now time.Time) (bool, error) {
	var ok bool
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		ok, err = r.revokeSessionTx(ctx, tx, id, userID, reason, now)
		return err
	})
	r.sessionsEnded(ok, err)
	return ok, err
}

// endOtherSessionsTx ends every live session of userID but except and
// returns their ids, for revoking their access tokens.
func (r *repo) endOtherSessionsTx(ctx context.Context, tx *sql.Tx, userID, except, reason string, now time.Time) ([]string, error) {
	return r.endSessionsTx(ctx, tx, userID, `id <> ?`, []any{except}, reason, now)
}

// endSessionsTx ends every live session of userID that also meets cond (a
// condition on sessions' columns, with its arguments) and returns their
// ids, for revoking them on every route.
func (r *repo) endSessionsTx(ctx context.Context, tx *sql.Tx, userID, cond string, condArgs []any, reason string, now time.Time) ([]string, error) {
	rows, err := tx.QueryContext(ctx, r.db.Rebind(`SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND `+cond+r.forUpdate()), append([]any{userID}, condArgs...)...)
	if err != nil {
		return nil, unavailable(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, unavailable(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	for _, id := range ids {
		if _, err := r.revokeSessionTx(ctx, tx, id, userID, reason, now); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// revokeSessions ends every live session of userID. A password change,
// which keeps the caller's own login, uses endOtherSessionsTx instead.
func (r *repo) revokeSessions(ctx context.Context, userID, reason string, now time.Time) (int64, error) {
	res, err := r.db.ExecContext(ctx, r.db.Rebind(`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL`),
		ms(now), reason, userID)
	if err != nil {
		r.sessionsEnded(false, err)
		return 0, unavailable(err)
	}
	n, err := res.RowsAffected()
	r.sessionsEnded(n > 0, err)
	return n, err
}

// listSessions returns userID's live logins: not ended, not expired, and
// for a cookie login not idle for cookieIdle either.
func (r *repo) listSessions(ctx context.Context, userID string, now time.Time, cookieIdle time.Duration) ([]Session, error) {
	rows, err := r.db.QueryContext(ctx, r.db.Rebind(`SELECT id, created_at, last_used_at, expires_at, user_agent, ip, cookie_hash IS NOT NULL FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND (cookie_hash IS NULL OR last_used_at > ?) ORDER BY last_used_at DESC`),
		userID, ms(now), ms(now.Add(-cookieIdle)))
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		s := Session{UserID: userID}
		var created, used, exp int64
		if err := rows.Scan(&s.ID, &created, &used, &exp, &s.UserAgent, &s.IP, &s.Cookie); err != nil {
			return nil, unavailable(err)
		}
		s.CreatedAt, s.LastUsedAt, s.ExpiresAt = fromMS(created), fromMS(used), fromMS(exp)
		out = append(out, s)
	}
	return out, unavailable(rows.Err())
}

// sqlFailures is the FailureCounter kept in the database, used when no
// shared cache is configured.
type sqlFailures struct{ *repo }

// Failures implements FailureCounter.
func (r sqlFailures) Failures(ctx context.Context, k string, now time.Time) (int, time.Time, error) {
	var n int
	var last int64
	err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT failures, last_at FROM login_failures WHERE login_key = ?`), k).Scan(&n, &last)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && now.Sub(fromMS(last)) > failureMemory) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, unavailable(err)
	}
	return n, fromMS(last), nil
}

// Record implements FailureCounter with one upsert, so that concurrent
// failures under a new key neither collide nor get lost.
func (r sqlFailures) Record(ctx context.Context, k string, now time.Time) (int, error) {
	cutoff := ms(now.Add(-failureMemory))
	upsert := `INSERT INTO login_failures (login_key, failures, last_at) VALUES (?, 1, ?)
		ON CONFLICT (login_key) DO UPDATE SET
		failures = CASE WHEN login_failures.last_at < ? THEN 1 ELSE login_failures.failures + 1 END,
		last_at = ?`
	if r.db.Dialect == store.MySQL {
		upsert = `INSERT INTO login_failures (login_key, failures, last_at) VALUES (?, 1, ?)
		ON DUPLICATE KEY UPDATE failures = IF(last_at < ?, 1, failures + 1), last_at = ?`
	}
	var count int
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, r.db.Rebind(upsert), k, ms(now), cutoff, ms(now)); err != nil {
			return unavailable(err)
		}
		if err := tx.QueryRowContext(ctx, r.db.Rebind(`SELECT failures FROM login_failures WHERE login_key = ?`), k).Scan(&count); err != nil {
			return unavailable(err)
		}
		// Forget idle entries, so names tried once do not pile up.
		_, err := tx.ExecContext(ctx, r.db.Rebind(`DELETE FROM login_failures WHERE last_at < ?`), cutoff)
		return unavailable(err)
	})
	return count, err
}

// Clear implements FailureCounter.
func (r sqlFailures) Clear(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if _, err := r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM login_failures WHERE login_key = ?`), k); err != nil {
			return unavailable(err)
		}
	}
	return nil
}
