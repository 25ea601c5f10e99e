package store_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/storetest"
)

var ctx = context.Background()

// featureFS returns migrations for every dialect that create table, with
// goose version numbers 1 to n (the later ones add nothing).
func featureFS(table string, n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, dialect := range []string{store.SQLite, store.MySQL, store.Postgres} {
		fsys[dialect+"/00001_create.sql"] = &fstest.MapFile{Data: []byte(
			"-- +goose Up\nCREATE TABLE " + table + " (id INTEGER PRIMARY KEY);\n\n-- +goose Down\nDROP TABLE " + table + ";\n")}
		for v := 2; v <= n; v++ {
			fsys[fmt.Sprintf("%s/%05d_noop.sql", dialect, v)] = &fstest.MapFile{Data: []byte(
				"-- +goose Up\nSELECT 1;\n\n-- +goose Down\nSELECT 1;\n")}
		}
	}
	return fsys
}

func open(t *testing.T, e storetest.Engine) *store.DB {
	t.Helper()
	db, err := store.Open(ctx, e.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// version returns the highest version recorded in table.
func version(t *testing.T, db *store.DB, table string) int64 {
	t.Helper()
	var v int64
	if err := db.QueryRow(`SELECT MAX(version_id) FROM ` + table).Scan(&v); err != nil {
		t.Fatalf("reading %s: %v", table, err)
	}
	return v
}

func TestOpenCreatesNoTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		db := open(t, e)
		if _, err := db.Exec(`SELECT 1 FROM ` + goose.DefaultTablename); err == nil {
			t.Error("Open created goose's version table; features migrate their own schemas")
		}
	})
}

func TestMigrateFeaturesIndependently(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		db := open(t, e)
		if err := db.Migrate(ctx, "widgets", featureFS("widgets", 3)); err != nil {
			t.Fatal(err)
		}
		// gadgets numbers its migrations from 1 as well: its versions are
		// its own, not taken as already applied because widgets has them.
		if err := db.Migrate(ctx, "gadgets", featureFS("gadgets", 1)); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"widgets", "gadgets"} {
			if _, err := db.Exec(`INSERT INTO ` + table + ` (id) VALUES (1)`); err != nil {
				t.Errorf("table %s not usable: %v", table, err)
			}
		}
		if v := version(t, db, "goose_db_version_widgets"); v != 3 {
			t.Errorf("widgets at version %d, want 3", v)
		}
		if v := version(t, db, "goose_db_version_gadgets"); v != 1 {
			t.Errorf("gadgets at version %d, want 1", v)
		}
		// Again, with one more migration for gadgets: only that one runs
		// (running 00001 again would fail on the existing table).
		if err := db.Migrate(ctx, "widgets", featureFS("widgets", 3)); err != nil {
			t.Errorf("migrating a current feature again: %v", err)
		}
		if err := db.Migrate(ctx, "gadgets", featureFS("gadgets", 2)); err != nil {
			t.Errorf("migrating a feature with a new migration: %v", err)
		}
		if v := version(t, db, "goose_db_version_gadgets"); v != 2 {
			t.Errorf("gadgets at version %d, want 2", v)
		}
	})
}

// TestAccountsKeepsTheExistingVersionTable migrates a database the way
// Warden did before features owned their migrations, into goose's default
// table, and then through Migrate: nothing runs twice.
func TestAccountsKeepsTheExistingVersionTable(t *testing.T) {
	if got := store.VersionTable("accounts"); got != goose.DefaultTablename {
		t.Fatalf("VersionTable(accounts) = %q, want goose's default %q", got, goose.DefaultTablename)
	}
	if got := store.VersionTable("widgets"); got != "goose_db_version_widgets" {
		t.Errorf("VersionTable(widgets) = %q", got)
	}
	dialects := map[string]goose.Dialect{
		store.SQLite: goose.DialectSQLite3, store.MySQL: goose.DialectMySQL, store.Postgres: goose.DialectPostgres,
	}
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		db := open(t, e)
		fsys := featureFS("users", 1)
		sub, err := fs.Sub(fsys, db.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		p, err := goose.NewProvider(dialects[db.Dialect], db.DB, sub)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, "accounts", fsys); err != nil {
			t.Fatalf("migrating an existing accounts database: %v", err)
		}
		if err := db.Migrate(ctx, "accounts", featureFS("users", 2)); err != nil {
			t.Fatalf("a new accounts migration: %v", err)
		}
		if v := version(t, db, goose.DefaultTablename); v != 2 {
			t.Errorf("accounts at version %d in %s, want 2", v, goose.DefaultTablename)
		}
	})
}

func TestMigrateRefuses(t *testing.T) {
	db := open(t, storetest.Engines()[0])
	for _, feature := range []string{"", "Accounts", "1feature", "drop table;", "a-b", strings.Repeat("a", 41)} {
		if err := db.Migrate(ctx, feature, featureFS("x", 1)); err == nil {
			t.Errorf("Migrate accepted the feature name %q", feature)
		}
	}
	other := fstest.MapFS{"postgres/00001_create.sql": featureFS("x", 1)["postgres/00001_create.sql"]}
	if err := db.Migrate(ctx, "widgets", other); err == nil {
		t.Error("Migrate succeeded without migrations for the database's dialect")
	}
}

// TestSQLiteFilesArePrivate: the database and the files SQLite keeps
// beside it are readable by Warden's user only, also when the data
// directory already existed (so that nothing but the file's own mode
// protects it), and a database others can read is refused.
func TestSQLiteFilesArePrivate(t *testing.T) {
	// The usual umask, under which SQLite on its own creates 0644 files;
	// set here so that the test does not depend on the caller's.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	dataDir := t.TempDir()
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dataDir, "warden.db")
	db, err := store.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	// A write in WAL mode makes SQLite create the -wal and -shm files.
	if err := db.Migrate(ctx, "widgets", featureFS("widgets", 1)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), perm)
		}
	}
	db.Close()

	// Reopening the private database works.
	db, err = store.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatalf("a 0600 database was refused: %v", err)
	}
	db.Close()

	// A database group or others can read or write is refused, and the
	// message says how to fix it.
	for _, mode := range []os.FileMode{0o644, 0o620, 0o604} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(ctx, "sqlite://"+path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: err = %v, want one that says chmod 600 %s", mode, err, path)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}

	// So is a leftover WAL file others can read: it holds recent writes.
	if err := os.WriteFile(path+"-wal", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path+"-wal", 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(ctx, "sqlite://"+path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path+"-wal") {
		t.Errorf("readable WAL file: err = %v", err)
	}
}

// TestSQLiteCreatesAPrivateDirectory: a data directory Warden creates is
// 0700.
func TestSQLiteCreatesAPrivateDirectory(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory has mode %04o, want 0700", perm)
	}
}

func TestPoolSize(t *testing.T) {
	for _, c := range []struct {
		dialect string
		procs   int
		want    int
	}{
		{store.SQLite, 1, 8}, {store.SQLite, 2, 8}, {store.SQLite, 4, 8}, {store.SQLite, 6, 12}, {store.SQLite, 64, 16},
		{store.MySQL, 1, 16}, {store.Postgres, 64, 16},
	} {
		if got := store.PoolSize(c.dialect, c.procs); got != c.want {
			t.Errorf("PoolSize(%s, %d) = %d, want %d", c.dialect, c.procs, got, c.want)
		}
	}
}

// TestPoolIsBoundedAndKeepsItsConnections asks for three times as many
// connections at once as the pool allows: no more than the bound are
// opened, the others wait for one, and every connection opened is kept
// for the next request rather than closed for want of an idle slot (what
// made a busy server open and close connections all the time).
// It runs at the dialect's own size and at one set with SetPoolSize
// (WARDEN_DB_MAX_CONNS).
func TestPoolIsBoundedAndKeepsItsConnections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		for _, size := range []int{0, 3} {
			t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) { testPoolBound(t, e, size) })
		}
	})
}

func testPoolBound(t *testing.T, e storetest.Engine, size int) {
	db := open(t, e)
	n := store.PoolSize(db.Dialect, runtime.GOMAXPROCS(0))
	if size > 0 {
		db.SetPoolSize(size)
		n = size
	}
	if got := db.Stats().MaxOpenConnections; got != n {
		t.Fatalf("MaxOpenConnections %d, want %d", got, n)
	}
	release := make(chan struct{})
	errs := make(chan error, 3*n)
	var wg sync.WaitGroup
	for range 3 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := db.Conn(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			var one int
			if err := conn.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
				errs <- err
				return
			}
			<-release
		}()
	}
	err := redistest.Eventually(10*time.Second, func() error {
		if s := db.Stats(); s.InUse != n || s.WaitCount == 0 {
			return fmt.Errorf("%d in use, %d waits; want %d in use and waiters", s.InUse, s.WaitCount, n)
		}
		return nil
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := db.Stats()
	if s.OpenConnections != n || s.Idle != n || s.MaxIdleClosed != 0 {
		t.Fatalf("after the burst: %d open, %d idle, %d closed for want of an idle slot; want %d, %d, 0",
			s.OpenConnections, s.Idle, s.MaxIdleClosed, n, n)
	}
}
