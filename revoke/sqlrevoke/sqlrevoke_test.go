package sqlrevoke_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/storetest"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/revoke/revoketest"
	"github.com/wardenhq/warden/revoke/sqlrevoke"
)

var ctx = context.Background()

// newStore returns a Store that is closed when the test ends.
func newStore(t *testing.T, db *sql.DB, dialect string, opts sqlrevoke.Options) *sqlrevoke.Store {
	t.Helper()
	s, err := sqlrevoke.New(db, dialect, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eachEngine runs fn on a fresh database of every engine, in parallel:
// the propagation tests wait on real pollers.
func eachEngine(t *testing.T, fn func(t *testing.T, d *database)) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		t.Parallel()
		fn(t, newDatabase(t, e))
	})
}

// cached checks tok on s until s answers it from its cache, which f sees
// as a check that reads nothing.
func cached(s *sqlrevoke.Store, f *fault, tok revoke.Token) error {
	return redistest.Eventually(5*time.Second, func() error {
		if r, err := s.Check(ctx, tok); err != nil || r {
			return fmt.Errorf("Check = %v, %v; want false, nil", r, err)
		}
		before := f.reads.Load()
		if r, err := s.Check(ctx, tok); err != nil || r {
			return fmt.Errorf("Check = %v, %v; want false, nil", r, err)
		}
		if f.reads.Load() != before {
			return errors.New("not cached yet")
		}
		return nil
	})
}

func TestGrains(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		db, _ := d.open(t)
		revoketest.Grains(t, newStore(t, db, d.dialect, sqlrevoke.Options{}), time.Now)
	})
}

// TestRevocationReachesACachingInstance checks a token on instances a and
// b until both answer from their caches, revokes it through a at each
// grain, and expects a to refuse it at once and b within
// revoke.MaxPropagation, with the default poll interval. The Stores'
// clock stands still, so that cached answers never grow old: b can learn
// of the revocation only from the epoch. A credential without a token id
// (a session cookie, cached by its login) is checked the same way at the
// grains that can name it.
func TestRevocationReachesACachingInstance(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		clk := newClock()
		dbA, fa := d.open(t)
		dbB, fb := d.open(t)
		a := newStore(t, dbA, d.dialect, sqlrevoke.Options{Now: clk.Now})
		b := newStore(t, dbB, d.dialect, sqlrevoke.Options{Now: clk.Now})
		until := clk.Now().Add(time.Hour)
		// id is the token's id; "" for a session cookie's credential.
		grains := []struct {
			name, id string
			revokeIt func(tok revoke.Token) error
		}{
			{"token", "jti", func(tok revoke.Token) error { return a.Revoke(ctx, tok.ID, until) }},
			{"session", "jti", func(tok revoke.Token) error { return a.RevokeSession(ctx, tok.Session, until) }},
			{"user", "jti", func(tok revoke.Token) error { return a.RevokeUser(ctx, tok.Subject, clk.Now(), until) }},
			{"cookie session", "", func(tok revoke.Token) error { return a.RevokeSession(ctx, tok.Session, until) }},
			{"cookie user", "", func(tok revoke.Token) error { return a.RevokeUser(ctx, tok.Subject, clk.Now(), until) }},
		}
		for _, g := range grains {
			t.Run(g.name, func(t *testing.T) {
				tok := revoke.Token{Session: "sid-" + g.name, Subject: "user-" + g.name, IssuedAt: clk.Now().Add(-time.Second)}
				if g.id != "" {
					tok.ID = g.id + "-" + g.name
				}
				for name, s := range map[string]struct {
					s *sqlrevoke.Store
					f *fault
				}{"a": {a, fa}, "b": {b, fb}} {
					if err := cached(s.s, s.f, tok); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
				if err := g.revokeIt(tok); err != nil {
					t.Fatal(err)
				}
				if r, err := a.Check(ctx, tok); err != nil || !r {
					t.Fatalf("a honours its own revocation: %v %v", r, err)
				}
				start := time.Now()
				err := redistest.Eventually(revoke.MaxPropagation, func() error {
					if r, err := b.Check(ctx, tok); err != nil || !r {
						return fmt.Errorf("still honoured (%v)", err)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("b honours a token revoked through a %v ago: %v", time.Since(start), err)
				}
			})
		}
	})
}

// TestOneQueryPerMissNoneOnAHit counts the reads of the revocations
// table: a token not seen recently costs one SELECT, a token checked a
// moment ago none, revoked or not at any grain.
func TestOneQueryPerMissNoneOnAHit(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		db, f := d.open(t)
		s := newStore(t, db, d.dialect, sqlrevoke.Options{})
		if err := s.RevokeUser(ctx, "revoked-user", time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		tok := revoke.Token{ID: "hot", Session: "sid", Subject: "user", IssuedAt: time.Now()}
		if err := cached(s, f, tok); err != nil {
			t.Fatal(err)
		}
		before := f.reads.Load()
		for range 1000 {
			if r, err := s.Check(ctx, tok); err != nil || r {
				t.Fatalf("Check = %v, %v", r, err)
			}
		}
		if n := f.reads.Load() - before; n != 0 {
			t.Errorf("1000 checks of a cached token read the table %d times", n)
		}
		for i, tok := range []revoke.Token{
			{ID: "cold-1", Session: "sid", Subject: "user", IssuedAt: time.Now()},
			{ID: "cold-2", Subject: "revoked-user", IssuedAt: time.Now().Add(-time.Second)},
		} {
			before := f.reads.Load()
			if _, err := s.Check(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if n := f.reads.Load() - before; n != 1 {
				t.Errorf("miss %d read the table %d times, want 1", i, n)
			}
		}
	})
}

// TestFailsClosedWhileTheDatabaseIsAway takes the database away from one
// instance: its Check must answer errors, never (false, nil), even for a
// token it had cached, once its poller has failed; it must answer again,
// and cache again, when the database is back, without a restart. The
// clock stands still, so trust can end only through the poller.
func TestFailsClosedWhileTheDatabaseIsAway(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		clk := newClock()
		dbA, _ := d.open(t)
		dbB, f := d.open(t)
		opts := sqlrevoke.Options{PollInterval: 20 * time.Millisecond, Now: clk.Now}
		a := newStore(t, dbA, d.dialect, opts)
		b := newStore(t, dbB, d.dialect, opts)
		tok := revoke.Token{ID: "jti", Session: "sid", Subject: "user", IssuedAt: clk.Now()}
		if err := cached(b, f, tok); err != nil {
			t.Fatal(err)
		}

		f.down.Store(true)
		for i := range 5 {
			if r, err := b.Check(ctx, revoke.Token{ID: fmt.Sprint("unseen-", i)}); err == nil {
				t.Fatalf("Check of an uncached token while the database is away = %v, nil", r)
			}
		}
		// Until the poller notices, the cached answer stands (the bound
		// allows it); once it has, the cache is never trusted again while
		// the database is away.
		err := redistest.Eventually(2*time.Second, func() error {
			_, err := b.Check(ctx, tok)
			if err == nil {
				return errors.New("cached answer still trusted")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if r, err := b.Check(ctx, tok); err == nil {
				t.Fatalf("check %d after the poll failed = %v, nil; want an error", i, r)
			}
			time.Sleep(5 * time.Millisecond) // across several poll intervals
		}
		if err := b.Revoke(ctx, "during", clk.Now().Add(time.Hour)); err == nil {
			t.Error("Revoke while the database is away succeeded")
		}
		// Meanwhile another instance revokes the token.
		if err := a.Revoke(ctx, tok.ID, clk.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		f.down.Store(false)
		err = redistest.Eventually(5*time.Second, func() error {
			if r, err := b.Check(ctx, tok); err != nil || !r {
				return fmt.Errorf("Check = %v, %v; want true, nil", r, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("after the database came back: %v", err)
		}
		if err := cached(b, f, revoke.Token{ID: "after", Subject: "user", IssuedAt: clk.Now()}); err != nil {
			t.Fatalf("the cache is not trusted again: %v", err)
		}

		// A closed *sql.DB is a database gone for good.
		dbB.Close()
		err = redistest.Eventually(2*time.Second, func() error {
			if _, err := b.Check(ctx, revoke.Token{ID: "after"}); err == nil {
				return errors.New("cached answer still trusted")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if r, err := b.Check(ctx, revoke.Token{ID: "after"}); err == nil {
				t.Fatalf("check %d on a closed *sql.DB = %v, nil", i, r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestLaterInstantsWinAndDeadRowsGo drives the clock: revoking again
// never shortens a revocation, a revocation ends with its until, an
// already-ended one writes nothing, and the sweep deletes rows only
// SweepGrace after their until.
func TestLaterInstantsWinAndDeadRowsGo(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		clk := newClock()
		db, _ := d.open(t)
		s := newStore(t, db, d.dialect, sqlrevoke.Options{Now: clk.Now})
		t0 := clk.Now()
		for _, exp := range []time.Duration{time.Hour, time.Minute} {
			if err := s.Revoke(ctx, "shortened", t0.Add(exp)); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeSession(ctx, "lengthened", t0.Add(time.Hour-exp+time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Revoke(ctx, "short", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "expired", t0.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "expiring-now", t0); err != nil {
			t.Fatal(err)
		}
		if n := d.rows(t); n != 3 {
			t.Fatalf("%d rows, want 3 (expired revocations need none)", n)
		}
		epoch := d.epoch(t)

		clk.Add(30 * time.Minute)
		for _, tok := range []revoke.Token{{ID: "shortened"}, {ID: "x", Session: "lengthened"}} {
			if r, err := s.Check(ctx, tok); err != nil || !r {
				t.Errorf("%+v: Check = %v, %v; revoking again shortened the revocation", tok, r, err)
			}
		}
		if r, err := s.Check(ctx, revoke.Token{ID: "short"}); err != nil || r {
			t.Errorf("a revocation outlived its until: %v, %v", r, err)
		}

		// A sweep deletes a row only SweepGrace after its until: 4
		// minutes after "short" ended, it stays; 29 minutes after, it
		// goes, and the others stay until theirs.
		clk.Add(-25 * time.Minute)
		if err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n := d.rows(t); n != 3 {
			t.Fatalf("%d rows after a sweep within the grace, want 3", n)
		}
		clk.Add(25 * time.Minute)
		if err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n := d.rows(t); n != 2 {
			t.Fatalf("%d rows after the sweep, want 2", n)
		}
		clk.Add(time.Hour)
		if err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n := d.rows(t); n != 0 {
			t.Fatalf("%d rows after everything ended, want 0", n)
		}
		if e := d.epoch(t); e != epoch {
			t.Errorf("sweeping moved the epoch from %d to %d: every cache would be forgotten for nothing", epoch, e)
		}
	})
}

// TestIDsCompareExactly: ids are bytes on every engine, whatever its
// collation; none is folded, trimmed or refused for not being UTF-8.
func TestIDsCompareExactly(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		db, _ := d.open(t)
		s := newStore(t, db, d.dialect, sqlrevoke.Options{})
		until := time.Now().Add(time.Hour)
		odd := "\xff\x00jti"
		long := strings.Repeat("é", sqlrevoke.MaxIDLength/2) // 254 bytes
		for _, id := range []string{"Alice", odd, long} {
			if err := s.Revoke(ctx, id, until); err != nil {
				t.Fatalf("Revoke(%q): %v", id, err)
			}
			if err := s.RevokeUser(ctx, id, time.Now(), until); err != nil {
				t.Fatalf("RevokeUser(%q): %v", id, err)
			}
		}
		issued := time.Now().Add(-time.Second)
		for id, want := range map[string]bool{
			"Alice": true, "alice": false, "ALICE": false, "Alice ": false, "Alicé": false,
			odd: true, "\xff": false, long: true, long[:len(long)-2]: false,
		} {
			if r, err := s.Check(ctx, revoke.Token{ID: id}); err != nil || r != want {
				t.Errorf("token %q: Check = %v, %v; want %v", id, r, err, want)
			}
			// A jti of its own: answers are cached by jti.
			if r, err := s.Check(ctx, revoke.Token{ID: "of-user-" + id, Subject: id, IssuedAt: issued}); err != nil || r != want {
				t.Errorf("user %q: Check = %v, %v; want %v", id, r, err, want)
			}
		}
		if err := s.Revoke(ctx, strings.Repeat("x", sqlrevoke.MaxIDLength+1), until); !errors.Is(err, sqlrevoke.ErrIDTooLong) {
			t.Errorf("over-long id: %v, want ErrIDTooLong", err)
		}
		if err := s.Revoke(ctx, strings.Repeat("x", sqlrevoke.MaxIDLength), until); err != nil {
			t.Errorf("id of MaxIDLength bytes: %v", err)
		}
	})
}

// TestConcurrentRevocations revokes from two instances at once, the
// sweeper running, overlapping ids: no revocation fails (no deadlock, no
// busy database), each raises the epoch exactly once, and all hold.
func TestConcurrentRevocations(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		var stores []*sqlrevoke.Store
		for range 2 {
			db, _ := d.open(t)
			stores = append(stores, newStore(t, db, d.dialect, sqlrevoke.Options{}))
		}
		const workers, each = 8, 15
		until := time.Now().Add(time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, workers*each+workers)
		for w := range workers {
			s := stores[w%2]
			wg.Go(func() {
				for i := range each {
					id := fmt.Sprint("id-", i) // the same ids from every worker
					var err error
					switch i % 3 {
					case 0:
						err = s.Revoke(ctx, id, until.Add(time.Duration(w)*time.Second))
					case 1:
						err = s.RevokeSession(ctx, id, until)
					case 2:
						err = s.RevokeUser(ctx, id, time.Now(), until)
					}
					if err != nil {
						errs <- err
					}
				}
				errs <- s.Sweep(ctx)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if e := d.epoch(t); e != workers*each {
			t.Errorf("epoch %d after %d revocations", e, workers*each)
		}
		if r, err := stores[0].Check(ctx, revoke.Token{ID: "id-0"}); err != nil || !r {
			t.Errorf("Check = %v, %v", r, err)
		}
		if n := d.rows(t); n != each {
			t.Errorf("%d rows, want %d", n, each)
		}
	})
}

// TestRevokingWithoutTheEpochRowFails: a revocation that could not raise
// the epoch would reach no other instance's cache, so it is refused.
func TestRevokingWithoutTheEpochRowFails(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		if _, err := d.admin.Exec(`DELETE FROM warden_revocation_epoch`); err != nil {
			t.Fatal(err)
		}
		db, _ := d.open(t)
		s := newStore(t, db, d.dialect, sqlrevoke.Options{})
		if err := s.Revoke(ctx, "x", time.Now().Add(time.Hour)); err == nil {
			t.Fatal("Revoke succeeded without an epoch row")
		}
		if n := d.rows(t); n != 0 {
			t.Errorf("the failed revocation left %d rows", n)
		}
	})
}

// TestMigrationsGoDownAndUp: the Down sections undo the Up sections.
func TestMigrationsGoDownAndUp(t *testing.T) {
	eachEngine(t, func(t *testing.T, d *database) {
		migrations, err := fs.Sub(sqlrevoke.Migrations, d.dialect)
		if err != nil {
			t.Fatal(err)
		}
		p, err := goose.NewProvider(gooseDialects[d.dialect], d.admin, migrations)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(ctx, 0); err != nil {
			t.Fatalf("down: %v", err)
		}
		if _, err := d.admin.Exec(`SELECT 1 FROM warden_revocations`); err == nil {
			t.Error("warden_revocations survived the Down migration")
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		if e := d.epoch(t); e != 0 {
			t.Errorf("epoch %d after a fresh Up", e)
		}
	})
}

func TestNewRefuses(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name    string
		db      *sql.DB
		dialect string
		opts    sqlrevoke.Options
	}{
		{"unknown dialect", db, "sqlite3", sqlrevoke.Options{}},
		{"no dialect", db, "", sqlrevoke.Options{}},
		{"nil db", nil, sqlrevoke.SQLite, sqlrevoke.Options{}},
		{"negative poll interval", db, sqlrevoke.SQLite, sqlrevoke.Options{PollInterval: -time.Second}},
		{"poll interval beyond the propagation bound", db, sqlrevoke.SQLite, sqlrevoke.Options{PollInterval: sqlrevoke.MaxPollInterval + 1}},
	} {
		if s, err := sqlrevoke.New(tc.db, tc.dialect, tc.opts); err == nil {
			s.Close()
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
	if 2*sqlrevoke.MaxPollInterval >= revoke.MaxPropagation {
		t.Errorf("MaxPollInterval %v lets a revocation go unheard beyond %v", sqlrevoke.MaxPollInterval, revoke.MaxPropagation)
	}
}
