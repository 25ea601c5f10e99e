package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/revoke"
)

// Session-cookie defaults and bounds (see SessionsConfig).
const (
	// DefaultSessionCookie names the cookie when SessionsConfig.CookieName
	// is empty.
	DefaultSessionCookie = "__Host-session"
	// DefaultSessionIdle ends a session unused for this long.
	DefaultSessionIdle = 24 * time.Hour
	// DefaultSessionMax ends a session this long after it started, used or
	// not.
	DefaultSessionMax = 7 * 24 * time.Hour
	// MinSessionIdle is the shortest IdleTimeout accepted: last use is
	// written down at most once per SessionTouchInterval, so a shorter
	// idle timeout would end sessions that are in use.
	MinSessionIdle = 5 * time.Minute
	// MaxSessionMax is the longest MaxLifetime accepted: browsers cap a
	// cookie's Max-Age at 400 days (RFC 6265bis), so a longer session
	// would outlive its cookie.
	MaxSessionMax = 400 * 24 * time.Hour
	// SessionTouchInterval is how often, at most, a session's last use is
	// written to its store: the idle timeout is honoured to within this
	// interval without a write per request.
	SessionTouchInterval = time.Minute
	// hostCookiePrefix is required of every session cookie name: a
	// browser accepts a "__Host-" cookie only with Secure, Path=/ and no
	// Domain, so no other host (a sibling subdomain included) and no plain
	// http page can set or overwrite it (no cookie tossing, no fixation
	// through an injected cookie).
	hostCookiePrefix = "__Host-"
	// sessionSecretBytes is the entropy of a session cookie value.
	sessionSecretBytes = 32
)

// sessionSecretLen is the length of NewSessionSecret's values: 32 bytes in
// unpadded base64url. A presented value of any other length, or with a
// character outside that alphabet, is refused before any store is asked.
var sessionSecretLen = base64.RawURLEncoding.EncodedLen(sessionSecretBytes)

// Session is one signed-in browser session as a SessionStore holds it.
type Session struct {
	// ID names the session (a login id): it becomes Identity.SessionID and
	// is the grain RevokeSession revokes. Required.
	ID string
	// UserID is the user signed in; it becomes Identity.UserID. Required.
	UserID string
	// CreatedAt is when the session started: the absolute lifetime runs
	// from it, and it is the identity's IssuedAt, which a user's
	// revocation not-before instant is compared with.
	CreatedAt time.Time
	// LastSeenAt is the session's last recorded use (see
	// SessionTouchInterval); the idle timeout runs from it.
	LastSeenAt time.Time
	// Ended reports that the store knows the session is over (logged out,
	// ended from another device); it is refused as revoked.
	Ended bool
	// The session's privileges, copied to the Identity.
	IsStaff     bool
	IsAdmin     bool
	Permissions []string
}

// SessionStore finds sessions by the digest of their cookie value; an
// application keeps its sessions in its database and implements it. The
// store never sees a cookie value: only SessionDigest of it, which is
// what it keeps.
//
// A store may answer from a short-lived cache of live sessions when every
// way its application ends a session also revokes it through
// SessionsConfig.Revocation, which Sessions asks on every request: the
// ending then holds as the revocation list promises, whatever the cache
// holds. A cached LastSeenAt may be older than the stored one, never
// newer; it should be recent (within SessionTouchInterval) so that
// Sessions neither touches the session on every request nor judges its
// idleness from an old value.
type SessionStore interface {
	// LookupSession returns the session whose cookie value has digest,
	// (nil, nil) when there is none, and an error when it cannot tell
	// (answered 503). It may return ended or expired sessions: Sessions
	// judges them.
	LookupSession(ctx context.Context, digest [sha256.Size]byte) (*Session, error)
	// TouchSession records that session id was used at t. Sessions calls
	// it at most about once per SessionTouchInterval per session (when
	// LastSeenAt is that old), not on every request; an error is ignored
	// (the next request tries again).
	TouchSession(ctx context.Context, id string, t time.Time) error
}

// SessionsConfig configures the session-cookie backend.
type SessionsConfig struct {
	// Store finds sessions; required.
	Store SessionStore
	// CookieName is the cookie's name; DefaultSessionCookie when empty.
	// It must start with "__Host-" (see hostCookiePrefix) and be a valid
	// cookie name.
	CookieName string
	// IdleTimeout ends a session unused for this long (to within
	// SessionTouchInterval); DefaultSessionIdle when 0, at least
	// MinSessionIdle, at most MaxLifetime.
	IdleTimeout time.Duration
	// MaxLifetime ends a session this long after CreatedAt, however much
	// it is used; DefaultSessionMax when 0, at most MaxSessionMax. The
	// cookie's Max-Age is set to it.
	MaxLifetime time.Duration
	// Revocation, when set, is asked about every session at the session
	// grain (Session.ID) and the user's not-before (Session.CreatedAt), as
	// tokens are, and is where RevokeSession and RevokeUser write. Check
	// sees revocations only through it.
	Revocation revoke.Store
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// Sessions authenticates browsers by an opaque session cookie: an
// Authenticator (Identity.Backend BackendSession), a Describer (an apiKey
// credential in a cookie) and a Checker (for connections that outlive
// their request). Create it with NewSessions.
//
// Contract and threat model:
//   - The cookie value is 256 random bits (NewSessionSecret); the store
//     keeps only its SHA-256 digest, so a copy of the store signs nobody
//     in. A value is looked up by its digest: an index finds it, and
//     comparing digests in constant time would protect nothing more.
//   - The cookie is "__Host-" prefixed, HttpOnly, Secure, SameSite=Lax,
//     Path=/ (SetCookie): scripts cannot read it, it never travels over
//     plain http (browsers make an exception for localhost only), other
//     hosts cannot set it, and cross-site subrequests do not carry it.
//     None of these can be turned off.
//   - Fixation: Sessions never adopts a value a client presents. An
//     application mints a new value (NewSessionSecret) at every login and
//     privilege change, and a value is honoured only while its store
//     holds it; a value planted before login is never one a login
//     returns.
//   - A presented cookie that is duplicated, not of NewSessionSecret's
//     form, unknown, ended, past its idle or absolute lifetime, or revoked
//     is refused (401), and Middleware's answer deletes it from the
//     browser (ClearCookie), which would otherwise send it on and on; a
//     store or revocation list that cannot answer refuses the request
//     (503) and leaves the cookie alone. The cookie value is never logged, put in
//     an Identity or in an error.
//   - Cookie authentication needs cross-site request forgery protection
//     for every state-changing request: secure.CSRF, applied router-wide
//     by warden.Config.CSRF. Sessions itself only authenticates.
type Sessions struct {
	store      SessionStore
	name       string
	idle, max  time.Duration
	revocation revoke.Store
	now        func() time.Time
}

// NewSessions validates cfg and returns the backend.
func NewSessions(cfg SessionsConfig) (*Sessions, error) {
	if cfg.Store == nil {
		return nil, errors.New("sessions: a SessionStore is required")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultSessionCookie
	}
	if !strings.HasPrefix(cfg.CookieName, hostCookiePrefix) || len(cfg.CookieName) == len(hostCookiePrefix) {
		return nil, fmt.Errorf("sessions: cookie name %q must start with %q (and have more after it): browsers then refuse it from other hosts and over plain http", cfg.CookieName, hostCookiePrefix)
	}
	if (&http.Cookie{Name: cfg.CookieName, Value: "x"}).Valid() != nil {
		return nil, fmt.Errorf("sessions: %q is not a valid cookie name", cfg.CookieName)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultSessionIdle
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultSessionMax
	}
	switch {
	case cfg.MaxLifetime < 0 || cfg.MaxLifetime > MaxSessionMax:
		return nil, fmt.Errorf("sessions: MaxLifetime %v must be positive and at most %v (browsers cap cookies at 400 days)", cfg.MaxLifetime, MaxSessionMax)
	case cfg.IdleTimeout < MinSessionIdle:
		return nil, fmt.Errorf("sessions: IdleTimeout %v must be at least %v: last use is written at most once per %v", cfg.IdleTimeout, MinSessionIdle, SessionTouchInterval)
	case cfg.IdleTimeout > cfg.MaxLifetime:
		return nil, fmt.Errorf("sessions: IdleTimeout %v must not exceed MaxLifetime %v", cfg.IdleTimeout, cfg.MaxLifetime)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sessions{store: cfg.Store, name: cfg.CookieName, idle: cfg.IdleTimeout, max: cfg.MaxLifetime, revocation: cfg.Revocation, now: cfg.Now}, nil
}

// CookieName returns the session cookie's name, for the CSRF protection
// that must cover requests carrying it (secure.CSRFOptions.Cookies).
func (s *Sessions) CookieName() string { return s.name }

// IdleTimeout returns how long an unused session lives.
func (s *Sessions) IdleTimeout() time.Duration { return s.idle }

// MaxLifetime returns how long a session lives at most.
func (s *Sessions) MaxLifetime() time.Duration { return s.max }

// NewSessionSecret returns a fresh session cookie value (256 bits from the
// CSPRNG, unpadded base64url) and the digest the store keeps in its
// place. Call it at every login: a session's value is never reused.
func NewSessionSecret() (value string, digest [sha256.Size]byte, err error) {
	b := make([]byte, sessionSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", digest, err
	}
	value = base64.RawURLEncoding.EncodeToString(b)
	return value, SessionDigest(value), nil
}

// SessionDigest is the form in which a store keeps, and is asked for, a
// session cookie value.
func SessionDigest(value string) [sha256.Size]byte { return sha256.Sum256([]byte(value)) }

// validSessionSecret reports whether v has NewSessionSecret's form.
func validSessionSecret(v string) bool {
	if len(v) != sessionSecretLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// SetCookie adds the Set-Cookie header that stores value in the browser:
// exactly "<name>=<value>; Path=/; Max-Age=<MaxLifetime>; HttpOnly;
// Secure; SameSite=Lax". Lax rather than Strict so that following a link
// to the application from elsewhere arrives signed in; cross-site
// subrequests and form posts still go without it, and CSRF protection
// covers what Lax lets through (top-level GET navigations are safe
// methods). Responses that set it must not be cached (warden.NoStore).
func (s *Sessions) SetCookie(w http.ResponseWriter, value string) {
	w.Header().Add("Set-Cookie", s.name+"="+value+"; Path=/; Max-Age="+strconv.FormatInt(int64(s.max/time.Second), 10)+"; HttpOnly; Secure; SameSite=Lax")
}

// ClearCookie adds the Set-Cookie header that deletes the session cookie
// from the browser (logout). The session itself must be ended in its
// store too: a copy of the cookie would otherwise still work.
func (s *Sessions) ClearCookie(w http.ResponseWriter) {
	w.Header().Add("Set-Cookie", s.name+"=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
}

// Challenge implements Authenticator. A refused cookie is answered like a
// refused token: the client signs in again (API.md's 401 carries a Bearer
// challenge).
func (s *Sessions) Challenge() string { return Challenge }

// Scheme implements Describer: an apiKey credential in the cookie.
func (s *Sessions) Scheme() Scheme {
	return Scheme{
		Name: "cookieAuth", Type: "apiKey", In: "cookie", ParamName: s.name,
		Description: "The session cookie of browser mode (HttpOnly, Secure, SameSite=Lax), set by a login with \"mode\": \"cookie\". " +
			"State-changing requests that carry it must pass cross-origin request forgery protection (Sec-Fetch-Site or Origin).",
	}
}

// Authenticate implements Authenticator.
func (s *Sessions) Authenticate(r *http.Request) (*Identity, error) {
	// The same parser as secure.CSRF's check for the cookie, so that a
	// cookie this backend honours is always one that check saw.
	cookies := r.CookiesNamed(s.name)
	switch {
	case len(cookies) == 0:
		return nil, nil
	case len(cookies) > 1:
		// A __Host- cookie exists once per host; two mean a client that
		// is not a browser, or something planted.
		return nil, invalid("Send one session cookie.", nil)
	case !validSessionSecret(cookies[0].Value):
		return nil, invalid("The session cookie is invalid; sign in again.", nil)
	}
	ctx := r.Context()
	sess, err := s.store.LookupSession(ctx, SessionDigest(cookies[0].Value))
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: session lookup: %v", ErrUnavailable, err)
	}
	if sess == nil {
		return nil, invalid("The session has ended; sign in again.", nil)
	}
	if sess.ID == "" || sess.UserID == "" {
		return nil, fmt.Errorf("%w: the session store returned a session without an id or user", ErrUnavailable)
	}
	now := s.now()
	switch {
	case sess.Ended:
		return nil, refusedAs(FailureRevoked, "The session has ended; sign in again.", nil)
	case !now.Before(sess.CreatedAt.Add(s.max)):
		return nil, refusedAs(FailureExpired, "The session has expired; sign in again.", nil)
	case !now.Before(sess.LastSeenAt.Add(s.idle)):
		return nil, refusedAs(FailureExpired, "The session has expired after a time without use; sign in again.", nil)
	}
	id := &Identity{
		UserID: sess.UserID, Backend: BackendSession,
		IsStaff: sess.IsStaff, IsAdmin: sess.IsAdmin, Permissions: slices.Clone(sess.Permissions),
		SessionID: sess.ID, IssuedAt: sess.CreatedAt, ExpiresAt: sess.CreatedAt.Add(s.max),
	}
	if err := s.checkRevoked(ctx, id); err != nil {
		return nil, err
	}
	if now.Sub(sess.LastSeenAt) >= SessionTouchInterval {
		_ = s.store.TouchSession(ctx, sess.ID, now)
	}
	return id, nil
}

// Check implements Checker: id stands while its session is within its
// absolute lifetime (Identity.ExpiresAt) and not revoked at the session
// grain or by its user's not-before. Idleness is not judged: the open
// connection is the use. Revocations are seen only through
// SessionsConfig.Revocation: ending a session in the store alone ends
// its next request, not its open connections (RevokeSession does both
// when the store is told too).
func (s *Sessions) Check(ctx context.Context, id *Identity) error {
	if !id.ExpiresAt.IsZero() && !s.now().Before(id.ExpiresAt) {
		return refusedAs(FailureExpired, "The session has expired; sign in again.", nil)
	}
	return s.checkRevoked(ctx, id)
}

// checkRevoked asks the revocation list about a session at the session
// grain and its user's not-before; a list that cannot answer refuses it.
// A session has no token id: revoke.Token.ID stays empty, which no
// revocation ever names. The shared lists (revoke/redisrevoke,
// revoke/sqlrevoke) remember a "not revoked" answer for it by login,
// holder and start time, under the same rules as a token's (trusted only
// while their invalidation feed is confirmed, forgotten at any
// revocation), so that a busy session costs no round trip per request.
func (s *Sessions) checkRevoked(ctx context.Context, id *Identity) error {
	if s.revocation == nil {
		return nil
	}
	revoked, err := s.revocation.Check(ctx, revoke.Token{Session: id.SessionID, Subject: id.UserID, IssuedAt: id.IssuedAt, ExpiresAt: id.ExpiresAt})
	if err != nil {
		return fmt.Errorf("%w: revocation check: %v", ErrUnavailable, err)
	}
	if revoked {
		return refusedAs(FailureRevoked, "The session has been revoked; sign in again.", nil)
	}
	return nil
}

// RevokeSession revokes session sid through the revocation list, for as
// long as a session can live: its next request and its open connections
// (Check) are refused.
func (s *Sessions) RevokeSession(ctx context.Context, sid string) error {
	if s.revocation == nil {
		return ErrNoRevocation
	}
	return s.revocation.RevokeSession(ctx, sid, s.now().Add(s.max))
}

// RevokeUser revokes every session of subject started up to now.
func (s *Sessions) RevokeUser(ctx context.Context, subject string) error {
	if s.revocation == nil {
		return ErrNoRevocation
	}
	now := s.now()
	return s.revocation.RevokeUser(ctx, subject, now, now.Add(s.max))
}
