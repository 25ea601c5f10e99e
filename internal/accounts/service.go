package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/mail"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/password"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// Token purposes in one_time_tokens.
const (
	purposeVerify = "verify_email"
	purposeReset  = "password_reset"
)

// Failed-login backoff, after NIST SP 800-63B section 5.2.2: a growing delay
// from the fifth consecutive failure, capped, and a reset required after
// maxFailures. Entries idle for failureMemory are forgotten.
const (
	freeFailures  = 5
	maxBackoff    = 15 * time.Minute
	maxFailures   = 100
	failureMemory = 24 * time.Hour
)

// FailureCounter counts consecutive failed logins per key. Entries idle for
// FailureMemory count as none and may be dropped. The database implements
// it by default; accounts/redisfailures shares it between instances.
type FailureCounter interface {
	// Failures returns the count under key and when the last one was.
	Failures(ctx context.Context, key string, now time.Time) (int, time.Time, error)
	// Record adds one failure under key and returns the new count.
	Record(ctx context.Context, key string, now time.Time) (int, error)
	// Clear forgets the keys.
	Clear(ctx context.Context, keys ...string) error
	// Reserve counts one failure under key before a password is checked,
	// unless Backoff refuses an attempt at now. It returns the count and
	// the last failure as they were before, and whether the attempt was
	// counted. Reading, deciding and counting are one atomic step, so
	// that concurrent attempts cannot all pass a check that none of them
	// had counted yet: at most FreeFailures run before the backoff.
	Reserve(ctx context.Context, key string, now time.Time) (failures int, last time.Time, reserved bool, err error)
	// Release takes back one failure that Reserve counted for an attempt
	// whose password was never compared (the hasher was busy).
	Release(ctx context.Context, key string) error
}

// FailureMemory is how long a failure counter remembers its last failure.
const FailureMemory = failureMemory

// Config wires the service. Zero durations take the defaults in API.md.
type Config struct {
	DB        *store.DB
	Hasher    *password.Hasher
	Policy    password.Policy
	Mailer    mail.Mailer
	PublicURL string
	Signer    *auth.Signer
	// JWT verifies the access tokens Signer issues; it must have a
	// revocation store, through which logouts and password events revoke
	// tokens on every route that accepts them.
	JWT    *auth.JWT
	Logger *slog.Logger
	// Failures counts failed logins; the database when nil.
	Failures FailureCounter
	// HashesPerKey is how many password hashes one account (one failure
	// key) may have in flight at once on this instance; 2 when 0.
	HashesPerKey int

	RefreshTTL   time.Duration // 7 days
	RefreshGrace time.Duration // racing tabs; 5 s when 0, negative for none
	// SessionIdle and SessionMax are the lifetimes of a cookie login
	// (browser mode): unused, and in all. 24 h and 7 days when 0.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// CSRF checks cookie-mode logins (login CSRF). The server passes the
	// one its router applies to every request carrying the session
	// cookie; when nil, one that trusts no other origin than the
	// request's own.
	CSRF *secure.CSRF
	// RefreshSecret keys the derivation of each refresh token's successor
	// (see successorOf); every instance must have the same one. When
	// empty it is derived from Signer's HMAC secret (RefreshSecretFrom),
	// or drawn at random for a signer with another kind of key.
	RefreshSecret []byte
	// PurgeInterval is how often expired sessions and tokens are deleted
	// (see Purge); 10 minutes when 0, negative for never.
	PurgeInterval time.Duration
	VerifyTTL     time.Duration // 24 h
	ResetTTL      time.Duration // 1 h
	// RegistrationTTL is how long an unverified registration (an account
	// or a pending row, see pending.go) holds its username and address
	// before it lapses; resend-verification starts it again. 7 days when 0.
	RegistrationTTL time.Duration
	// JobQueue bounds the background jobs waiting to run (the look-ups,
	// links and mail of register, resend-verification and password-reset,
	// done after the answer; see jobs.go); 1024 when 0. JobWorkers bounds
	// the goroutines running them; 4 when 0.
	JobQueue, JobWorkers int
	// AuthRate limits register, login, refresh, reset and resend per client
	// IP; 5 per minute when zero.
	AuthRate ratelimit.Policy
	// NewLimiter builds the limiter for one policy; an in-memory limiter
	// when nil. Several instances pass a shared (Redis) one.
	NewLimiter func(ratelimit.Policy) (ratelimit.Limiter, error)
	Now        func() time.Time
}

// Service is the identity service.
type Service struct {
	cfg    Config
	repo   *repo
	log    *slog.Logger
	now    func() time.Time
	mailWG sync.WaitGroup
	hashes hashShares // password hashes in flight per failure key
	purge  *purger    // background deletion of expired rows; see purge.go
	bg     *flows     // job queue, mail throttle, installation secret; see pending.go
	// cookies authenticates the session cookie; csrf guards cookie logins
	// (cookies.go).
	cookies *auth.Sessions
	csrf    *secure.CSRF
}

// New validates cfg and returns the service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil, cfg.Hasher == nil, cfg.Mailer == nil, cfg.Signer == nil, cfg.JWT == nil:
		return nil, errors.New("accounts: DB, Hasher, Mailer, Signer and JWT are required")
	case cfg.PublicURL == "":
		return nil, errors.New("accounts: PublicURL is required for links in email")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 7 * 24 * time.Hour
	}
	if cfg.RefreshGrace == 0 {
		cfg.RefreshGrace = 5 * time.Second
	}
	if cfg.RefreshGrace < 0 {
		cfg.RefreshGrace = 0
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = auth.DefaultSessionIdle
	}
	if cfg.SessionMax == 0 {
		cfg.SessionMax = auth.DefaultSessionMax
	}
	if cfg.VerifyTTL == 0 {
		cfg.VerifyTTL = 24 * time.Hour
	}
	if cfg.ResetTTL == 0 {
		cfg.ResetTTL = time.Hour
	}
	if cfg.RegistrationTTL == 0 {
		cfg.RegistrationTTL = 7 * 24 * time.Hour
	}
	if cfg.AuthRate.Rate == 0 {
		cfg.AuthRate = ratelimit.Policy{Name: "auth", Rate: 5.0 / 60, Burst: 5}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// The mail throttle's limiters keep to cfg.Now when built in memory
	// (newMailThrottle), which the default below does not.
	mailLimiter := cfg.NewLimiter
	if cfg.NewLimiter == nil {
		cfg.NewLimiter = func(p ratelimit.Policy) (ratelimit.Limiter, error) {
			return ratelimit.NewMemory(p, ratelimit.MemoryOptions{})
		}
	}
	r := &repo{db: cfg.DB, caches: newReadCaches(cfg.Now)}
	if cfg.Failures == nil {
		cfg.Failures = sqlFailures{r}
	}
	var err error
	if cfg.RefreshSecret, err = refreshSecret(cfg); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, repo: r, log: cfg.Logger, now: cfg.Now, csrf: cfg.CSRF}
	// The session cookie is checked against the revocation list of the
	// access tokens: one list, the same grains, for both kinds of login.
	if s.cookies, err = auth.NewSessions(auth.SessionsConfig{
		Store: sessionStore{repo: r, now: cfg.Now}, CookieName: SessionCookie, IdleTimeout: cfg.SessionIdle, MaxLifetime: cfg.SessionMax,
		Revocation: cfg.JWT.Revocation(), Now: cfg.Now,
	}); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	if s.csrf == nil {
		if s.csrf, err = secure.NewCSRF(secure.CSRFOptions{Cookies: []string{SessionCookie}}); err != nil {
			return nil, err
		}
	}
	if err := s.startFlows(mailLimiter); err != nil {
		return nil, err
	}
	s.startPurger(cfg.PurgeInterval)
	return s, nil
}

// Wait blocks until the background jobs (jobs.go) and the mail queued by
// earlier requests have run and been handed over.
func (s *Service) Wait() { s.mailWG.Wait() }

// event logs a security event. Attributes never carry secrets.
func (s *Service) event(ctx context.Context, level slog.Level, name string, attrs ...slog.Attr) {
	s.log.LogAttrs(ctx, level, "security event", append([]slog.Attr{slog.String("event", name)}, attrs...)...)
}

// send hands a message to the mailer in the background, so that response
// times do not depend on the mail server (or reveal which branch ran). A
// failure is logged, never returned: mail must not fail the request.
func (s *Service) send(build func() (mail.Message, error)) {
	msg, err := build()
	if err != nil {
		s.log.Error("building mail failed", slog.String("error", err.Error()))
		return
	}
	s.mailWG.Add(1)
	go func() {
		defer s.mailWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = mail.SendLogged(ctx, s.cfg.Mailer, msg, s.log)
	}()
}

// RegisterInput is what a registrant may set; nothing else is read.
type RegisterInput struct {
	Username  string `json:"username"`
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// ValidationError lists what is wrong with an input, per field.
type ValidationError struct{ Fields map[string][]string }

func (e *ValidationError) Error() string { return fmt.Sprintf("accounts: invalid input: %v", e.Fields) }

func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string][]string{}
	}
	e.Fields[field] = append(e.Fields[field], msg)
}

func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Register creates an unverified registration and, in the background,
// mails a verification link. A taken email gets the same answer, and
// leaves the same kind of registration behind (a pending row, see
// pending.go), as a free one; the owner is told by mail instead of the
// caller. Both paths hash once, run the same statements and queue one job.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*User, error) {
	// Hash before looking anything up, so a taken email costs the same.
	u, err := s.newUser(ctx, in)
	if err != nil {
		return nil, err
	}
	pending, err := s.repo.insertRegistration(ctx, u, s.now(), s.cfg.RegistrationTTL)
	switch {
	case errors.Is(err, ErrUsernameTaken):
		verr := &ValidationError{}
		verr.add("username", "A user with that username already exists.")
		return nil, verr
	case err != nil:
		return nil, err
	}
	s.enqueue(ctx, "registration", func(ctx context.Context) { s.registrationJob(ctx, u, pending) })
	return &User{ID: u.ID, Username: u.Username, Email: u.Email}, nil
}

// newUser validates a new account's fields and hashes its password; the
// user is not stored yet.
func (s *Service) newUser(ctx context.Context, in RegisterInput) (*User, error) {
	verr := &ValidationError{}
	username := checkUsername(verr, in.Username)
	email := validateEmail(verr, in.Email)
	validateName(verr, "first_name", in.FirstName)
	validateName(verr, "last_name", in.LastName)
	for _, m := range s.cfg.Policy.Validate(in.Password, username, email) {
		verr.add("password", m)
	}
	if err := verr.orNil(); err != nil {
		return nil, err
	}
	// Under the address's registration salt, so that a login by address
	// can check pending registrations in one derivation (pending.go).
	hash, err := s.registrationHash(ctx, email, in.Password)
	if err != nil {
		return nil, err
	}
	return &User{ID: uuid.NewString(), Username: username, Email: email, PasswordHash: hash,
		FirstName: in.FirstName, LastName: in.LastName, Permissions: []string{}}, nil
}

// ResendVerification mails a new link when email names an unverified
// account, and silently does nothing otherwise. The request only queues
// the job (resendJob) that decides, for any email alike, so neither its
// answer nor its time depends on the address.
func (s *Service) ResendVerification(ctx context.Context, email string) error {
	s.enqueue(ctx, "resend_verification", func(ctx context.Context) { s.resendJob(ctx, email) })
	return nil
}

// Tokens is a successful login: an access and a refresh token, or for a
// cookie login (Client.Cookie) the session cookie's value instead.
type Tokens struct {
	Access  string
	Refresh string
	// Cookie is a cookie login's session cookie value; a secret: never
	// log it. SessionID is the login's id.
	Cookie    string
	SessionID string
	User      *User
	// Device is the device the client keeps for later logins (see
	// devices.go); a secret: never log it.
	Device string
}

// Client describes where a login comes from, for the sessions list.
type Client struct {
	UserAgent string
	IP        string
	// Device is the device the client presented, if any (see devices.go).
	Device string
	// Cookie asks for a cookie login (browser mode): a session cookie
	// instead of tokens.
	Cookie bool
}

// VerifyEmail spends a verification token, marks the email verified and
// logs the user in.
func (s *Service) VerifyEmail(ctx context.Context, token string, c Client) (*Tokens, error) {
	now := s.now()
	var userID string
	err := s.cfg.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if userID, err = s.repo.consumeOneTimeToken(ctx, tx, digestOf(token), purposeVerify, now); err != nil {
			return err
		}
		// A pending registration (claimed_email_key) can never be verified;
		// none has a link, and this refuses one that somehow would. Nor
		// can a lapsed registration, which a link may outlive.
		res, err := tx.ExecContext(ctx, s.cfg.DB.Rebind(`UPDATE users SET email_verified = ?, registration_expires_at = NULL, updated_at = ?
			WHERE id = ? AND claimed_email_key IS NULL AND (registration_expires_at IS NULL OR registration_expires_at > ?)`), true, ms(now), userID, ms(now))
		if err != nil {
			return unavailable(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errInvalidToken
		}
		return nil
	})
	s.repo.accountChanged(userID)
	if err != nil {
		return nil, err
	}
	u, err := s.repo.userByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	s.event(ctx, slog.LevelInfo, "email_verified", slog.String("user_id", u.ID))
	return s.startSessionWithDevice(ctx, u, c, nil, now)
}

// Login outcomes beyond ErrBadCredentials.
var (
	// ErrBadCredentials is the one answer for an unknown user and a wrong
	// password alike.
	ErrBadCredentials = errors.New("accounts: invalid username or password")
	// ErrNotVerified means the password was right but the email is not
	// verified yet.
	ErrNotVerified = errors.New("accounts: email not verified")
)

// ThrottledError asks the client to wait before trying again.
type ThrottledError struct {
	RetryAfter time.Duration
	// NeedsReset is set after maxFailures consecutive failures.
	NeedsReset bool
}

func (e *ThrottledError) Error() string { return "accounts: too many failed logins" }

// Login checks a username (or email) and password and starts a session.
func (s *Service) Login(ctx context.Context, login, pw string, c Client) (*Tokens, error) {
	now := s.now()
	u, counted, err := s.loginUser(ctx, login, now)
	if err != nil {
		return nil, err
	}
	// Failures are counted per account, or per name tried when there is no
	// account, so that throttling looks the same either way; a valid
	// device of the account has a count of its own, so that strangers'
	// failures do not keep out a client that logged in before.
	dev, err := s.presentedDevice(ctx, c.Device, u, now)
	if err != nil {
		return nil, err
	}
	failKey := loginFailKey(login, counted, dev) // counted: see loginUser
	release, err := s.hashes.acquire(failKey, s.cfg.HashesPerKey)
	if err != nil {
		return nil, err
	}
	defer release()
	var rehash bool
	ok, failures, err := s.checkPassword(ctx, failKey, now, func() (bool, error) {
		// The account's password and, for a login by address, those of the
		// pending registrations that claim it (pending.go). A match of an
		// unverified one is ErrNotVerified: neither a failure nor a
		// success, the attempt is given back and the count stays as it was.
		return s.loginCheck(ctx, login, pw, u, now, &rehash)
	})
	var throttled *ThrottledError
	switch {
	case errors.As(err, &throttled):
		s.event(ctx, slog.LevelWarn, "login_throttled", slog.Int("failures", failures))
		return nil, err
	case err != nil:
		return nil, err
	case !ok:
		attrs := []slog.Attr{slog.Int("failures", failures)}
		if u != nil {
			attrs = append(attrs, slog.String("user_id", u.ID))
		}
		if dev != nil {
			attrs = append(attrs, slog.String("device_id", dev.ID))
		}
		s.event(ctx, slog.LevelWarn, "login_failed", attrs...)
		return nil, ErrBadCredentials
	}
	if rehash {
		if h, err := s.cfg.Hasher.Hash(ctx, pw); err == nil {
			if err := s.repo.setPasswordHash(ctx, u.ID, h, now); err != nil {
				return nil, err
			}
		}
	}
	s.event(ctx, slog.LevelInfo, "login_succeeded", slog.String("user_id", u.ID))
	return s.startSessionWithDevice(ctx, u, c, dev, now)
}

// backoff returns how long a login under a key with failures consecutive
// failures, the last at last, must wait.
func backoff(failures int, last, now time.Time) (time.Duration, bool) {
	if failures >= maxFailures {
		return time.Hour, true
	}
	if failures < freeFailures {
		return 0, false
	}
	delay := maxBackoff
	if shift := failures - freeFailures; shift < 10 {
		delay = min(time.Duration(1<<shift)*time.Second, maxBackoff)
	}
	wait := last.Add(delay).Sub(now)
	if wait <= 0 {
		return 0, false
	}
	return wait, false
}

// startSession creates a login and its first refresh token, or, when c
// asks for one, a cookie login (cookies.go).
func (s *Service) startSession(ctx context.Context, u *User, c Client, now time.Time) (*Tokens, error) {
	if c.Cookie {
		return s.startCookieSession(ctx, u, c)
	}
	plain, digest, err := newToken()
	if err != nil {
		return nil, err
	}
	sid, err := auth.RandomToken(16)
	if err != nil {
		return nil, err
	}
	sess := &Session{ID: sid, UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL), UserAgent: truncate(c.UserAgent, 256), IP: c.IP}
	err = s.cfg.DB.InTx(ctx, func(tx *sql.Tx) error {
		return s.repo.insertSession(ctx, tx, sess, digest, sess.ExpiresAt)
	})
	if err != nil {
		return nil, err
	}
	access, err := s.accessToken(u, sid)
	if err != nil {
		return nil, err
	}
	return &Tokens{Access: access, Refresh: plain, SessionID: sid, User: u}, nil
}

func (s *Service) accessToken(u *User, sessionID string) (string, error) {
	t, err := s.cfg.Signer.Sign(u.ID, map[string]any{
		"is_staff":    u.IsStaff,
		"is_admin":    u.IsAdmin,
		"permissions": u.Permissions,
		"sid":         sessionID,
	})
	return t.Raw, err
}

// Refresh rotates a refresh token.
func (s *Service) Refresh(ctx context.Context, refresh string) (*Tokens, error) {
	now := s.now()
	// The successor is derived, not drawn: every answer for this token
	// inside the grace window carries the same one (API.md).
	plain := s.successorOf(refresh)
	rot, err := s.repo.rotateRefresh(ctx, digestOf(refresh), digestOf(plain), now, s.cfg.RefreshGrace, s.cfg.RefreshTTL)
	if errors.Is(err, errRefreshReuse) {
		s.event(ctx, slog.LevelWarn, "refresh_token_reuse", slog.String("user_id", rot.UserID), slog.String("session_id", rot.SessionID))
		// The login is over in the database; its access tokens end too.
		if err := s.endLogins(ctx, rot.SessionID); err != nil {
			return nil, err
		}
		return nil, ErrBadCredentials
	}
	if errors.Is(err, errInvalidToken) {
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	u, err := s.repo.userByID(ctx, rot.UserID)
	if err != nil {
		return nil, err
	}
	access, err := s.accessToken(u, rot.SessionID)
	if err != nil {
		return nil, err
	}
	return &Tokens{Access: access, Refresh: plain, User: u}, nil
}

// Logout ends the caller's session (and the login the refresh token names,
// when it is the caller's): its refresh tokens in the database, its access
// tokens on every route.
func (s *Service) Logout(ctx context.Context, id *auth.Identity, refresh string) error {
	now := s.now()
	sids := []string{id.SessionID}
	if refresh != "" {
		other, err := s.repo.sessionOfRefresh(ctx, digestOf(refresh))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if other != "" && other != id.SessionID {
			ok, err := s.repo.revokeSession(ctx, other, id.UserID, "logout", now)
			if err != nil {
				return err
			}
			if ok {
				sids = append(sids, other)
			}
		}
	}
	if _, err := s.repo.revokeSession(ctx, id.SessionID, id.UserID, "logout", now); err != nil {
		return err
	}
	if err := s.endLogins(ctx, sids...); err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "logout", slog.String("user_id", id.UserID))
	return nil
}

// LogoutAll ends every session of the caller, and every access token
// issued to them until now; outstanding reset links stop working too.
func (s *Service) LogoutAll(ctx context.Context, id *auth.Identity) error {
	n, err := s.endEverything(ctx, id.UserID, "logout-all")
	if err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "sessions_revoked", slog.String("user_id", id.UserID), slog.Int64("count", n), slog.String("reason", "logout-all"))
	return nil
}

// endEverything ends every login of userID in the database, revokes every
// access token issued to them up to now, and voids their reset links.
func (s *Service) endEverything(ctx context.Context, userID, reason string) (int64, error) {
	now := s.now()
	n, err := s.repo.revokeSessions(ctx, userID, reason, now)
	if err != nil {
		return 0, err
	}
	if err := s.repo.invalidateOneTimeTokens(ctx, userID, purposeReset, now); err != nil {
		return 0, err
	}
	if err := s.cfg.JWT.RevokeUser(ctx, userID); err != nil {
		return 0, s.revocationFailed(ctx, userID, err)
	}
	return n, nil
}

// endLogins revokes the access tokens of the given logins, whose refresh
// tokens the database has already ended.
func (s *Service) endLogins(ctx context.Context, sids ...string) error {
	for _, sid := range sids {
		if sid == "" {
			continue
		}
		if err := s.cfg.JWT.RevokeSession(ctx, sid); err != nil {
			return s.revocationFailed(ctx, "", err)
		}
	}
	return nil
}

// revocationFailed logs a revocation the store did not record and returns
// the error that answers 503: the database has ended the logins, but their
// access tokens may live until they expire, so the client must retry.
func (s *Service) revocationFailed(ctx context.Context, userID string, err error) error {
	s.event(ctx, slog.LevelError, "revocation_failed", slog.String("user_id", userID), slog.String("error", err.Error()))
	return fmt.Errorf("%w: revocation: %v", store.ErrUnavailable, err)
}

// RequestReset mails a reset link when email names an account. The
// request only queues the job (resetJob) that decides, for any email
// alike, so neither its answer nor its time depends on the address.
func (s *Service) RequestReset(ctx context.Context, email string) error {
	s.enqueue(ctx, "password_reset", func(ctx context.Context) { s.resetJob(ctx, email) })
	return nil
}

// ErrInvalidToken is the answer for a verification or reset token that is
// unknown, used or expired.
var ErrInvalidToken = errInvalidToken

// ConfirmReset spends a reset token and sets a new password; every session
// of the user ends. It does not log the user in.
func (s *Service) ConfirmReset(ctx context.Context, token, newPassword string) error {
	now := s.now()
	digest := digestOf(token)
	// Check the token before the expensive hash, without spending it.
	userID, err := s.repo.liveOneTimeToken(ctx, s.cfg.DB, digest, purposeReset, now)
	if err != nil {
		return err
	}
	u, err := s.repo.userByID(ctx, userID)
	if err != nil {
		return err
	}
	verr := &ValidationError{}
	for _, m := range s.cfg.Policy.Validate(newPassword, u.Username, u.Email) {
		verr.add("password", m)
	}
	if err := verr.orNil(); err != nil {
		return err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	var keysRevoked int64
	err = s.cfg.DB.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.repo.consumeOneTimeToken(ctx, tx, digest, purposeReset, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.cfg.DB.Rebind(`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`), hash, ms(now), userID); err != nil {
			return unavailable(err)
		}
		// In the same transaction: a reset never commits with the keys
		// still live.
		var err error
		keysRevoked, err = s.repo.revokeKeysOnResetTx(ctx, tx, userID, now)
		return err
	})
	s.repo.accountChanged(userID)
	if err != nil {
		return err
	}
	s.logKeysRevokedOnReset(ctx, userID, keysRevoked)
	if _, err := s.endEverything(ctx, userID, "password reset"); err != nil {
		return err
	}
	// A reset is how an account is recovered: no client keeps the
	// exemption a device gave it before.
	if err := s.repo.deleteDevices(ctx, userID); err != nil {
		return err
	}
	if err := s.cfg.Failures.Clear(ctx, "u:"+userID); err != nil {
		return unavailable(err)
	}
	s.event(ctx, slog.LevelInfo, "password_reset", slog.String("user_id", userID))
	s.send(func() (mail.Message, error) { return passwordChangedNotice(u.Email, u.Username) })
	return nil
}

// ErrWrongPassword means the current password given to ChangePassword was
// wrong.
var ErrWrongPassword = errors.New("accounts: current password is wrong")

// ChangePassword replaces the caller's password after checking the current
// one; every other session ends, the caller's stays.
func (s *Service) ChangePassword(ctx context.Context, id *auth.Identity, current, next string) error {
	now := s.now()
	u, err := s.repo.userByID(ctx, id.UserID)
	if err != nil {
		return err
	}
	// Wrong current passwords count toward the account's login backoff,
	// so that a stolen access token is no way around it; the account's
	// share of the hashing budget covers both hashes below.
	failKey := "u:" + u.ID
	release, err := s.hashes.acquire(failKey, s.cfg.HashesPerKey)
	if err != nil {
		return err
	}
	defer release()
	ok, failures, err := s.checkPassword(ctx, failKey, now, func() (bool, error) {
		ok, _, err := s.cfg.Hasher.Verify(ctx, current, u.PasswordHash)
		return ok, err
	})
	var throttled *ThrottledError
	switch {
	case errors.As(err, &throttled):
		s.event(ctx, slog.LevelWarn, "password_change_throttled", slog.String("user_id", u.ID), slog.Int("failures", failures))
		return err
	case err != nil:
		return err
	case !ok:
		s.event(ctx, slog.LevelWarn, "password_change_refused", slog.String("user_id", u.ID), slog.Int("failures", failures))
		return ErrWrongPassword
	}
	verr := &ValidationError{}
	for _, m := range s.cfg.Policy.Validate(next, u.Username, u.Email) {
		verr.add("new_password", m)
	}
	if next == current {
		verr.add("new_password", "The new password must differ from the current one.")
	}
	if err := verr.orNil(); err != nil {
		return err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	// Every other login ends by its id, not by a not-before instant that
	// would end the caller's own login too.
	var ended []string
	err = s.cfg.DB.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.cfg.DB.Rebind(`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`), hash, ms(now), u.ID); err != nil {
			return unavailable(err)
		}
		var err error
		ended, err = s.repo.endOtherSessionsTx(ctx, tx, u.ID, id.SessionID, "password changed", now)
		return err
	})
	s.repo.accountChanged(u.ID)
	s.repo.sessionsEnded(len(ended) > 0, err)
	if err != nil {
		return err
	}
	if err := s.repo.invalidateOneTimeTokens(ctx, u.ID, purposeReset, now); err != nil {
		return err
	}
	if err := s.endLogins(ctx, ended...); err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "password_changed", slog.String("user_id", u.ID))
	s.send(func() (mail.Message, error) { return passwordChangedNotice(u.Email, u.Username) })
	return nil
}

// Sessions lists the caller's live sessions.
func (s *Service) Sessions(ctx context.Context, userID string) ([]Session, error) {
	return s.repo.listSessions(ctx, userID, s.now(), s.cfg.SessionIdle)
}

// EndSession ends one of the caller's sessions; ErrNotFound when the id is
// not a live session of theirs.
func (s *Service) EndSession(ctx context.Context, userID, sessionID string) error {
	ok, err := s.repo.revokeSession(ctx, sessionID, userID, "ended by user", s.now())
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	if err := s.endLogins(ctx, sessionID); err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "session_revoked", slog.String("user_id", userID))
	return nil
}

// User returns the account with id.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	return s.repo.userByID(ctx, id)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// CreateOptions are the operator-only attributes of CreateUser.
type CreateOptions struct {
	Admin, Staff, Verified bool
	Permissions            []string
}

// CreateUser creates an account for an operator (warden user create).
// Unlike Register it reports a taken email plainly: the operator is trusted.
func (s *Service) CreateUser(ctx context.Context, in RegisterInput, opts CreateOptions) (*User, error) {
	u, err := s.newUser(ctx, in)
	if err != nil {
		return nil, err
	}
	u.IsAdmin, u.IsStaff, u.EmailVerified = opts.Admin, opts.Staff, opts.Verified
	if opts.Permissions != nil {
		u.Permissions = opts.Permissions
	}
	// A lapsed registration holds its name and address no more.
	if err := s.repo.releaseLapsed(ctx, u, s.now()); err != nil {
		return nil, err
	}
	if err := s.repo.createUser(ctx, u, s.now()); err != nil {
		return nil, err
	}
	s.event(ctx, slog.LevelInfo, "user_created_by_operator", slog.String("user_id", u.ID))
	return u, nil
}

// EndLogin ends one login by its id, whoever holds it (warden sessions
// revoke --session): its refresh tokens, if it is a stored login, and its
// access tokens on every route, including tokens minted by warden token.
func (s *Service) EndLogin(ctx context.Context, sessionID string) error {
	if _, err := s.repo.revokeSession(ctx, sessionID, "", "revoked by operator", s.now()); err != nil {
		return err
	}
	if err := s.endLogins(ctx, sessionID); err != nil {
		return err
	}
	s.event(ctx, slog.LevelInfo, "session_revoked", slog.String("reason", "operator"))
	return nil
}

// RevokeUserSessions ends every session of the named user (warden sessions
// revoke).
func (s *Service) RevokeUserSessions(ctx context.Context, username string) (int64, error) {
	u, err := s.repo.userByUsername(ctx, username)
	if err != nil {
		return 0, err
	}
	n, err := s.endEverything(ctx, u.ID, "revoked by operator")
	if err != nil {
		return 0, err
	}
	s.event(ctx, slog.LevelInfo, "sessions_revoked", slog.String("user_id", u.ID), slog.Int64("count", n), slog.String("reason", "operator"))
	return n, nil
}
