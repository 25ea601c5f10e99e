// Package store opens Warden's database by URL and applies the embedded
// migrations of each feature that keeps tables in it.
//
// Contract: Open returns a *DB that answered a ping, or an error; it
// creates no table. Each feature owns its schema: it embeds one directory
// of goose migrations per dialect (sqlite/, mysql/, postgres/) and brings
// its tables up to date with DB.Migrate before it serves, so that it never
// serves on a half-migrated schema. Features version their schemas
// independently, each in a goose version table of its own. Queries are
// written once with '?' placeholders and run through DB.Rebind, so callers
// never splice values into SQL. SQLite (the default) runs in WAL mode with
// synchronous=FULL, foreign keys on and write transactions that take the
// write lock at BEGIN (so two read-then-write transactions cannot
// deadlock), which makes an acknowledged write survive kill -9 and power
// loss alike. Its files are private: Open creates the database 0600 (in a
// 0700 directory when it creates that too) and refuses one that the group
// or others may read or write. The connection pool is bounded and kept
// warm: PoolSize connections, open and idle alike (SQLite: two per CPU,
// 8 to 16; MySQL and PostgreSQL: 16, each retired after 4 minutes;
// SetPoolSize replaces the size, for WARDEN_DB_MAX_CONNS);
// requests beyond it wait for a connection, within their context, rather
// than open more.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Dialects.
const (
	SQLite   = "sqlite"
	MySQL    = "mysql"
	Postgres = "postgres"
)

// ErrUnavailable wraps errors from a database that did not answer.
var ErrUnavailable = errors.New("store: database unavailable")

// DB is an open database.
type DB struct {
	*sql.DB
	Dialect string
}

// ResolveURL returns configured, or when it is empty the SQLite database
// inside dataDir (the zero-setup default).
func ResolveURL(configured, dataDir string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	abs, err := filepath.Abs(filepath.Join(dataDir, "warden.db"))
	if err != nil {
		return "", err
	}
	return "sqlite://" + filepath.ToSlash(abs), nil
}

// Open connects to rawURL (sqlite:///abs/path.db, mysql://user:pass@host:port/db
// or postgres://user:pass@host:port/db) and checks the connection. The
// features that use the database migrate it (DB.Migrate).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	db, err := Connect(rawURL)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return db, nil
}

// Connect opens rawURL without checking the connection; Open is what
// servers use.
func Connect(rawURL string) (*DB, error) {
	db, err := connect(rawURL)
	if err != nil {
		return nil, err
	}
	db.configurePool(runtime.GOMAXPROCS(0))
	return db, nil
}

// Pool bounds (see configurePool).
const (
	// minSQLiteConns and maxSQLiteConns bound SQLite's pool, which is
	// 2 connections per CPU Go may use.
	minSQLiteConns = 8
	maxSQLiteConns = 16
	// serverConns is the pool of a MySQL or PostgreSQL database: open and
	// idle alike. Six instances stay under PostgreSQL's default of 100
	// connections (MySQL's is 151) with room for operators and
	// migrations.
	serverConns = 16
	// serverConnLifetime retires a server connection after this long,
	// idle or not: before proxies and servers that drop connections idle
	// for 5 minutes do it under a query, and so that connections move to
	// a new primary or a new address after a failover or DNS change.
	serverConnLifetime = 4 * time.Minute
	// connMaxIdle lets the pool shrink when the load is gone.
	connMaxIdle = 5 * time.Minute
)

// PoolSize is the number of connections Connect allows for dialect on a
// machine where Go may use procs CPUs; the idle pool keeps as many.
func PoolSize(dialect string, procs int) int {
	if dialect == SQLite {
		return min(max(2*procs, minSQLiteConns), maxSQLiteConns)
	}
	return serverConns
}

// configurePool bounds the connections and keeps every one idle between
// requests. database/sql opens connections without a limit and keeps 2
// idle by default: under more concurrent requests than that, each extra
// request opened a connection and closed it again (on SQLite that also
// runs the pragmas, prepares the statements again and starts from a cold
// page cache; a tenth of a busy server's time went there; on a server
// database it is a network handshake), and a burst could exceed a
// database server's connection limit, refusing every instance. With
// idle = open, a connection, once opened, serves request after request;
// requests beyond the limit wait for one (database/sql queues them; a
// request's context bounds the wait).
//
// SQLite does its work in this process, so more connections than CPUs
// only help while some wait: a write's fsync, and writers queued for the
// write lock. In WAL mode readers never block one another or the writer,
// and the one writer at a time is enforced by SQLite itself (transactions
// take the write lock at BEGIN, and a second writer waits in the busy
// timeout, holding its connection, behind a write of this process or of
// another, such as an operator command), so no separate writer
// connection is needed; the floor of 8 keeps connections free for reads
// while a few writers wait. Under 64 concurrent requests on 2 CPUs, 4, 8
// and 16 connections cost the same CPU time per request. No code holds a connection
// while asking the pool for another (a transaction's statements run on
// the transaction), which a bounded pool would otherwise deadlock on.
func (db *DB) configurePool(procs int) {
	db.SetPoolSize(PoolSize(db.Dialect, procs))
	db.SetConnMaxIdleTime(connMaxIdle)
	if db.Dialect != SQLite {
		db.SetConnMaxLifetime(serverConnLifetime)
	}
}

// SetPoolSize replaces PoolSize's bound with n connections (at least 1),
// every one kept idle between requests as configurePool does: for an
// operator who shares a database server between instances
// (WARDEN_DB_MAX_CONNS).
func (db *DB) SetPoolSize(n int) {
	n = max(n, 1)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
}

func connect(rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// The URL may carry a password; never repeat it.
		return nil, errors.New("store: the database URL is not a valid URL")
	}
	switch u.Scheme {
	case "sqlite", "sqlite3":
		path := u.Path
		if u.Host != "" {
			// sqlite://relative/path.db: keep the host as the first element.
			path = u.Host + u.Path
		}
		if path == "" {
			return nil, errors.New("store: sqlite URL needs a path, such as sqlite:///var/lib/warden/warden.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if path != ":memory:" {
			if err := privateFile(path); err != nil {
				return nil, err
			}
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return &DB{DB: db, Dialect: SQLite}, nil
	case "mysql":
		return openMySQL(u)
	case "postgres", "postgresql":
		db, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, errors.New("store: the postgres URL is not valid")
		}
		return &DB{DB: db, Dialect: Postgres}, nil
	}
	return nil, fmt.Errorf("store: unknown database scheme %q; use sqlite:///path.db, mysql://user:pass@host:3306/db or postgres://user:pass@host:5432/db", u.Scheme)
}

// privateFile makes sure that only Warden's user can read or write the
// SQLite database at path. The database holds password hashes, refresh
// sessions and API-key digests, so it gets the same rule as the generated
// secret_key: a missing file is created empty (which SQLite accepts as a
// new database) with mode 0600 before SQLite opens it, because SQLite
// would otherwise create it 0644 under the usual umask; an existing file,
// or its -wal and -shm companions, that the group or others may access is
// refused rather than quietly tightened, since it may already have been
// read. SQLite creates the companions (and a rollback -journal) with the
// mode of the main file, so a private main file keeps them private
// (TestSQLiteFilesArePrivate checks it).
func privateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("store: create the database: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if p != path && errors.Is(err, fs.ErrNotExist) {
			continue // not in WAL mode yet, or closed cleanly
		}
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("store: %s is not a regular file", p)
		}
		if info.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("store: %s is accessible by other users (mode %04o); it holds password hashes and sessions; run: chmod 600 %s", p, info.Mode().Perm(), p)
		}
	}
	return nil
}

// openMySQL translates mysql://user:pass@host:port/db?param=value into the
// driver's configuration. Timestamps are stored as integers, so no time
// parsing is needed; utf8mb4 is forced so that every Unicode name fits.
func openMySQL(u *url.URL) (*DB, error) {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.DBName == "" || strings.Contains(cfg.DBName, "/") {
		return nil, errors.New("store: the mysql URL needs a database name, such as mysql://user:pass@host:3306/warden")
	}
	cfg.Params = map[string]string{}
	for k, v := range u.Query() {
		cfg.Params[k] = v[0]
	}
	cfg.Collation = "utf8mb4_bin"
	cfg.Timeout = 10 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, errors.New("store: the mysql URL is not valid")
	}
	return &DB{DB: sql.OpenDB(connector), Dialect: MySQL}, nil
}

// gooseDialects maps our dialects to goose's.
var gooseDialects = map[string]goose.Dialect{
	SQLite:   goose.DialectSQLite3,
	MySQL:    goose.DialectMySQL,
	Postgres: goose.DialectPostgres,
}

// legacyFeature is the feature whose applied versions live in goose's
// default table, goose_db_version: its migrations ran before features
// owned their schemas, when that table recorded Warden's only schema, and
// existing databases know its versions from there. Under a new name they
// would run 00001 again, against tables that exist.
const legacyFeature = "accounts"

// maxFeatureLength keeps goose_db_version_<feature> within MySQL's
// 64-character limit on table names.
const maxFeatureLength = 40

// VersionTable returns the table in which goose records the applied
// migrations of feature: goose_db_version_<feature>, or goose_db_version
// for accounts, whose versions were recorded there before each feature
// had its own table.
func VersionTable(feature string) string {
	if feature == legacyFeature {
		return goose.DefaultTablename
	}
	return goose.DefaultTablename + "_" + feature
}

// checkFeature accepts lower-case ASCII letters, digits and '_', starting
// with a letter: the name becomes part of a table name, which cannot be
// passed as a query parameter.
func checkFeature(feature string) error {
	ok := feature != "" && len(feature) <= maxFeatureLength && feature[0] >= 'a' && feature[0] <= 'z'
	for _, c := range []byte(feature) {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_')
	}
	if !ok {
		return fmt.Errorf("store: feature name %q must be 1 to %d lower-case letters, digits or '_', starting with a letter", feature, maxFeatureLength)
	}
	return nil
}

// Migrate applies every pending migration of feature. migrations holds
// one directory per dialect (sqlite/, mysql/, postgres/) of goose SQL
// files; the directory of db's dialect is applied, and the versions are
// recorded in VersionTable(feature), so that each feature numbers its
// migrations on its own.
//
// Several processes may call it at once (instances starting together):
// each engine serialises them with one lock that all features share, and
// the ones that wait find nothing left to do.
func (db *DB) Migrate(ctx context.Context, feature string, migrations fs.FS) error {
	if err := checkFeature(feature); err != nil {
		return err
	}
	sub, err := fs.Sub(migrations, db.Dialect)
	if err != nil {
		return fmt.Errorf("store: %s migrations: %w", feature, err)
	}
	opts := []goose.ProviderOption{goose.WithTableName(VersionTable(feature))}
	switch db.Dialect {
	case Postgres:
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case MySQL:
		release, err := db.mysqlLock(ctx)
		if err != nil {
			return err
		}
		defer release()
	case SQLite:
		release, err := db.fileLock()
		if err != nil {
			return err
		}
		defer release()
	}
	p, err := goose.NewProvider(gooseDialects[db.Dialect], db.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("store: %s migrations: %w", feature, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", feature, err)
	}
	return nil
}

// mysqlLock takes a named server lock for the migration. goose's MySQL
// locker polls a lock table every five seconds; GET_LOCK wakes the waiter
// at once and is released by the server if this process dies.
func (db *DB) mysqlLock(ctx context.Context) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK('warden_migrate', 120)`).Scan(&got); err != nil || got.Int64 != 1 {
		conn.Close()
		return nil, fmt.Errorf("store: migration lock not acquired: %v", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT RELEASE_LOCK('warden_migrate')`)
		conn.Close()
	}, nil
}

// fileLock serialises SQLite migrations between processes with an
// advisory lock on a file beside the database.
func (db *DB) fileLock() (func(), error) {
	var path string
	if err := db.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path); err != nil || path == "" {
		return func() {}, nil // an in-memory database has no other process
	}
	f, err := os.OpenFile(path+".migrate-lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: migration lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Rebind rewrites '?' placeholders for the dialect ($1, $2... on
// PostgreSQL). Queries must not contain '?' elsewhere.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// InTx runs fn in a transaction, committing when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
