// Package sqlrevoke is a revoke.Store in a SQL database (SQLite,
// MySQL/MariaDB or PostgreSQL), for deployments of several Warden
// instances that share one database but no Redis. A revocation made
// through one instance holds on that instance from the next request and on
// every other within revoke.MaxPropagation.
//
// # Tables
//
// The embedded goose migrations (Migrations: one directory per dialect,
// sqlite/, mysql/, postgres/) create two tables, prefixed so as not to
// clash with an application's own:
//
//   - warden_revocations (kind, id, not_before, until), keyed by (kind, id):
//     kind 't' for a token (jti), 's' for a login (sid), 'u' for a user
//     (sub) with not_before, the instant at or before which that user's
//     tokens are revoked. Times are Unix nanoseconds; ids are bytes
//     (BLOB, VARBINARY, BYTEA), compared exactly whatever the database's
//     collation, and at most MaxIDLength long.
//   - warden_revocation_epoch, one row counting revocations.
//
// They are laid out for goose, the migrator Warden's server runs once per
// feature (store.DB.Migrate; this one would be "revocations"). A library
// user may instead apply the "-- +goose Up" section of each file, in
// order, with any tool. New creates no table.
//
// Revoking again keeps the later until and the later not_before, never
// shortening a revocation. Every revocation raises the epoch in the same
// transaction. Rows that can no longer matter are deleted by every
// instance, at most once a minute, SweepGrace after their until, so that
// an instance whose clock runs behind the sweeper's keeps them as long as
// it needs them. Whether a row still holds is judged by the checking
// instance's clock, not the database's; keep the instances' clocks in step
// (NTP), as token expiry checks need anyway.
//
// # Propagation
//
// Check answers from a local cache of "not revoked" answers (see
// revoke/internal/checkcache) only while a poller, reading the epoch every
// PollInterval, confirms that this instance has heard of every
// revocation: a changed epoch forgets the cache, a failed read forgets it
// and stops trusting it, and each successful read vouches for the cache
// for 2×PollInterval from the moment it was sent. A revocation made
// elsewhere therefore holds here within 2×PollInterval (2 s by default;
// PollInterval is at most MaxPollInterval, so that this stays within
// revoke.MaxPropagation), and one made through this Store at once. A
// cache hit costs no query; a miss costs one SELECT.
//
// Every instance must read the database it writes to: a Store on a
// lagging read replica would see revocations late, beyond the bound.
//
// # Failure behaviour
//
// Every database error is returned, wrapped. Check never answers "not
// revoked" when it could not ask: callers (auth.JWT) treat its error as
// "revoked" and answer 503, so an outage refuses tokens rather than
// letting revoked ones through (fail closed). database/sql reconnects by
// itself and the poller keeps trying, so answers, then cached answers,
// resume when the database does, without a restart.
//
// SQLite serves several processes only on one host, in WAL mode and with
// a busy timeout (the server opens it with both), so that a revocation
// waits for a concurrent one instead of failing.
package sqlrevoke

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/revoke/internal/checkcache"
)

// Dialects accepted by New.
const (
	SQLite   = "sqlite"
	MySQL    = "mysql"
	Postgres = "postgres"
)

const (
	// DefaultPollInterval is how often the epoch is read when
	// Options.PollInterval is 0.
	DefaultPollInterval = time.Second
	// MaxPollInterval keeps 2×PollInterval, the longest a revocation made
	// elsewhere can go unheard of, a second short of
	// revoke.MaxPropagation, for scheduling delays.
	MaxPollInterval = (revoke.MaxPropagation - time.Second) / 2
	// MaxIDLength is the longest token id, session id or subject, in
	// bytes: MySQL's key needs a bound, and every dialect keeps the same
	// one so that an id accepted on SQLite is accepted everywhere.
	MaxIDLength = 255
	// SweepGrace is how long after its until a row is deleted. Rows past
	// their until are already ignored by Check; the grace keeps them for
	// instances whose clock runs behind the sweeping one's (auth.JWT's
	// leeway is at most 5 minutes too).
	SweepGrace = 5 * time.Minute
)

// sweepInterval spaces out the deletion of dead rows: they cost only
// space, so there is no hurry.
const sweepInterval = time.Minute

// ErrIDTooLong is returned for an id longer than MaxIDLength bytes.
var ErrIDTooLong = fmt.Errorf("sqlrevoke: id longer than %d bytes", MaxIDLength)

// errNoEpoch means the epoch row is missing: revocations written without
// it would never reach the other instances' caches.
var errNoEpoch = errors.New("sqlrevoke: warden_revocation_epoch has no row; apply the migrations")

//go:embed migrations
var migrationFiles embed.FS

// Migrations holds the goose migrations, one directory per dialect
// (sqlite/, mysql/, postgres/), as Warden's store.DB.Migrate expects them.
var Migrations fs.FS = mustSub(migrationFiles, "migrations")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant that names an embedded directory
	}
	return sub
}

// Kinds of rows.
const (
	kindToken   = "t"
	kindSession = "s"
	kindUser    = "u"
)

// Queries every dialect shares.
const (
	bumpEpoch = `UPDATE warden_revocation_epoch SET epoch = epoch + 1 WHERE id = 1`
	readEpoch = `SELECT epoch FROM warden_revocation_epoch WHERE id = 1`
)

// queries are those whose text differs between dialects: placeholders,
// and the upsert's syntax.
type queries struct {
	// check takes now, jti, sid, sub: one SELECT for the three grains.
	check string
	// upsert takes kind, id, not_before, until, keeping the later of
	// each instant when the row exists.
	upsert string
	// sweep takes the instant before which rows are dead.
	sweep string
	// sweepTx is the transaction the sweep runs in: on MySQL, READ
	// COMMITTED takes no gap locks, which under REPEATABLE READ could
	// deadlock the sweep with a revocation inserting next to the rows it
	// deletes.
	sweepTx *sql.TxOptions
}

var dialects = map[string]queries{
	SQLite: {
		check: `SELECT kind, not_before FROM warden_revocations WHERE until > ? AND ` +
			`((kind = 't' AND id = ?) OR (kind = 's' AND id = ?) OR (kind = 'u' AND id = ?))`,
		upsert: `INSERT INTO warden_revocations (kind, id, not_before, until) VALUES (?, ?, ?, ?) ` +
			`ON CONFLICT (kind, id) DO UPDATE SET not_before = max(not_before, excluded.not_before), until = max(until, excluded.until)`,
		sweep: `DELETE FROM warden_revocations WHERE until <= ?`,
	},
	MySQL: {
		check: `SELECT kind, not_before FROM warden_revocations WHERE until > ? AND ` +
			`((kind = 't' AND id = ?) OR (kind = 's' AND id = ?) OR (kind = 'u' AND id = ?))`,
		// VALUES() rather than MySQL 8's row alias: MariaDB knows only
		// the former.
		upsert: `INSERT INTO warden_revocations (kind, id, not_before, until) VALUES (?, ?, ?, ?) ` +
			`ON DUPLICATE KEY UPDATE not_before = GREATEST(not_before, VALUES(not_before)), until = GREATEST(until, VALUES(until))`,
		sweep:   `DELETE FROM warden_revocations WHERE until <= ?`,
		sweepTx: &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	},
	Postgres: {
		check: `SELECT kind, not_before FROM warden_revocations WHERE until > $1 AND ` +
			`((kind = 't' AND id = $2) OR (kind = 's' AND id = $3) OR (kind = 'u' AND id = $4))`,
		upsert: `INSERT INTO warden_revocations (kind, id, not_before, until) VALUES ($1, $2, $3, $4) ` +
			`ON CONFLICT (kind, id) DO UPDATE SET not_before = GREATEST(warden_revocations.not_before, EXCLUDED.not_before), ` +
			`until = GREATEST(warden_revocations.until, EXCLUDED.until)`,
		sweep: `DELETE FROM warden_revocations WHERE until <= $1`,
	},
}

// Options configures a Store; the zero value is usable.
type Options struct {
	// PollInterval is how often the epoch is read; DefaultPollInterval
	// when 0, at most MaxPollInterval. Shorter intervals propagate
	// revocations sooner for one tiny query per interval per instance.
	PollInterval time.Duration
	// Now replaces the clock, for tests.
	Now func() time.Time
}

// Store is a revoke.Store in a SQL database. It is safe for concurrent
// use. Close stops its poller.
type Store struct {
	db       *sql.DB
	q        queries
	interval time.Duration
	now      func() time.Time
	cache    *checkcache.Cache
	check    atomic.Pointer[sql.Stmt]
	stop     context.CancelFunc
	done     sync.WaitGroup
	close    sync.Once
}

var _ revoke.Store = (*Store)(nil)

// New returns a Store on db, whose dialect is SQLite, MySQL (MySQL or
// MariaDB) or Postgres, and starts its poller. The tables must exist (see
// Migrations); New does not touch the database, so it succeeds while the
// database is down, and Check fails until it is up.
func New(db *sql.DB, dialect string, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlrevoke: nil *sql.DB")
	}
	q, ok := dialects[dialect]
	if !ok {
		return nil, fmt.Errorf("sqlrevoke: unknown dialect %q; use %q, %q or %q", dialect, SQLite, MySQL, Postgres)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.PollInterval < 0 || opts.PollInterval > MaxPollInterval {
		return nil, fmt.Errorf("sqlrevoke: poll interval %v is outside (0, %v]", opts.PollInterval, MaxPollInterval)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Store{
		db: db, q: q, interval: opts.PollInterval, now: opts.Now,
		cache: checkcache.New(0, opts.Now), stop: stop,
	}
	s.done.Add(2)
	go s.watch(ctx)
	go s.sweepLoop(ctx)
	return s, nil
}

// Close stops the poller and the sweeper; Check then always asks the
// database. It does not close db.
func (s *Store) Close() error {
	s.close.Do(func() {
		s.stop()
		s.done.Wait()
	})
	return nil
}

// Revoke implements revoke.Store. A token that has already expired needs
// no row and is skipped without a query.
func (s *Store) Revoke(ctx context.Context, id string, expiresAt time.Time) error {
	return s.write(ctx, kindToken, id, 0, expiresAt)
}

// RevokeSession implements revoke.Store.
func (s *Store) RevokeSession(ctx context.Context, sid string, until time.Time) error {
	return s.write(ctx, kindSession, sid, 0, until)
}

// RevokeUser implements revoke.Store.
func (s *Store) RevokeUser(ctx context.Context, subject string, before, until time.Time) error {
	return s.write(ctx, kindUser, subject, before.UnixNano(), until)
}

// write upserts one row and raises the epoch in one transaction, then
// forgets this instance's cached answers, so that the revocation holds
// here on the next request whatever the poller is doing.
func (s *Store) write(ctx context.Context, kind, id string, notBefore int64, until time.Time) error {
	if id == "" {
		return revoke.ErrInvalidID
	}
	if len(id) > MaxIDLength {
		return ErrIDTooLong
	}
	if !until.After(s.now()) {
		return nil
	}
	// The epoch first: its row lock queues concurrent revocations before
	// they touch warden_revocations, so that they cannot deadlock there,
	// and on SQLite the transaction's first statement is a write, which
	// waits for the write lock instead of failing on a stale snapshot.
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, bumpEpoch)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errNoEpoch
		}
		_, err = tx.ExecContext(ctx, s.q.upsert, kind, []byte(id), notBefore, until.UnixNano())
		return err
	})
	// Whatever the outcome: a commit that reported an error may still
	// have been applied.
	s.cache.Invalidate()
	if err != nil {
		return fmt.Errorf("sqlrevoke: revoking: %w", err)
	}
	return nil
}

func (s *Store) inTx(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Check implements revoke.Store: a cached "not revoked" while the poller
// vouches for the cache, otherwise one SELECT. On error the answer is
// unknown and the caller must refuse the token.
func (s *Store) Check(ctx context.Context, t revoke.Token) (bool, error) {
	key, cacheable := checkcache.Key(t)
	if cacheable && s.cache.Fresh(key) {
		return false, nil
	}
	generation := s.cache.Begin()
	revoked, err := s.ask(ctx, t)
	if err != nil {
		return false, fmt.Errorf("sqlrevoke: checking a token: %w", err)
	}
	if !revoked && cacheable {
		s.cache.Remember(key, generation)
	}
	return revoked, nil
}

// ask looks for rows of the token, its login and its holder. An empty
// session id matches no row, since none is ever written.
func (s *Store) ask(ctx context.Context, t revoke.Token) (bool, error) {
	st, err := s.checkStmt(ctx)
	if err != nil {
		return false, err
	}
	rows, err := st.QueryContext(ctx, s.now().UnixNano(), []byte(t.ID), []byte(t.Session), []byte(t.Subject))
	if err != nil {
		return false, err
	}
	defer rows.Close()
	revoked := false
	for rows.Next() {
		var kind string
		var notBefore int64
		if err := rows.Scan(&kind, &notBefore); err != nil {
			return false, err
		}
		if kind != kindUser || revoke.CoveredBy(t.IssuedAt, notBefore) {
			revoked = true
		}
	}
	// An error met while reading means rows may be missing: unknown.
	if err := rows.Err(); err != nil {
		return false, err
	}
	return revoked, nil
}

// checkStmt returns the check query prepared once, so that a cache miss
// costs one round trip on MySQL (not a prepare, an execute and a close)
// and no parsing on SQLite. A statement prepared on db is re-prepared by
// database/sql on each connection it meets, and released with db.
func (s *Store) checkStmt(ctx context.Context) (*sql.Stmt, error) {
	if st := s.check.Load(); st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.q.check)
	if err != nil {
		return nil, err
	}
	if !s.check.CompareAndSwap(nil, st) {
		st.Close() // a concurrent miss prepared it first
		return s.check.Load(), nil
	}
	return st, nil
}

// watch reads the epoch every interval until ctx ends, telling the cache
// whether it can be trusted.
func (s *Store) watch(ctx context.Context) {
	defer s.done.Done()
	defer s.cache.Lost()
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	var last int64
	for {
		s.poll(ctx, &last)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// poll reads the epoch once. The trust it gives runs from before the
// query was sent: a revocation committed after that instant may be missed
// by this read, and is bound to be seen by a read sent within the trust
// given, or the trust lapses.
func (s *Store) poll(ctx context.Context, last *int64) {
	sent := s.now()
	// A read that has not answered when its trust would have lapsed is as
	// good as lost.
	ctx, cancel := context.WithTimeout(ctx, 2*s.interval)
	defer cancel()
	var epoch int64
	if err := s.db.QueryRowContext(ctx, readEpoch).Scan(&epoch); err != nil {
		s.cache.Lost()
		return
	}
	if epoch != *last {
		s.cache.Invalidate()
		*last = epoch
	}
	s.cache.Confirm(sent.Add(2 * s.interval))
}

// sweepLoop deletes dead rows every sweepInterval until ctx ends. It runs
// apart from the poller so that a slow delete never delays a poll.
func (s *Store) sweepLoop(ctx context.Context) {
	defer s.done.Done()
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sctx, cancel := context.WithTimeout(ctx, sweepInterval)
		// A failed sweep leaves dead rows, which Check ignores, until the
		// next one.
		_ = s.sweep(sctx)
		cancel()
	}
}

// sweep deletes the rows dead for SweepGrace. It does not raise the
// epoch: no answer changes.
func (s *Store) sweep(ctx context.Context) error {
	cutoff := s.now().Add(-SweepGrace).UnixNano()
	return s.inTx(ctx, s.q.sweepTx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.sweep, cutoff)
		return err
	})
}
