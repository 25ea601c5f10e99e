package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/mail"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/ratelimit"
)

// Pending registrations: registering an address that already has an
// account must leave the same traces as registering a free one (API.md),
// and a free address leaves an unverified account behind, which answers
// its own password with 403 "not verified", by username and by address.
// So a registration for a taken address is stored too, as a pending row of
// users:
//
//   - it holds its username like any account (the same unique indexes), so
//     a taken username is a 400 with fields.username on either path;
//   - it never owns the address: its email is empty and its email_key is
//     "pending:<id>", which no address equals; the address goes to
//     claimed_email_key. The owner keeps logging in, resetting and
//     verifying as before, and nothing is ever mailed to a pending row;
//   - it can never be verified: no verification link is made for it (the
//     owner gets the account-exists notice instead), and VerifyEmail
//     refuses a row that claims an address;
//   - its password answers 403 like an unverified account's: by username
//     (the row is found like any), and by the claimed address (Login checks
//     the pending rows that claim it, see claimedMatch).
//
// Checking the pending rows of an address must not cost more when the
// address is taken. Their hashes share a salt (an HMAC of the address under
// a per-installation secret), so one Argon2 derivation checks all of them
// (password.Hasher.MatchAny); a login by address always runs exactly two
// derivations, the account's (or a dummy) and that one, on every path.
// Registrations hash under the same salt, because whether the address is
// taken is only known after the hash; later password changes and resets
// hash under fresh random salts as usual.
//
// Registrations lapse: an unverified registration, an account or a pending
// row alike, ends RegistrationTTL (7 days by default) after it was made;
// resend-verification for its address starts that again, for the account
// and for every pending row that claims the address. The verification link
// itself lasts VerifyTTL (24 h); a user who opens it on the third day asks
// for a new one and still has the account and the name. A lapsed
// registration answers like no registration at all (401) and gives its
// username and address back; it is deleted when either is registered
// again, and in the background. Verifying clears the lapse time, and
// operator-created accounts never have one. A user who lets a week pass
// registers again, with the same name if nobody took it meanwhile. A
// pending row must lapse exactly like an unverified account: otherwise the
// day on which a name comes free again would tell which one it was.

// pendingEmailPrefix starts the email_key of a pending row. Every address
// holds an '@' and this prefix does not, so no look-up by address finds one.
const pendingEmailPrefix = "pending:"

// Lapsed registrations are deleted in the background at most
// lapsedPurgeBatch at a time, lapsedPurgeMargin after they lapsed.
const (
	lapsedPurgeBatch  = 500
	lapsedPurgeMargin = time.Hour
)

// flows is the state of the anonymous flows' defences: the job queue, the
// per-recipient mail throttle and the installation secret.
type flows struct {
	jobs     *jobQueue
	throttle *mailThrottle

	secretMu sync.Mutex
	secret   []byte
}

// startFlows builds the queue and the mail throttle. mailLimiter is the
// configured NewLimiter, nil for in-memory limiters on the service clock.
func (s *Service) startFlows(mailLimiter func(ratelimit.Policy) (ratelimit.Limiter, error)) error {
	t, err := newMailThrottle(mailLimiter, s.now)
	if err != nil {
		return err
	}
	s.bg = &flows{jobs: newJobQueue(s.cfg.JobQueue, s.cfg.JobWorkers, s.log, &s.mailWG), throttle: t}
	return nil
}

// enqueue runs fn in the background (see jobs.go).
func (s *Service) enqueue(ctx context.Context, kind string, fn func(ctx context.Context)) {
	s.bg.jobs.enqueue(ctx, kind, fn)
}

// installationSecret returns the random key of this installation, stored
// in the database so that every instance and every restart has the same
// one, and made on first use.
func (s *Service) installationSecret(ctx context.Context) ([]byte, error) {
	s.bg.secretMu.Lock()
	defer s.bg.secretMu.Unlock()
	if s.bg.secret != nil {
		return s.bg.secret, nil
	}
	k, err := s.repo.loadSecret(ctx, "accounts", s.now())
	if err != nil {
		return nil, err
	}
	s.bg.secret = k
	return k, nil
}

// subkey derives the key for one purpose from the installation secret, so
// that no two purposes share a key.
func (s *Service) subkey(ctx context.Context, purpose string) ([]byte, error) {
	secret, err := s.installationSecret(ctx)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("warden accounts " + purpose))
	return m.Sum(nil), nil
}

// loadSecret reads the secret named name, creating it when missing; two
// instances creating it at once agree on the one the database kept.
func (r *repo) loadSecret(ctx context.Context, name string, now time.Time) ([]byte, error) {
	read := func() (string, error) {
		var v string
		err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT secret FROM accounts_secrets WHERE name = ?`), name).Scan(&v)
		return v, err
	}
	v, err := read()
	if errors.Is(err, sql.ErrNoRows) {
		fresh := make([]byte, 32)
		rand.Read(fresh) // never fails (crypto/rand, Go 1.24+)
		_, err = r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO accounts_secrets (name, secret, created_at) VALUES (?, ?, ?)`),
			name, hex.EncodeToString(fresh), ms(now))
		if err != nil && !isUniqueViolation(err) {
			return nil, unavailable(err)
		}
		v, err = read()
	}
	if err != nil {
		return nil, unavailable(err)
	}
	k, err := hex.DecodeString(v)
	if err != nil || len(k) < 32 {
		// Fail closed: a damaged secret must not silently become a weak one.
		return nil, fmt.Errorf("%w: the accounts_secrets row %q is damaged", store.ErrUnavailable, name)
	}
	return k, nil
}

// registrationSalt is the salt every registration with email hashes
// under: an HMAC of the address under the installation secret, so it is
// distinct per address and unknown without the database.
func (s *Service) registrationSalt(ctx context.Context, email string) ([]byte, error) {
	k, err := s.subkey(ctx, "registration salt")
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha512.New, k)
	m.Write([]byte(key(email)))
	n := int(s.cfg.Hasher.Params().SaltLength)
	return m.Sum(nil)[:min(max(n, 16), sha512.Size)], nil
}

// registrationHash hashes the password of a new registration for email.
func (s *Service) registrationHash(ctx context.Context, email, pw string) (string, error) {
	salt, err := s.registrationSalt(ctx, email)
	if err != nil {
		return "", err
	}
	return s.cfg.Hasher.HashWithSalt(ctx, pw, salt)
}

// insertRegistration stores a new unverified registration, as an account
// when its address is free and as a pending row when it is taken, and
// reports which. Both run the same statements in one transaction: the
// address decides only the values of the insert. ErrUsernameTaken when
// the username (or a look-alike) belongs to a live registration.
func (r *repo) insertRegistration(ctx context.Context, u *User, now time.Time, ttl time.Duration) (pending bool, err error) {
	emailKey := key(u.Email)
	attempt := func() error {
		return r.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := r.deleteLapsedTx(ctx, tx, u, now); err != nil {
				return err
			}
			var err error
			if pending, err = r.newUserTx(ctx, tx, u); err != nil {
				return err
			}
			email, ek, claimed := u.Email, emailKey, sql.NullString{}
			if pending {
				// The address stays its owner's alone: see the top of this file.
				email, ek, claimed = "", pendingEmailPrefix+u.ID, sql.NullString{String: emailKey, Valid: true}
			}
			_, err = tx.ExecContext(ctx, r.db.Rebind(`INSERT INTO users (id, username, username_key, username_norm, email, email_key, claimed_email_key, registration_expires_at,
				password_hash, first_name, last_name, is_staff, is_admin, email_verified, permissions, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				u.ID, u.Username, key(u.Username), usernameKey(u.Username), email, ek, claimed, ms(now.Add(ttl)),
				u.PasswordHash, u.FirstName, u.LastName, false, false, false, joinPerms(u.Permissions), ms(now), ms(now))
			if err != nil {
				// ErrEmailTaken: a concurrent registration took the
				// address; the caller tries again.
				return insertUserError(err)
			}
			u.CreatedAt = fromMS(ms(now))
			return nil
		})
	}
	err = attempt()
	if errors.Is(err, ErrEmailTaken) {
		// The address was free when counted and taken at the insert; the
		// second attempt counts it taken and stores a pending row.
		err = attempt()
	}
	if errors.Is(err, ErrEmailTaken) {
		err = fmt.Errorf("%w: registration kept colliding on its address", store.ErrUnavailable)
	}
	return pending, err
}

// deleteLapsedTx deletes the lapsed registrations that hold u's username
// (or a look-alike) or address, which they give back.
func (r *repo) deleteLapsedTx(ctx context.Context, tx *sql.Tx, u *User, now time.Time) error {
	_, err := tx.ExecContext(ctx, r.db.Rebind(`DELETE FROM users
		WHERE registration_expires_at <= ? AND email_verified = ? AND (username_key = ? OR username_norm = ? OR email_key = ?)`),
		ms(now), false, key(u.Username), usernameKey(u.Username), key(u.Email))
	return unavailable(err)
}

// releaseLapsed is deleteLapsedTx in a transaction of its own, for
// operator-created accounts.
func (r *repo) releaseLapsed(ctx context.Context, u *User, now time.Time) error {
	return r.db.InTx(ctx, func(tx *sql.Tx) error { return r.deleteLapsedTx(ctx, tx, u, now) })
}

// registration is what a users row says about its registration.
type registration struct {
	lapsed  bool   // an unverified registration past its lapse time
	claimed string // the address a pending row claims; "" for accounts
}

// registrations returns the registration state of the users a and b
// (either may be ""), in one query whatever a and b are.
func (r *repo) registrations(ctx context.Context, now time.Time, a, b string) (map[string]registration, error) {
	rows, err := r.db.QueryContext(ctx, r.db.Rebind(`SELECT id, registration_expires_at, claimed_email_key FROM users WHERE id IN (?, ?)`), a, b)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	out := map[string]registration{}
	for rows.Next() {
		var id string
		var exp sql.NullInt64
		var claimed sql.NullString
		if err := rows.Scan(&id, &exp, &claimed); err != nil {
			return nil, unavailable(err)
		}
		out[id] = registration{lapsed: exp.Valid && exp.Int64 <= ms(now), claimed: claimed.String}
	}
	return out, unavailable(rows.Err())
}

// ownerID is the id of the account that owns the address with key
// emailKey, or "".
func (r *repo) ownerID(ctx context.Context, emailKey string) (string, error) {
	var id string
	err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT id FROM users WHERE email_key = ?`), emailKey).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, unavailable(err)
}

func idOf(u *User) string {
	if u == nil {
		return ""
	}
	return u.ID
}

// loginUser finds the account a login names, or nil: by address when login
// holds '@' (falling back to a username, for names from before '@' was
// refused in them), else by username. Lapsed registrations count as none.
//
// counted is the account whose failed-login counter the login uses: the
// account itself, but for a pending row the account that owns the address
// it claims. With a free address, the registration is the owner, and a
// login by its username and one by its address share one counter; with a
// taken address they must share one too, or the backoff that wrong
// guesses by address cause would show on the username only when the
// address was free. (Guesses at a pending row's password thus count
// against the address's owner, as guesses by address always did.)
//
// The same statements run whatever is found: both look-ups for an
// address, one state query, one owner query (by the account's own address
// when it is not pending, which finds the account again).
func (s *Service) loginUser(ctx context.Context, login string, now time.Time) (u, counted *User, err error) {
	var byEmail, byName *User
	if strings.Contains(login, "@") {
		if byEmail, err = s.repo.userByEmail(ctx, login); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, nil, err
		}
	}
	if byName, err = s.repo.userByUsername(ctx, login); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	state, err := s.repo.registrations(ctx, now, idOf(byEmail), idOf(byName))
	if err != nil {
		return nil, nil, err
	}
	switch {
	case byEmail != nil && !state[byEmail.ID].lapsed:
		u = byEmail
	case byName != nil && !state[byName.ID].lapsed:
		u = byName
	}
	addr := ""
	if u != nil {
		addr = key(u.Email)
		if c := state[u.ID].claimed; c != "" {
			addr = c
		}
	}
	owner, err := s.repo.ownerID(ctx, addr)
	if err != nil || u == nil {
		return nil, nil, err
	}
	if owner == "" || owner == u.ID {
		return u, u, nil
	}
	return u, &User{ID: owner}, nil
}

// liveUserByEmail is the account that owns email, unless it is a lapsed
// registration; ErrNotFound otherwise.
func (s *Service) liveUserByEmail(ctx context.Context, email string, now time.Time) (*User, error) {
	u, err := s.repo.userByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	state, err := s.repo.registrations(ctx, now, u.ID, "")
	if err != nil {
		return nil, err
	}
	if state[u.ID].lapsed {
		return nil, ErrNotFound
	}
	return u, nil
}

// loginCheck compares pw with the account u (a dummy when nil) and, for a
// login by address, with the pending registrations that claim the address.
// It always runs both comparisons for an address, whatever the first
// found: a login by address costs two derivations on every path, and one
// by username one. It returns true only for a verified account. A match of
// an unverified registration (an unverified account, or a pending row of
// the address logged in with) is ErrNotVerified, which Login answers with
// 403 and the failure counter takes as neither a failure nor a success
// (the attempt is given back): a success would clear the counter of the
// account that owns the address, and so let whoever holds a pending
// registration of it undo the backoff that protects that account.
func (s *Service) loginCheck(ctx context.Context, login, pw string, u *User, now time.Time, rehash *bool) (bool, error) {
	var ok bool
	var err error
	if u == nil {
		err = s.cfg.Hasher.VerifyDummy(ctx, pw)
	} else {
		ok, *rehash, err = s.cfg.Hasher.Verify(ctx, pw, u.PasswordHash)
	}
	if err != nil {
		return false, err
	}
	claimed, err := s.claimedMatch(ctx, login, pw, now)
	if err != nil {
		return false, err
	}
	switch {
	case ok && u.EmailVerified:
		return true, nil
	case ok || claimed:
		return false, ErrNotVerified
	}
	return false, nil
}

// claimedMatch reports whether pw is the password of a live pending
// registration that claims the address login, with one derivation under
// the address's salt whether there are none, one or many.
func (s *Service) claimedMatch(ctx context.Context, login, pw string, now time.Time) (bool, error) {
	if !strings.Contains(login, "@") {
		return false, nil
	}
	salt, err := s.registrationSalt(ctx, login)
	if err != nil {
		return false, err
	}
	hashes, err := s.repo.claimHashes(ctx, key(login), now)
	if err != nil {
		return false, err
	}
	i, err := s.cfg.Hasher.MatchAny(ctx, pw, salt, hashes)
	return i >= 0, err
}

// claimHashes returns the password hashes of the live pending rows that
// claim the address with key emailKey.
func (r *repo) claimHashes(ctx context.Context, emailKey string, now time.Time) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, r.db.Rebind(`SELECT password_hash FROM users WHERE claimed_email_key = ? AND registration_expires_at > ?`), emailKey, ms(now))
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, unavailable(err)
		}
		out = append(out, h)
	}
	return out, unavailable(rows.Err())
}

// extendRegistrations gives every live unverified registration of email
// (the account that owns it and the pending rows that claim it) ttl from
// now: a resend makes a new link, and the registration it is for lives as
// long as the link. Operator-created accounts (no lapse time) keep none.
func (r *repo) extendRegistrations(ctx context.Context, email string, now time.Time, ttl time.Duration) error {
	k := key(email)
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`UPDATE users SET registration_expires_at = ?
		WHERE (email_key = ? OR claimed_email_key = ?) AND email_verified = ? AND registration_expires_at > ?`),
		ms(now.Add(ttl)), k, k, false, ms(now))
	return unavailable(err)
}

// purgeLapsed deletes registrations that lapsed before cutoff, at most
// batch, with whatever hangs on them (their verification tokens).
func (r *repo) purgeLapsed(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	q := `DELETE FROM users WHERE id IN (SELECT id FROM users WHERE registration_expires_at < ? AND email_verified = ? LIMIT ?)`
	if r.db.Dialect == store.MySQL {
		q = `DELETE FROM users WHERE registration_expires_at < ? AND email_verified = ? LIMIT ?`
	}
	res, err := r.db.ExecContext(ctx, r.db.Rebind(q), ms(cutoff), false, batch)
	if err != nil {
		return 0, unavailable(err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// registrationJob does the part of a registration the requester must not
// be able to time: a verification link for a new account, the
// account-exists notice to the owner for a pending row.
func (s *Service) registrationJob(ctx context.Context, u *User, pending bool) {
	now := s.now()
	if n, err := s.repo.purgeLapsed(ctx, now.Add(-lapsedPurgeMargin), lapsedPurgeBatch); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "purging lapsed registrations failed", slog.String("error", err.Error()))
	} else if n > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "lapsed registrations purged", slog.Int64("count", n))
	}
	if pending {
		owner, err := s.liveUserByEmail(ctx, u.Email, now)
		if errors.Is(err, ErrNotFound) {
			return // the owner's own registration lapsed meanwhile
		}
		if err != nil {
			s.jobFailed(ctx, "registration", err)
			return
		}
		// Tell the owner, at the address on file, instead of the caller.
		s.event(ctx, slog.LevelInfo, "register_existing_email", slog.String("user_id", owner.ID), slog.String("pending_id", u.ID))
		if s.mayMail(ctx, "account_exists", owner.ID, owner.Email) {
			s.deliverNow(ctx, func() (mail.Message, error) { return accountExistsNotice(owner.Email, s.cfg.PublicURL) })
		}
		return
	}
	s.event(ctx, slog.LevelInfo, "registered", slog.String("user_id", u.ID))
	if !s.mayMail(ctx, "verification", u.ID, u.Email) {
		return
	}
	if err := s.issueVerification(ctx, u, now); err != nil {
		s.jobFailed(ctx, "registration", err)
	}
}

// resendJob extends the address's registrations and mails a new link when
// the address belongs to an unverified account.
func (s *Service) resendJob(ctx context.Context, email string) {
	now := s.now()
	// Before the mail budget is consulted: the extension must not depend
	// on what else was mailed to the address.
	if err := s.repo.extendRegistrations(ctx, email, now, s.cfg.RegistrationTTL); err != nil {
		s.jobFailed(ctx, "resend_verification", err)
		return
	}
	u, err := s.liveUserByEmail(ctx, email, now)
	if errors.Is(err, ErrNotFound) {
		return
	}
	if err != nil {
		s.jobFailed(ctx, "resend_verification", err)
		return
	}
	if u.EmailVerified || !s.mayMail(ctx, "verification", u.ID, u.Email) {
		return
	}
	if err := s.issueVerification(ctx, u, now); err != nil {
		s.jobFailed(ctx, "resend_verification", err)
	}
}

// resetJob mails a reset link when the address belongs to an account.
// The budget is consulted before the link is made, so that a throttled
// request does not void the link the user already has.
func (s *Service) resetJob(ctx context.Context, email string) {
	now := s.now()
	u, err := s.liveUserByEmail(ctx, email, now)
	if errors.Is(err, ErrNotFound) {
		return
	}
	if err != nil {
		s.jobFailed(ctx, "password_reset", err)
		return
	}
	if !s.mayMail(ctx, "password_reset", u.ID, u.Email) {
		return
	}
	plain, digest, err := newToken()
	if err == nil {
		err = s.repo.invalidateOneTimeTokens(ctx, u.ID, purposeReset, now)
	}
	if err == nil {
		err = s.repo.createOneTimeToken(ctx, u.ID, purposeReset, digest, now, s.cfg.ResetTTL)
	}
	if err != nil {
		s.jobFailed(ctx, "password_reset", err)
		return
	}
	s.event(ctx, slog.LevelInfo, "password_reset_requested", slog.String("user_id", u.ID))
	s.deliverNow(ctx, func() (mail.Message, error) { return resetMessage(u.Email, u.Username, s.cfg.PublicURL, plain) })
}

// issueVerification replaces u's verification link with a new one and
// mails it.
func (s *Service) issueVerification(ctx context.Context, u *User, now time.Time) error {
	plain, digest, err := newToken()
	if err != nil {
		return err
	}
	if err := s.repo.invalidateOneTimeTokens(ctx, u.ID, purposeVerify, now); err != nil {
		return err
	}
	if err := s.repo.createOneTimeToken(ctx, u.ID, purposeVerify, digest, now, s.cfg.VerifyTTL); err != nil {
		return err
	}
	s.deliverNow(ctx, func() (mail.Message, error) {
		return verificationMessage(u.Email, u.Username, s.cfg.PublicURL, plain)
	})
	return nil
}

// jobFailed logs a job's error; the request was answered long ago.
// Repository errors carry no address.
func (s *Service) jobFailed(ctx context.Context, kind string, err error) {
	s.log.LogAttrs(ctx, slog.LevelError, "background job failed", slog.String("job", kind), slog.String("error", err.Error()))
}
