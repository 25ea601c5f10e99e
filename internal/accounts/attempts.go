package accounts

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// The failed-login backoff, exported so that a FailureCounter kept
// elsewhere (accounts/redisfailures) can apply it inside its own atomic
// Reserve. Backoff is the rule; these are its parameters.
const (
	// FreeFailures is how many consecutive failures cost no delay.
	FreeFailures = freeFailures
	// MaxFailures is the count after which only a reset (or FailureMemory
	// without failures) ends the backoff.
	MaxFailures = maxFailures
	// MaxBackoff caps the delay, which starts at one second at
	// FreeFailures and doubles with each further failure.
	MaxBackoff = maxBackoff
)

// Backoff returns how long an attempt under a key with failures
// consecutive failures, the last at last, must wait at now, and whether it
// must wait for a reset. A zero wait admits the attempt.
func Backoff(failures int, last, now time.Time) (wait time.Duration, needsReset bool) {
	return backoff(failures, last, now)
}

// defaultHashesPerKey is how many password hashes one failure key (an
// account, an account with one device, an unknown name) may have in
// flight at once on this instance unless Config.HashesPerKey says
// otherwise. The Argon2 memory budget is shared by everyone; without a
// share per key one account could hold all of it and every other user's
// login would answer 503. Two leave room for a double click.
const defaultHashesPerKey = 2

// errHashShare is the refusal of a password check when its key already
// has hashesPerKey checks running: a 429 for that key only.
var errHashShare = errors.New("accounts: too many password checks at once for one account")

// hashShares counts the password hashes in flight per key. The zero value
// is ready; entries exist only while hashes run, so the map stays as small
// as the number of checks in flight.
type hashShares struct {
	mu      sync.Mutex
	running map[string]int
}

// acquire takes one of key's limit shares (defaultHashesPerKey when
// limit is 0), or fails with errHashShare at once: waiting would let a
// flood queue up in front of other users.
func (h *hashShares) acquire(key string, limit int) (release func(), err error) {
	if limit <= 0 {
		limit = defaultHashesPerKey
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running[key] >= limit {
		return nil, errHashShare
	}
	if h.running == nil {
		h.running = map[string]int{}
	}
	h.running[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.running[key]--; h.running[key] <= 0 {
				delete(h.running, key)
			}
		})
	}, nil
}

// checkPassword runs check, a password comparison, as one attempt under
// the failure key: the attempt is counted as a failure before check runs
// (FailureCounter.Reserve), so concurrent attempts cannot all slip past a
// count read before any of them failed, and is refused with a
// *ThrottledError while the key backs off. A check that fails leaves the
// count as it is; one that succeeds clears the key; one that could not
// run (hasher busy, client gone) gives the attempt back. The caller holds
// one of the key's hashing shares. Counter errors are outages (503): no
// password is checked without the counter.
func (s *Service) checkPassword(ctx context.Context, key string, now time.Time, check func() (bool, error)) (ok bool, failures int, err error) {
	n, last, reserved, err := s.cfg.Failures.Reserve(ctx, key, now)
	if err != nil {
		return false, 0, unavailable(err)
	}
	if !reserved {
		wait, reset := backoff(n, last, now)
		if wait <= 0 {
			// The counter refused an attempt the rule admits: their clocks
			// or rules differ. Ask for a short wait rather than guess.
			wait = time.Second
		}
		return false, n, &ThrottledError{RetryAfter: wait, NeedsReset: reset}
	}
	ok, err = check()
	if err != nil {
		// No password was compared: the attempt was not a guess. The
		// caller answers err whether or not the give-back worked.
		_ = s.cfg.Failures.Release(context.WithoutCancel(ctx), key)
		return false, n, err
	}
	if !ok {
		return false, n + 1, nil
	}
	if err := s.cfg.Failures.Clear(ctx, key); err != nil {
		return false, n, unavailable(err)
	}
	return true, 0, nil
}

// Reserve implements FailureCounter in one transaction per attempt: the
// key's row is created if missing and locked, read, and incremented when
// Backoff admits the attempt. Dialects differ only in how the row is
// created and locked: SQLite's immediate transaction already holds the
// database's write lock; PostgreSQL's ON CONFLICT DO UPDATE and MySQL's ON
// DUPLICATE KEY UPDATE lock an existing row exclusively (a plain INSERT
// IGNORE would take a shared lock, and two of those deadlock on the
// upgrade); SELECT ... FOR UPDATE then reads the latest committed count.
func (r sqlFailures) Reserve(ctx context.Context, k string, now time.Time) (int, time.Time, bool, error) {
	var ensure string
	switch r.db.Dialect {
	case store.MySQL:
		ensure = `INSERT INTO login_failures (login_key, failures, last_at) VALUES (?, 0, 0)
			ON DUPLICATE KEY UPDATE failures = failures`
	case store.Postgres:
		ensure = `INSERT INTO login_failures (login_key, failures, last_at) VALUES (?, 0, 0)
			ON CONFLICT (login_key) DO UPDATE SET failures = login_failures.failures`
	default:
		ensure = `INSERT INTO login_failures (login_key, failures, last_at) VALUES (?, 0, 0)
			ON CONFLICT (login_key) DO NOTHING`
	}
	var n int
	var last time.Time
	var reserved bool
	err := retryConflicts(ctx, func() error {
		return r.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, r.db.Rebind(ensure), k); err != nil {
				return err
			}
			var lastMS int64
			if err := tx.QueryRowContext(ctx, r.db.Rebind(`SELECT failures, last_at FROM login_failures WHERE login_key = ?`+r.forUpdate()), k).Scan(&n, &lastMS); err != nil {
				return err
			}
			last = fromMS(lastMS)
			if n == 0 || now.Sub(last) > failureMemory {
				n, last = 0, time.Time{}
			}
			if wait, _ := backoff(n, last, now); wait > 0 {
				reserved = false
				return nil
			}
			// The last failure kept is the latest any instance reported,
			// so that a slow clock cannot shorten another's backoff.
			stored := max(ms(now), ms(last))
			if _, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE login_failures SET failures = ?, last_at = ? WHERE login_key = ?`), n+1, stored, k); err != nil {
				return err
			}
			reserved = true
			return nil
		})
	})
	if err != nil {
		return 0, time.Time{}, false, unavailable(err)
	}
	if reserved && n == 0 {
		// A new (or forgotten) key: forget idle entries, so that names
		// tried once do not pile up. Outside the transaction, whose row
		// lock it need not hold, and best effort: reads already treat
		// idle entries as none, so a failed sweep only waits for the next.
		_, _ = r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM login_failures WHERE last_at < ?`), ms(now.Add(-failureMemory)))
	}
	return n, last, reserved, nil
}

// Release implements FailureCounter.
func (r sqlFailures) Release(ctx context.Context, k string) error {
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`UPDATE login_failures SET failures = failures - 1 WHERE login_key = ? AND failures > 0`), k)
	return unavailable(err)
}

// retryConflicts runs fn again, a few times, when the database aborted it
// to break a deadlock or a serialization conflict: the transaction did
// nothing, and concurrent attempts on one key are exactly what Reserve
// must serialize rather than turn into 503s.
func retryConflicts(ctx context.Context, fn func() error) error {
	var err error
	for try := range 5 {
		if err = fn(); err == nil || !isConflict(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try+1) * 5 * time.Millisecond):
		}
	}
	return err
}

// isConflict recognizes MySQL's deadlock (1213) and PostgreSQL's deadlock
// (40P01) and serialization failure (40001) by their messages, as
// isUniqueViolation does, so this package needs no driver types.
func isConflict(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "deadlock") || strings.Contains(s, "40p01") || strings.Contains(s, "40001") || strings.Contains(s, "could not serialize")
}
