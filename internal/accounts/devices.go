package accounts

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/wardenhq/warden/auth"
)

// Devices (API.md, `device`): a successful login answers an opaque value
// that the client sends back with later logins of that account. A login
// that presents a valid device of the account counts its failures under a
// key of its own ("d:<user>:<device>") instead of the account's ("u:"),
// so strangers guessing the password, who cause the account's backoff,
// cannot keep out a client that has logged in before, and a device holder
// who guesses wrong backs off on their own.
//
// A device is a random 256-bit token stored, like every token here, only
// as its SHA-256 digest in the devices table, bound to one user. A stored
// token rather than a stateless HMAC of (user, device id), because a
// device must expire by disuse, which needs its last use written down
// anyway, and must die with a password reset, which a stored row does by
// being deleted, with no extra key to keep and rotate and no per-user
// epoch to compare. The token is never logged; the row's id, which
// grants nothing, may be.
const (
	// deviceTTL is how long a device lives since its last login.
	deviceTTL = 90 * 24 * time.Hour
	// maxDevicesPerUser bounds a user's rows: a client that never sends
	// its device back gets a new one at each login, and only the most
	// recently used are kept.
	maxDevicesPerUser = 50
	// maxDeviceBytes bounds a presented device; a longer one is ignored.
	maxDeviceBytes = 256
)

// device is a live device of one user.
type device struct {
	ID     string
	UserID string
}

// loginFailKey names the failure counter of a login: a valid device's
// own, else the account's, else (no such account) the name tried, so that
// throttling looks the same whether or not the account exists.
func loginFailKey(login string, u *User, dev *device) string {
	switch {
	case dev != nil:
		return "d:" + dev.UserID + ":" + dev.ID
	case u != nil:
		return "u:" + u.ID
	default:
		return "n:" + key(login)
	}
}

// presentedDevice returns the device token names when it is a live device
// of u, and nil for no token, an unknown, expired or revoked one, one of
// another account, or no account at all: none of these exempts the login
// from anything. The lookup runs whenever a token is presented, before
// the account is considered, so that its cost does not depend on whether
// the account exists.
func (s *Service) presentedDevice(ctx context.Context, token string, u *User, now time.Time) (*device, error) {
	if token == "" || len(token) > maxDeviceBytes {
		return nil, nil
	}
	d, err := s.repo.liveDevice(ctx, digestOf(token), now)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u == nil || d.UserID != u.ID {
		return nil, nil
	}
	return d, nil
}

// startSessionWithDevice starts a login of u and answers a device with
// it: the one the client presented, when that was valid (its use then
// extends its life), or a new one.
func (s *Service) startSessionWithDevice(ctx context.Context, u *User, c Client, dev *device, now time.Time) (*Tokens, error) {
	t, err := s.startSession(ctx, u, c, now)
	if err != nil {
		return nil, err
	}
	if dev != nil {
		if err := s.repo.touchDevice(ctx, dev.ID, now); err != nil {
			return nil, err
		}
		t.Device = c.Device
		return t, nil
	}
	plain, digest, err := newToken()
	if err != nil {
		return nil, err
	}
	id, err := auth.RandomToken(16)
	if err != nil {
		return nil, err
	}
	if err := s.repo.insertDevice(ctx, id, u.ID, digest, now); err != nil {
		return nil, err
	}
	t.Device = plain
	return t, nil
}

func (r *repo) liveDevice(ctx context.Context, digest string, now time.Time) (*device, error) {
	var d device
	err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT id, user_id FROM devices WHERE token_hash = ? AND expires_at > ?`), digest, ms(now)).Scan(&d.ID, &d.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return &d, nil
}

func (r *repo) touchDevice(ctx context.Context, id string, now time.Time) error {
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`UPDATE devices SET last_used_at = ?, expires_at = ? WHERE id = ?`), ms(now), ms(now.Add(deviceTTL)), id)
	return unavailable(err)
}

// insertDevice stores a new device of userID, then makes room: expired
// devices go (everyone's, through the expires_at index), and the user's
// least recently used beyond maxDevicesPerUser. The sweep is best effort
// and outside any transaction: it must not fail, or hold locks over, the
// login that triggered it, and the next new device sweeps again.
func (r *repo) insertDevice(ctx context.Context, id, userID, digest string, now time.Time) error {
	if _, err := r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO devices (id, user_id, token_hash, created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
		id, userID, digest, ms(now), ms(now), ms(now.Add(deviceTTL))); err != nil {
		return unavailable(err)
	}
	_, _ = r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM devices WHERE expires_at <= ?`), ms(now))
	// The cut-off is the last use of the newest device beyond the cap;
	// MySQL allows neither LIMIT in an IN subquery nor a subquery on the
	// table a DELETE changes, so it is read first.
	var cutoff int64
	err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT last_used_at FROM devices WHERE user_id = ? ORDER BY last_used_at DESC LIMIT 1 OFFSET `+strconv.Itoa(maxDevicesPerUser)), userID).Scan(&cutoff)
	if err == nil {
		_, _ = r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM devices WHERE user_id = ? AND last_used_at <= ? AND id <> ?`), userID, cutoff, id)
	}
	return nil
}

// deleteDevices revokes every device of userID (a password reset).
func (r *repo) deleteDevices(ctx context.Context, userID string) error {
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM devices WHERE user_id = ?`), userID)
	return unavailable(err)
}
