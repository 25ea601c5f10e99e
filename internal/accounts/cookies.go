package accounts

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/problem"
)

// Browser mode (API.md): a login or verify-email asking for "mode":
// "cookie" gets no token in its answer; it gets the session cookie, an
// opaque value whose SHA-256 digest is kept in sessions.cookie_hash (the
// library's auth.Sessions reads it through sessionStore). A cookie login
// is a login like any other, a row of sessions without refresh tokens:
// listed, ended by DELETE /sessions/{id}, logout, logout-all, a password
// change elsewhere, a reset or an operator, through the same revocations
// as tokens.
//
// Rotation: every cookie login mints a fresh value and a fresh session
// id, and ends the session whose cookie the request carried, if any (the
// browser is replacing it). A change of the user's privileges (warden
// user grant/revoke) ends the user's cookie sessions: the user signs in
// again and gets a new id. A token login gets the change at its next
// refresh, as before; a cookie session has no refresh, and a cookie that
// lived through an elevation would carry privileges its login was not
// given.
//
// Revocation: every path that ends a cookie login marks its row
// (revoked_at, which the lookup reports as Ended) and revokes its id
// through the access tokens' list, which ends open sockets and streams.
// The list forgets a login after the longest token lifetime (24 h) while
// a cookie lives up to SessionMax; the row is what keeps it ended after.
const (
	// SessionCookie is the name of the session cookie.
	SessionCookie = "__Host-warden_session"
	// deviceCookie carries a cookie login's device (devices.go), which a
	// token client keeps itself: the browser keeps it where scripts cannot
	// read it, and sends it with the next cookie login.
	deviceCookie = "__Host-warden_device"
)

// The values of the "mode" member of login and verify-email; absent means
// modeToken.
const (
	modeToken  = "token"
	modeCookie = "cookie"
)

// sessionStore is auth.SessionStore over the sessions table, with a
// short-lived cache of live sessions (readcache.go).
type sessionStore struct {
	repo *repo
	now  func() time.Time
}

// LookupSession implements auth.SessionStore. The user's privileges are
// read with the session: they cannot have changed since the login, since
// a change ends the user's cookie sessions. A live session read within
// readCacheTTL is answered from the cache while servable allows it; an
// unknown or ended one is always read (they are refused anyway).
func (st sessionStore) LookupSession(ctx context.Context, digest [sha256.Size]byte) (*auth.Session, error) {
	now := st.now()
	if s, ok := st.repo.cachedSession(digest, now); ok {
		return s, nil
	}
	generation := st.repo.caches.sessions.begin()
	s, err := st.lookupSession(ctx, digest)
	if s != nil && servable(s, now) {
		st.repo.caches.sessions.put(digest, *s, generation)
	}
	return s, err
}

// lookupSession reads the session whose cookie has digest.
func (st sessionStore) lookupSession(ctx context.Context, digest [sha256.Size]byte) (*auth.Session, error) {
	q, err := st.repo.prepared(ctx, `SELECT s.id, s.user_id, s.created_at, s.last_used_at, s.revoked_at, u.is_staff, u.is_admin, u.permissions
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.cookie_hash = ?`)
	if err != nil {
		return nil, err
	}
	var sess auth.Session
	var created, used int64
	var revoked sql.NullInt64
	var perms string
	err = q.QueryRowContext(ctx, hex.EncodeToString(digest[:])).Scan(&sess.ID, &sess.UserID, &created, &used, &revoked, &sess.IsStaff, &sess.IsAdmin, &perms)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	// created_at has millisecond precision. The login started within
	// that millisecond: place it at its end, so that a login made just
	// after a logout-all (the user's not-before instant, to the
	// nanosecond) is never taken for one made before it. A session that
	// did start before such an instant is ended in the database anyway
	// (revoked_at), which is what Ended reports.
	sess.CreatedAt = fromMS(created).Add(time.Millisecond - time.Microsecond)
	sess.LastSeenAt = fromMS(used)
	sess.Ended = revoked.Valid
	sess.Permissions = splitPerms(perms)
	return &sess, nil
}

// TouchSession implements auth.SessionStore; last use only moves forward.
func (st sessionStore) TouchSession(ctx context.Context, id string, t time.Time) error {
	_, err := st.repo.db.ExecContext(ctx, st.repo.db.Rebind(`UPDATE sessions SET last_used_at = ? WHERE id = ? AND last_used_at < ?`), ms(t), id, ms(t))
	return unavailable(err)
}

// CookieAuthenticator returns the session-cookie backend: the routes that
// take a bearer token take the cookie beside it.
func (s *Service) CookieAuthenticator() *auth.Sessions { return s.cookies }

// startCookieSession starts a cookie login of u: a sessions row holding
// the digest of a fresh cookie value, which Tokens.Cookie carries to the
// handler that sets it. The start time is taken now, after the password
// was checked, so that a revocation made while it was checked covers no
// session started after it.
func (s *Service) startCookieSession(ctx context.Context, u *User, c Client) (*Tokens, error) {
	value, digest, err := auth.NewSessionSecret()
	if err != nil {
		return nil, err
	}
	sid, err := auth.RandomToken(16)
	if err != nil {
		return nil, err
	}
	now := s.now()
	_, err = s.cfg.DB.ExecContext(ctx, s.cfg.DB.Rebind(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, cookie_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		sid, u.ID, ms(now), ms(now), ms(now.Add(s.cfg.SessionMax)), truncate(c.UserAgent, 256), c.IP, hex.EncodeToString(digest[:]))
	if err != nil {
		return nil, unavailable(err)
	}
	return &Tokens{Cookie: value, SessionID: sid, User: u}, nil
}

// loginMode reads the "mode" member of a login or verify-email. A cookie
// login is refused unless it passes cross-origin request forgery
// protection (login CSRF: another site must not sign the browser in to
// an account of the attacker's). It answers the refusal itself and
// reports ok false.
func (s *Service) loginMode(w http.ResponseWriter, r *http.Request, mode string) (cookie, ok bool) {
	switch mode {
	case "", modeToken:
		return false, true
	case modeCookie:
	default:
		problem.New(http.StatusBadRequest, "The request has invalid fields.").
			WithField("mode", `mode must be "token" or "cookie".`).Write(w)
		return false, false
	}
	if err := s.csrf.Check(r); err != nil {
		s.csrf.Deny(w, r, s.log, err)
		return false, false
	}
	return true, true
}

// presentedDeviceCookie returns the device a cookie login's browser keeps, or
// "" for none or more than one.
func presentedDeviceCookie(r *http.Request) string {
	if cs := r.CookiesNamed(deviceCookie); len(cs) == 1 {
		return cs[0].Value
	}
	return ""
}

// answerCookieLogin ends the session the browser is replacing, sets the
// new session cookie (and the device cookie) and answers the user,
// without any token.
func (s *Service) answerCookieLogin(w http.ResponseWriter, r *http.Request, t *Tokens, msg string) {
	s.endReplacedSession(r, t.SessionID)
	s.cookies.SetCookie(w, t.Cookie)
	if t.Device != "" {
		http.SetCookie(w, &http.Cookie{
			Name: deviceCookie, Value: t.Device, Path: "/", MaxAge: int(deviceTTL / time.Second),
			HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
		})
	}
	warden.WriteJSON(w, http.StatusOK, cookieLoginView{Message: msg, User: viewOf(t.User)})
}

// endReplacedSession ends the live session whose cookie r carried, if
// any: the browser now holds the new one (except), and the old one would
// otherwise linger in the sessions list until it idles out. A failure is
// logged, not answered: the new login stands either way.
func (s *Service) endReplacedSession(r *http.Request, except string) {
	id, err := s.cookies.Authenticate(r)
	if err != nil || id == nil || id.SessionID == except {
		return
	}
	ctx := r.Context()
	_, err = s.repo.revokeSession(ctx, id.SessionID, id.UserID, "replaced by a new login", s.now())
	if err == nil {
		err = s.endLogins(ctx, id.SessionID)
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "replaced session not ended", slog.String("user_id", id.UserID), slog.String("error", err.Error()))
		return
	}
	s.event(ctx, slog.LevelInfo, "session_replaced", slog.String("user_id", id.UserID))
}

// clearCookieOf deletes the session cookie from the browser when id came
// from it: after logout, logout-all, or ending the current session.
func (s *Service) clearCookieOf(w http.ResponseWriter, id *auth.Identity) {
	if id != nil && id.Backend == auth.BackendSession {
		s.cookies.ClearCookie(w)
	}
}

// endCookieSessionsTx ends every live cookie session of userID inside tx
// and returns their ids, for revoking them on every route (a change of
// privileges; see the rotation rule above).
func (r *repo) endCookieSessionsTx(ctx context.Context, tx *sql.Tx, userID, reason string, now time.Time) ([]string, error) {
	return r.endSessionsTx(ctx, tx, userID, `cookie_hash IS NOT NULL`, nil, reason, now)
}
